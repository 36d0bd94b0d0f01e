use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use aws_sdk_ecs::types::{LoadBalancer, Service};
use aws_sdk_elasticloadbalancing::operation::deregister_instances_from_load_balancer::DeregisterInstancesFromLoadBalancerOutput;
use aws_sdk_elasticloadbalancing::operation::describe_instance_health::DescribeInstanceHealthOutput;
use aws_sdk_elasticloadbalancing::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancing::types::{
    ConnectionDraining, InstanceState, LoadBalancerAttributes,
};
use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetGroup as Elbv2TargetGroup, TargetGroupAttribute, TargetHealth,
    TargetHealthDescription, TargetHealthStateEnum,
};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::state::{ClassicElb, ServiceBalancer, TargetGroup};
use sta_shared::testing::*;

const TG_ASG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/asg-tg/1111";
const TG_SERVICE: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/2222";
const TG_CONFIGURED: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/extra/3333";
const OTHER_INSTANCE: &str = "i-0fedcba9876543210";

fn asg_rule(classic: &'static [&'static str], groups: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_compute_output(
        move |req| {
            assert_eq!(req.auto_scaling_group_names(), [ASG]);
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name(ASG)
                        .set_load_balancer_names(Some(
                            classic.iter().map(|s| s.to_string()).collect(),
                        ))
                        .set_target_group_arns(Some(groups.iter().map(|s| s.to_string()).collect()))
                        .build(),
                )
                .build()
        },
    )
}

fn services_rules(target_group: Option<&'static str>) -> (Rule, Rule) {
    let list = mock!(aws_sdk_ecs::Client::list_services).then_output(|| {
        ListServicesOutput::builder()
            .service_arns("arn:aws:ecs:us-west-2:123456789012:service/test-cluster/web")
            .build()
    });
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(move |req| {
        assert!(req.services().len() <= 10);
        let mut service = Service::builder().service_name("web");
        if let Some(arn) = target_group {
            service = service.load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(arn)
                    .container_port(80)
                    .build(),
            );
        }
        DescribeServicesOutput::builder()
            .services(service.build())
            .build()
    });
    (list, describe)
}

fn classic_health(state: &'static str) -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health).then_compute_output(
        move |req| {
            assert_eq!(req.instances()[0].instance_id(), Some(INSTANCE_ID));
            DescribeInstanceHealthOutput::builder()
                .instance_states(
                    InstanceState::builder()
                        .instance_id(INSTANCE_ID)
                        .state(state)
                        .build(),
                )
                .build()
        },
    )
}

fn classic_deregister() -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
        .then_output(|| DeregisterInstancesFromLoadBalancerOutput::builder().build())
}

fn classic_attributes(enabled: bool, timeout: i32) -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancer_attributes).then_output(
        move || {
            DescribeLoadBalancerAttributesOutput::builder()
                .load_balancer_attributes(
                    LoadBalancerAttributes::builder()
                        .connection_draining(
                            ConnectionDraining::builder()
                                .enabled(enabled)
                                .timeout(timeout)
                                .build(),
                        )
                        .build(),
                )
                .build()
        },
    )
}

fn description(id: &str, port: i32, state: TargetHealthStateEnum) -> TargetHealthDescription {
    TargetHealthDescription::builder()
        .target(TargetDescription::builder().id(id).port(port).build())
        .target_health(TargetHealth::builder().state(state).build())
        .build()
}

/// DescribeTargetHealth: in TG_ASG the instance is on ports 32768 and 32769 (and another
/// instance on 32768); in TG_SERVICE on port 80; TG_CONFIGURED holds only another instance.
fn target_health() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_compute_output(
        |req| {
            let descriptions = match req.target_group_arn().unwrap() {
                TG_ASG => vec![
                    description(INSTANCE_ID, 32768, TargetHealthStateEnum::Healthy),
                    description(OTHER_INSTANCE, 32768, TargetHealthStateEnum::Healthy),
                    description(INSTANCE_ID, 32769, TargetHealthStateEnum::Healthy),
                ],
                TG_SERVICE => vec![description(
                    INSTANCE_ID,
                    80,
                    TargetHealthStateEnum::Draining,
                )],
                _ => vec![description(
                    OTHER_INSTANCE,
                    80,
                    TargetHealthStateEnum::Healthy,
                )],
            };
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(descriptions))
                .build()
        },
    )
}

fn deregister_targets() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(|req| {
        for target in req.targets() {
            assert_eq!(
                target.id(),
                Some(INSTANCE_ID),
                "only our instance is deregistered"
            );
        }
        DeregisterTargetsOutput::builder().build()
    })
}

