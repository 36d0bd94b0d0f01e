use super::super::tests::{denied_in, refused_event, succeeded_drain, visits};
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
        .attempt_failed(21, 22, "Retryable", CAUSE)
        .attempt_failed(24, 25, "Retryable", CAUSE)
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
    assert_contains(
        &text,
        &[
            "status      FAILED at CompleteLifecycleAction, after the instance drained\n",
            "to do       the lifecycle action is not completed (the hook's",
            "; `ecs-sta replay` resumes at CompleteLifecycleAction\n",
            // The cause's message, never its JSON, in the summary and the failing state's row.
            "cause       CompleteLifecycleAction: ServiceUnavailable\n",
            "FAILED Retryable: CompleteLifecycleAction: ServiceUnavailable",
            "1 retried (Retryable); FAILED",
        ],
    );
    assert!(!text.contains("errorMessage"), "{text}");
    assert!(text.contains('✗'), "the chart marks the failure: {text}");
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
    let h = denied_in("CheckDrained", 30, "DescribeTasks: AccessDenied");
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
    let timeline = from_events(&arn("bad"), &refused_event(), at(5));
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
        .failed_in_task("CompleteLifecycleAction", 1, 2, "Retryable", "boom");
    let stop = from_events(&arn("spot"), &h.events, at(5)).stop.unwrap();
    assert!(
        stop.remains.starts_with("nothing: the instance drained"),
        "{}",
        stop.remains
    );

    let succeeded = from_events(&arn("ok"), &succeeded_drain(), at(500));
    assert_eq!(succeeded.stop, None);
    assert!(render(&succeeded).contains("status      SUCCEEDED  drain drained\n"));
}

#[test]
fn an_action_already_ended_says_nothing_was_changed() {
    let mut h = History::default();
    h.started(0, lifecycle_input()).task(
        "DrainContainerInstance",
        0,
        1,
        state("action_ended", 0, 0),
    );
    ended(&mut h, 1, state("action_ended", 0, 0));
    assert_contains(
        &render(&from_events(&arn("late"), &h.events, at(5))),
        &[
            "status      SUCCEEDED  drain action_ended\n",
            "note        the lifecycle action had already ended when the drain began",
        ],
    );
}

#[test]
fn an_action_that_ended_mid_drain_says_the_drain_stopped_there() {
    // A redrive a day after the action expired: the check found no action, the instance
    // back in service, and ended.
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 1, state("draining", 1, 0))
        .task("DeregisterFromLoadBalancers", 1, 2, state("draining", 1, 0))
        .task("CheckDrained", 86_400, 86_401, state("action_ended", 1, 1));
    ended(&mut h, 86_401, state("action_ended", 1, 1));
    assert_contains(
        &render(&from_events(&arn("redriven"), &h.events, at(86_405))),
        &[
            "status      SUCCEEDED  drain action_ended\n",
            "note        the lifecycle action ended mid-drain and the instance was no longer leaving",
            "ecs-sta doctor lists it",
        ],
    );

    // A drain the sweeper started, whose instance is leaving again under a newer action by
    // the time the load balancers come: the drain's state says so, whatever its steps.
    let superseded = edited(state("action_ended", 1, 0), |state| {
        state.heartbeat.action_gone = true;
        state.heartbeat.superseded = true;
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 1, state("draining", 1, 0))
        .task("DeregisterFromLoadBalancers", 600, 601, superseded.clone());
    ended(&mut h, 601, superseded);
    let text = render(&from_events(&arn("swept"), &h.events, at(605)));
    assert_contains(
        &text,
        &["note        the lifecycle action ended mid-drain and the instance was leaving under a newer one"],
    );
    assert!(!text.contains("doctor"), "{text}");
}

/// The execution ends at `LifecycleActionAlreadyEnded` at `t` with `state`.
fn ended(h: &mut History, t: i64, state: Value) {
    h.entered("Succeed", "LifecycleActionAlreadyEnded", t, json!({}))
        .exited("Succeed", "LifecycleActionAlreadyEnded", t, state)
        .succeeded(t);
}
