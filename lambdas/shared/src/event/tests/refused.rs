use super::*;
use crate::testing::assert_step_error;

#[test]
fn refuses_the_sqs_test_notification() {
    let message = rejected(fixture(SQS_TEST), &DrainConfig::default());
    assert!(
        message.contains("`Event`") && message.contains("TEST_NOTIFICATION"),
        "{message}"
    );
}

#[test]
fn refuses_a_launch_lifecycle_event() {
    let mut event = fixture(LIFECYCLE);
    event["detail"]["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
    let message = rejected(event, &DrainConfig::default());
    assert!(
        message.contains("`detail.LifecycleTransition`"),
        "{message}"
    );
}

#[test]
fn refuses_missing_or_bad_fields_naming_them() {
    for (field, value, named) in [
        (
            "LifecycleActionToken",
            Value::Null,
            "detail.LifecycleActionToken",
        ),
        (
            "LifecycleActionToken",
            json!(""),
            "detail.LifecycleActionToken",
        ),
        (
            "LifecycleActionToken",
            json!("87654321-4321-4321-4321-21098765432"),
            "detail.LifecycleActionToken",
        ),
        (
            "LifecycleActionToken",
            json!("token"),
            "detail.LifecycleActionToken",
        ),
        ("EC2InstanceId", json!("web-1"), "detail.EC2InstanceId"),
        (
            "AutoScalingGroupName",
            json!(7),
            "detail.AutoScalingGroupName",
        ),
        ("LifecycleHookName", Value::Null, "detail.LifecycleHookName"),
        (
            "NotificationMetadata",
            json!("{not json"),
            "detail.NotificationMetadata",
        ),
        (
            "NotificationMetadata",
            json!("{\"cluster\": 5}"),
            "detail.NotificationMetadata.cluster",
        ),
        (
            "NotificationMetadata",
            json!("{}"),
            "detail.NotificationMetadata.cluster",
        ),
    ] {
        let mut event = fixture(LIFECYCLE);
        event["detail"][field] = value;
        let message = rejected(event, &DrainConfig::default());
        assert!(
            message.contains(&format!("`{named}`")),
            "{field}: {message}"
        );
    }
    let mut event = fixture(LIFECYCLE);
    event["detail"] = json!([]);
    assert!(rejected(event, &DrainConfig::default()).contains("`detail`"));
    let mut event = fixture(LIFECYCLE);
    event["source"] = json!("my.app");
    assert!(rejected(event, &DrainConfig::default()).contains("`source`"));
    let mut event = fixture(LIFECYCLE);
    event["detail-type"] = json!("EC2 Instance Launch Successful");
    assert!(rejected(event, &DrainConfig::default()).contains("`detail-type`"));
    assert!(rejected(json!(null), &DrainConfig::default()).contains("`event`"));
    let error =
        DrainInput::parse(&json!({"settings": settings()}), &DrainConfig::default()).unwrap_err();
    assert!(error.to_string().contains("`event`"));
}

#[test]
fn refuses_foreign_groups_and_clusters() {
    for (cluster, managed, field) in [
        (
            Some("other"),
            "test-cluster-asg",
            "`detail.NotificationMetadata.cluster`",
        ),
        (None, "another-asg", "`detail.AutoScalingGroupName`"),
    ] {
        let config = DrainConfig {
            cluster: cluster.map(str::to_string),
            managed_asg_names: vec![managed.into()],
            ..DrainConfig::default()
        };
        let message = rejected(fixture(LIFECYCLE), &config);
        assert!(message.contains(field), "{message}");
    }
    let config = configured("arn:aws:ecs:us-west-2:123456789012:cluster/test-cluster");
    assert_eq!(
        parse(fixture(LIFECYCLE), &config).unwrap().request.cluster,
        "test-cluster"
    );
}

#[test]
fn sweeper_events_may_lack_the_token_aws_events_may_not() {
    let mut event = fixture(LIFECYCLE);
    event["detail"]
        .as_object_mut()
        .unwrap()
        .remove("LifecycleActionToken");
    let message = rejected(event.clone(), &DrainConfig::default());
    assert!(
        message.contains("`detail.LifecycleActionToken`"),
        "{message}"
    );
    event["source"] = json!(SWEEPER_SOURCE);
    let request = parse(event, &DrainConfig::default()).unwrap().request;
    assert_eq!(
        request.trigger,
        action("test-cluster-asg", "ecsTermination", None)
    );
}

#[test]
fn validates_settings_naming_them() {
    for (key, value) in [
        ("drain_deadline_seconds", json!("0")),
        ("drain_deadline_seconds", json!("172801")),
        ("drain_deadline_seconds", json!("soon")),
        ("deadline_result", json!("DEFAULT")),
        ("standalone_tasks", json!("kill")),
        ("standalone_task_grace_seconds", json!(-1)),
        ("nlb_deregistration_seconds", json!("3601")),
        ("nlb_deregistration_seconds", json!("soon")),
    ] {
        let mut settings = settings();
        settings[key] = value;
        let error = parse_settings(&settings).unwrap_err();
        assert_step_error(&error, "Misconfigured", &format!("`settings.{key}`"));
    }
    let mut settings = settings();
    settings.as_object_mut().unwrap().remove("deadline_result");
    assert!(parse_settings(&settings)
        .unwrap_err()
        .to_string()
        .contains("settings.deadline_result"));
    assert!(parse_settings(&Value::Null)
        .unwrap_err()
        .to_string()
        .contains("`settings`"));
}

#[test]
fn the_network_load_balancers_routing_time_defaults_to_five_minutes() {
    let mut settings = settings();
    assert_eq!(
        parse_settings(&settings)
            .unwrap()
            .nlb_deregistration_seconds,
        300
    );
    settings["nlb_deregistration_seconds"] = json!("120");
    assert_eq!(
        parse_settings(&settings)
            .unwrap()
            .nlb_deregistration_seconds,
        120
    );
}
