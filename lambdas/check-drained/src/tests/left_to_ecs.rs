use super::service_balancers::{service_targets, SERVICE_TG};
use super::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A drain whose instance the first step found registered in the target group of the
/// `api` service, which had no listed task on it: left to ECS.
fn left_to_ecs() -> DrainState {
    left_to_ecs_in(SERVICE_TG)
}

/// Checks the drain [`left_to_ecs`] in `world` at `offset` s.
async fn check_left_to_ecs(world: &MockRules, offset: i64) -> Result<DrainState, StepError> {
    check(&world.clients(), left_to_ecs(), at(offset)).await
}

/// The same with `load_balancer` (a target group ARN or a Classic ELB name) as the api
/// service's.
fn left_to_ecs_in(load_balancer: &str) -> DrainState {
    let mut state = deregistered();
    state.container_instance_arn = Some(CI.into());
    state.load_balancers.as_mut().unwrap().service_managed = vec![ServiceBalancer {
        registered_without_task: true,
        network: false,
        ..service_balancer("api", load_balancer, 20, 10)
    }];
    state.remaining.left_to_ecs = vec![load_balancer.into()];
    state
}

/// DescribeContainerInstances of the drained instance, connected, counting `running` tasks.
fn counting(running: i32) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || counted(running))
}

fn counted(running: i32) -> DescribeContainerInstancesOutput {
    DescribeContainerInstancesOutput::builder()
        .container_instances(
            ContainerInstance::builder()
                .container_instance_arn(CI)
                .status("DRAINING")
                .agent_connected(true)
                .running_tasks_count(running)
                .build(),
        )
        .build()
}

/// DeregisterTargets of our instance from the api service's target group.
fn service_group_deregistered() -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(|req| {
        assert_eq!(req.target_group_arn(), Some(SERVICE_TG));
        assert_eq!(req.targets().len(), 1);
        assert_eq!(req.targets()[0].id(), Some(INSTANCE_ID));
        DeregisterTargetsOutput::builder().build()
    })
}

/// The world where the api service's target group still has the instance, healthy, and
/// takes its deregistration.
fn world_to_take_over(listed: &'static [&'static str]) -> MockRules {
    let mut world = listed_world(listed, 0);
    world
        .elbv2
        .insert(0, service_targets(TargetHealthStateEnum::Healthy));
    world.elbv2.push(service_group_deregistered());
    world
}

/// Everything else drained; ListTasks shows `listed` on the instance, DescribeTasks shows
/// the `api` task STOPPED at `stopped_at` s and the others STOPPED.
fn listed_world(listed: &'static [&'static str], stopped_at: i64) -> MockRules {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |req| {
        let tasks = req.tasks().iter().map(|arn| {
            let task = Task::builder().task_arn(arn).last_status("STOPPED");
            if arn == &task_arn("api") {
                task.group("service:api")
                    .stopped_at(aws_smithy_types::DateTime::from_secs(
                        at(stopped_at).timestamp(),
                    ))
                    .build()
            } else {
                task.build()
            }
        });
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.collect()))
            .build()
    });
    world.ecs[2] = listed_again(listed);
    world
}

#[tokio::test]
async fn a_registration_left_to_ecs_holds_the_release_while_a_task_may_still_show_up() {
    let world = listed_world(&["web"], 0);
    let state = check_left_to_ecs(&world, 60).await.unwrap();
    assert_eq!(
        world.ecs[2].num_calls(),
        2,
        "listed again, both desired statuses"
    );
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);
    assert!(
        state.remaining.target_groups.is_empty(),
        "never deregistered by the drain"
    );
}

#[tokio::test]
async fn a_task_of_the_service_found_late_owns_the_registration() {
    // ListTasks shows the api task once ECS has stopped it (ECS took it out of the target
    // group first): it was behind the registration, which is no longer the drain's concern.
    let world = listed_world(&["web", "api"], 20);
    let state = check_left_to_ecs(&world, 60).await.unwrap();
    assert!(state.tasks.iter().any(|task| task.arn == task_arn("api")));
    assert!(state.remaining.is_empty(), "{:?}", state.remaining);
    assert_eq!(state.status, DrainStatus::Drained);

    // A task of the service that stopped before the drain began says nothing of it.
    let world = listed_world(&["web", "api"], -60);
    let state = check_left_to_ecs(&world, 60).await.unwrap();
    assert!(!state.tasks.iter().any(|task| task.arn == task_arn("api")));
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn long_after_the_drain_began_the_drain_takes_a_registration_without_task_over() {
    let world = world_to_take_over(&["web"]);
    let mut input = left_to_ecs();
    input.report.balancers_drained_at = Some(at(40));
    let state = check(&world.clients(), input, at(301)).await.unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 1, "deregistered by the drain");
    assert!(state.remaining.left_to_ecs.is_empty());
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.report.balancers_drained_at, None);
    assert!(state.wait_seconds <= 15, "{}", state.wait_seconds);
}

