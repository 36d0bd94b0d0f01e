use super::*;
use crate::state::{Destination, LifecycleAction, Trigger};
use serde_json::json;

const LIFECYCLE: &str = include_str!("../../../../tests/fixtures/lifecycle-terminate.json");
const SPOT: &str = include_str!("../../../../tests/fixtures/spot-interruption.json");
const SQS_TEST: &str = include_str!("../../../../tests/fixtures/sqs-test-notification.json");
/// AWS's documented examples, verbatim (tests/fixtures/README.md says where from).
const AWS_TERMINATE: &str =
    include_str!("../../../../tests/fixtures/aws-doc-lifecycle-terminate.json");
const AWS_WARM_POOL: &str =
    include_str!("../../../../tests/fixtures/aws-doc-lifecycle-terminate-warm-pool.json");
const AWS_SPOT: &str = include_str!("../../../../tests/fixtures/aws-doc-spot-interruption.json");

const EXECUTION_START: &str = "2026-11-27T00:00:01Z";

fn settings() -> Value {
    json!({"drain_deadline_seconds": "3000", "deadline_result": "CONTINUE",
           "standalone_tasks": "wait", "standalone_task_grace_seconds": "300"})
}

fn input(event: Value) -> Value {
    json!({"event": event, "execution_start_time": EXECUTION_START, "settings": settings()})
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn parse(event: Value, config: &DrainConfig) -> Result<DrainInput, StepError> {
    DrainInput::parse(&input(event), config)
}

fn configured(cluster: &str) -> DrainConfig {
    DrainConfig {
        cluster: Some(cluster.into()),
        ..DrainConfig::default()
    }
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn action(asg: &str, hook: &str, token: Option<&str>) -> Trigger {
    Trigger::LifecycleAction(LifecycleAction {
        asg_name: asg.into(),
        hook_name: hook.into(),
        token: token.map(str::to_string),
    })
}

#[test]
fn parses_the_lifecycle_fixture() {
    let parsed = parse(fixture(LIFECYCLE), &DrainConfig::default()).unwrap();
    let request = parsed.request;
    assert_eq!(
        request.trigger,
        action(
            "test-cluster-asg",
            "ecsTermination",
            Some("87654321-4321-4321-4321-210987654321")
        )
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
    assert_eq!(error.name(), "Misconfigured");
    assert!(error.to_string().contains("ECS_CLUSTER"));
}

#[test]
fn accepts_the_documented_terminate_example_with_the_configured_cluster() {
    let parsed = parse(fixture(AWS_TERMINATE), &configured("prod")).unwrap();
    let request = &parsed.request;
    assert_eq!(
        request.trigger,
        action(
            "my-asg",
            "my-lifecycle-hook",
            Some("87654321-4321-4321-4321-210987654321")
        )
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
    assert_eq!(error.name(), "InvalidEvent");
    assert!(error.to_string().contains("`time` is \"yyyy"), "{error}");
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
    for bad in [json!("AutoScalingGroup"), json!("warmpool"), json!(1)] {
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

fn rejected(event: Value, config: &DrainConfig) -> String {
    let error = parse(event, config).unwrap_err();
    assert_eq!(error.name(), "InvalidEvent", "{error}");
    error.to_string()
}

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
    let config = DrainConfig {
        cluster: Some("other".into()),
        managed_asg_names: vec!["test-cluster-asg".into()],
        ..DrainConfig::default()
    };
    let message = rejected(fixture(LIFECYCLE), &config);
    assert!(
        message.contains("`detail.NotificationMetadata.cluster`"),
        "{message}"
    );
    let config = DrainConfig {
        managed_asg_names: vec!["another-asg".into()],
        ..DrainConfig::default()
    };
    let message = rejected(fixture(LIFECYCLE), &config);
    assert!(
        message.contains("`detail.AutoScalingGroupName`"),
        "{message}"
    );
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
    ] {
        let mut settings = settings();
        settings[key] = value;
        let error = parse_settings(&settings).unwrap_err();
        assert_eq!(error.name(), "Misconfigured");
        assert!(
            error.to_string().contains(&format!("`settings.{key}`")),
            "{error}"
        );
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
