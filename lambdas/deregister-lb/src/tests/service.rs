use super::*;

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
    let state = run(&rules, known).await.unwrap();
    // ECS stops the task once its replacement is healthy (30 s) and the old target has
    // drained (120 s): at 152 s; the check comes a second after.
    assert_wait(state.wait_seconds, 151);
}

#[tokio::test]
async fn a_service_balancer_with_no_task_of_it_on_the_instance_is_deregistered() {
    // A registration no task on the instance owns: nobody else will remove it.
    let rules = full();
    let state = run(&rules, no_service_task()).await.unwrap();
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
    let state = run(&rules, drain_state()).await.unwrap();
    let group = &state.load_balancers.unwrap().target_groups[0];
    assert!(group.connections_outlive_delay);
    assert_eq!(group.draining_seconds, 30);
}