#[tokio::test]
async fn a_network_group_taken_over_keeps_what_its_connections_outlive() {
    let world = world_to_take_over(&["web"]);
    let mut input = left_to_ecs();
    let managed = &mut input.load_balancers.as_mut().unwrap().service_managed[0];
    managed.network = true;
    managed.connections_outlive_delay = true;
    let state = check(&world.clients(), input, at(301)).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    let group = balancers
        .target_groups
        .iter()
        .find(|group| group.arn == SERVICE_TG);
    let group = group.expect("taken over");
    assert!(group.network && group.connections_outlive_delay);
    assert!(group.routes_until.is_some(), "an NLB may route on after it");
}

#[tokio::test]
async fn a_task_the_container_instance_counts_but_no_listing_showed_postpones_the_takeover() {
    let mut world = world_to_take_over(&["web"]);
    world.ecs[1] = counting(1);
    let state = check_left_to_ecs(&world, 301).await.unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 0, "left to ECS");
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);
    assert_eq!(state.status, DrainStatus::Draining);

    // Not past the last moment its draining can end before the deadline.
    let mut input = left_to_ecs();
    input.deadline_at = at(320);
    let state = check(&world.clients(), input, at(301)).await.unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 1);
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
}

#[tokio::test]
async fn a_spot_instance_has_its_registration_taken_over_in_time_to_drain_before_the_interruption()
{
    // The interruption comes 120 s after the warning, the group drains for 20 s: taken over
    // 15 s before the last moment, for the check's own lateness.
    let world = world_to_take_over(&["web"]);
    let mut input = left_to_ecs();
    input.request.trigger = Trigger::SpotInterruption;
    let state = check(&world.clients(), input.clone(), at(84))
        .await
        .unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 0);
    assert!(state.wait_seconds <= 2, "{}", state.wait_seconds);
    let state = check(&world.clients(), input, at(85)).await.unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 1);
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
}

/// The world of a check at 200 s that lists the api task late, RUNNING, its agent lost for
/// long: ECS can no longer stop it, nor take it out of its target group. DescribeServices
/// shows the api service ACTIVE, `desired` tasks at minimum healthy `percent`.
fn api_found_late_and_lost(desired: i32, percent: i32) -> (MockRules, DrainState) {
    let mut world = world_to_take_over(&["web", "api"]);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
        let tasks = req.tasks().iter().map(|arn| {
            let task = Task::builder().task_arn(arn);
            if arn == &task_arn("api") {
                task.last_status("RUNNING").group("service:api").build()
            } else {
                task.last_status("STOPPED").build()
            }
        });
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.collect()))
            .build()
    });
    world.ecs[1] = disconnected();
    world.ecs.push(
        mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
            let configuration = aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .minimum_healthy_percent(percent)
                .build();
            let balancer = aws_sdk_ecs::types::LoadBalancer::builder()
                .target_group_arn(SERVICE_TG)
                .container_name("api")
                .container_port(8080)
                .build();
            let api = aws_sdk_ecs::types::Service::builder()
                .service_name("api")
                .load_balancers(balancer)
                .status("ACTIVE")
                .desired_count(desired)
                .deployment_configuration(configuration)
                .build();
            aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
                .services(api)
                .build()
        }),
    );
    let mut input = left_to_ecs();
    input.agent_disconnected_at = Some(at(0));
    (world, input)
}

#[tokio::test]
async fn a_task_found_late_and_given_up_leaves_its_registration_to_the_drain() {
    // The api service keeps no floor (minimum healthy 0 %): the drain takes it over at once.
    let (world, input) = api_found_late_and_lost(1, 0);
    let state = check(&world.clients(), input, at(200)).await.unwrap();
    assert_eq!(state.report.orphaned_tasks, [task_arn("api")]);
    assert_eq!(world.elbv2[2].num_calls(), 1);
    assert!(state.remaining.left_to_ecs.is_empty());
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn a_task_found_late_and_given_up_waits_for_its_services_replacement_like_any_orphan() {
    // Its registration is a known task's now, no longer one without a task: while it serves
    // and the api service keeps a floor of 2 with one target healthy elsewhere, it stays.
    let (world, input) = api_found_late_and_lost(2, 100);
    let state = check(&world.clients(), input, at(200)).await.unwrap();
    assert_eq!(state.report.orphaned_tasks, [task_arn("api")]);
    assert_eq!(world.elbv2[2].num_calls(), 0, "nothing deregistered");
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);
    assert!(state.remaining.target_groups.is_empty());
    assert_eq!(
        world.ecs.last().unwrap().num_calls(),
        1,
        "the service is read"
    );
}

