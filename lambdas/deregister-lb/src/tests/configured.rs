use super::*;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// The world of `full()` but the instance's group attaches nothing and no service runs there:
/// only the configured load balancers count.
fn in_no_group_nor_service() -> MockRules {
    let mut rules = full();
    rules.autoscaling = vec![asg_rule(&[], &[])];
    (rules.ecs[0], rules.ecs[1]) = services_rules(None);
    rules
}

/// The load balancers a drain deregisters the instance from with these Classic ELBs and
/// TG_ASG and TG_CONFIGURED configured on the function.
async fn configured(rules: &MockRules, classic: &[&str]) -> LoadBalancers {
    let config = DrainConfig {
        classic_elb_names: classic.iter().map(|name| name.to_string()).collect(),
        target_group_arns: vec![TG_ASG.into(), TG_CONFIGURED.into()],
        ..DrainConfig::default()
    };
    let state = deregister(&deps(rules, config), drain_state(), at(2))
        .await
        .unwrap();
    state.load_balancers.unwrap()
}

#[tokio::test]
async fn configured_names_are_deregistered_too() {
    let rules = in_no_group_nor_service();
    let balancers = configured(&rules, &["legacy-elb"]).await;
    assert_eq!(balancers.classic[0].name, "legacy-elb");
    // TG_CONFIGURED only holds another instance: nothing to deregister there.
    assert_eq!(balancers.target_groups.len(), 1);
    assert_eq!(balancers.target_groups[0].arn, TG_ASG);
}

#[tokio::test]
async fn an_instance_in_no_load_balancer_has_nothing_to_wait_for() {
    let missing_group = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());
    let no_services = mock!(aws_sdk_ecs::Client::list_services)
        .then_output(|| ListServicesOutput::builder().build());
    let rules = MockRules {
        autoscaling: vec![missing_group],
        ecs: vec![no_services],
        elb: vec![],
        elbv2: vec![],
    };
    let state = run(&rules, no_service_task()).await.unwrap();
    assert_eq!(
        state.load_balancers.unwrap(),
        LoadBalancers {
            deregistered_at: Some(at(2)),
            ..LoadBalancers::default()
        }
    );
    assert_eq!(state.wait_seconds, 0);
}

#[tokio::test]
async fn gone_balancers_and_unregistered_instances_are_skipped() {
    let mut rules = full();
    // Not listed and not in service in the Classic ELB: not registered there.
    rules.elb[3] = classic_listing(false);
    rules.elb[0] = mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_http_response(|| {
            query_error(
                400,
                "InvalidInstance",
                "Could not find EC2 instance i-1234567890abcdef0.",
            )
        });
    rules.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(target_group_gone);
    let state = run(&rules, drain_state()).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    assert!(balancers.classic.is_empty() && balancers.target_groups.is_empty());
    assert_eq!(rules.elb[1].num_calls(), 0);
    assert_eq!(rules.elbv2[1].num_calls(), 0);

    let mut rules = full();
    rules.elb[3] = mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers)
        .then_http_response(classic_elb_gone);
    let state = run(&rules, drain_state()).await.unwrap();
    assert!(state.load_balancers.unwrap().classic.is_empty());
    assert_eq!(rules.elb[1].num_calls(), 0);
}

#[tokio::test]
async fn a_balancer_deleted_between_two_calls_is_skipped() {
    // Gone at DeregisterTargets (the group, or the target) or DescribeTargetGroupAttributes:
    // the group attached to the ASG is not waited for; at DescribeTargetGroups (read for the
    // service's group only): the service's group is not watched.
    // The slot of the failing call, its answer, and the target groups and service-managed
    // balancers left.
    type Case = (usize, fn() -> HttpResponse, usize, usize);
    let cases: [Case; 4] = [
        (1, target_group_gone, 0, 1),
        (1, target_gone, 0, 1),
        (2, target_group_gone, 0, 0),
        (3, target_group_gone, 1, 0),
    ];
    for (slot, gone, target_groups, service_managed) in cases {
        let mut rules = full();
        rules.elbv2[slot] = match slot {
            1 => mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets)
                .then_http_response(gone),
            2 => mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
                .then_http_response(gone),
            _ => mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
                .then_http_response(gone),
        };
        let balancers = run(&rules, drain_state())
            .await
            .unwrap()
            .load_balancers
            .unwrap();
        assert_eq!(
            balancers.target_groups.len(),
            target_groups,
            "slot {slot}: {balancers:?}"
        );
        assert_eq!(
            balancers.service_managed.len(),
            service_managed,
            "slot {slot}: {balancers:?}"
        );
        assert_eq!(balancers.classic.len(), 1, "slot {slot}");
    }
    // Gone at DescribeLoadBalancerAttributes: the Classic ELB is not waited for.
    let mut rules = full();
    rules.elb[2] = mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancer_attributes)
        .then_http_response(classic_elb_gone);
    let balancers = run(&rules, drain_state())
        .await
        .unwrap()
        .load_balancers
        .unwrap();
    assert!(balancers.classic.is_empty(), "{balancers:?}");
    assert_eq!(rules.elb[1].num_calls(), 1);
}

#[tokio::test]
async fn a_target_unused_while_no_listener_forwards_to_its_group_is_still_deregistered() {
    use aws_sdk_elasticloadbalancingv2::types::{TargetHealthReasonEnum, TargetHealthStateEnum};
    let mut rules = in_no_group_nor_service();
    // Registered, `unused` while no listener forwards to the group (Target.NotInUse): it
    // serves as soon as one does. A target `unused` as Target.NotRegistered is gone.
    rules.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_compute_output(|req| {
            let (port, reason) = if req.target_group_arn() == Some(TG_CONFIGURED) {
                (8080, TargetHealthReasonEnum::NotInUse)
            } else {
                (80, TargetHealthReasonEnum::NotRegistered)
            };
            DescribeTargetHealthOutput::builder()
                .target_health_descriptions(
                    TargetHealthDescription::builder()
                        .target(
                            TargetDescription::builder()
                                .id(INSTANCE_ID)
                                .port(port)
                                .build(),
                        )
                        .target_health(
                            TargetHealth::builder()
                                .state(TargetHealthStateEnum::Unused)
                                .reason(reason)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let balancers = configured(&rules, &[]).await;
    assert_eq!(balancers.target_groups.len(), 1);
    assert_eq!(balancers.target_groups[0].arn, TG_CONFIGURED);
    assert_eq!(balancers.target_groups[0].ports, [8080]);
    assert_eq!(rules.elbv2[1].num_calls(), 1, "deregistered there only");
}
