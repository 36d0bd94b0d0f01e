//! The targets a service's own tasks serve on in a target group: the only ones that keep its
//! floor. A group may be shared (with another service, a DAEMON's agent, or instances
//! registered by hand); their healthy targets serve, but not as the service's tasks.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ecs::described_container_instances;
use crate::error::ecs_error;
use crate::tasks::described_tasks_with;
use crate::StepError;
use aws_sdk_ecs::types::{Service, Task};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;

/// A target: its id (an instance id, or a task's IP address in an `ip` group) and the port it
/// is registered on.
pub type Target = (String, i32);

/// The targets of `service`'s RUNNING tasks in `target_group` (in `cluster`), each with its
/// task's ARN: each task's instance, on the host port its container maps the service's
/// container port to for that group. A container that shows no network binding at all (host
/// networking, where "the hostPort must either be undefined or match the containerPort": the
/// task definition reference; the ECS agent reports none for it) serves on the container port.
/// A task with its own network interface (`awsvpc`: "you must choose ip as the target type, not
/// instance", CreateService's `loadBalancers`) is registered by the interface's private IPv4
/// address, on the container port.
/// Tasks on a container instance neither ACTIVE nor DRAINING are left out: a forced
/// deregistration orphans them, and ECS no longer accounts for them. `None` when the service
/// no longer names the group: none of its tasks serves there.
pub async fn own_targets(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &Service,
    target_group: &str,
) -> Result<Option<HashMap<Target, String>>, StepError> {
    let containers: Vec<(&str, i32)> = service
        .load_balancers()
        .iter()
        .filter(|lb| lb.target_group_arn() == Some(target_group))
        .filter_map(|lb| Some((lb.container_name()?, lb.container_port()?)))
        .collect();
    let name = service.service_name().unwrap_or_default();
    if containers.is_empty() {
        return Ok(None);
    }
    let arns: Vec<String> = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| ecs_error(cluster, "ListTasks", error))?;
    let tasks = running_tasks(ecs, cluster, &arns).await?;
    let hosts = instance_ids(ecs, cluster, &tasks).await?;
    let mut targets = HashMap::new();
    for task in &tasks {
        let (Some(arn), Some(host)) = (
            task.task_arn(),
            task.container_instance_arn()
                .and_then(|instance| hosts.get(instance)),
        ) else {
            continue;
        };
        let address = interface_address(task);
        for (container, port) in &containers {
            let target = match &address {
                Some(address) => (address.clone(), *port),
                None => (host.clone(), host_port(task, container, *port)),
            };
            targets.insert(target, arn.to_string());
        }
    }
    Ok(Some(targets))
}

/// The group's healthy targets, of a DescribeTargetHealth of every target in it.
pub fn healthy_targets(health: &DescribeTargetHealthOutput) -> impl Iterator<Item = (&str, i32)> {
    health
        .target_health_descriptions()
        .iter()
        .filter(|description| {
            description
                .target_health()
                .and_then(|health| health.state())
                == Some(&TargetHealthStateEnum::Healthy)
        })
        .filter_map(|description| description.target())
        .filter_map(|target| Some((target.id()?, target.port()?)))
}

/// The tasks (their ARNs) of `own`, a service's targets in a group ([`own_targets`]), that serve
/// there: each of their targets is among `healthy`. A task whose containers serve on several
/// ports of the group serves only once all are healthy, and counts once.
pub fn serving_tasks<'a>(
    own: &'a HashMap<Target, String>,
    healthy: &HashSet<(&str, i32)>,
) -> BTreeSet<&'a String> {
    let not_serving: BTreeSet<&String> = own
        .iter()
        .filter(|((id, port), _)| !healthy.contains(&(id.as_str(), *port)))
        .map(|(_, task)| task)
        .collect();
    own.values()
        .filter(|task| !not_serving.contains(task))
        .collect()
}

/// The tasks of `arns` DescribeTasks shows RUNNING.
async fn running_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<Task>, StepError> {
    described_tasks_with(ecs, cluster, arns, |output| {
        let tasks = output.tasks.unwrap_or_default().into_iter();
        tasks
            .filter(|task| task.last_status() == Some("RUNNING"))
            .collect()
    })
    .await
}

/// The EC2 instance id of each ACTIVE or DRAINING container instance `tasks` run on.
async fn instance_ids(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    tasks: &[Task],
) -> Result<HashMap<String, String>, StepError> {
    let mut arns: Vec<String> = tasks
        .iter()
        .filter_map(|task| task.container_instance_arn().map(str::to_string))
        .collect();
    arns.sort();
    arns.dedup();
    let described = described_container_instances(ecs, cluster, &arns).await?;
    Ok(described
        .into_iter()
        .filter(|instance| matches!(instance.status(), Some("ACTIVE" | "DRAINING")))
        .filter_map(|instance| Some((instance.container_instance_arn?, instance.ec2_instance_id?)))
        .collect())
}

/// The private IPv4 address of `task`'s elastic network interface (`awsvpc`), from its
/// `ElasticNetworkInterface` attachment's details.
fn interface_address(task: &Task) -> Option<String> {
    task.attachments()
        .iter()
        .filter(|attachment| attachment.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|attachment| attachment.details())
        .find(|detail| detail.name() == Some("privateIPv4Address"))
        .and_then(|detail| detail.value().map(str::to_string))
}

