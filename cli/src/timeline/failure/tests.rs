use super::super::tests::visits;
use super::super::{from_events, render, Timeline};
use crate::testing::*;
use serde_json::{json, Value};

const CAUSE: &str =
    r#"{"errorType":"Retryable","errorMessage":"CompleteLifecycleAction: ServiceUnavailable"}"#;

/// The hook's heartbeat timeout (300 s) restarted at the event.
fn with_hook(state: Value) -> Value {
    edited(state, |state| state.heartbeat.timeout_seconds = Some(300))
}

/// Drained at +20s, then CompleteLifecycleAction failed twice with a Lambda's JSON cause.
fn failed_after_drain(now: i64) -> Timeline {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task(
            "DrainContainerInstance",
            0,
            2,
            with_hook(state("draining", 0, 0)),
        )
        .entered("Wait", "WaitForDrain", 2, waiting(18))
        .exited("Wait", "WaitForDrain", 20, waiting(18))
        .task("CheckDrained", 20, 21, with_hook(state("drained", 0, 1)))
        .entered("Task", "CompleteLifecycleAction", 21, json!({}))
        .scheduled(21)
        .task_failed(22, "Retryable", CAUSE)
        .scheduled(24)
        .task_failed(25, "Retryable", CAUSE)
        .failed(25, "Retryable", CAUSE);
    from_events(&arn("failed"), &h.events, at(now))
}

#[test]
fn a_drain_that_failed_after_draining_says_what_remains() {
    let timeline = failed_after_drain(100);
    let stop = timeline.stop.clone().unwrap();
    assert_eq!(stop.state.as_deref(), Some("CompleteLifecycleAction"));
    assert_eq!(stop.during, "after the instance drained");
    assert_eq!(
        stop.remains,
        "the lifecycle action is not completed (the hook's heartbeat timeout ends it at \
         2026-11-27 00:05:00Z with the hook's default result)"
    );
    assert_eq!(
        stop.replay,
        "`ecs-sta replay` resumes at CompleteLifecycleAction"
    );
    let text = render(&timeline);
    assert!(
        text.contains(
            "status      FAILED at CompleteLifecycleAction, after the instance drained\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("to do       the lifecycle action is not completed (the hook's"),
        "{text}"
    );
    assert!(
        text.contains("; `ecs-sta replay` resumes at CompleteLifecycleAction\n"),
        "{text}"
    );
    // The cause's message, never its JSON, in the summary and the failing state's row.
    assert!(
        text.contains("cause       CompleteLifecycleAction: ServiceUnavailable\n"),
        "{text}"
    );
    assert!(
        text.contains("FAILED Retryable: CompleteLifecycleAction: ServiceUnavailable"),
        "{text}"
    );
    assert!(!text.contains("errorMessage"), "{text}");
    assert!(text.contains('✗'), "the chart marks the failure: {text}");
    assert!(text.contains("1 retried (Retryable); FAILED"), "{text}");
    // --json keeps the cause as Step Functions gave it.
    let json = serde_json::to_value(&timeline).unwrap();
    assert_eq!(json["cause"], CAUSE);
    assert_eq!(json["stop"]["state"], "CompleteLifecycleAction");

    // Read after the hook's timeout: Auto Scaling has ended the action.
    let late = failed_after_drain(1000).stop.unwrap();
    assert!(
        late.remains
            .contains("the hook's heartbeat timeout passed at 2026-11-27 00:05:00Z"),
        "{}",
        late.remains
    );
}

#[test]
fn a_drain_that_failed_while_draining_names_what_was_left() {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 2, state("draining", 0, 0))
        .entered("Task", "CheckDrained", 30, json!({}))
        .scheduled(30)
        .task_failed(31, "AwsRequestFailed", "DescribeTasks: AccessDenied")
        .failed(31, "AwsRequestFailed", "DescribeTasks: AccessDenied");
    let timeline = from_events(&arn("x"), &h.events, at(40));
    let stop = timeline.stop.unwrap();
    assert_eq!(
        stop.place(),
        "at CheckDrained, while the instance was draining"
    );
    assert_eq!(
        stop.remains,
        "the drain is not finished (1 task(s) and 0 load balancer(s) left at the last check); \
         the lifecycle action is not completed"
    );
}

#[test]
fn a_refused_event_cannot_be_replayed() {
    let mut h = History::default();
    h.started(0, json!({"Event": "autoscaling:TEST_NOTIFICATION"}))
        .entered("Task", "DrainContainerInstance", 0, json!({}))
        .scheduled(0)
        .task_failed(
            1,
            "InvalidEvent",
            "`Event` is autoscaling:TEST_NOTIFICATION",
        )
        .exited("Task", "DrainContainerInstance", 1, json!({"failure": {}}))
        .entered("Fail", "RejectInvalidEvent", 1, json!({}))
        .failed(
            1,
            "InvalidEvent",
            "`Event` is autoscaling:TEST_NOTIFICATION",
        );
    let timeline = from_events(&arn("bad"), &h.events, at(5));
    let stop = timeline.stop.clone().unwrap();
    assert_eq!(
        stop.place(),
        "at RejectInvalidEvent (InvalidEvent caught in DrainContainerInstance), before the drain started"
    );
    assert!(stop.remains.starts_with("nothing: the event was refused"));
    assert!(stop.replay.starts_with("a replay fails there again"));
    assert_eq!(visits(&timeline).len(), 2);
}

#[test]
fn a_spot_drain_or_a_success_has_nothing_left() {
    let spot = edited(state("drained", 0, 1), |state| {
        state.request.trigger = sta_shared::state::Trigger::SpotInterruption;
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("CheckDrained", 0, 1, spot)
        .entered("Task", "CompleteLifecycleAction", 1, json!({}))
        .scheduled(1)
        .task_failed(2, "Retryable", "boom")
        .failed(2, "Retryable", "boom");
    let stop = from_events(&arn("spot"), &h.events, at(5)).stop.unwrap();
    assert!(
        stop.remains.starts_with("nothing: the instance drained"),
        "{}",
        stop.remains
    );

    let succeeded = from_events(&arn("ok"), &super::super::tests::succeeded_drain(), at(500));
    assert_eq!(succeeded.stop, None);
    assert!(render(&succeeded).contains("status      SUCCEEDED  drain drained\n"));
}

#[test]
fn an_action_already_ended_says_nothing_was_changed() {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 1, state("action_ended", 0, 0))
        .entered("Succeed", "LifecycleActionAlreadyEnded", 1, json!({}))
        .exited(
            "Succeed",
            "LifecycleActionAlreadyEnded",
            1,
            state("action_ended", 0, 0),
        )
        .succeeded(1);
    let text = render(&from_events(&arn("late"), &h.events, at(5)));
    assert!(
        text.contains("status      SUCCEEDED  drain action_ended\n"),
        "{text}"
    );
    assert!(
        text.contains("note        the lifecycle action had already ended when the drain began"),
        "{text}"
    );
}
