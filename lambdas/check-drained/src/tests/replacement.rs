use super::service_balancers::SERVICE_TG;
use super::*;
use crate::replacement::floor;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::{
    Container, DeploymentConfiguration, LoadBalancer, NetworkBinding, SchedulingStrategy, Service,
};

/// The state after deregistration, the web service's own target group left to ECS.
pub(super) fn with_service_group() -> DrainState {
    let mut state = deregistered();
    state.load_balancers.as_mut().unwrap().service_managed =
        vec![service_balancer("web", SERVICE_TG, 20, 10)];
    state
}

/// The web service's target group: the instance healthy on port 8080, and `others` of the web
/// service's tasks elsewhere ([`elsewhere`]) healthy. Asked for the instance's port, it answers
/// that one.
pub(super) fn group_serving(mine: TargetHealthStateEnum, others: usize) -> Rule {
    shared_group_serving(mine, others, &[])
}

/// The group where the instance is still healthy, beside `others` healthy instances.
fn healthy_beside(others: usize) -> Rule {
    group_serving(TargetHealthStateEnum::Healthy, others)
}

/// [`group_serving`] in a group shared with `strangers`: healthy targets (instance, port) that
/// are no task of the web service's.
pub(super) fn shared_group_serving(
    mine: TargetHealthStateEnum,
    others: usize,
    strangers: &'static [(&'static str, i32)],
) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
        .then_compute_output(move |req| {
            let target = |id: &str, port: i32, state: TargetHealthStateEnum| {
                TargetHealthDescription::builder()
                    .target(TargetDescription::builder().id(id).port(port).build())
                    .target_health(sta_shared::testing::target_state(state))
                    .build()
            };
            let mut described = vec![target(INSTANCE_ID, 8080, mine.clone())];
            if req.targets().is_empty() {
                described.extend((0..others).map(|n| {
                    let port = elsewhere_port(n);
                    target(&elsewhere_instance(n), port, TargetHealthStateEnum::Healthy)
                }));
                described.push(target("i-0new", 8080, TargetHealthStateEnum::Initial));
                described.extend(
                    strangers
                        .iter()
                        .map(|(id, port)| target(id, *port, TargetHealthStateEnum::Healthy)),
                );
            }
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(described))
                .build()
        })
}

/// How many tasks the web service runs on other instances.
const ELSEWHERE: usize = 4;

fn elsewhere_instance(n: usize) -> String {
    format!("i-0other{n}")
}

/// The port the web task on the `n`th other instance serves on: the second runs in bridge
/// mode, its container port 8080 bound to host port 32768; the others with host networking.
fn elsewhere_port(n: usize) -> i32 {
    if n == 1 {
        32768
    } else {
        8080
    }
}

/// The web service's RUNNING tasks on other instances: [`ELSEWHERE`] of them, each on its own
/// instance, on [`elsewhere_port`] (host networking shows no binding: on the container port).
/// ListTasks of the service, DescribeTasks of them, DescribeContainerInstances of theirs.
fn elsewhere() -> Vec<Rule> {
    let number = |arn: &str| arn.rsplit('-').next().unwrap().parse::<usize>().unwrap();
    vec![
        mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|req| req.service_name() == Some("web"))
            .then_compute_output(|req| {
                assert_eq!(req.cluster(), Some(CLUSTER));
                let arns = (0..ELSEWHERE).map(|n| task_arn(&format!("web-elsewhere-{n}")));
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns.collect()))
                    .build()
            }),
        mock!(aws_sdk_ecs::Client::describe_tasks)
            .match_requests(|req| req.tasks().iter().all(|arn| arn.contains("elsewhere")))
            .then_compute_output(move |req| {
                let task = |arn: &String| {
                    let n = number(arn);
                    let binding = NetworkBinding::builder()
                        .container_port(8080)
                        .host_port(elsewhere_port(n))
                        .build();
                    let container = Container::builder()
                        .name("web")
                        .set_network_bindings((n == 1).then(|| vec![binding]))
                        .build();
                    Task::builder()
                        .task_arn(arn)
                        .last_status("RUNNING")
                        .container_instance_arn(format!("{CI}-elsewhere-{n}"))
                        .containers(container)
                        .build()
                };
                DescribeTasksOutput::builder()
                    .set_tasks(Some(req.tasks().iter().map(task).collect()))
                    .build()
            }),
        mock!(aws_sdk_ecs::Client::describe_container_instances)
            .match_requests(|req| {
                req.container_instances()
                    .iter()
                    .all(|arn| arn.contains("elsewhere"))
            })
            .then_compute_output(move |req| {
                let instance = |arn: &String| {
                    ContainerInstance::builder()
                        .container_instance_arn(arn)
                        .status("ACTIVE")
                        .ec2_instance_id(elsewhere_instance(number(arn)))
                        .build()
                };
                DescribeContainerInstancesOutput::builder()
                    .set_container_instances(Some(
                        req.container_instances().iter().map(instance).collect(),
                    ))
                    .build()
            }),
    ]
}

