use super::*;

pub(super) const SERVICE_TG: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/svc-tg/3333";

/// The state after deregistration, with the service's own target group and Classic ELB left to ECS.
fn with_service_balancers() -> DrainState {
    let mut state = deregistered();
    let balancers = state.load_balancers.as_mut().unwrap();
    for name in [SERVICE_TG, "svc-elb"] {
        balancers
            .service_managed
            .push(service_balancer("web", name, 20, 10));
    }
    state
}

/// The service's target group: the instance on port 8080 in `state`, another instance healthy.
/// Asked for the whole group (no targets), it lists both; asked for the instance's port, that one.
pub(super) fn service_targets(state: TargetHealthStateEnum) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
        .then_compute_output(move |req| {
            let mine = TargetHealthDescription::builder()
                .target(
                    TargetDescription::builder()
                        .id(INSTANCE_ID)
                        .port(8080)
                        .build(),
                )
                .target_health(sta_shared::testing::target_state(state.clone()))
                .build();
            let other = TargetHealthDescription::builder()
                .target(
                    TargetDescription::builder()
                        .id("i-0other")
                        .port(8080)
                        .build(),
                )
                .target_health(
                    TargetHealth::builder()
                        .state(TargetHealthStateEnum::Healthy)
                        .build(),
                )
                .build();
            let described = if req.targets().is_empty() {
                vec![mine, other]
            } else {
                assert_eq!(req.targets()[0].port(), Some(8080));
                vec![mine]
            };
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(described))
                .build()
        })
}

/// The cluster deleted mid-drain (DescribeTasks: ClusterNotFoundException), with the
/// service's target group answered by `service_group`.
fn cluster_deleted(service_group: Rule) -> MockRules {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    world.elbv2.insert(0, service_group);
    world
}

#[tokio::test]
async fn with_the_cluster_deleted_the_service_load_balancers_are_waited_for() {
    // The cluster was deleted mid-drain: its tasks are gone, never reported STOPPED, and ECS
    // took them out of the service's target group, where the instance still drains.
    let world = cluster_deleted(service_targets(TargetHealthStateEnum::Draining));
    let state = check(&world.clients(), with_service_balancers(), at(30))
        .await
        .unwrap();
    assert!(state.remaining.tasks.is_empty());
    assert_eq!(state.status, DrainStatus::Draining, "{state:?}");
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
    let balancers = state.load_balancers.as_ref().unwrap();
    assert!(balancers.service_managed.is_empty(), "taken over once");
    let adopted = balancers
        .target_groups
        .iter()
        .find(|g| g.arn == SERVICE_TG)
        .unwrap();
    assert_eq!(
        (adopted.ports.as_slice(), adopted.draining_seconds),
        ([8080].as_slice(), 20)
    );
    assert!(balancers.classic.iter().any(|elb| elb.name == "svc-elb"));

    // Once the service's target group has drained too, the drain is done.
    let world = cluster_deleted(service_targets(TargetHealthStateEnum::Unused));
    let state = check(&world.clients(), state, at(55)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn stopped_service_tasks_leave_the_service_load_balancers_to_ecs() {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world
        .elbv2
        .insert(0, service_targets(TargetHealthStateEnum::Draining));
    let state = check(&world.clients(), with_service_balancers(), at(63))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(
        world.elbv2[0].num_calls(),
        0,
        "ECS drained them before STOPPED"
    );
    assert_eq!(state.load_balancers.unwrap().service_managed.len(), 2);
}

#[tokio::test]
async fn a_failed_read_of_a_service_target_group_is_named() {
    let world = cluster_deleted(
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
            .then_http_response(|| query_error(400, "AccessDenied", "denied")),
    );
    let error = check(&world.clients(), with_service_balancers(), at(30))
        .await
        .unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "DescribeTargetHealth");
}
