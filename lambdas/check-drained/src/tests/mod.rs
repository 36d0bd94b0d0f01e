use super::*;
use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatOutput;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::stop_task::StopTaskOutput;
use aws_sdk_ecs::types::{ContainerInstance, Failure, Task};
use aws_sdk_elasticloadbalancing::operation::deregister_instances_from_load_balancer::DeregisterInstancesFromLoadBalancerOutput;
use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::state::*;
use sta_shared::testing::*;

const TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/2222";

/// A state after deregistration: one service task, one Classic ELB (30 s) and one target
/// group with the instance on two ports (60 s), deregistered at 2 s.
fn deregistered() -> DrainState {
    let mut state = drain_state();
    state.load_balancers = Some(LoadBalancers {
        classic: vec![ClassicElb {
            name: "web-elb".into(),
            draining_seconds: 30,
            unhealthy: false,
            taken_over_at: None,
        }],
        target_groups: vec![TargetGroup::new(TG, vec![32768, 32769], 60)],
        service_managed: vec![],
        deregistered_at: Some(at(2)),
    });
    state.remaining.classic_elbs = vec!["web-elb".into()];
    state.remaining.target_groups = vec![TG.into()];
    state
}

fn tasks(status: &'static str) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |req| {
        assert!(req.tasks().len() <= 100);
        DescribeTasksOutput::builder()
            .set_tasks(Some(
                req.tasks()
                    .iter()
                    .map(|arn| Task::builder().task_arn(arn).last_status(status).build())
                    .collect(),
            ))
            .build()
    })
}

/// ListTasks of the drained container instance (both desired statuses): these tasks.
fn listed_again(names: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(move |req| {
        assert_eq!(req.container_instance(), Some(CI));
        ListTasksOutput::builder()
            .set_task_arns(Some(names.iter().map(|name| task_arn(name)).collect()))
            .build()
    })
}

const CI: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci";

/// DescribeContainerInstances of the drained instance: `Some(status)`, or `None` for
/// an instance ECS no longer knows (deregistered: MISSING).
fn container_instance(status: Option<&'static str>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(req.container_instances(), [CI]);
        let output = DescribeContainerInstancesOutput::builder();
        match status {
            Some(status) => output.container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI)
                    .status(status)
                    .agent_connected(true)
                    .build(),
            ),
            None => output.failures(Failure::builder().arn(CI).reason("MISSING").build()),
        }
        .build()
    })
}

/// DescribeContainerInstances of the drained instance, DRAINING, its agent disconnected.
fn disconnected() -> Rule {
    describing_container_instance(
        ContainerInstance::builder()
            .container_instance_arn(CI)
            .status("DRAINING")
            .agent_connected(false)
            .build(),
    )
}

fn classic_deregistered() -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
        .then_compute_output(|req| {
            assert_eq!(req.load_balancer_name(), Some("web-elb"));
            DeregisterInstancesFromLoadBalancerOutput::builder().build()
        })
}

fn targets(states: &'static [TargetHealthStateEnum]) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_compute_output(
        move |req| {
            let ports: Vec<i32> = req.targets().iter().filter_map(|t| t.port()).collect();
            assert_eq!(ports, [32768, 32769], "asks for every recorded port");
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(
                    req.targets()
                        .iter()
                        .zip(states)
                        .map(|(target, state)| {
                            TargetHealthDescription::builder()
                                .target(target.clone())
                                .target_health(sta_shared::testing::target_state(state.clone()))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        },
    )
}

/// The rules of a drain whose task, Classic ELB and two targets are in these states.
fn rules_for(
    task: &'static str,
    elb: &'static str,
    tg: &'static [TargetHealthStateEnum],
) -> MockRules {
    MockRules {
        // The instance stays in the cluster, DRAINING, unless a test says otherwise; listed
        // again, it shows the task the drain knows.
        ecs: vec![
            tasks(task),
            container_instance(Some("DRAINING")),
            listed_again(&["web"]),
        ],
        elb: vec![
            instance_health(elb),
            classic_listing(false),
            classic_deregistered(),
        ],
        elbv2: vec![targets(tg)],
        autoscaling: vec![lifecycle_hook(3600), heartbeat_ok()],
    }
}

/// The check that follows deregistration, at `offset` s, against the world's rules.
async fn check_deregistered(world: &MockRules, offset: i64) -> Result<DrainState, StepError> {
    check(&world.clients(), deregistered(), at(offset)).await
}

/// A drain still waiting for its running task, under a hook with a 60 s heartbeat timeout
/// whose heartbeats `heartbeat` answers.
fn heartbeat_world(heartbeat: Rule) -> MockRules {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling = vec![lifecycle_hook(60), heartbeat];
    world
}

const UNUSED: &[TargetHealthStateEnum] =
    &[TargetHealthStateEnum::Unused, TargetHealthStateEnum::Unused];
const DRAINING: &[TargetHealthStateEnum] = &[
    TargetHealthStateEnum::Unused,
    TargetHealthStateEnum::Draining,
];

mod balancers;
mod errors;
mod heartbeats;
mod late_agent;
mod left_to_ecs;
mod listed_late;
mod not_described;
mod orphans;
mod replacement;
mod service_balancers;
mod shared_group;
mod tasks;
mod unlisted;
mod warm_pool;
