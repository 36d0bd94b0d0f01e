use super::*;

#[test]
fn destination_is_explicit() {
    for (value, expected) in [
        (None, Destination::Ec2),
        (Some(json!("EC2")), Destination::Ec2),
        (Some(json!("WarmPool")), Destination::WarmPool),
        (Some(Value::Null), Destination::Ec2),
    ] {
        let mut event = fixture(LIFECYCLE);
        let detail = event["detail"].as_object_mut().unwrap();
        match value {
            Some(value) => detail.insert("Destination".into(), value),
            None => detail.remove("Destination"),
        };
        let request = parse(event, &DrainConfig::default()).unwrap().request;
        assert_eq!(request.destination, expected);
    }
    // ("Stopped" is ours, a Spot interruption's: Auto Scaling never sends it)
    for bad in [
        json!("AutoScalingGroup"),
        json!("warmpool"),
        json!(1),
        json!("Stopped"),
    ] {
        let mut event = fixture(LIFECYCLE);
        event["detail"]["Destination"] = bad.clone();
        let message = rejected(event, &DrainConfig::default());
        assert!(message.contains("`detail.Destination`"), "{bad}: {message}");
    }
}

#[test]
fn origin_is_checked_but_never_decides() {
    for origin in ORIGINS {
        let mut event = fixture(LIFECYCLE);
        event["detail"]["Origin"] = json!(origin);
        let parsed = parse(event, &DrainConfig::default()).unwrap();
        assert!(parsed.notes.is_empty(), "{origin}: {:?}", parsed.notes);
    }
    let mut event = fixture(LIFECYCLE);
    event["detail"].as_object_mut().unwrap().remove("Origin");
    assert!(parse(event, &DrainConfig::default())
        .unwrap()
        .notes
        .is_empty());

    let mut event = fixture(LIFECYCLE);
    event["detail"]["Origin"] = json!("Elsewhere");
    let parsed = parse(event, &DrainConfig::default()).unwrap();
    assert_eq!(parsed.request.instance_id, "i-1234567890abcdef0");
    assert!(
        parsed.notes[0].contains("`detail.Origin` is \"Elsewhere\""),
        "{:?}",
        parsed.notes
    );

    let mut event = fixture(LIFECYCLE);
    event["detail"]["Origin"] = json!(["EC2"]);
    assert!(rejected(event, &DrainConfig::default()).contains("`detail.Origin`"));
}

#[test]
fn metadata_that_is_not_ours_falls_back_to_the_configured_cluster() {
    for (metadata, field) in [
        (None, "detail.NotificationMetadata"),
        (Some(json!("")), "detail.NotificationMetadata"),
        (
            Some(json!("additional-info")),
            "detail.NotificationMetadata",
        ),
        (Some(json!("[1]")), "detail.NotificationMetadata"),
        (Some(json!(7)), "detail.NotificationMetadata"),
        (Some(json!("{}")), "detail.NotificationMetadata.cluster"),
        (
            Some(json!("{\"owner\": \"team\"}")),
            "detail.NotificationMetadata.cluster",
        ),
        (
            Some(json!("{\"cluster\": 5}")),
            "detail.NotificationMetadata.cluster",
        ),
        (
            Some(json!("{\"cluster\": \" \"}")),
            "detail.NotificationMetadata.cluster",
        ),
    ] {
        let mut event = fixture(LIFECYCLE);
        let detail = event["detail"].as_object_mut().unwrap();
        match metadata.clone() {
            Some(value) => detail.insert("NotificationMetadata".into(), value),
            None => detail.remove("NotificationMetadata"),
        };
        let parsed = parse(event.clone(), &configured("prod")).unwrap();
        assert_eq!(parsed.request.cluster, "prod", "{metadata:?}");
        assert_eq!(parsed.notes.len(), 1, "{metadata:?}");
        assert!(
            parsed.notes[0].starts_with(&format!("`{field}` ")),
            "{metadata:?}: {:?}",
            parsed.notes
        );
        let message = rejected(event, &DrainConfig::default());
        assert!(
            message.contains(&format!("`{field}`")) && message.contains("ECS_CLUSTER is not set"),
            "{metadata:?}: {message}"
        );
    }
}

#[test]
fn a_spot_interruption_that_stops_the_instance_has_it_come_back() {
    // terminate (or no action) terminates; stop and hibernate stop the instance, which EC2
    // may start again; an action AWS does not document is taken for a stop, and noted.
    for (action, expected, noted) in [
        (Some("terminate"), Destination::Ec2, false),
        (None, Destination::Ec2, false),
        (Some("stop"), Destination::Stopped, false),
        (Some("hibernate"), Destination::Stopped, false),
        (Some("reboot"), Destination::Stopped, true),
    ] {
        let mut event = fixture(SPOT);
        let detail = event["detail"].as_object_mut().unwrap();
        match action {
            Some(action) => detail.insert("instance-action".into(), json!(action)),
            None => detail.remove("instance-action"),
        };
        let parsed = parse(event, &configured("prod")).unwrap();
        assert_eq!(parsed.request.destination, expected, "{action:?}");
        assert_eq!(
            parsed.notes.len(),
            usize::from(noted),
            "{action:?}: {:?}",
            parsed.notes
        );
        if noted {
            assert!(parsed.notes[0].contains("`detail.instance-action` is \"reboot\""));
        }
    }
}
