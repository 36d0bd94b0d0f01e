use super::*;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Where `full()` keeps the rule a case replaces.
type Slot = fn(&mut MockRules) -> &mut Rule;

fn throttled() -> HttpResponse {
    query_error(400, "Throttling", "Rate exceeded")
}

fn deregister_targets_failing(status: u16, code: &'static str) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets)
        .then_http_response(move || query_error(status, code, "from the test"))
}

#[tokio::test]
async fn throttling_and_5xx_are_retryable_other_errors_are_not() {
    // The failing call's rule, where it goes, the error's name and the operation it names.
    let cases: [(Rule, Slot, &str, &str); 7] = [
        (
            deregister_targets_failing(400, "Throttling"),
            |rules| &mut rules.elbv2[1],
            "Retryable",
            "DeregisterTargets",
        ),
        (
            deregister_targets_failing(503, "ServiceUnavailable"),
            |rules| &mut rules.elbv2[1],
            "Retryable",
            "DeregisterTargets",
        ),
        (
            deregister_targets_failing(400, "AccessDenied"),
            |rules| &mut rules.elbv2[1],
            "AwsRequestFailed",
            "DeregisterTargets",
        ),
        (
            mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
                .then_http_response(throttled),
            |rules| &mut rules.elb[1],
            "Retryable",
            "DeregisterInstancesFromLoadBalancer",
        ),
        (
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
                .then_http_response(throttled),
            |rules| &mut rules.elbv2[3],
            "Retryable",
            "DescribeTargetGroups",
        ),
        (
            mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers)
                .then_http_response(throttled),
            |rules| &mut rules.elb[3],
            "Retryable",
            "DescribeLoadBalancers",
        ),
        (
            mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
                .then_http_response(throttled),
            |rules| &mut rules.autoscaling[0],
            "Retryable",
            "DescribeAutoScalingGroups",
        ),
    ];
    for (failing, slot, name, operation) in cases {
        let mut rules = full();
        *slot(&mut rules) = failing;
        let error = run(&rules, drain_state()).await.unwrap_err();
        assert_eq!(error.name(), name, "{error}");
        assert!(error.to_string().contains(operation), "{error}");
    }
    let mut rules = full();
    rules.ecs[0] = mock!(aws_sdk_ecs::Client::list_services)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    let error = run(&rules, drain_state()).await.unwrap_err();
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
    assert_step_error(&error, "InvalidEvent", "request.instance_id");
    assert_eq!(rules.autoscaling[0].num_calls(), 0);
}

/// Every answer of [`full`], under a hook with a 60 s heartbeat timeout whose heartbeat,
/// due 24 s after the event, is answered by `heartbeat`.
fn heartbeat_due(heartbeat: Rule) -> MockRules {
    let mut rules = full();
    rules.autoscaling = vec![
        lifecycle_hook(60),
        heartbeat,
        asg_rule(&["web-elb"], &[TG_ASG]),
    ];
    rules
}

#[tokio::test]
async fn a_due_heartbeat_goes_before_the_reads() {
    // This step's retries (a throttled or hung load-balancer call) can outlast the hook's
    // timeout: a heartbeat due (24 s under a 60 s timeout) is sent before anything is read.
    let mut rules = heartbeat_due(heartbeat_ok());
    rules.ecs[0] = mock!(aws_sdk_ecs::Client::list_services)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let deps = deps(&rules, DrainConfig::default());
    let error = deregister(&deps, drain_state(), at(30)).await.unwrap_err();
    assert_step_error(&error, "Retryable", "ListServices");
    assert_eq!(rules.autoscaling[1].num_calls(), 1, "heartbeat sent first");
}

#[tokio::test]
async fn a_redrive_after_the_action_ended_deregisters_nothing_once_the_instance_serves_again() {
    // The action expired while the execution was FAILED. Back in service from a warm pool by
    // the time the redrive comes, a day later, the instance is left alone; retained after an
    // ABANDON (an instance lifecycle policy), it runs on out of its group and still leaves
    // the load balancers nobody else manages.
    use sta_shared::state::DrainStatus::{ActionEnded, Draining};
    for (lifecycle_state, status) in [
        ("InService", ActionEnded),
        ("Terminating:Retained", Draining),
    ] {
        let mut rules = heartbeat_due(heartbeat_gone());
        rules.autoscaling.extend([
            auto_scaling_instance(Some(lifecycle_state)),
            scaling_activities(Vec::new()),
        ]);
        let state = deregister(
            &deps(&rules, DrainConfig::default()),
            drain_state(),
            at(86_400),
        )
        .await
        .unwrap();
        assert_eq!(state.status, status, "{lifecycle_state}");
        let touched = status == Draining;
        assert_eq!(state.load_balancers.is_some(), touched, "{lifecycle_state}");
        assert_eq!(rules.instance_calls() > 0, touched, "{lifecycle_state}");
    }
}
