use super::*;

/// Checks `state` at `offset` s in `world` (see [`heartbeat_world`]), and asserts that
/// `heartbeats` RecordLifecycleActionHeartbeat calls have been made by then in all (`why`).
async fn check_counting_heartbeats(
    world: &MockRules,
    state: DrainState,
    offset: i64,
    heartbeats: usize,
    why: &str,
) -> DrainState {
    let state = check(&world.clients(), state, at(offset)).await.unwrap();
    assert_eq!(world.autoscaling[1].num_calls(), heartbeats, "{why}");
    state
}

#[tokio::test]
async fn heartbeats_when_due_and_not_before() {
    let world = heartbeat_world(heartbeat_ok());
    // Nothing can be due before 12 s (0.4 x 30 s, AWS's shortest timeout): the hook is not
    // even read.
    check_deregistered(&world, 11).await.unwrap();
    assert_eq!(world.autoscaling[0].num_calls(), 0, "no hook read at 11 s");
    // 60 s heartbeat timeout: due 24 s after the hook's timer started.
    let state = check_counting_heartbeats(&world, deregistered(), 20, 0, "not due at 20 s").await;
    assert_eq!(state.heartbeat.timeout_seconds, Some(60));
    assert!(
        state.wait_seconds <= 24,
        "never waits past a heartbeat: {}",
        state.wait_seconds
    );
    // The hook's global timeout (100 x 60 s) caps the one-hour deadline.
    assert_eq!(state.deadline_at, at(6000 - 60).min(at(3600)));

    let state = check_counting_heartbeats(&world, state, 25, 1, "due at 25 s").await;
    assert_eq!(state.heartbeat.last_at, Some(at(25)));
    assert_eq!(state.heartbeat.sent, 1);
    assert_eq!(
        world.autoscaling[0].num_calls(),
        2,
        "the hook is read again for the heartbeat's pace"
    );

    let state = check_counting_heartbeats(&world, state, 40, 1, "not due again until 49 s").await;
    assert_eq!(state.heartbeat.sent, 1);
}

#[tokio::test]
async fn heartbeats_keep_the_pace_of_the_hook_as_it_is_now() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A stack update lowers the hook's heartbeat timeout from 120 s to 30 s mid-drain: the
    // running timer is the one the last heartbeat set, each heartbeat extends it by 30 s.
    let reads = std::sync::Arc::new(AtomicUsize::new(0));
    let hook = {
        let reads = reads.clone();
        mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks).then_compute_output(
            move |_| {
                let timeout = if reads.fetch_add(1, Ordering::SeqCst) == 0 { 120 } else { 30 };
                aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput::builder()
                    .lifecycle_hooks(
                        aws_sdk_autoscaling::types::LifecycleHook::builder()
                            .heartbeat_timeout(timeout)
                            .global_timeout(timeout * 100)
                            .build(),
                    )
                    .build()
            },
        )
    };
    let mut world = heartbeat_world(heartbeat_ok());
    world.autoscaling[0] = hook;
    let state =
        check_counting_heartbeats(&world, deregistered(), 20, 0, "not due before 48 s").await;
    assert_eq!(state.heartbeat.timeout_seconds, Some(120));

    let state = check_counting_heartbeats(&world, state, 50, 1, "due at 48 s").await;
    assert_eq!(state.heartbeat.timeout_seconds, Some(30));
    assert!(state.wait_seconds <= 12, "{}", state.wait_seconds);
    assert_eq!(
        state.deadline_at,
        at(3000 - 60),
        "capped at the new global timeout"
    );

    let state = check_counting_heartbeats(&world, state, 63, 2, "due 12 s after the last").await;
    assert_eq!(state.heartbeat.sent, 2);
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_due_heartbeat_goes_before_the_reads() {
    // A read that fails (throttled here; or one that hangs past the function's timeout)
    // ends the check: the state machine's retries of it must not delay the heartbeat.
    let mut world = heartbeat_world(heartbeat_ok());
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let error = check_deregistered(&world, 30).await.unwrap_err();
    assert_step_error(&error, "Retryable", "DescribeTasks");
    assert_eq!(
        world.autoscaling[1].num_calls(),
        1,
        "the heartbeat due at 24 s went before the failed read"
    );
}

#[tokio::test]
async fn an_action_gone_ends_the_drain_touching_nothing_once_the_instance_serves_again() {
    // A redrive after the action expired: the instance is back from a warm pool and serves
    // again; nothing is read, stopped or deregistered.
    let mut world = heartbeat_world(heartbeat_gone());
    world
        .autoscaling
        .push(auto_scaling_instance(Some("InService")));
    let state = check_deregistered(&world, 30).await.unwrap();
    assert!(state.heartbeat.action_gone);
    assert_eq!(state.status, DrainStatus::ActionEnded);
    assert_eq!(state.wait_seconds, 0);
    assert_eq!(world.instance_calls(), 0);

    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks)
        .then_output(|| DescribeLifecycleHooksOutput::builder().build());
    world.autoscaling.extend([
        auto_scaling_instance(Some("Terminating:Proceed")),
        scaling_activities(Vec::new()),
    ]);
    let state = check_deregistered(&world, 30).await.unwrap();
    assert!(
        state.heartbeat.action_gone,
        "a deleted hook has no action to keep alive"
    );
    assert_eq!(
        state.status,
        DrainStatus::Draining,
        "the instance is leaving"
    );
}