/// DescribeServices of the web service: ACTIVE, `desired` tasks, minimum healthy `percent`.
pub(super) fn service(desired: i32, percent: i32) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(move |req| {
        assert_eq!(
            (req.cluster(), req.services()),
            (Some(CLUSTER), ["web".to_string()].as_slice())
        );
        DescribeServicesOutput::builder()
            .services(web(desired, Some(percent), None).status("ACTIVE").build())
            .build()
    })
}

pub(super) fn web(
    desired: i32,
    percent: Option<i32>,
    strategy: Option<SchedulingStrategy>,
) -> aws_sdk_ecs::types::builders::ServiceBuilder {
    let configuration = DeploymentConfiguration::builder()
        .set_minimum_healthy_percent(percent)
        .build();
    let balancer = LoadBalancer::builder()
        .target_group_arn(SERVICE_TG)
        .container_name("web")
        .container_port(8080)
        .build();
    Service::builder()
        .service_name("web")
        .load_balancers(balancer)
        .desired_count(desired)
        .deployment_configuration(configuration)
        .set_scheduling_strategy(strategy)
}

fn group_deregistered() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(|req| {
        assert_eq!(req.target_group_arn(), Some(SERVICE_TG));
        assert_eq!(req.targets()[0].id(), Some(INSTANCE_ID));
        DeregisterTargetsOutput::builder().build()
    })
}

/// The container instance deregistered (force) mid-drain: its web task orphaned, still
/// RUNNING; the service's group as `group` answers, the service as `service` does.
pub(super) fn orphaned(group: Rule, service: Rule) -> MockRules {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = container_instance(None);
    world.ecs.splice(0..0, elsewhere());
    world.ecs.push(service);
    world.elbv2.insert(0, group);
    world.elbv2.push(group_deregistered());
    world
}

/// The first check of [`with_service_group`] after the orphaning, at 50 s, in [`orphaned`]'s world.
pub(super) async fn first_check(group: Rule, service: Rule) -> (MockRules, DrainState) {
    let world = orphaned(group, service);
    let state = check(&world.clients(), with_service_group(), at(50))
        .await
        .unwrap();
    (world, state)
}

/// Whether the check took the orphan's registration in the service's group over (and
/// deregistered it), or left it to ECS, waited for.
pub(super) fn taken_over(world: &MockRules, state: &DrainState) -> bool {
    let deregistered = world.elbv2.last().unwrap().num_calls() == 1;
    let waited = state.remaining.left_to_ecs == [SERVICE_TG];
    assert_ne!(deregistered, waited, "{state:?}");
    assert_eq!(state.status, DrainStatus::Draining);
    let balancers = state.load_balancers.as_ref().unwrap();
    assert_eq!(balancers.service_managed.len(), usize::from(waited));
    assert_eq!(
        state
            .remaining
            .target_groups
            .contains(&SERVICE_TG.to_string()),
        deregistered
    );
    deregistered
}

#[tokio::test]
async fn an_orphans_registration_that_still_serves_waits_until_the_service_serves_without_it() {
    // Desired 2 at 100 %: one other healthy target is not enough (the replacement is not
    // healthy yet); two are.
    for (others, taken) in [(0, false), (1, false), (2, true), (3, true)] {
        let (world, state) = first_check(healthy_beside(others), service(2, 100)).await;
        assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
        assert_eq!(taken_over(&world, &state), taken, "{others} others");
        assert_eq!(
            world.ecs.last().unwrap().num_calls(),
            1,
            "the service is read, once a check"
        );
    }
    // At 50 % one other is enough.
    let (world, state) = first_check(healthy_beside(1), service(2, 50)).await;
    assert!(taken_over(&world, &state));
}

#[tokio::test]
async fn left_to_ecs_it_is_looked_at_again_on_the_next_check_and_taken_over_once_replaced() {
    let (world, state) = first_check(healthy_beside(1), service(2, 100)).await;
    assert!(!taken_over(&world, &state));
    assert!(state.wait_seconds > 0);

    let world = orphaned(healthy_beside(2), service(2, 100));
    let state = check(&world.clients(), state, at(60)).await.unwrap();
    assert!(taken_over(&world, &state));
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")], "kept once");
}

