use super::*;

/// The web service's target group as the drain records it: 120 s of draining, a
/// replacement healthy after 3 x 10 s.
fn web_service_group(registered_without_task: bool) -> ServiceBalancer {
    ServiceBalancer {
        registered_without_task,
        network: false,
        ..service_balancer("web", TG_SERVICE, 120, 30)
    }
}

#[tokio::test]
async fn leaves_the_service_balancers_to_ecs_and_deregisters_the_rest_on_every_port() {
    let rules = full();
    let state = run(&rules, drain_state()).await.unwrap();

    let balancers = state.load_balancers.as_ref().unwrap();
    assert_eq!(
        balancers.classic,
        [ClassicElb {
            name: "web-elb".into(),
            draining_seconds: 30,
            unhealthy: false,
            taken_over_at: None,
        }]
    );
    assert_eq!(
        balancers.target_groups,
        [TargetGroup::new(TG_ASG, vec![32768, 32769], 60)]
    );
    // The service whose task runs on the instance deregisters it from its target group
    // itself, once the replacement is healthy: never before.
    assert_eq!(balancers.service_managed, [web_service_group(false)]);
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
    let state = run(&rules, known).await.unwrap();
    // ECS stops the task once its replacement is healthy (30 s) and the old target has
    // drained (120 s): at 152 s; the check comes a second after.
    assert_wait(state.wait_seconds, 151);
}

#[tokio::test]
async fn a_registration_in_a_service_balancer_with_no_listed_task_is_left_to_ecs() {
    // The instance is in the cluster and registered in the service's target group, but the
    // listing shows no task of the service there: ListTasks is eventually consistent, so a
    // task it missed may be behind the registration. Deregistering it would take a serving
    // task out before ECS has its replacement healthy.
    let rules = full();
    let state = run(&rules, no_service_task()).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    assert_eq!(balancers.service_managed, [web_service_group(true)]);
    assert_eq!(state.remaining.left_to_ecs, [TG_SERVICE]);
    assert_eq!(balancers.target_groups.len(), 1);
    assert_eq!(
        rules.elbv2[1].num_calls(),
        1,
        "DeregisterTargets only for the group attached to the Auto Scaling group"
    );
}

#[tokio::test]
async fn a_service_balancer_of_an_instance_outside_the_cluster_is_deregistered() {
    // No container instance: no task of any service can be behind the registration, and
    // nobody else will remove it.
    let rules = full();
    let state = run(&rules, outside_the_cluster()).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    assert!(balancers.service_managed.is_empty());
    assert!(state.remaining.left_to_ecs.is_empty());
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
    rules.elbv2[2] = nlb_attributes("30", "false");
    let state = run(&rules, drain_state()).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    let group = &balancers.target_groups[0];
    assert!(group.connections_outlive_delay);
    assert_eq!(group.draining_seconds, 30);
    // The service's group, left to ECS, keeps it for a takeover.
    let managed = &balancers.service_managed[0];
    assert!(managed.network && managed.connections_outlive_delay);
}

#[tokio::test]
async fn a_registration_without_task_that_could_not_drain_before_a_spot_interruption_goes_at_once()
{
    // The service's group drains for 120 s: waiting for a task the listing may have missed
    // would leave the instance registered when the interruption comes, 120 s after the
    // warning.
    let mut rules = full();
    rules.autoscaling.push(attached::instance_group(None));
    let mut input = attached::spot_state();
    input.tasks.clear();
    input.remaining.tasks.clear();
    let state = run(&rules, input).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    assert!(balancers.service_managed.is_empty());
    assert!(state.remaining.left_to_ecs.is_empty());
    assert_eq!(state.remaining.target_groups, [TG_SERVICE]);
    assert_eq!(rules.elbv2[1].num_calls(), 1, "deregistered at once");
}

#[tokio::test]
async fn a_service_balancer_the_instance_is_not_in_is_left_alone() {
    let mut rules = full();
    rules.elbv2.insert(
        0,
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|req| req.target_group_arn() == Some(TG_SERVICE))
            .then_output(|| {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(description(
                        OTHER_INSTANCE,
                        80,
                        TargetHealthStateEnum::Healthy,
                    ))
                    .build()
            }),
    );
    let state = run(&rules, no_service_task()).await.unwrap();
    assert_eq!(rules.elbv2[0].num_calls(), 1);
    assert!(state.load_balancers.unwrap().service_managed.is_empty());
    assert!(state.remaining.left_to_ecs.is_empty());
    assert_eq!(state.remaining.target_groups, [TG_ASG]);
}

#[tokio::test]
async fn a_group_shared_with_a_service_that_has_a_task_here_is_that_tasks() {
    // web (with its task on the instance) and api (none listed) share the target group: the
    // registration is web's task's, not one to settle later.
    let mut rules = full();
    rules.ecs.splice(
        0..2,
        [
            mock!(aws_sdk_ecs::Client::list_services).then_output(|| {
                ListServicesOutput::builder()
                    .service_arns("arn:aws:ecs:us-west-2:123456789012:service/test-cluster/web")
                    .service_arns("arn:aws:ecs:us-west-2:123456789012:service/test-cluster/api")
                    .build()
            }),
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
                let service = |name: &str| {
                    Service::builder()
                        .service_name(name)
                        .load_balancers(
                            LoadBalancer::builder()
                                .target_group_arn(TG_SERVICE)
                                .container_port(80)
                                .build(),
                        )
                        .build()
                };
                DescribeServicesOutput::builder()
                    .services(service("web"))
                    .services(service("api"))
                    .build()
            }),
        ],
    );
    let state = run(&rules, drain_state()).await.unwrap();
    assert_eq!(
        state.load_balancers.unwrap().service_managed,
        [web_service_group(false)]
    );
    assert!(state.remaining.left_to_ecs.is_empty());
}