fn target_group_attributes() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
        .then_compute_output(|req| {
            let delay = if req.target_group_arn() == Some(TG_ASG) {
                "60"
            } else {
                "120"
            };
            DescribeTargetGroupAttributesOutput::builder()
                .attributes(
                    TargetGroupAttribute::builder()
                        .key("stickiness.enabled")
                        .value("false")
                        .build(),
                )
                .attributes(
                    TargetGroupAttribute::builder()
                        .key("deregistration_delay.timeout_seconds")
                        .value(delay)
                        .build(),
                )
                .build()
        })
}

/// DescribeTargetGroups: a health check of 3 healthy checks 10 s apart.
fn target_groups() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_compute_output(
        |req| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(
                    Elbv2TargetGroup::builder()
                        .target_group_arn(req.target_group_arns()[0].clone())
                        .health_check_interval_seconds(10)
                        .healthy_threshold_count(3)
                        .build(),
                )
                .build()
        },
    )
}

/// A state whose instance runs no task of any service.
fn no_service_task() -> DrainState {
    let mut state = drain_state();
    state.tasks.clear();
    state.remaining.tasks.clear();
    state
}

/// The instance is in a Classic ELB and a target group attached to the ASG (two
/// ports), and in the target group of the service whose task runs on it.
fn full() -> MockRules {
    let (list, describe) = services_rules(Some(TG_SERVICE));
    MockRules {
        autoscaling: vec![asg_rule(&["web-elb"], &[TG_ASG])],
        ecs: vec![list, describe],
        elb: vec![
            classic_health("InService"),
            classic_deregister(),
            classic_attributes(true, 30),
            classic_listing(true),
        ],
        elbv2: vec![
            target_health(),
            deregister_targets(),
            target_group_attributes(),
            target_groups(),
        ],
    }
}

fn deps(rules: &MockRules, config: DrainConfig) -> Deps {
    let clients = rules.clients();
    Deps {
        autoscaling: clients.autoscaling,
        ecs: clients.ecs,
        elb: clients.elb,
        elbv2: clients.elbv2,
        config,
    }
}

#[tokio::test]
async fn leaves_the_service_balancers_to_ecs_and_deregisters_the_rest_on_every_port() {
    let rules = full();
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();

    let balancers = state.load_balancers.as_ref().unwrap();
    assert_eq!(
        balancers.classic,
        [ClassicElb {
            name: "web-elb".into(),
            draining_seconds: 30
        }]
    );
    assert_eq!(
        balancers.target_groups,
        [TargetGroup {
            arn: TG_ASG.into(),
            ports: vec![32768, 32769],
            draining_seconds: 60,
            connections_outlive_delay: false,
        }]
    );
    // The service whose task runs on the instance deregisters it from its target group
    // itself, once the replacement is healthy: never before.
    assert_eq!(
        balancers.service_managed,
        [ServiceBalancer {
            service: "web".into(),
            load_balancer: TG_SERVICE.into(),
            draining_seconds: 120,
            healthy_after_seconds: 30,
        }]
    );
    assert_eq!(balancers.deregistered_at, Some(at(2)));
    assert_eq!(rules.elb[1].num_calls(), 1, "one Classic deregistration");
    assert_eq!(
        rules.elbv2[1].num_calls(),
        1,
        "DeregisterTargets only for the group nobody else manages"
    );
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    assert_eq!(state.remaining.target_groups, [TG_ASG]);
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
    // The hook's heartbeat timeout is not known yet: the first check comes before the
    // shortest one (30 s) could pass since the wait began (12 s after 0).
    assert_eq!(state.wait_seconds, 10);
    let mut known = drain_state();
    known.heartbeat.timeout_seconds = Some(3600);
    let state = deregister(&deps(&rules, DrainConfig::default()), known, at(2))
        .await
        .unwrap();
    // ECS stops the task once its replacement is healthy (30 s) and the old target has
    // drained (120 s): at 152 s; the check comes a second after.
    assert_wait(state.wait_seconds, 151);
}

#[tokio::test]
async fn a_service_balancer_with_no_task_of_it_on_the_instance_is_deregistered() {
    // A registration no task on the instance owns: nobody else will remove it.
    let rules = full();
    let state = deregister(
        &deps(&rules, DrainConfig::default()),
        no_service_task(),
        at(2),
    )
    .await
    .unwrap();
    let balancers = state.load_balancers.unwrap();
    assert!(balancers.service_managed.is_empty());
    assert_eq!(balancers.target_groups.len(), 2);
    assert_eq!(balancers.target_groups[1].arn, TG_SERVICE);
    assert_eq!(rules.elbv2[1].num_calls(), 2);
}

