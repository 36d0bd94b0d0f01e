use super::*;
use sta_shared::testing::assert_step_error;

#[tokio::test]
async fn only_instances_in_service_in_the_asg_count() {
    let ecs = cluster(5, all_active, 2);
    let asg = group(vec![
        (0, LifecycleState::InService),
        (1, LifecycleState::InService),
        (2, LifecycleState::InService),
        (3, LifecycleState::TerminatingWait),
    ]);
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
    let decision = ecs.decide(&[&group(left)], &with_asg()).await;
    assert_eq!(decision.instances.draining, 0);
    assert_eq!(decision.instances.stale_draining, 3);
    assert_eq!(decision.new_desired_count, 1, "{decision}");
    assert!(
        decision.to_string().contains("stale draining 3"),
        "{decision}"
    );
    assert_eq!(ecs.update.num_calls(), 1);

    // Without an ASG, a disconnected DRAINING record is still stale.
    let decision = ecs.decide(&[], &input(1, 1, None)).await;
    assert_eq!(decision.instances.stale_draining, 1);
    assert_eq!(decision.instances.draining, 2);
}
