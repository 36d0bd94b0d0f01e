use super::*;
use crate::state::{Destination, LifecycleAction, Trigger};
use crate::testing::TOKEN;
use serde_json::json;

const LIFECYCLE: &str = include_str!("../../../../../tests/fixtures/lifecycle-terminate.json");
const SPOT: &str = include_str!("../../../../../tests/fixtures/spot-interruption.json");
const SQS_TEST: &str = include_str!("../../../../../tests/fixtures/sqs-test-notification.json");
/// AWS's documented examples, verbatim (tests/fixtures/README.md says where from).
const AWS_TERMINATE: &str =
    include_str!("../../../../../tests/fixtures/aws-doc-lifecycle-terminate.json");
const AWS_WARM_POOL: &str =
    include_str!("../../../../../tests/fixtures/aws-doc-lifecycle-terminate-warm-pool.json");
const AWS_SPOT: &str = include_str!("../../../../../tests/fixtures/aws-doc-spot-interruption.json");

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

fn rejected(event: Value, config: &DrainConfig) -> String {
    let error = parse(event, config).unwrap_err();
    assert_eq!(error.name(), "InvalidEvent", "{error}");
    error.to_string()
}

mod fields;
mod fixtures;
mod refused;
