use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use aws_sdk_ecs::types::{LoadBalancer, Service};
use aws_sdk_elasticloadbalancing::operation::deregister_instances_from_load_balancer::DeregisterInstancesFromLoadBalancerOutput;
use aws_sdk_elasticloadbalancing::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancing::types::{ConnectionDraining, LoadBalancerAttributes};
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
        .target_health(sta_shared::testing::target_state(state))
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

/// DescribeTargetGroupAttributes of a Network Load Balancer target group (it has the
/// connection-termination attribute): this delay, connection termination enabled or not.
fn nlb_attributes(delay: &'static str, termination: &'static str) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes).then_output(
        move || {
            DescribeTargetGroupAttributesOutput::builder()
                .attributes(
                    TargetGroupAttribute::builder()
                        .key("deregistration_delay.timeout_seconds")
                        .value(delay)
                        .build(),
                )
                .attributes(
                    TargetGroupAttribute::builder()
                        .key("deregistration_delay.connection_termination.enabled")
                        .value(termination)
                        .build(),
                )
                .build()
        },
    )
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

/// A state whose instance is not in the cluster (its agent never registered it): no task of
/// any service can be on it.
fn outside_the_cluster() -> DrainState {
    let mut state = no_service_task();
    state.container_instance_arn = None;
    state
}

/// DescribeContainerInstances of the drained container instance, carrying the mark of a
/// deregistration made `marked_at` (epoch seconds; `None`: no mark).
fn deregistration_mark(marked_at: Option<i64>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        assert_eq!(req.container_instances(), [CONTAINER_INSTANCE_ARN]);
        let mut instance = aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn(CONTAINER_INSTANCE_ARN)
            .status("DRAINING");
        if let Some(at) = marked_at {
            instance = instance.attributes(
                aws_sdk_ecs::types::Attribute::builder()
                    .name(crate::earlier::ATTRIBUTE)
                    .value(at.to_string())
                    .build()
                    .unwrap(),
            );
        }
        aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput::builder()
            .container_instances(instance.build())
            .build()
    })
}

/// PutAttributes of the deregistration mark on the drained container instance: the step's
/// start, in epoch seconds.
fn marked() -> Rule {
    mock!(aws_sdk_ecs::Client::put_attributes).then_compute_output(|req| {
        let [attribute] = req.attributes() else {
            panic!("one attribute: {:?}", req.attributes())
        };
        assert_eq!(attribute.name(), crate::earlier::ATTRIBUTE);
        let value = attribute
            .value()
            .and_then(|value| value.parse::<i64>().ok());
        assert!(
            value.is_some_and(|at| at >= event_time().timestamp()),
            "{value:?}"
        );
        assert_eq!(attribute.target_id(), Some(CONTAINER_INSTANCE_ARN));
        aws_sdk_ecs::operation::put_attributes::PutAttributesOutput::builder().build()
    })
}

/// The instance is in a Classic ELB and a target group attached to the ASG (two
/// ports), and in the target group of the service whose task runs on it.
fn full() -> MockRules {
    let (list, describe) = services_rules(Some(TG_SERVICE));
    MockRules {
        autoscaling: vec![asg_rule(&["web-elb"], &[TG_ASG])],
        ecs: vec![list, describe, deregistration_mark(None), marked()],
        elb: vec![
            instance_health("InService"),
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
        attached: AttachedCache::default(),
    }
}

/// A deregistration of `input` at 2 s against `rules`, with the default configuration.
async fn run(rules: &MockRules, input: DrainState) -> Result<DrainState, StepError> {
    deregister(&deps(rules, DrainConfig::default()), input, at(2)).await
}

mod attached;
mod configured;
mod draining;
mod earlier;
mod errors;
mod service;
