//! The cluster, its capacity providers and its container instances.

use super::*;

/// A change to a container instance of the fixture.
type Change = fn(&mut FInstance);

/// Capacity provider `cp` on group `asg`.
fn provider(asg: &str, draining: bool, scaling_target: Option<i32>) -> FProvider {
    FProvider {
        name: "cp".to_string(),
        asg: asg.to_string(),
        draining,
        scaling_target,
    }
}

#[tokio::test]
async fn a_missing_cluster_fails_and_skips_the_services() {
    let f = Fixture {
        cluster_exists: false,
        ..Fixture::default()
    };
    let report = f
        .doctor_says("cluster", Status::Fail, &["no such ECS cluster"])
        .await;
    assert_skipped(&report, "n-plus-1");
}

#[tokio::test]
async fn managed_scaling_at_target_100_fails_and_managed_draining_warns() {
    let cases: [(FProvider, Status, &[&str]); 3] = [
        (
            provider(ASG, false, Some(100)),
            Status::Fail,
            &["cp: managed scaling at target capacity 100 %", "ratchet"],
        ),
        (
            provider(ASG, false, Some(80)),
            Status::Pass,
            &["at target 80 %"],
        ),
        (
            provider(ASG, true, None),
            Status::Warn,
            &["managed draining", "managedDraining=DISABLED"],
        ),
    ];
    for (provider, status, words) in cases {
        let mut f = Fixture::default();
        f.providers = vec![provider];
        f.doctor_says("capacity-provider", status, words).await;
    }
}

#[tokio::test]
async fn a_capacity_provider_on_another_group_is_not_ours() {
    let mut f = Fixture::default();
    f.providers = vec![provider("other", true, Some(100))];
    f.doctor_says("capacity-provider", Status::Pass, &["no capacity provider"])
        .await;
    f.errors
        .insert("DescribeCapacityProviders", "AccessDeniedException");
    f.doctor_says(
        "capacity-provider",
        Status::Fail,
        &["DescribeCapacityProviders"],
    )
    .await;
}

#[tokio::test]
async fn a_container_instance_stuck_draining_warns_and_is_no_capacity() {
    let mut f = Fixture::default();
    f.instances[2].ecs_status = Some("DRAINING".to_string());
    let report = f
        .doctor_says(
            "container-instances-draining",
            Status::Warn,
            &[&instance(3), "update-container-instances-state"],
        )
        .await;
    assert_check(
        &report,
        "n-plus-1",
        Status::Fail,
        &["2 usable instances < desired 2 + N 1"],
    );
    // one being drained (its instance Terminating:Wait) is no problem of its own
    f.instances[2].asg_state = Some("Terminating:Wait".to_string());
    f.doctor_says(
        "container-instances-draining",
        Status::Pass,
        &["being drained now"],
    )
    .await;
    // nor one retained once drained: retained-instances says what to do with it
    f.instances[2].asg_state = Some("Terminating:Retained".to_string());
    let report = f
        .doctor_says(
            "container-instances-draining",
            Status::Pass,
            &[&format!("{} retained: see retained-instances", instance(3))],
        )
        .await;
    assert_check(&report, "retained-instances", Status::Warn, &[&instance(3)]);
}

#[tokio::test]
async fn a_disconnected_agent_or_an_instance_outside_the_groups_warns_naming_it() {
    let cases: [(Change, &str, &str); 2] = [
        (
            |i| i.connected = false,
            "container-instances-agent",
            "never deregisters",
        ),
        (
            |i| i.asg_state = None,
            "container-instances-groups",
            "nothing drains them",
        ),
    ];
    for (change, name, word) in cases {
        let mut f = Fixture::default();
        change(&mut f.instances[1]);
        f.doctor_says(name, Status::Warn, &[&instance(2), word])
            .await;
    }
}

#[tokio::test]
async fn without_the_container_instances_n_plus_1_is_not_judged() {
    let report = run_failing("ListContainerInstances", "ThrottlingException").await;
    assert_skipped(&report, "n-plus-1");
}

#[tokio::test]
async fn warm_pool_instances_are_the_groups_own() {
    // stopped in the pool: its agent is disconnected until it starts, nothing to fix
    let mut f = Fixture::default();
    f.instances[0].asg_state = Some("Warmed:Stopped".to_string());
    f.instances[0].connected = false;
    let report = f
        .doctor_says("container-instances-agent", Status::Pass, &[])
        .await;
    assert_skipped(&report, "container-instances-groups");
    // each step changes the instance from where the one before left it
    let steps: [(Change, Status, &str); 4] = [
        // stopped DRAINING (a drain that failed before marking it): it comes back stuck
        (
            |i| i.ecs_status = Some("DRAINING".to_string()),
            Status::Warn,
            "a warm-pool instance",
        ),
        // marked by its drain: the sweeper sets it ACTIVE once it is back in service
        (
            |i| i.marked = true,
            Status::Pass,
            "in the warm pool, marked",
        ),
        // drained on its way back to the pool: its terminate hook waits in Warmed:Pending:Wait
        (
            |i| {
                i.marked = false;
                i.connected = true;
                i.asg_state = Some("Warmed:Pending:Wait".to_string());
            },
            Status::Pass,
            "being drained now",
        ),
        // stopped in the pool, terminating with it (the pool deleted): leaving, not disconnected
        (
            |i| {
                i.connected = false;
                i.asg_state = Some("Warmed:Terminating:Wait".to_string());
            },
            Status::Pass,
            "being drained now",
        ),
    ];
    for (change, status, word) in steps {
        change(&mut f.instances[0]);
        f.doctor_says(
            "container-instances-draining",
            status,
            &[&instance(1), word],
        )
        .await;
    }
    f.doctor_says("container-instances-agent", Status::Pass, &[])
        .await;
    // the pool could not be read: said, naming the call
    let options = f.options();
    assert_read_error_fails(
        &f,
        options,
        "DescribeWarmPool",
        "AccessDenied",
        "retained-instances",
    )
    .await;
}

#[tokio::test]
async fn an_instance_a_spot_interruption_stopped_is_no_stuck_drain() {
    // in no group, DRAINING, stopped (its agent disconnected), marked by its drain with the
    // warning's time: the sweeper sets it ACTIVE once EC2 runs it again
    let mut f = Fixture::default();
    let stopped = &mut f.instances[1];
    stopped.asg_state = None;
    stopped.ecs_status = Some("DRAINING".to_string());
    stopped.connected = false;
    stopped.marked = true;
    stopped.stopped_by_spot = true;
    f.doctor_says(
        "container-instances-draining",
        Status::Pass,
        &[&instance(2), "stopped by a Spot interruption, marked"],
    )
    .await;
    f.doctor_says("container-instances-agent", Status::Pass, &[])
        .await;
    // without its drain's mark it is stuck
    f.instances[1].marked = false;
    f.doctor_says(
        "container-instances-draining",
        Status::Warn,
        &[&instance(2)],
    )
    .await;
}
