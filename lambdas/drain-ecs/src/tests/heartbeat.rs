use super::*;

#[tokio::test]
async fn a_late_event_heartbeats_at_once_from_when_the_wait_began() {
    let ci = Instance::absent();
    let heartbeat = heartbeat_ok();
    let deps = deps_with(&ci.and(&[]), &[&lifecycle_hook(30), &heartbeat]);
    // Delivered 21 s into a 30 s heartbeat timeout (0.7 x): heartbeat now, not 12 s later.
    let state = drain(&deps, lifecycle_input(), at(21)).await.unwrap();
    assert_eq!(heartbeat.num_calls(), 1);
    assert_eq!(state.heartbeat.last_at, Some(at(21)));
    // The clocks still count from when the wait began.
    assert_eq!(state.started_at, event_time());
    assert_eq!(state.deadline_at, at(3600));
}

#[tokio::test]
async fn an_event_whose_action_has_ended_changes_nothing() {
    // gone from the group (terminated), back in service, or leaving under another action
    for lifecycle_state in [
        None,
        Some("InService"),
        Some("Terminating:Proceed"),
        Some("Warmed:Stopped"),
    ] {
        // Within the hook's 300 s heartbeat timeout since the action began, the heartbeat
        // asks whether the instance still waits under it (AWS may not show it yet), and the
        // step asks again to decide; past the timeout, "No active" can only mean the end.
        for (now, reads) in [(100, 2), (400, 1)] {
            let ci = Instance::registered("ACTIVE");
            let described = auto_scaling_instance(lifecycle_state);
            let deps = deps_action_gone(&ci.and(&[]), &[&described]);
            let state = drain(&deps, lifecycle_input(), at(now)).await.unwrap();
            assert_eq!(
                state.status,
                DrainStatus::ActionEnded,
                "{lifecycle_state:?}"
            );
            assert!(state.heartbeat.action_gone && !state.heartbeat.unconfirmed);
            assert_eq!(described.num_calls(), reads, "{lifecycle_state:?} at {now}");
            assert_eq!(
                ci.list.num_calls() + ci.describe.num_calls() + ci.update.num_calls(),
                0
            );
            assert!(state.container_instance_arn.is_none());
        }
    }
}

#[tokio::test]
async fn an_action_aws_does_not_show_yet_is_drained_and_heartbeated_later() {
    // "No active Lifecycle Action found" a moment after the action began, the instance in
    // Terminating:Wait under it (no newer action): Auto Scaling's control plane does not
    // show the action yet. Taken for its end, the instance would go undrained.
    let ci = Instance::registered("ACTIVE");
    let tasks = list_tasks(&["web-1"], &[]);
    let described = auto_scaling_instance(Some("Terminating:Wait"));
    let this_action = terminating_since(INSTANCE_ID, event_time());
    let deps = deps_action_gone(
        &ci.and(&[&tasks, &describe_tasks()]),
        &[&described, &this_action],
    );
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(!state.heartbeat.action_gone);
    assert_eq!(
        state.heartbeat.last_at,
        Some(event_time()),
        "due again from the action's start"
    );
    assert_eq!(state.heartbeat.sent, 0);
    assert!(state.heartbeat.unconfirmed, "not drained until it can tell");
    assert_eq!(
        state.heartbeat.timeout_seconds,
        Some(300),
        "read to bound the doubt"
    );
    assert_eq!(ci.update.num_calls(), 1, "set DRAINING");
    assert_eq!(state.remaining.tasks, [task_arn("web-1")]);
}

#[tokio::test]
async fn a_retained_instance_is_drained_though_its_action_has_ended() {
    // An instance lifecycle policy keeps it running after an abandoned action (a FAILED
    // drain's): a redrive drains it before anyone terminates it.
    for lifecycle_state in ["Terminating:Retained", "Warmed:Pending:Retained"] {
        let ci = Instance::registered("ACTIVE");
        let tasks = list_tasks(&["web-1"], &[]);
        let described = auto_scaling_instance(Some(lifecycle_state));
        let deps = deps_action_gone(&ci.and(&[&tasks, &describe_tasks()]), &[&described]);
        let state = drain(&deps, lifecycle_input(), at(400)).await.unwrap();
        assert_eq!(state.status, DrainStatus::Draining, "{lifecycle_state}");
        assert!(state.heartbeat.action_gone);
        assert_eq!(ci.update.num_calls(), 1, "set DRAINING");
        assert_eq!(state.container_instance_arn.as_deref(), Some(CI_ARN));
        assert_eq!(state.remaining.tasks, [task_arn("web-1")]);
    }
}

#[tokio::test]
async fn an_ended_action_whose_instance_cannot_be_read_is_retried() {
    let ci = Instance::registered("ACTIVE");
    let throttled = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let deps = deps_action_gone(&ci.and(&[]), &[&throttled]);
    let error = drain(&deps, lifecycle_input(), at(400)).await.unwrap_err();
    assert_eq!(error.name(), "Retryable");
    assert_eq!(ci.update.num_calls(), 0, "nothing changed");
}

#[tokio::test]
async fn a_heartbeat_that_fails_for_another_reason_is_retried() {
    let ci = Instance::absent();
    let throttled = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let deps = deps_with(&ci.and(&[]), &[&lifecycle_hook(300), &throttled]);
    let error = drain(&deps, lifecycle_input(), at(1)).await.unwrap_err();
    assert_eq!(error.name(), "Retryable");
    assert_eq!(
        ci.list.num_calls(),
        0,
        "nothing changed before the heartbeat"
    );
}

#[tokio::test]
async fn the_first_heartbeat_does_not_wait_for_the_hook_to_be_read() {
    // A fleet's drains start together: one Auto Scaling call each (the heartbeat); the
    // hook's limits are read by the first check.
    let ci = Instance::absent();
    let short = lifecycle_hook(30);
    let deps = deps_with(&ci.and(&[]), &[&short, &heartbeat_ok()]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(short.num_calls(), 0);
    assert_eq!(state.heartbeat.sent, 1);
    assert_eq!(state.heartbeat.timeout_seconds, None);
    assert_eq!(state.deadline_at, at(3600));
}
