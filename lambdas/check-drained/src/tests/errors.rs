use super::*;

#[tokio::test]
async fn errors_map_to_stable_names() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(10))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );

    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elb[0] = mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_http_response(|| query_error(503, "ServiceUnavailable", "try later"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(10))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );

    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| query_error(400, "AccessDenied", "no"));
    let error = check(&world.clients(), deregistered(), at(10))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(error.to_string().contains("DescribeTargetHealth"));

    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(30))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );
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
    assert_eq!(error.name(), "InvalidEvent");
    assert!(error.to_string().contains("remaining.tasks"), "{error}");
}

#[tokio::test]
async fn a_sweeper_request_heartbeats_by_instance_id() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_compute_output(|req| {
            assert_eq!(req.lifecycle_action_token(), None);
            assert_eq!(req.instance_id(), Some(INSTANCE_ID));
            RecordLifecycleActionHeartbeatOutput::builder().build()
        });
    world
        .autoscaling
        .push(scaling_activities(vec![scaling_activity(
            &format!("Terminating EC2 instance: {INSTANCE_ID}"),
            event_time(),
            ScalingActivityStatusCode::MidLifecycleAction,
        )]));
    let mut input = deregistered();
    drop_token(&mut input.request);
    let state = check(&world.clients(), input, at(30)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 1);
}

#[tokio::test]
async fn a_stale_sweeper_request_never_heartbeats_a_newer_action() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world
        .autoscaling
        .push(scaling_activities(vec![scaling_activity(
            &format!("Terminating EC2 instance: {INSTANCE_ID}"),
            at(600),
            ScalingActivityStatusCode::MidLifecycleAction,
        )]));
    let mut input = deregistered();
    drop_token(&mut input.request);
    let state = check(&world.clients(), input, at(630)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 0);
    assert!(state.heartbeat.action_gone);
    assert_eq!(world.autoscaling[1].num_calls(), 0);
}
