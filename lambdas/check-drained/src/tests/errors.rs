use super::*;

#[tokio::test]
async fn errors_map_to_stable_names() {
    let mut tasks_throttled = rules_for("RUNNING", "OutOfService", UNUSED);
    tasks_throttled.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let mut classic_unavailable = rules_for("STOPPED", "OutOfService", UNUSED);
    classic_unavailable.elb[0] =
        mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
            .then_http_response(|| query_error(503, "ServiceUnavailable", "try later"));
    let mut targets_denied = rules_for("STOPPED", "OutOfService", UNUSED);
    targets_denied.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| query_error(400, "AccessDenied", "no"));
    let heartbeat_throttled = heartbeat_world(
        mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
            .then_http_response(|| query_error(400, "Throttling", "Rate exceeded")),
    );
    for (world, offset, name, operation) in [
        (tasks_throttled, 10, "Retryable", "DescribeTasks"),
        (
            classic_unavailable,
            10,
            "Retryable",
            "DescribeInstanceHealth",
        ),
        (
            targets_denied,
            10,
            "AwsRequestFailed",
            "DescribeTargetHealth",
        ),
        (
            heartbeat_throttled,
            30,
            "Retryable",
            "RecordLifecycleActionHeartbeat",
        ),
    ] {
        let error = check_deregistered(&world, offset).await.unwrap_err();
        assert_eq!(error.name(), name, "{error}");
        assert!(error.to_string().contains(operation), "{error}");
    }
}

#[tokio::test]
async fn the_handler_refuses_a_malformed_state() {
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let mut value = serde_json::to_value(deregistered()).unwrap();
    value["remaining"]["tasks"] = serde_json::json!("all");
    let error = handler(
        &world.clients(),
        LambdaEvent::new(value, lambda_runtime::Context::default()),
    )
    .await
    .unwrap_err();
    assert_step_error(&error, "InvalidEvent", "remaining.tasks");
}

/// A drain the sweeper started (its request has no token), whose instance's termination
/// began at `started`, with heartbeats answered by `heartbeat`.
fn swept(heartbeat: Rule, started: DateTime<Utc>) -> (MockRules, DrainState) {
    let mut world = heartbeat_world(heartbeat);
    world
        .autoscaling
        .push(terminating_since(INSTANCE_ID, started));
    let mut input = deregistered();
    drop_token(&mut input.request);
    (world, input)
}

#[tokio::test]
async fn a_sweeper_request_heartbeats_by_instance_id() {
    let by_instance_id = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_compute_output(|req| {
            assert_eq!(req.lifecycle_action_token(), None);
            assert_eq!(req.instance_id(), Some(INSTANCE_ID));
            RecordLifecycleActionHeartbeatOutput::builder().build()
        });
    let (world, input) = swept(by_instance_id, event_time());
    let state = check(&world.clients(), input, at(30)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 1);
}

#[tokio::test]
async fn a_stale_sweeper_request_never_heartbeats_a_newer_action() {
    // The reused instance waits again, under a newer action that has a drain of its own:
    // this one ends, touching nothing.
    let (mut world, input) = swept(heartbeat_ok(), at(600));
    world
        .autoscaling
        .push(auto_scaling_instance(Some("Terminating:Wait")));
    let state = check(&world.clients(), input, at(630)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 0);
    assert!(state.heartbeat.action_gone);
    assert!(state.heartbeat.superseded);
    let calls: Vec<usize> = world.autoscaling.iter().map(Rule::num_calls).collect();
    // The hook read, no heartbeat, the newer action looked for once, and no lifecycle
    // state read: a superseded action needs none.
    assert_eq!(calls, [1, 0, 1, 0]);
    assert_eq!(state.status, DrainStatus::ActionEnded);
    assert_eq!(world.instance_calls(), 0);
}