#[tokio::test]
async fn a_configured_balancer_that_the_service_manages_is_left_to_ecs() {
    let rules = full();
    let config = DrainConfig {
        target_group_arns: vec![TG_SERVICE.into()],
        ..DrainConfig::default()
    };
    let state = deregister(&deps(&rules, config), drain_state(), at(2))
        .await
        .unwrap();
    let balancers = state.load_balancers.unwrap();
    assert_eq!(balancers.service_managed.len(), 1);
    assert!(balancers
        .target_groups
        .iter()
        .all(|group| group.arn != TG_SERVICE));
    assert_eq!(rules.elbv2[1].num_calls(), 1);
}

#[tokio::test]
async fn a_network_load_balancer_without_connection_termination_is_flagged() {
    let mut rules = full();
    rules.elbv2[2] =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
            .then_output(|| {
                DescribeTargetGroupAttributesOutput::builder()
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key("deregistration_delay.timeout_seconds")
                            .value("30")
                            .build(),
                    )
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key("deregistration_delay.connection_termination.enabled")
                            .value("false")
                            .build(),
                    )
                    .build()
            });
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    let group = &state.load_balancers.unwrap().target_groups[0];
    assert!(group.connections_outlive_delay);
    assert_eq!(group.draining_seconds, 30);
}

#[tokio::test]
async fn configured_names_are_deregistered_too() {
    let mut rules = full();
    rules.autoscaling = vec![asg_rule(&[], &[])];
    let (list, describe) = services_rules(None);
    rules.ecs = vec![list, describe];
    let config = DrainConfig {
        classic_elb_names: vec!["legacy-elb".into()],
        target_group_arns: vec![TG_ASG.into(), TG_CONFIGURED.into()],
        ..DrainConfig::default()
    };
    let state = deregister(&deps(&rules, config), drain_state(), at(2))
        .await
        .unwrap();
    let balancers = state.load_balancers.unwrap();
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
    let mut input = drain_state();
    input.tasks.clear();
    input.remaining.tasks.clear();
    let state = deregister(&deps(&rules, DrainConfig::default()), input, at(2))
        .await
        .unwrap();
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
        .then_http_response(|| {
            query_error(
                400,
                "TargetGroupNotFound",
                "One or more target groups not found",
            )
        });
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    let balancers = state.load_balancers.unwrap();
    assert!(balancers.classic.is_empty() && balancers.target_groups.is_empty());
    assert_eq!(rules.elb[1].num_calls(), 0);
    assert_eq!(rules.elbv2[1].num_calls(), 0);

    let mut rules = full();
    rules.elb[3] = mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers)
        .then_http_response(|| {
            query_error(
                400,
                "LoadBalancerNotFound",
                "There is no ACTIVE Load Balancer named 'web-elb'",
            )
        });
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    assert!(state.load_balancers.unwrap().classic.is_empty());
    assert_eq!(rules.elb[1].num_calls(), 0);
}

#[tokio::test]
async fn a_repeated_run_still_waits_for_draining_registrations() {
    let mut rules = full();
    // The first run already deregistered the instance from the Classic ELB: no longer
    // listed, still InService while connection draining runs.
    rules.elb[3] = classic_listing(false);
    let state = deregister(
        &deps(&rules, DrainConfig::default()),
        no_service_task(),
        at(2),
    )
    .await
    .unwrap();
    let balancers = state.load_balancers.unwrap();
    assert_eq!(
        balancers.classic.len(),
        1,
        "still draining, still waited for"
    );
    assert_eq!(rules.elb[1].num_calls(), 0, "not deregistered twice");
    // The draining target on port 80 is recorded too.
    assert_eq!(balancers.target_groups[1].ports, [80]);

    // Deregistered between our look and our call: success.
    let mut rules = full();
    rules.elb[1] =
        mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
            .then_http_response(|| {
                query_error(
                    400,
                    "InvalidInstance",
                    "The requested instance is not registered",
                )
            });
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    assert_eq!(state.load_balancers.unwrap().classic.len(), 1);
}

#[tokio::test]
async fn an_unhealthy_registered_instance_is_deregistered() {
    // OutOfService but still listed: failing its health checks. It is deregistered (and,
    // unhealthy, has no connections to drain).
    let mut rules = full();
    rules.elb[0] = classic_health("OutOfService");
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    assert_eq!(rules.elb[1].num_calls(), 1);
    let classic = &state.load_balancers.unwrap().classic;
    assert_eq!(classic.len(), 1);
    assert_eq!(
        classic[0].draining_seconds, 0,
        "nothing to drain from an unhealthy instance"
    );
}

#[tokio::test]
async fn disabled_connection_draining_means_no_wait_for_that_elb() {
    let mut rules = full();
    rules.elb[2] = classic_attributes(false, 300);
    let state = deregister(&deps(&rules, DrainConfig::default()), drain_state(), at(2))
        .await
        .unwrap();
    assert_eq!(state.load_balancers.unwrap().classic[0].draining_seconds, 0);
}

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