/// The host port `task`'s `container` maps `container_port` to; the container port itself when
/// the container shows no binding at all (host networking); none (0, no target's port) when it
/// shows others but not this one.
fn host_port(task: &Task, container: &str, container_port: i32) -> i32 {
    let bindings: Vec<_> = task
        .containers()
        .iter()
        .filter(|found| found.name() == Some(container))
        .flat_map(|found| found.network_bindings())
        .collect();
    if bindings.is_empty() {
        return container_port;
    }
    bindings
        .iter()
        .find(|binding| binding.container_port() == Some(container_port))
        .and_then(|binding| binding.host_port())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::builders::TaskBuilder;
    use aws_sdk_ecs::types::{
        Attachment, Container, ContainerInstance, KeyValuePair, LoadBalancer, NetworkBinding,
    };
    use aws_smithy_mocks::{mock, Rule};

    use super::*;
    use crate::testing::ecs_client;

    const GROUP: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/1";

    fn task(arn: &str, instance: &str) -> TaskBuilder {
        Task::builder()
            .task_arn(arn)
            .container_instance_arn(instance)
            .last_status("RUNNING")
    }

    fn detail(name: &str, value: &str) -> KeyValuePair {
        KeyValuePair::builder().name(name).value(value).build()
    }

    /// The service's tasks: one per network mode, one on a force-deregistered container
    /// instance, one stopping.
    fn tasks() -> [Rule; 2] {
        let listed = mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|req| req.service_name() == Some("web"))
            .then_output(|| {
                let arns = ["awsvpc", "bridge", "host", "orphan", "stopping"];
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns.map(String::from).to_vec()))
                    .build()
            });
        let described = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            let interface = Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .details(detail("subnetId", "subnet-1"))
                .details(detail("privateIPv4Address", "10.0.1.7"))
                .build();
            let binding = NetworkBinding::builder()
                .container_port(8080)
                .host_port(32768)
                .build();
            let bound = Container::builder()
                .name("web")
                .network_bindings(binding)
                .build();
            DescribeTasksOutput::builder()
                .tasks(task("awsvpc", "ci-1").attachments(interface).build())
                .tasks(task("bridge", "ci-2").containers(bound).build())
                .tasks(task("host", "ci-3").build())
                .tasks(task("orphan", "ci-4").build())
                .tasks(task("stopping", "ci-1").last_status("DEACTIVATING").build())
                .build()
        });
        [listed, described]
    }

    fn container_instances() -> Rule {
        let instance = |arn: &str, id: &str, status: &str| {
            ContainerInstance::builder()
                .container_instance_arn(arn)
                .ec2_instance_id(id)
                .status(status)
                .build()
        };
        mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("ci-1", "i-1", "ACTIVE"))
                .container_instances(instance("ci-2", "i-2", "DRAINING"))
                .container_instances(instance("ci-3", "i-3", "ACTIVE"))
                .container_instances(instance("ci-4", "i-4", "INACTIVE"))
                .build()
        })
    }

    #[tokio::test]
    async fn each_running_task_is_found_by_its_interface_address_or_its_instance_and_host_port() {
        let ([listed, described], instances) = (tasks(), container_instances());
        let ecs = ecs_client(&[&listed, &described, &instances]);
        let balancer = LoadBalancer::builder()
            .target_group_arn(GROUP)
            .container_name("web")
            .container_port(8080)
            .build();
        let service = Service::builder()
            .service_name("web")
            .load_balancers(balancer)
            .build();
        let found = own_targets(&ecs, "cluster", &service, GROUP).await;
        let expected: HashMap<Target, String> = [
            (("10.0.1.7".to_string(), 8080), "awsvpc".to_string()),
            (("i-2".to_string(), 32768), "bridge".to_string()),
            (("i-3".to_string(), 8080), "host".to_string()),
        ]
        .into();
        assert_eq!(found.unwrap(), Some(expected));
        // A service that no longer names the group has no targets there.
        let elsewhere = own_targets(&ecs, "cluster", &service, "another-group").await;
        assert_eq!(elsewhere.unwrap(), None);
    }

    #[test]
    fn a_task_serves_once_each_of_its_targets_is_healthy_and_counts_once() {
        let own: HashMap<Target, String> = [
            (("i-1".to_string(), 8080), "both-healthy".to_string()),
            (("i-1".to_string(), 8443), "both-healthy".to_string()),
            (("i-2".to_string(), 8080), "one-healthy".to_string()),
            (("i-2".to_string(), 8443), "one-healthy".to_string()),
            (("i-3".to_string(), 8080), "unhealthy".to_string()),
        ]
        .into();
        // a stranger's healthy target (a daemon on i-3) serves, but is no task of the service
        let healthy: HashSet<(&str, i32)> =
            [("i-1", 8080), ("i-1", 8443), ("i-2", 8080), ("i-3", 9100)].into();
        let serving: Vec<&String> = serving_tasks(&own, &healthy).into_iter().collect();
        assert_eq!(serving, ["both-healthy"]);
        assert!(serving_tasks(&own, &HashSet::new()).is_empty());
    }
}
