//! The sweeper keeps the action of every running drain alive, by instance id.

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_smithy_mocks::mock;
use sta_shared::state::Destination;
use sta_shared::testing::{assert_step_error, at, query_error};

use crate::sweep;
use crate::tests::{
    deps, executions, groups, heartbeat_ok, history, lifecycle_execution, serving_execution,
    start_ok, sweep_now, WAITING,
};

#[tokio::test]
async fn a_running_drain_has_its_action_heartbeated_and_no_other_does() {
    for (status, heartbeats) in [
        ("RUNNING", 1),
        ("SUCCEEDED", 0),
        ("FAILED", 0),
        ("TIMED_OUT", 0),
        ("ABORTED", 0),
    ] {
        let (asg, history, heartbeat) = (groups(true), history(), heartbeat_ok());
        let (list, describe) = executions(vec![lifecycle_execution(
            "for-waiting",
            status,
            crate::tests::began() + chrono::Duration::seconds(5),
        )]);
        let report = sweep_now(&[&asg, &history, &heartbeat], &[&list, &describe])
            .await
            .unwrap();
        assert_eq!(heartbeat.num_calls(), heartbeats, "{status}");
        let kept: &[&str] = if heartbeats == 1 { &[WAITING] } else { &[] };
        assert_eq!(report.kept_alive, kept, "{status}");
    }
}

#[tokio::test]
async fn a_drain_the_sweep_starts_is_kept_alive_at_once() {
    // Its first function may be Inactive: no step of it can heartbeat before it is Active.
    let (asg, history, heartbeat) = (groups(true), history(), heartbeat_ok());
    let start = start_ok(Destination::Ec2);
    let (list, describe) = executions(vec![serving_execution(at(-60))]);
    let report = sweep_now(&[&asg, &history, &heartbeat], &[&list, &describe, &start])
        .await
        .unwrap();
    assert_eq!(report.started.len(), 1);
    assert_eq!(report.kept_alive, [WAITING]);
    assert_eq!(heartbeat.num_calls(), 1);
}

#[tokio::test]
async fn nothing_waiting_means_no_heartbeat() {
    let (asg, history, heartbeat) = (groups(false), history(), heartbeat_ok());
    let (list, describe) = executions(vec![lifecycle_execution("other", "RUNNING", at(-30))]);
    let report = sweep_now(&[&asg, &history, &heartbeat], &[&list, &describe])
        .await
        .unwrap();
    assert!(report.kept_alive.is_empty());
    assert_eq!(heartbeat.num_calls(), 0);
}

#[tokio::test]
async fn a_heartbeat_that_fails_fails_the_sweep_after_the_drains_are_started() {
    let (asg, history, start) = (groups(true), history(), start_ok(Destination::Ec2));
    let denied = mock!(AutoScaling::record_lifecycle_action_heartbeat)
        .then_http_response(|| query_error(400, "AccessDenied", "from the test"));
    let (list, describe) = executions(vec![]);
    let error = sweep(
        &deps(&[&asg, &history, &denied], &[&list, &describe, &start]),
        at(0),
    )
    .await
    .unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "RecordLifecycleActionHeartbeat");
    assert_eq!(
        start.num_calls(),
        1,
        "the lost event's drain was started first"
    );
}

#[tokio::test]
async fn an_ended_action_needs_no_heartbeat_and_a_throttled_one_waits_for_the_next_sweep() {
    let ended = format!("No active Lifecycle Action found with instance ID {WAITING}");
    for (code, message) in [
        ("ValidationError", ended.as_str()),
        ("Throttling", "Rate exceeded"),
    ] {
        let (asg, history) = (groups(true), history());
        let message = message.to_string();
        let refused = mock!(AutoScaling::record_lifecycle_action_heartbeat)
            .then_http_response(move || query_error(400, code, &message));
        let (list, describe) = executions(vec![lifecycle_execution(
            "for-waiting",
            "RUNNING",
            crate::tests::began(),
        )]);
        let report = sweep_now(&[&asg, &history, &refused], &[&list, &describe])
            .await
            .unwrap();
        assert!(report.kept_alive.is_empty(), "{code}");
        // Throttled: the SDK's default 3 attempts, then left to the next sweep.
        let attempts = if code == "Throttling" { 3 } else { 1 };
        assert_eq!(refused.num_calls(), attempts, "{code}");
    }
}
