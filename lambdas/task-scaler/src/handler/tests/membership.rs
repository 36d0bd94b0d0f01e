use super::*;
use sta_shared::testing::assert_step_error;

/// The group: instances 0 to 2 InService, instance 3 in `fourth`.
fn three_in_service_and(fourth: LifecycleState) -> Rule {
    let mut members: Vec<(usize, LifecycleState)> = (0..3)
        .map(|index| (index, LifecycleState::InService))
        .collect();
    members.push((3, fourth));
    group(members)
}

#[tokio::test]
async fn only_instances_in_service_in_the_asg_count() {
    let ecs = cluster(5, all_active, 2);
    let asg = three_in_service_and(LifecycleState::TerminatingWait);
    let decision = ecs.decide(&[&asg], &with_asg()).await;
    assert_eq!(decision.instances.usable, 3);
    assert_eq!(decision.instances.outside_asg, 2);
    assert_eq!(decision.new_desired_count, 2);
    assert_eq!(asg.num_calls(), 1);

    let missing = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());
    let deps = ecs.deps(&[&missing]);
    let error = scale(&deps, &with_asg()).await.unwrap_err();
    assert_step_error(&error, "ResourceNotFound", "asg");
}

#[tokio::test]
async fn an_agent_away_keeps_its_instance_counted_while_its_task_serves() {
    // Instances 0 to 3 ACTIVE, the agents of 2 (in service) and 3 (terminating) away.
    let ecs = cluster(4, |index| ("ACTIVE", index < 2), 3);
    let asg = three_in_service_and(LifecycleState::TerminatingProceed);
    let decision = ecs.decide(&[&asg], &with_asg()).await;
    assert_eq!(decision.instances.usable, 2, "{decision}");
    assert_eq!(decision.instances.disconnected, 1, "{decision}");
    assert_eq!(decision.instances.outside_asg, 1, "{decision}");
    // 2 usable - 1 would be 1: the agent away, its task serving, keeps the count at 3 - 1 = 2.
    assert_eq!(decision.instances.serving_while_away, 1, "{decision}");
    assert_eq!(decision.new_desired_count, 2, "{decision}");
    assert_eq!(ecs.update.num_calls(), 1);
    // A spare whose agent is away (or gone for good) holds nothing of the service: lowered.
    let spare = Cluster {
        tasks: task_rules(|index| index != 2),
        ..cluster(4, |index| ("ACTIVE", index < 2), 3)
    };
    let decision = spare.decide(&[&asg], &with_asg()).await;
    assert_eq!(decision.instances.serving_while_away, 0, "{decision}");
    assert_eq!(decision.new_desired_count, 1, "{decision}");
}

/// 5 instances: 0 DRAINING with a disconnected agent (stopped or gone), 1 DRAINING but no
/// longer in the group, 2 DRAINING in Terminating:Wait (a real drain), 3 and 4 ACTIVE.
fn stale(index: usize) -> (&'static str, bool) {
    match index {
        0 => ("DRAINING", false),
        1 | 2 => ("DRAINING", true),
        _ => ("ACTIVE", true),
    }
}

#[tokio::test]
async fn stale_draining_records_never_hold_the_count_up() {
    let left = vec![
        (0, LifecycleState::Terminated),
        (3, LifecycleState::InService),
        (4, LifecycleState::InService),
    ];
    let draining = [left.clone(), vec![(2, LifecycleState::TerminatingWait)]].concat();

    // Instance 2 is still being drained: the hold applies (2 tasks on the 2 usable ones).
    let ecs = cluster(5, stale, 2);
    let decision = ecs.decide(&[&group(draining)], &with_asg()).await;
    assert_eq!(decision.instances.draining, 1);
    assert_eq!(decision.instances.stale_draining, 2);
    assert_eq!(decision.new_desired_count, 2, "{decision}");
    assert!(!decision.changed, "{decision}");

    // Instance 2 has left too: only stale records remain, the count is lowered.
    let decision = ecs.decide(&[&group(left.clone())], &with_asg()).await;
    assert_eq!(decision.instances.draining, 0);
    assert_eq!(decision.instances.stale_draining, 3);
    assert_eq!(decision.new_desired_count, 1, "{decision}");
    assert!(
        decision.to_string().contains("stale draining 3"),
        "{decision}"
    );
    assert_eq!(ecs.update.num_calls(), 1);

    // Its agent blips while it is drained: still a drain in progress, the hold stays.
    let blipped = cluster(
        5,
        |index| match index {
            2 => ("DRAINING", false),
            other => stale(other),
        },
        2,
    );
    let asg = group([left, vec![(2, LifecycleState::TerminatingWait)]].concat());
    let decision = blipped.decide(&[&asg], &with_asg()).await;
    assert_eq!(decision.instances.draining, 1, "{decision}");
    assert_eq!(decision.instances.stale_draining, 2, "{decision}");
    assert!(!decision.changed, "{decision}");

    // Without an ASG, a disconnected DRAINING record is still stale.
    let decision = ecs.decide(&[], &input(1, 1, None)).await;
    assert_eq!(decision.instances.stale_draining, 1);
    assert_eq!(decision.instances.draining, 2);
}

