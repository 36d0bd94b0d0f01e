use super::*;

#[tokio::test]
async fn throttling_and_5xx_are_retryable_other_errors_are_not() {
    for (status, code, name) in [
        (400, "Throttling", "Retryable"),
        (503, "ServiceUnavailable", "Retryable"),
        (400, "AccessDenied", "AwsRequestFailed"),
    ] {
        let mut rules = full();
        rules.elbv2[1] = mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets)
            .then_http_response(move || query_error(status, code, "from the test"));
        let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
            .await
            .unwrap_err();
        assert_eq!(error.name(), name, "{error}");
        assert!(error.to_string().contains("DeregisterTargets"), "{error}");
    }
    let mut rules = full();
    rules.elb[1] =
        mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
            .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Retryable");
    let mut rules = full();
    rules.elbv2[3] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Retryable");
    assert!(
        error.to_string().contains("DescribeTargetGroups"),
        "{error}"
    );
    let mut rules = full();
    rules.elb[3] = mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("DescribeLoadBalancers"),
        "{error}"
    );
    let mut rules = full();
    rules.autoscaling[0] = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Retryable");
    let mut rules = full();
    rules.ecs[0] = mock!(aws_sdk_ecs::Client::list_services)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    let error = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "cluster `test-cluster` not found");
}

#[tokio::test]
async fn the_handler_refuses_a_malformed_state() {
    let rules = full();
    let mut state = serde_json::to_value(drain_state()).unwrap();
    state["request"]["instance_id"] = serde_json::json!(42);
    let error = handler(
        &deps(&rules, DrainConfig::default()),
        LambdaEvent::new(state, lambda_runtime::Context::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(error.name(), "InvalidEvent");
    assert!(error.to_string().contains("request.instance_id"), "{error}");
    assert_eq!(rules.autoscaling[0].num_calls(), 0);
}