#[tokio::test]
async fn an_out_of_service_classic_registration_taken_over_is_waited_out_from_then() {
    // Registered but OutOfService when taken over: its in-flight requests, which no API
    // shows, are waited out for the draining timeout from the takeover.
    let mut world = listed_world(&["web"], 0);
    world.elb = vec![
        instance_health("OutOfService"),
        classic_listing(true),
        mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
            .then_compute_output(|req| {
                assert_eq!(req.load_balancer_name(), Some("svc-elb"));
                DeregisterInstancesFromLoadBalancerOutput::builder().build()
            }),
    ];
    let mut input = left_to_ecs_in("svc-elb");
    input.load_balancers.as_mut().unwrap().classic.clear();
    input.remaining.classic_elbs.clear();
    let state = check(&world.clients(), input, at(301)).await.unwrap();
    assert_eq!(world.elb[2].num_calls(), 1, "deregistered by the drain");
    let classic = &state.load_balancers.as_ref().unwrap().classic;
    assert_eq!(
        (classic[0].unhealthy, classic[0].taken_over_at),
        (true, Some(at(301)))
    );
    assert_eq!(state.remaining.classic_elbs, ["svc-elb"]);

    // No longer listed nor InService at 315, 14 s later: its requests may still run.
    let world = listed_world(&["web"], 0);
    let mut later = state.clone();
    later.remaining.classic_elbs = vec!["svc-elb".into()];
    let state = check(&world.clients(), later.clone(), at(315))
        .await
        .unwrap();
    assert_eq!(state.remaining.classic_elbs, ["svc-elb"]);
    let state = check(&world.clients(), later, at(321)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_target_group_deleted_by_the_takeover_leaves_nothing_to_wait_for() {
    let mut world = listed_world(&["web"], 0);
    world.elbv2.insert(
        0,
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
            .then_http_response(target_gone),
    );
    let mut input = left_to_ecs();
    input.report.balancers_drained_at = Some(at(40));
    let state = check(&world.clients(), input, at(301)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert!(state.remaining.is_empty());
    assert_eq!(state.report.balancers_drained_at, Some(at(40)));
}

/// DescribeTasks of the web task the drain knows, in `status`.
fn web(status: &'static str) -> impl Fn() -> DescribeTasksOutput + Send + Sync + 'static {
    move || {
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn(task_arn("web"))
                    .group("service:web")
                    .last_status(status)
                    .build(),
            )
            .build()
    }
}

/// DescribeTasks and DescribeContainerInstances: the web task the drain knows RUNNING until
/// the container instance's count (one task) has been read, `then` from then on.
fn web_then_after_the_count(then: &'static str) -> (Rule, Rule) {
    let read = Arc::new(AtomicBool::new(false));
    let seen = read.clone();
    let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(move || {
        web(if seen.load(Ordering::SeqCst) {
            then
        } else {
            "RUNNING"
        })()
    });
    let count = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
        read.store(true, Ordering::SeqCst);
        counted(1)
    });
    (tasks, count)
}

#[tokio::test]
async fn a_known_task_that_began_to_stop_does_not_stand_in_for_one_the_count_shows() {
    // The web task is DEACTIVATING (its load balancers draining) once the counts are read:
    // ECS no longer counts it, so the one task counted is one no listing has shown.
    let mut world = world_to_take_over(&["web"]);
    (world.ecs[0], world.ecs[1]) = web_then_after_the_count("DEACTIVATING");
    let state = check_left_to_ecs(&world, 301).await.unwrap();
    assert_eq!(
        world.ecs[0].num_calls(),
        2,
        "described again after the count"
    );
    assert_eq!(world.elbv2[2].num_calls(), 0, "left to ECS");
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);

    // Still RUNNING: the task counted is the one the drain knows, the registration is taken over.
    let mut world = world_to_take_over(&["web"]);
    (world.ecs[0], world.ecs[1]) = web_then_after_the_count("RUNNING");
    let state = check_left_to_ecs(&world, 301).await.unwrap();
    assert_eq!(world.elbv2[2].num_calls(), 1, "deregistered by the drain");
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
}

#[tokio::test]
async fn a_failed_count_or_second_look_at_the_known_tasks_is_retried_or_named() {
    for (code, name) in [
        ("ThrottlingException", "Retryable"),
        ("AccessDeniedException", "AwsRequestFailed"),
    ] {
        for api in ["DescribeContainerInstances", "DescribeTasks"] {
            let mut world = world_to_take_over(&["web"]);
            let failure = move || json_error(400, code);
            if api == "DescribeTasks" {
                world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
                    .sequence()
                    .output(web("RUNNING"))
                    .http_response(failure)
                    .build();
                world.ecs[1] = counting(1);
            } else {
                world.ecs[1] = mock!(aws_sdk_ecs::Client::describe_container_instances)
                    .then_http_response(failure);
            }
            let error = check_left_to_ecs(&world, 301).await.unwrap_err();
            assert_step_error(&error, name, api);
        }
    }
}
