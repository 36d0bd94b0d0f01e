use super::*;

#[tokio::test]
async fn drained_when_tasks_stopped_and_every_balancer_finished() {
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check_deregistered(&world, 63).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.balancers_drained_at, Some(at(63)));
    assert!(state.remaining.is_empty());
    assert_eq!(state.tasks[0].last_status, "STOPPED");
    assert_eq!(state.checks, 1);
    assert_eq!(
        world.ecs[1].num_calls(),
        0,
        "stopped tasks need no look at the container instance"
    );
    assert_eq!(
        world.autoscaling[1].num_calls(),
        0,
        "no heartbeat before one is due (a 3600 s timeout: every 1440 s)"
    );
}

#[tokio::test]
async fn a_classic_elb_still_draining_or_in_an_unknown_state_holds_the_drain() {
    // DescribeLoadBalancers no longer lists the instance, but DescribeInstanceHealth shows
    // it InService while connection draining runs; or it answers Unknown ("A transient
    // error occurred"), when the instance may still be draining.
    for health in ["InService", "Unknown"] {
        let world = rules_for("STOPPED", health, UNUSED);
        let state = check_deregistered(&world, 20).await.unwrap();
        assert_eq!(state.status, DrainStatus::Draining, "{health}");
        assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
        assert_eq!(state.report.tasks_stopped_at, Some(at(20)));
        assert_eq!(state.report.balancers_drained_at, None);
        // Expected end: the target group's 60 s from 2 s; the check comes just after.
        assert_wait(state.wait_seconds, 43);
    }
}

#[tokio::test]
async fn a_classic_elb_registration_found_again_is_deregistered_again() {
    let mut world = rules_for("STOPPED", "InService", UNUSED);
    world.elb[1] = classic_listing(true);
    let state = check_deregistered(&world, 20).await.unwrap();
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    assert_eq!(world.elb[2].num_calls(), 1);
}

#[tokio::test]
async fn an_unhealthy_instance_registered_again_waits_out_a_whole_draining_timeout_again() {
    // OutOfService while registered again (failing its health checks) is not "drained": the
    // instance is deregistered again at 20 s, and the load balancer completes its in-flight
    // requests, unseen, for the 30 s draining timeout from then, not from the first
    // deregistration at 2 s.
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elb[1] = classic_listing(true);
    let state = check_deregistered(&world, 20).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(world.elb[2].num_calls(), 1);
    let elb = &state.load_balancers.as_ref().unwrap().classic[0];
    assert!(elb.unhealthy);
    assert_eq!(elb.taken_over_at, Some(at(20)));

    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(40)).await.unwrap();
    assert_eq!(
        state.status,
        DrainStatus::Draining,
        "unseen requests until 50 s"
    );
    let state = check(&world.clients(), state, at(50)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn an_instance_deregistered_unhealthy_waits_out_the_draining_timeout() {
    // Deregistered while OutOfService: DescribeInstanceHealth says "not registered" at once,
    // but the load balancer still completes the in-flight requests, which no API shows.
    let mut state = deregistered();
    state.load_balancers.as_mut().unwrap().classic[0].unhealthy = true;
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(31)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    // The wait runs to the slowest recorded load balancer's end (the target group's 60 s
    // from 2 s), as for a Classic ELB seen draining.
    assert_wait(state.wait_seconds, 32);

    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(32)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn an_instance_out_of_service_before_its_draining_timeout_waits_it_out() {
    // Deregistered healthy at 2 s with 30 s of draining, it is no longer shown draining at
    // 10 s: it failed its health checks while it drained (its in-flight requests are still
    // completed, unseen), or the load balancer ended the draining early; nothing tells the
    // two apart, so the drain waits until 32 s.
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check_deregistered(&world, 10).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    assert!(state.load_balancers.as_ref().unwrap().classic[0].unhealthy);

    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(31)).await.unwrap();
    assert_eq!(
        state.status,
        DrainStatus::Draining,
        "unseen requests until 32 s"
    );
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(32)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);

    // Out of service only once the timeout has passed: drained at once.
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check_deregistered(&world, 32).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert!(!state.load_balancers.as_ref().unwrap().classic[0].unhealthy);
}

#[tokio::test]
async fn a_draining_target_on_one_port_holds_the_drain() {
    let world = rules_for("STOPPED", "OutOfService", DRAINING);
    let state = check_deregistered(&world, 50).await.unwrap();
    assert_eq!(state.remaining.target_groups, [TG]);
    assert!(state.remaining.classic_elbs.is_empty());
    assert_wait(state.wait_seconds, 13);
}

#[tokio::test]
async fn a_running_task_holds_the_drain_and_waits_grow_once_overdue() {
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let state = check_deregistered(&world, 70).await.unwrap();
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
    // 8 s overdue: wait 8 s.
    assert_wait(state.wait_seconds, 8);
    // ListTasks would hide a task that is stopping; DescribeTasks still shows it.
    let world = rules_for("DEACTIVATING", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(78)).await.unwrap();
    assert_eq!(state.remaining.tasks.len(), 1);
    assert_eq!(state.checks, 2);
}

#[tokio::test]
async fn a_task_shown_deleted_has_stopped() {
    // DescribeTasks shows a stopped task DELETED after a while ("Task lifecycle").
    let world = rules_for("DELETED", "OutOfService", UNUSED);
    let state = check_deregistered(&world, 63).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.tasks[0].last_status, "DELETED");
}