#[tokio::test]
async fn a_service_that_keeps_no_floor_is_not_listed() {
    let (world, state) = first_check(healthy_beside(0), service(2, 0)).await;
    assert!(taken_over(&world, &state));
    let listed = world.ecs.first().unwrap().num_calls();
    assert_eq!(listed, 0, "the service's tasks are not listed");
}

#[tokio::test]
async fn a_failed_read_of_the_services_own_targets_is_named() {
    let failing = [
        (
            mock!(aws_sdk_ecs::Client::list_tasks)
                .match_requests(|req| req.service_name() == Some("web"))
                .then_http_response(|| json_error(400, "AccessDeniedException")),
            "ListTasks",
        ),
        (
            mock!(aws_sdk_ecs::Client::describe_tasks)
                .match_requests(|req| req.tasks().iter().all(|arn| arn.contains("elsewhere")))
                .then_http_response(|| json_error(500, "ServerException")),
            "DescribeTasks",
        ),
        (
            mock!(aws_sdk_ecs::Client::describe_container_instances)
                .match_requests(|req| {
                    req.container_instances()
                        .iter()
                        .all(|arn| arn.contains("elsewhere"))
                })
                .then_http_response(|| json_error(400, "ThrottlingException")),
            "DescribeContainerInstances",
        ),
    ];
    for (rule, operation) in failing {
        let mut world = orphaned(healthy_beside(2), service(2, 100));
        world.ecs.insert(0, rule);
        let error = check(&world.clients(), with_service_group(), at(50))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains(operation),
            "{operation}: {error}"
        );
    }
}

#[tokio::test]
async fn a_registration_that_does_not_serve_or_whose_last_moment_came_is_taken_over_at_once() {
    // Not healthy: nothing to lose. The service is not read.
    for mine in [
        TargetHealthStateEnum::Initial,
        TargetHealthStateEnum::Unhealthy,
    ] {
        let (world, state) = first_check(group_serving(mine.clone(), 0), service(2, 100)).await;
        assert!(taken_over(&world, &state), "{mine:?}");
        assert_eq!(world.ecs.last().unwrap().num_calls(), 0);
    }
    // Its last moment to drain before the deadline (20 s of draining and 15 s of margin
    // before it) has come: taken over without a replacement.
    let mut state = with_service_group();
    state.deadline_at = at(84);
    let world = orphaned(healthy_beside(0), service(2, 100));
    let state = check(&world.clients(), state, at(50)).await.unwrap();
    assert!(taken_over(&world, &state));
    assert_eq!(world.ecs.last().unwrap().num_calls(), 0);
}

#[tokio::test]
async fn a_service_gone_or_being_deleted_has_no_replacement_coming() {
    let answers: [fn() -> Rule; 3] = [
        || {
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
                DescribeServicesOutput::builder()
                    .services(web(2, Some(100), None).status("INACTIVE").build())
                    .build()
            })
        },
        || {
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
                DescribeServicesOutput::builder()
                    .services(web(2, Some(100), None).status("DRAINING").build())
                    .failures(Failure::builder().reason("MISSING").build())
                    .build()
            })
        },
        || {
            mock!(aws_sdk_ecs::Client::describe_services)
                .then_http_response(|| json_error(400, "ClusterNotFoundException"))
        },
    ];
    for answer in answers {
        let (world, state) = first_check(healthy_beside(0), answer()).await;
        assert!(taken_over(&world, &state));
    }
}

#[tokio::test]
async fn a_failed_read_of_the_service_is_named() {
    let failing = mock!(aws_sdk_ecs::Client::describe_services)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let world = orphaned(healthy_beside(0), failing);
    let error = check(&world.clients(), with_service_group(), at(50))
        .await
        .unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "DescribeServices");
}

#[test]
fn a_service_keeps_ceil_of_its_minimum_healthy_percent_of_its_desired_count() {
    let daemon = Some(SchedulingStrategy::Daemon);
    let replica = Some(SchedulingStrategy::Replica);
    for (desired, percent, strategy, kept) in [
        (2, Some(100), None, 2),
        (2, None, None, 2),
        (2, None, replica.clone(), 2),
        (3, Some(50), None, 2),
        (4, Some(50), None, 2),
        (3, Some(34), None, 2),
        (3, Some(0), None, 0),
        (0, Some(100), None, 0),
        (3, None, daemon.clone(), 0),
        (3, Some(100), daemon, 3),
    ] {
        let service = web(desired, percent, strategy.clone()).build();
        assert_eq!(
            floor(&service),
            kept,
            "{desired} at {percent:?} ({strategy:?})"
        );
    }
}
