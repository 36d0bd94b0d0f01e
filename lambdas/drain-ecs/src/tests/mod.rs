use super::*;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus, Failure, Task};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::testing::*;

const CI_ARN: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci";

fn list_instances(arns: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(req.filter(), Some("ec2InstanceId == i-1234567890abcdef0"));
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
            .build()
    })
}

/// DescribeContainerInstances: `CI_ARN` runs on the EC2 instance `ec2_instance`, with `status`.
fn describe_instance(ec2_instance: &'static str, status: &'static str) -> Rule {
    container_instance_described(CI_ARN, ec2_instance, status)
}

fn update_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(|req| {
        assert_eq!(req.container_instances(), [CI_ARN]);
        assert_eq!(req.status(), Some(&ContainerInstanceStatus::Draining));
        UpdateContainerInstancesStateOutput::builder().build()
    })
}

/// UpdateContainerInstancesState answered with a failure for `CI_ARN`.
fn update_failure(reason: &'static str, detail: Option<&'static str>) -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_output(move || {
        UpdateContainerInstancesStateOutput::builder()
            .failures(
                Failure::builder()
                    .arn(CI_ARN)
                    .reason(reason)
                    .set_detail(detail.map(str::to_string))
                    .build(),
            )
            .build()
    })
}

/// The ECS calls that find the EC2 instance's container instance and set it draining.
struct Instance {
    list: Rule,
    describe: Rule,
    update: Rule,
}

impl Instance {
    /// Registered as `CI_ARN`, with `status`.
    fn registered(status: &'static str) -> Self {
        Self {
            list: list_instances(&[CI_ARN]),
            describe: describe_instance(INSTANCE_ID, status),
            update: update_ok(),
        }
    }

    /// Not registered in the cluster.
    fn absent() -> Self {
        Self {
            list: list_instances(&[]),
            ..Self::registered("ACTIVE")
        }
    }

    /// Its rules, then `more`.
    fn and<'a>(&'a self, more: &[&'a Rule]) -> Vec<&'a Rule> {
        [&self.list, &self.describe, &self.update]
            .into_iter()
            .chain(more.iter().copied())
            .collect()
    }
}

/// ListTasks: `running` under desired RUNNING, `stopping` under desired STOPPED.
fn list_tasks(running: &[&str], stopping: &[&str]) -> Rule {
    let running: Vec<String> = running.iter().map(|name| task_arn(name)).collect();
    let stopping: Vec<String> = stopping.iter().map(|name| task_arn(name)).collect();
    mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(move |req| {
        assert_eq!(req.container_instance(), Some(CI_ARN));
        let arns = match req.desired_status() {
            Some(DesiredStatus::Running) => &running,
            Some(DesiredStatus::Stopped) => &stopping,
            other => panic!("unexpected desired status {other:?}"),
        };
        ListTasksOutput::builder()
            .set_task_arns(Some(arns.clone()))
            .build()
    })
}

/// DescribeTasks: `stopped-*` tasks are STOPPED, `deleted-*` tasks DELETED (stopped a while
/// ago), `job*` tasks are standalone, the others belong to the service `web`.
fn describe_tasks() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
        assert!(
            req.tasks().len() <= 100,
            "DescribeTasks takes at most 100 ARNs"
        );
        // `new-*`: just started, not visible to DescribeTasks yet (MISSING)
        let (new, known): (Vec<_>, Vec<_>) = req
            .tasks()
            .iter()
            .partition(|arn| arn.rsplit('/').next().unwrap().starts_with("new"));
        let missing = new.into_iter().map(|arn| {
            aws_sdk_ecs::types::Failure::builder()
                .arn(arn)
                .reason("MISSING")
                .build()
        });
        let tasks = known
            .into_iter()
            .map(|arn| {
                let name = arn.rsplit('/').next().unwrap();
                let status = match name.split('-').next() {
                    Some("stopped") => "STOPPED",
                    Some("deleted") => "DELETED",
                    _ => "RUNNING",
                };
                let builder = Task::builder().task_arn(arn).last_status(status);
                if name.starts_with("job") {
                    builder.group("family:job").build()
                } else {
                    builder.group("service:web").build()
                }
            })
            .collect();
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks))
            .set_failures(Some(missing.collect()))
            .build()
    })
}

/// ECS answering from `ecs`, Auto Scaling from `autoscaling`.
fn deps_with(ecs: &[&Rule], autoscaling: &[&Rule]) -> Deps {
    Deps {
        ecs: ecs_client(ecs),
        autoscaling: autoscaling_client(autoscaling),
        config: DrainConfig::default(),
    }
}

/// ECS answering from `rules`; the hook's heartbeat timeout 300 s, heartbeats accepted.
fn deps(rules: &[&Rule]) -> Deps {
    deps_with(rules, &[&lifecycle_hook(300), &heartbeat_ok()])
}

/// ECS answering from `ecs`; the hook's heartbeat timeout 300 s, its heartbeat answered "No
/// active Lifecycle Action found", and the Auto Scaling reads after it from `autoscaling`.
fn deps_action_gone(ecs: &[&Rule], autoscaling: &[&Rule]) -> Deps {
    let (hook, gone) = (lifecycle_hook(300), heartbeat_gone());
    let rules: Vec<&Rule> = [&hook, &gone]
        .into_iter()
        .chain(autoscaling.iter().copied())
        .collect();
    deps_with(ecs, &rules)
}

/// The handler's answer to `event` in the first step's input.
async fn handle(deps: &Deps, event: Value) -> Result<DrainState, StepError> {
    handler(deps, invocation(step_input(event))).await
}

mod drain;
mod errors;
mod heartbeat;
mod membership;
mod warm_pool;
