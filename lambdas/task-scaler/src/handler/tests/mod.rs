use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, WarmPoolConfiguration};
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Failure, Service, Task};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::testing::{autoscaling_client, ecs_client, http_error, invocation, json_error};

const PAGE: usize = 100;

fn arn(index: usize) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci{index:05}")
}

fn index_of(arn: &str) -> usize {
    arn.rsplit("ci").next().unwrap().parse().unwrap()
}

fn ec2_id(index: usize) -> String {
    format!("i-{index:017x}")
}

/// ListContainerInstances over `total` instances, `PAGE` a page, as ECS pages them.
fn list_rule(total: usize) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some("test-cluster"));
        let start: usize = req.next_token().map_or(0, |token| token.parse().unwrap());
        let end = (start + PAGE).min(total);
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some((start..end).map(arn).collect()))
            .set_next_token((end < total).then(|| end.to_string()))
            .build()
    })
}

/// DescribeContainerInstances, rejecting more than 100 ARNs as ECS does; `status_of`
/// gives each instance's (status, agent connected).
fn describe_rule(status_of: fn(usize) -> (&'static str, bool)) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        let arns = req.container_instances();
        assert!(
            arns.len() <= 100,
            "DescribeContainerInstances takes at most 100 ARNs"
        );
        let instances = arns
            .iter()
            .map(|arn| {
                let index = index_of(arn);
                let (status, connected) = status_of(index);
                aws_sdk_ecs::types::ContainerInstance::builder()
                    .container_instance_arn(arn)
                    .ec2_instance_id(ec2_id(index))
                    .status(status)
                    .agent_connected(connected)
                    .build()
            })
            .collect();
        DescribeContainerInstancesOutput::builder()
            .set_container_instances(Some(instances))
            .build()
    })
}

fn service_rule(desired: i32) -> Rule {
    scheduled_service_rule(SchedulingStrategy::Replica, desired)
}

fn scheduled_service_rule(strategy: SchedulingStrategy, desired: i32) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .scheduling_strategy(strategy.clone())
                    .desired_count(desired)
                    .build(),
            )
            .build()
    })
}

fn update_rule() -> Rule {
    mock!(aws_sdk_ecs::Client::update_service).then_compute_output(|req| {
        assert_eq!(req.cluster(), Some("test-cluster"));
        assert_eq!(req.service(), Some("web"));
        UpdateServiceOutput::builder().build()
    })
}

/// ListTasks on a container instance: its one task, `task-<index>`; DescribeTasks: that task,
/// of the service `web` where `serves` says so (else of another service).
fn task_rules(serves: fn(usize) -> bool) -> [Rule; 2] {
    let listed = mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(|req| {
        let index = index_of(req.container_instance().unwrap());
        ListTasksOutput::builder()
            .task_arns(format!("task-{index}"))
            .build()
    });
    let described = mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |req| {
        let tasks = req.tasks().iter().map(|task| {
            let index: usize = task.trim_start_matches("task-").parse().unwrap();
            let service = if serves(index) { "web" } else { "other" };
            Task::builder()
                .task_arn(task)
                .container_instance_arn(arn(index))
                .group(format!("service:{service}"))
                .desired_status("RUNNING")
                .build()
        });
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.collect()))
            .build()
    });
    [listed, described]
}

/// The ECS rules of a cluster: ListContainerInstances, DescribeContainerInstances,
/// DescribeServices, UpdateService, and the tasks' ListTasks and DescribeTasks.
struct Cluster {
    list: Rule,
    describe: Rule,
    services: Rule,
    update: Rule,
    tasks: [Rule; 2],
}

/// A cluster of `total` instances (each one's status from `status_of`), each running a task of
/// the service, at `desired`.
fn cluster(total: usize, status_of: fn(usize) -> (&'static str, bool), desired: i32) -> Cluster {
    Cluster {
        list: list_rule(total),
        describe: describe_rule(status_of),
        services: service_rule(desired),
        update: update_rule(),
        tasks: task_rules(|_| true),
    }
}

impl Cluster {
    /// ECS answering as this cluster, Auto Scaling from `asg_rules`.
    fn deps(&self, asg_rules: &[&Rule]) -> Deps {
        let [listed, described] = &self.tasks;
        make_deps(
            &[
                &self.list,
                &self.describe,
                &self.services,
                &self.update,
                listed,
                described,
            ],
            asg_rules,
        )
    }

    /// The scaler's decision for `input`, Auto Scaling answering from `asg_rules`.
    async fn decide(&self, asg_rules: &[&Rule], input: &ScalerInput) -> Decision {
        scale(&self.deps(asg_rules), input).await.unwrap()
    }

    /// Asserts that the instances were read in `pages` pages of at most 100: a
    /// ListContainerInstances and a DescribeContainerInstances call each.
    fn assert_read_in_pages(&self, pages: usize) {
        assert_eq!(self.list.num_calls(), pages, "ListContainerInstances");
        assert_eq!(
            self.describe.num_calls(),
            pages,
            "DescribeContainerInstances"
        );
    }
}

/// DescribeAutoScalingGroups: the group `asg` with `members` (instance index, lifecycle state).
fn group(members: Vec<(usize, LifecycleState)>) -> Rule {
    group_of(members, false)
}

/// Instance `index` of the group (or its warm pool) in `state`.
fn member((index, state): &(usize, LifecycleState)) -> Instance {
    Instance::builder()
        .instance_id(ec2_id(*index))
        .lifecycle_state(state.clone())
        .build()
}

/// The group `asg` with `members`, and a warm pool when `pooled`.
fn group_of(members: Vec<(usize, LifecycleState)>, pooled: bool) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
        let instances = members.iter().map(member);
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("asg")
                    .set_instances(Some(instances.collect()))
                    .set_warm_pool_configuration(
                        pooled.then(|| WarmPoolConfiguration::builder().build()),
                    )
                    .build(),
            )
            .build()
    })
}

/// The scaler's input for the group `asg`: min 1, N 1.
fn with_asg() -> ScalerInput {
    ScalerInput {
        asg_name: Some("asg".into()),
        ..input(1, 1, None)
    }
}

fn make_deps(ecs_rules: &[&Rule], asg_rules: &[&Rule]) -> Deps {
    Deps {
        ecs: ecs_client(ecs_rules),
        autoscaling: autoscaling_client(asg_rules),
    }
}

fn input(min: u64, n: u64, max: Option<u64>) -> ScalerInput {
    ScalerInput {
        cluster_name: "test-cluster".into(),
        service_name: "web".into(),
        min_task_count: min,
        n_count: n,
        max_task_count: max,
        dry_run: false,
        asg_name: None,
    }
}

fn all_active(_: usize) -> (&'static str, bool) {
    ("ACTIVE", true)
}

/// 250 instances: 10 DRAINING, 5 with a disconnected agent, 1 REGISTERING.
fn mixed(index: usize) -> (&'static str, bool) {
    match index {
        0..10 => ("DRAINING", true),
        10..15 => ("ACTIVE", false),
        15 => ("REGISTERING", false),
        _ => ("ACTIVE", true),
    }
}

mod bounds;
mod counts;
mod errors;
mod membership;
