use super::*;

#[tokio::test]
async fn counts_250_instances_over_3_pages_excluding_draining_and_disconnected() {
    let ecs = cluster(250, mixed, 100);
    let decision = ecs.decide(&[], &input(2, 1, None)).await;
    ecs.assert_read_in_pages(3);
    assert_eq!(
        decision.instances,
        InstanceCounts {
            registered: 250,
            usable: 234,
            draining: 10,
            disconnected: 5,
            serving_while_away: 5,
            stale_draining: 0,
            outside_asg: 0,
            other: 1
        }
    );
    // 234 usable - 1 = 233 is above the current 100: raising is allowed while draining.
    assert_eq!(decision.target_desired_count, 233);
    assert_eq!(decision.new_desired_count, 233);
    assert!(decision.changed);
    assert_eq!(ecs.update.num_calls(), 1);
}

#[tokio::test]
async fn a_5000_instance_cluster_is_read_completely() {
    let ecs = cluster(5000, all_active, 4999);
    let decision = ecs.decide(&[], &input(2, 1, None)).await;
    ecs.assert_read_in_pages(50);
    assert_eq!(decision.instances.usable, 5000);
    assert!(!decision.changed);
    assert_eq!(ecs.update.num_calls(), 0);
}

#[tokio::test]
async fn no_update_when_the_count_already_matches() {
    let ecs = cluster(3, all_active, 2);
    let decision = ecs.decide(&[], &input(1, 1, None)).await;
    assert!(!decision.changed);
    assert_eq!(decision.reason, "desired count already matches");
    assert_eq!(ecs.update.num_calls(), 0);
}
