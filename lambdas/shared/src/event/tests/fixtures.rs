use super::*;
use crate::testing::assert_step_error;

#[test]
fn parses_the_lifecycle_fixture() {
    let parsed = parse(fixture(LIFECYCLE), &DrainConfig::default()).unwrap();
    let request = parsed.request;
    assert_eq!(
        request.trigger,
        action("test-cluster-asg", "ecsTermination", Some(TOKEN))
    );
    assert_eq!(request.instance_id, "i-1234567890abcdef0");
    assert_eq!(request.cluster, "test-cluster");
    assert_eq!(request.event_time.to_rfc3339(), "2026-11-27T00:00:00+00:00");
    assert_eq!(request.destination, Destination::Ec2);
    assert_eq!(parsed.settings.drain_deadline_seconds, 3000);
    assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
}

#[test]
fn parses_the_spot_fixture_with_the_configured_cluster() {
    let parsed = parse(fixture(SPOT), &configured("prod")).unwrap();
    let request = parsed.request;
    assert_eq!(request.trigger, Trigger::SpotInterruption);
    assert_eq!(request.instance_id, "i-1234567890abcdef0");
    assert_eq!(request.cluster, "prod");
    assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);

    let error = parse(fixture(SPOT), &DrainConfig::default()).unwrap_err();
    assert_step_error(&error, "Misconfigured", "ECS_CLUSTER");
}

#[test]
fn accepts_the_documented_terminate_example_with_the_configured_cluster() {
    let parsed = parse(fixture(AWS_TERMINATE), &configured("prod")).unwrap();
    let request = &parsed.request;
    assert_eq!(
        request.trigger,
        action("my-asg", "my-lifecycle-hook", Some(TOKEN))
    );
    assert_eq!(request.instance_id, "i-1234567890abcdef0");
    assert_eq!(request.cluster, "prod");
    assert_eq!(request.destination, Destination::Ec2);
    // "time": "yyyy-mm-ddThh:mm:ssZ": the execution's start stands in.
    assert_eq!(request.event_time, time(EXECUTION_START));
    let notes = parsed.notes.join("\n");
    assert_eq!(parsed.notes.len(), 2, "{notes}");
    assert!(
        notes.contains("`detail.NotificationMetadata` is not JSON (\"additional-info\")")
            && notes.contains("configured cluster prod"),
        "{notes}"
    );
    assert!(
        notes.contains("`time` is \"yyyy-mm-ddThh:mm:ssZ\"") && notes.contains("execution's start"),
        "{notes}"
    );
}

#[test]
fn refuses_the_documented_terminate_example_only_when_no_cluster_is_known() {
    let message = rejected(fixture(AWS_TERMINATE), &DrainConfig::default());
    assert!(
        message.contains("`detail.NotificationMetadata` is not JSON")
            && message.contains("ECS_CLUSTER is not set"),
        "{message}"
    );
}

#[test]
fn drains_an_instance_going_back_to_the_warm_pool() {
    let parsed = parse(fixture(AWS_WARM_POOL), &configured("prod")).unwrap();
    let request = &parsed.request;
    assert_eq!(request.destination, Destination::WarmPool);
    assert_eq!(request.cluster, "prod");
    assert_eq!(
        request.trigger,
        action(
            "my-asg",
            "my-termination-lifecycle-hook",
            Some("42694b3d-4b70-6a62-8523-09a1eEXAMPLE")
        )
    );
    assert_eq!(request.event_time, time("2022-03-28T00:12:37.214Z"));
    assert_eq!(parsed.notes.len(), 1, "{:?}", parsed.notes);
}

#[test]
fn accepts_the_documented_spot_example() {
    let parsed = parse(fixture(AWS_SPOT), &configured("prod")).unwrap();
    assert_eq!(parsed.request.trigger, Trigger::SpotInterruption);
    assert_eq!(parsed.request.instance_id, "i-1234567890abcdef0");
    assert_eq!(parsed.request.cluster, "prod");
    assert_eq!(parsed.request.event_time, time(EXECUTION_START));
    assert!(parsed.notes[0].starts_with("`time`"), "{:?}", parsed.notes);
}

#[test]
fn a_time_is_needed_from_the_event_or_the_execution() {
    let mut event = fixture(AWS_TERMINATE);
    event["detail"]["NotificationMetadata"] = json!("{\"cluster\": \"prod\"}");
    let error = DrainInput::parse(
        &json!({"event": event, "settings": settings()}),
        &DrainConfig::default(),
    )
    .unwrap_err();
    assert_step_error(&error, "InvalidEvent", "`time` is \"yyyy");
    for bad in [json!(5), Value::Null] {
        let mut event = fixture(LIFECYCLE);
        event["time"] = bad;
        let parsed = parse(event.clone(), &DrainConfig::default()).unwrap();
        assert_eq!(parsed.request.event_time, time(EXECUTION_START));
        assert_eq!(parsed.notes.len(), 1);
        let error = DrainInput::parse(
            &json!({"event": event, "settings": settings()}),
            &DrainConfig::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("`time`"), "{error}");
    }
}
