//! The cluster, its capacity providers and its container instances.

use super::*;

#[tokio::test]
async fn a_missing_cluster_fails_and_skips_the_services() {
    let f = Fixture {
        cluster_exists: false,
        ..Fixture::default()
    };
    let report = run(&f).await;
    assert_check(&report, "cluster", Status::Fail, &["no such ECS cluster"]);
    assert!(report.checks.iter().all(|c| c.name != "n-plus-1"));
}

#[tokio::test]
async fn managed_scaling_at_target_100_fails() {
    let mut f = Fixture::default();
    f.providers = vec![FProvider {
        name: "cp".to_string(),
        asg: ASG.to_string(),
        draining: false,
        scaling_target: Some(100),
    }];
    assert_check(
        &run(&f).await,
        "capacity-provider",
        Status::Fail,
        &["cp: managed scaling at target capacity 100 %", "ratchet"],
    );
    f.providers[0].scaling_target = Some(80);
    assert_check(
        &run(&f).await,
        "capacity-provider",
        Status::Pass,
        &["at target 80 %"],
    );
}

#[tokio::test]
async fn managed_draining_warns() {
    let mut f = Fixture::default();
    f.providers = vec![FProvider {
        name: "cp".to_string(),
        asg: ASG.to_string(),
        draining: true,
        scaling_target: None,
    }];
    assert_check(
        &run(&f).await,
        "capacity-provider",
        Status::Warn,
        &["managed draining", "managedDraining=DISABLED"],
    );
}

#[tokio::test]
async fn a_capacity_provider_on_another_group_is_not_ours() {
    let mut f = Fixture::default();
    f.providers = vec![FProvider {
        name: "cp".to_string(),
        asg: "other".to_string(),
        draining: true,
        scaling_target: Some(100),
    }];
    assert_check(
        &run(&f).await,
        "capacity-provider",
        Status::Pass,
        &["no capacity provider"],
    );
    f.errors
        .insert("DescribeCapacityProviders", "AccessDeniedException");
    assert_check(
        &run(&f).await,
        "capacity-provider",
        Status::Fail,
        &["DescribeCapacityProviders"],
    );
}

#[tokio::test]
async fn a_container_instance_stuck_draining_warns_and_is_no_capacity() {
    let mut f = Fixture::default();
    f.instances[2].ecs_status = Some("DRAINING".to_string());
    let report = run(&f).await;
    assert_check(
        &report,
        "container-instances-draining",
        Status::Warn,
        &[&instance(3), "update-container-instances-state"],
    );
    assert_check(
        &report,
        "n-plus-1",
        Status::Fail,
        &["2 usable instances < desired 2 + N 1"],
    );
    // one being drained (its instance Terminating:Wait) is no problem of its own
    f.instances[2].asg_state = Some("Terminating:Wait".to_string());
    let report = run(&f).await;
    assert_check(
        &report,
        "container-instances-draining",
        Status::Pass,
        &["being drained now"],
    );
}

#[tokio::test]
async fn a_disconnected_agent_warns() {
    let mut f = Fixture::default();
    f.instances[1].connected = false;
    let report = run(&f).await;
    assert_check(
        &report,
        "container-instances-agent",
        Status::Warn,
        &[&instance(2), "never deregisters"],
    );
}

#[tokio::test]
async fn a_container_instance_outside_the_groups_warns() {
    let mut f = Fixture::default();
    f.instances[2].asg_state = None;
    assert_check(
        &run(&f).await,
        "container-instances-groups",
        Status::Warn,
        &[&instance(3), "nothing drains them"],
    );
}

#[tokio::test]
async fn a_container_instance_read_error_is_a_fail() {
    let mut f = Fixture::default();
    f.errors
        .insert("ListContainerInstances", "ThrottlingException");
    let report = run(&f).await;
    assert_check(
        &report,
        "container-instances",
        Status::Fail,
        &["ListContainerInstances: ThrottlingException"],
    );
    assert!(
        report.checks.iter().all(|c| c.name != "n-plus-1"),
        "not judged without the instances"
    );
}