/// DescribeWarmPool of `asg`: `members` (instance index, lifecycle state).
fn pool(members: Vec<(usize, LifecycleState)>) -> Rule {
    use aws_sdk_autoscaling::operation::describe_warm_pool::DescribeWarmPoolOutput;
    mock!(aws_sdk_autoscaling::Client::describe_warm_pool).then_compute_output(move |req| {
        assert_eq!(req.auto_scaling_group_name(), Some("asg"));
        DescribeWarmPoolOutput::builder()
            .set_instances(Some(members.iter().map(member).collect()))
            .build()
    })
}

#[tokio::test]
async fn a_drain_on_the_way_back_to_the_warm_pool_holds_the_count_up() {
    // Instance 2 is drained on its way back to the warm pool: Warmed:Pending:Wait, which
    // DescribeWarmPool lists and the group does not; instance 0 is stopped in the pool.
    let members = vec![
        (3, LifecycleState::InService),
        (4, LifecycleState::InService),
    ];
    let (asg, warm) = (
        group_of(members, true),
        pool(vec![
            (0, LifecycleState::WarmedStopped),
            (1, LifecycleState::WarmedPendingWait),
            (2, LifecycleState::WarmedPendingWait),
        ]),
    );
    let ecs = cluster(5, stale, 2);
    let decision = ecs.decide(&[&asg, &warm], &with_asg()).await;
    assert_eq!(decision.instances.draining, 2, "{decision}");
    assert_eq!(decision.instances.stale_draining, 1, "{decision}");
    assert!(!decision.changed, "{decision}");
    assert_eq!(warm.num_calls(), 1);

    // back in a pool of running instances: its agent connected to its DRAINING record, its
    // drain over (the sweeper sets it ACTIVE once it is back in service)
    let rested = pool(vec![
        (0, LifecycleState::WarmedStopped),
        (1, LifecycleState::WarmedRunning),
        (2, LifecycleState::WarmedPendingWait),
    ]);
    let decision = ecs.decide(&[&asg, &rested], &with_asg()).await;
    assert_eq!(decision.instances.draining, 1, "{decision}");
    assert_eq!(decision.instances.stale_draining, 2, "{decision}");

    // a group without a warm pool is not asked for one
    let plain = group(vec![(3, LifecycleState::InService)]);
    ecs.decide(&[&plain, &warm], &with_asg()).await;
    assert_eq!(warm.num_calls(), 1);
}

#[tokio::test]
async fn describe_warm_pool_errors_are_named() {
    let ecs = cluster(2, all_active, 1);
    let asg = group_of(vec![(0, LifecycleState::InService)], true);
    let denied = mock!(aws_sdk_autoscaling::Client::describe_warm_pool)
        .then_http_response(|| sta_shared::testing::query_error(403, "AccessDenied", "no"));
    let error = scale(&ecs.deps(&[&asg, &denied]), &with_asg())
        .await
        .unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "DescribeWarmPool");
}

#[tokio::test]
async fn a_draining_record_holds_the_count_only_where_a_task_needs_room() {
    use LifecycleState::*;
    // Instance 2 DRAINING in `state` (in the group or, for Warmed:*, its warm pool), its agent
    // `connected`; 3 and 4 ACTIVE and InService.
    for (state, connected, draining) in [
        (TerminatingWait, false, true), // a blip, or a dead agent: the drain goes on
        (InService, false, true),       // a Spot warning's drain
        (WarmedPendingWait, false, true),
        (TerminatingProceed, false, false), // completed
        (TerminatingProceed, true, false),
        (WarmedPendingProceed, true, false),
        (WarmedTerminatingWait, false, false), // a pool instance runs no task
        (WarmedTerminatingRetained, false, false),
        (TerminatingRetained, true, true), // retained, still serving: swept and drained
        (TerminatingRetained, false, false), // retained and stopped
        (Standby, false, false),
        (Standby, true, true),
    ] {
        let status_of: fn(usize) -> (&'static str, bool) = if connected {
            |index| match index {
                2 => ("DRAINING", true),
                0 | 1 => ("ACTIVE", false),
                _ => ("ACTIVE", true),
            }
        } else {
            |index| match index {
                2 => ("DRAINING", false),
                0 | 1 => ("ACTIVE", false),
                _ => ("ACTIVE", true),
            }
        };
        let ecs = cluster(5, status_of, 2);
        let members = vec![
            (3, LifecycleState::InService),
            (4, LifecycleState::InService),
        ];
        let warm = matches!(
            state,
            WarmedPendingWait
                | WarmedPendingProceed
                | WarmedTerminatingWait
                | WarmedTerminatingRetained
        );
        let decision = if warm {
            let asg = group_of(members, true);
            let pooled = pool(vec![(2, state.clone())]);
            ecs.decide(&[&asg, &pooled], &with_asg()).await
        } else {
            let asg = group([members, vec![(2, state.clone())]].concat());
            ecs.decide(&[&asg], &with_asg()).await
        };
        let counted = (
            decision.instances.draining,
            decision.instances.stale_draining,
        );
        assert_eq!(
            counted,
            if draining { (1, 0) } else { (0, 1) },
            "{state:?}, agent connected {connected}: {decision}"
        );
    }
}