#[tokio::test]
async fn tasks_ecs_no_longer_knows_count_as_stopped() {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .failures(
                Failure::builder()
                    .arn(task_arn("web"))
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let state = check_deregistered(&world, 63).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn gone_load_balancers_count_as_drained() {
    let mut world = rules_for("STOPPED", "InService", DRAINING);
    world.elb[0] = mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_http_response(classic_elb_gone);
    world.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(target_group_gone);
    let state = check_deregistered(&world, 10).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_target_that_no_longer_exists_counts_as_drained() {
    // The instance terminated meanwhile and forgotten by EC2 (a redrive days later); the
    // Classic ELB's 30 s of draining from 2 s over.
    let mut world = rules_for("STOPPED", "OutOfService", DRAINING);
    world.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(target_gone);
    let state = check_deregistered(&world, 32).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);

    // Found registered again, then gone when deregistered again.
    let mut world = rules_for("STOPPED", "OutOfService", &[TargetHealthStateEnum::Healthy]);
    world.elbv2.push(
        mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets)
            .then_http_response(target_gone),
    );
    let state = check_deregistered(&world, 32).await.unwrap();
    assert_eq!(world.elbv2[1].num_calls(), 1);
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_target_registered_again_is_deregistered_again() {
    let mut world = rules_for(
        "STOPPED",
        "OutOfService",
        &[
            TargetHealthStateEnum::Healthy,
            TargetHealthStateEnum::Unused,
        ],
    );
    world.elbv2.push(
        mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(
            |req| {
                assert_eq!(req.targets().len(), 1);
                assert_eq!(req.targets()[0].port(), Some(32768));
                DeregisterTargetsOutput::builder().build()
            },
        ),
    );
    let state = check_deregistered(&world, 70).await.unwrap();
    assert_eq!(world.elbv2[1].num_calls(), 1);
    assert_eq!(state.remaining.target_groups, [TG]);

    // A Network Load Balancer's may route to it for its whole time again, from now.
    let mut state = deregistered();
    let group = &mut state.load_balancers.as_mut().unwrap().target_groups[0];
    group.network = true;
    group.routes_until = Some(at(62));
    let before = chrono::Utc::now();
    let state = check(&world.clients(), state, at(70)).await.unwrap();
    let until = state.load_balancers.as_ref().unwrap().target_groups[0].routes_until;
    assert!(
        until.unwrap() >= before + chrono::Duration::seconds(300),
        "{until:?}"
    );
}

#[tokio::test]
async fn a_target_still_registered_in_a_group_not_in_use_is_deregistered_again() {
    use aws_sdk_elasticloadbalancingv2::types::{TargetHealth, TargetHealthReasonEnum};
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    // The recorded port 32768 is `unused` as Target.NotInUse: registered all along, it serves
    // once a listener forwards to the group. 32769 is gone (Target.NotRegistered).
    world.elbv2 = vec![
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_compute_output(
            |req| {
                DescribeTargetHealthOutput::builder()
                    .set_target_health_descriptions(Some(
                        req.targets()
                            .iter()
                            .map(|target| {
                                let reason = if target.port() == Some(32768) {
                                    TargetHealthReasonEnum::NotInUse
                                } else {
                                    TargetHealthReasonEnum::NotRegistered
                                };
                                TargetHealthDescription::builder()
                                    .target(target.clone())
                                    .target_health(
                                        TargetHealth::builder()
                                            .state(TargetHealthStateEnum::Unused)
                                            .reason(reason)
                                            .build(),
                                    )
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            },
        ),
        mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(
            |req| {
                let ports: Vec<_> = req.targets().iter().map(|t| t.port()).collect();
                assert_eq!(ports, [Some(32768)]);
                DeregisterTargetsOutput::builder().build()
            },
        ),
    ];
    let state = check_deregistered(&world, 70).await.unwrap();
    assert_eq!(world.elbv2[1].num_calls(), 1);
    assert_eq!(state.remaining.target_groups, [TG], "held until it is gone");
    assert_ne!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_network_load_balancer_may_route_to_the_instance_after_its_target_is_unused() {
    // Unused (Target.NotRegistered) at 70 s, but the NLB may route new connections to the
    // instance until 302 s (300 s from the deregistration at 2 s): the drain waits.
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let mut state = deregistered();
    let group = &mut state.load_balancers.as_mut().unwrap().target_groups[0];
    group.network = true;
    group.routes_until = Some(at(302));
    let state = check(&world.clients(), state, at(70)).await.unwrap();
    assert_eq!(state.remaining.target_groups, [TG]);
    assert_ne!(state.status, DrainStatus::Drained);
    let past_the_end = state.wait_seconds.checked_sub(232);
    assert!(
        past_the_end.is_some_and(|late| late <= 1 + sta_shared::wait::MAX_JITTER_SECONDS),
        "waits until just after the routing's end: {}",
        state.wait_seconds
    );
    let state = check(&world.clients(), state, at(302)).await.unwrap();
    assert!(state.remaining.target_groups.is_empty());
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn an_nlb_target_group_auto_scaling_deregistered_is_waited_for_without_a_read() {
    // No ports: the instance was not registered there when the drain began. Asked without
    // targets, DescribeTargetHealth would answer for every instance: it is not asked.
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elbv2.clear();
    let mut state = deregistered();
    let group = &mut state.load_balancers.as_mut().unwrap().target_groups[0];
    group.ports.clear();
    group.network = true;
    group.routes_until = Some(at(300));
    let state = check(&world.clients(), state, at(70)).await.unwrap();
    assert_eq!(state.remaining.target_groups, [TG]);
    let state = check(&world.clients(), state, at(300)).await.unwrap();
    assert!(state.remaining.target_groups.is_empty());
    assert_eq!(state.status, DrainStatus::Drained);
}