#[tokio::test]
async fn an_action_gone_lets_the_drain_finish_while_the_instance_leaves() {
    // Expired with ABANDON under a retention policy (the instance runs on, retained), in
    // the warm pool, or terminated: the drain still takes it out of the load balancers
    // nobody else manages, and releases a warm-pool instance's container instance.
    for lifecycle_state in [Some("Terminating:Retained"), Some("Warmed:Stopped"), None] {
        let mut world = heartbeat_world(heartbeat_gone());
        world.autoscaling.extend([
            auto_scaling_instance(lifecycle_state),
            scaling_activities(Vec::new()),
        ]);
        let state = check_deregistered(&world, 30).await.unwrap();
        assert!(state.heartbeat.action_gone);
        assert_eq!(state.status, DrainStatus::Draining, "{lifecycle_state:?}");
        assert!(world.instance_calls() > 0);
    }
}

#[tokio::test]
async fn a_deleted_group_fails_the_check_naming_it() {
    let group_deleted = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| {
            query_error(
                400,
                "ValidationError",
                "AutoScalingGroup name not found - AutoScalingGroup test-cluster-asg not found",
            )
        });
    let world = heartbeat_world(group_deleted);
    let error = check_deregistered(&world, 30).await.unwrap_err();
    assert_step_error(&error, "ResourceNotFound", "test-cluster-asg");
}

#[tokio::test]
async fn no_active_action_is_its_end_only_once_aws_has_shown_it() {
    // No heartbeat of the action taken yet, the instance waiting under it: AWS does not show
    // the action yet. The drain goes on, the action alive, and heartbeats again when due.
    let mut world = heartbeat_world(heartbeat_gone());
    world.autoscaling.extend([
        auto_scaling_instance(Some("Terminating:Wait")),
        this_action(),
    ]);
    let state = check_deregistered(&world, 30).await.unwrap();
    assert!(!state.heartbeat.action_gone);
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(state.wait_seconds <= 24, "{}", state.wait_seconds);

    // AWS took a heartbeat of it: "no active action" is its end, though the instance still
    // waits (under another terminate hook's action).
    let mut input = deregistered();
    input.heartbeat.sent = 1;
    input.heartbeat.last_at = Some(at(20));
    let state = check(&world.clients(), input, at(50)).await.unwrap();
    assert!(state.heartbeat.action_gone);
    assert_eq!(
        state.status,
        DrainStatus::Draining,
        "the instance is leaving"
    );
}

/// The activity of the drain's action, in progress (no newer action of the instance began).
fn this_action() -> Rule {
    terminating_since(INSTANCE_ID, event_time())
}

#[tokio::test]
async fn a_drained_instance_waits_until_aws_takes_a_heartbeat_or_can_only_have_ended() {
    // Drained, no heartbeat of the action ever taken, "No active" while the instance still
    // waits: AWS may not show the action yet, or an earlier execution of the same event
    // completed it while another terminate hook keeps the instance waiting. Not completed
    // yet: checked again soon, heartbeating at every check.
    let drained = |heartbeat: Rule| {
        let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
        world.autoscaling = vec![
            lifecycle_hook(60),
            heartbeat,
            auto_scaling_instance(Some("Terminating:Wait")),
            this_action(),
        ];
        world
    };
    let world = drained(heartbeat_gone());
    let mut input = deregistered();
    input.heartbeat.unconfirmed = true;
    input.heartbeat.timeout_seconds = Some(60);
    let state = check(&world.clients(), input, at(40)).await.unwrap();
    assert_eq!(
        world.autoscaling[1].num_calls(),
        1,
        "not due by the timer, tried anyway"
    );
    assert!(state.heartbeat.unconfirmed && !state.heartbeat.action_gone);
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.wait_seconds, 15);
    assert!(state.remaining.is_empty());

    // AWS takes the next one: drained.
    let world = drained(heartbeat_ok());
    let state = check(&world.clients(), state, at(55)).await.unwrap();
    assert!(!state.heartbeat.unconfirmed);
    assert_eq!(state.heartbeat.sent, 1);
    assert_eq!(state.status, DrainStatus::Drained);

    // Or none taken when the hook's 60 s heartbeat timeout has passed since the action
    // began: the action has ended, and the drain finishes while the instance leaves.
    let world = drained(heartbeat_gone());
    let mut input = deregistered();
    input.heartbeat.unconfirmed = true;
    input.heartbeat.timeout_seconds = Some(60);
    let state = check(&world.clients(), input, at(61)).await.unwrap();
    assert!(state.heartbeat.action_gone && !state.heartbeat.unconfirmed);
    assert_eq!(
        world.autoscaling[2].num_calls(),
        1,
        "asked only to decide the instance's fate"
    );
    assert_eq!(state.status, DrainStatus::Drained);
}
