use super::*;

#[tokio::test]
async fn floor_and_ceiling() {
    let ecs = cluster(3, all_active, 2);
    let floor = ecs.decide(&[], &input(4, 1, None)).await;
    assert_eq!(floor.new_desired_count, 4);
    assert!(
        floor.reason.contains("floor min_task_count 4"),
        "{}",
        floor.reason
    );

    let ecs = cluster(20, all_active, 5);
    let ceiling = ecs.decide(&[], &input(1, 1, Some(8))).await;
    assert_eq!(ceiling.new_desired_count, 8);
    assert!(
        ceiling.reason.contains("ceiling max_task_count 8"),
        "{}",
        ceiling.reason
    );
    assert_eq!(ecs.update.num_calls(), 1);
}

#[tokio::test]
async fn holds_instead_of_lowering_while_an_instance_drains() {
    // 4 instances, one DRAINING: target 3 - 1 = 2, current 3: hold at 3.
    fn one_draining(index: usize) -> (&'static str, bool) {
        if index == 0 {
            ("DRAINING", true)
        } else {
            ("ACTIVE", true)
        }
    }
    let ecs = cluster(4, one_draining, 3);
    let decision = ecs.decide(&[], &input(1, 1, None)).await;
    assert_eq!(decision.target_desired_count, 2);
    assert_eq!(decision.new_desired_count, 3);
    assert!(!decision.changed);
    assert!(
        decision.reason.contains("1 instance(s) draining"),
        "{}",
        decision.reason
    );
    assert_eq!(ecs.update.num_calls(), 0);

    // The same cluster once the instance is gone: the count comes down.
    let ecs = cluster(3, all_active, 3);
    let decision = ecs.decide(&[], &input(1, 1, None)).await;
    assert_eq!(decision.new_desired_count, 2);
    assert_eq!(ecs.update.num_calls(), 1);
}

#[tokio::test]
async fn dry_run_decides_without_updating() {
    let ecs = cluster(10, all_active, 2);
    let mut dry = input(2, 1, None);
    dry.dry_run = true;
    let decision = ecs.decide(&[], &dry).await;
    assert!(decision.changed && decision.dry_run);
    assert_eq!(decision.new_desired_count, 9);
    assert!(
        decision.to_string().contains("would change (dry run)"),
        "{decision}"
    );
    assert_eq!(ecs.update.num_calls(), 0);
}
