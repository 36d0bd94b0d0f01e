//! The groups and their hooks.

use super::*;

/// A hook on our group that is not ours: 300 s, ABANDON, no metadata.
fn someone_elses_hook(name: &str, transition: &str) -> FHook {
    FHook {
        asg: ASG.to_string(),
        name: name.to_string(),
        transition: transition.to_string(),
        heartbeat: 300,
        default_result: "ABANDON".to_string(),
        metadata: None,
    }
}

#[tokio::test]
async fn a_missing_hook_fails_with_the_command_to_put_it() {
    let mut f = Fixture::default();
    f.hooks[0].name = "someone-elses".to_string();
    f.hooks[0].metadata = None;
    let report = f
        .doctor_says(
            "hook",
            Status::Fail,
            &[
                "no terminate hook named ecsTermination",
                "put-lifecycle-hook",
                "--lifecycle-hook-name ecsTermination",
            ],
        )
        .await;
    assert_check(
        &report,
        "other-terminate-hooks",
        Status::Warn,
        &["someone-elses"],
    );
    assert_skipped(&report, "hook-heartbeat");
}

#[tokio::test]
async fn a_missing_group_fails() {
    let mut f = Fixture::default();
    f.groups.clear();
    let report = f
        .doctor_says("asg", Status::Fail, &["no such Auto Scaling group"])
        .await;
    assert_skipped(&report, "hook");
}

#[tokio::test]
async fn a_heartbeat_timeout_not_longer_than_the_sweep_fails() {
    // the scheduler invokes up to 60 s after the sweep is due
    let cases: [(i32, Status, &[&str]); 3] = [
        (
            300,
            Status::Fail,
            &[
                "heartbeat timeout 300 s is not longer than the sweep period 300 s",
                "heartbeatTimeout",
            ],
        ),
        (
            360,
            Status::Fail,
            &["not longer than the sweep period 300 s", "60 s precision"],
        ),
        (390, Status::Warn, &["only 30 s between the latest sweep"]),
    ];
    let mut f = Fixture::default();
    for (heartbeat, status, words) in cases {
        f.hooks[0].heartbeat = heartbeat;
        f.doctor_says("hook-heartbeat", status, words).await;
    }
}

#[tokio::test]
async fn a_heartbeat_timeout_with_little_room_after_our_heartbeat_warns() {
    let mut f = Fixture::default();
    f.hooks[0].heartbeat = 90; // heartbeat after 36 s, 54 s to spare
    let mut options = f.options();
    options.sweep_period_seconds = Some(20);
    options.hook = Some(HOOK.to_string());
    let report = run_with(&f, options).await;
    assert_check(
        &report,
        "hook-heartbeat",
        Status::Warn,
        &["our heartbeat comes 36 s after the last", "leaving 54 s"],
    );
}

#[test]
fn the_heartbeat_rule_at_its_edges() {
    use crate::doctor::hooks::heartbeat;
    // a sweep every 300 s comes up to 360 s into the wait; 60 s more of margin
    assert_eq!(heartbeat("g", 600, 300, "x").status, Status::Pass);
    assert_eq!(heartbeat("g", 420, 300, "x").status, Status::Pass);
    assert_eq!(heartbeat("g", 419, 300, "x").status, Status::Warn);
    assert_eq!(heartbeat("g", 361, 300, "x").status, Status::Warn);
    assert_eq!(heartbeat("g", 360, 300, "x").status, Status::Fail);
    assert_eq!(
        heartbeat("g", 150, 30, "x").status,
        Status::Pass,
        "90 s of slack, 60 s of margin"
    );
    assert_eq!(
        heartbeat("g", 98, 30, "x").status,
        Status::Warn,
        "39 s + 59 s"
    );
}

#[tokio::test]
async fn a_deadline_beyond_the_hooks_limit_fails() {
    let mut f = Fixture::default();
    f.hooks[0].heartbeat = 30; // limit 100 x 30 s = 3000 s = the deadline
    let mut options = f.options();
    options.sweep_period_seconds = Some(10);
    let report = run_with(&f, options).await;
    assert_check(
        &report,
        "hook-deadline",
        Status::Fail,
        &[
            "3000 s is not below the hook's limit 3000 s",
            "drainDeadline",
        ],
    );
    f.definition = definition(2999);
    let mut options = f.options();
    options.sweep_period_seconds = Some(10);
    assert_check(
        &run_with(&f, options).await,
        "hook-deadline",
        Status::Pass,
        &["2999"],
    );
}

#[tokio::test]
async fn other_terminate_hooks_warn_and_an_abandon_default_result_with_them_too() {
    let mut f = Fixture::default();
    f.hooks[0].default_result = "ABANDON".to_string();
    f.doctor_says("hook-default-result", Status::Pass, &["ABANDON"])
        .await;
    f.hooks.push(someone_elses_hook(
        "backup",
        "autoscaling:EC2_INSTANCE_TERMINATING",
    ));
    f.hooks.push(someone_elses_hook(
        "launch",
        "autoscaling:EC2_INSTANCE_LAUNCHING",
    ));
    let report = f
        .doctor_says(
            "other-terminate-hooks",
            Status::Warn,
            &[
                "backup (heartbeat timeout 300 s, default result ABANDON)",
                "or their timeout",
            ],
        )
        .await;
    assert!(!check(&report, "other-terminate-hooks", None)
        .detail
        .contains("launch"));
    assert_check(
        &report,
        "hook-default-result",
        Status::Warn,
        &["skips the other terminate hooks", "CONTINUE"],
    );
}

#[tokio::test]
async fn with_a_retention_policy_only_abandon_keeps_a_failed_drains_instance() {
    let mut f = Fixture::default();
    f.doctor_says(
        "hook-default-result",
        Status::Pass,
        &["CONTINUE", "the group retains none"],
    )
    .await;
    assert_skipped(&run(&f).await, "retained-instances");
    f.retention = Some("retain");
    f.doctor_says(
        "hook-default-result",
        Status::Warn,
        &[
            "terminates, undrained",
            "ABANDON (infra: hookDefaultResult)",
        ],
    )
    .await;
    f.doctor_says(
        "retained-instances",
        Status::Pass,
        &["no instance retained"],
    )
    .await;
    f.hooks[0].default_result = "ABANDON".to_string();
    f.doctor_says(
        "hook-default-result",
        Status::Pass,
        &["ABANDON", "Terminating:Retained", "a redrive drains it"],
    )
    .await;
    f.retention = Some("terminate");
    f.doctor_says(
        "hook-default-result",
        Status::Pass,
        &["either result terminates"],
    )
    .await;
}

#[tokio::test]
async fn retained_instances_warn_with_what_to_do() {
    let mut f = Fixture::default();
    f.retention = Some("retain");
    f.instances[0].asg_state = Some("Terminating:Retained".to_string());
    f.instances[1].asg_state = Some("Warmed:Pending:Retained".to_string());
    f.doctor_says(
        "retained-instances",
        Status::Warn,
        &[
            "2 retained",
            &format!("{}, {}", instance(1), instance(2)),
            "a task still on one may die undrained",
            "ecs-sta replay",
            "terminate-instance-in-auto-scaling-group",
            // Auto Scaling refuses to terminate one of the warm pool
            "aws ec2 terminate-instances",
        ],
    )
    .await;
    // retained earlier, under a policy since removed: still there, still reported
    f.retention = None;
    f.doctor_says("retained-instances", Status::Warn, &["2 retained"])
        .await;
    // none in the warm pool: no word of EC2's call
    f.instances[1].asg_state = Some("InService".to_string());
    let report = f
        .doctor_says("retained-instances", Status::Warn, &["1 retained"])
        .await;
    let found = check(&report, "retained-instances", None);
    assert!(!found
        .fix
        .as_deref()
        .unwrap_or_default()
        .contains("ec2 terminate-instances"));
}

#[tokio::test]
async fn a_hook_for_another_cluster_fails() {
    let mut f = Fixture::default();
    f.hooks[0].metadata = Some(r#"{"cluster":"staging"}"#.to_string());
    f.doctor_says("hook", Status::Fail, &["names cluster staging"])
        .await;
}

#[tokio::test]
async fn protected_instances_warn() {
    let mut f = Fixture::default();
    f.new_instances_protected = true;
    f.doctor_says(
        "scale-in-protection",
        Status::Warn,
        &["new instances are protected"],
    )
    .await;
}

/// The default fixture, its first instance stopped in the group's warm pool.
fn with_a_warm_pool() -> Fixture {
    let mut f = Fixture::default();
    f.instances[0].asg_state = Some("Warmed:Stopped".to_string());
    f.instances[0].connected = false;
    f
}

#[tokio::test]
async fn a_warm_pool_needs_the_agents_warm_pools_check() {
    let mut f = with_a_warm_pool();
    f.doctor_says("warm-pool", Status::Pass, &["ECS_WARM_POOLS_CHECK=true"])
        .await;
    f.user_data = b"#!/bin/bash\necho ECS_CLUSTER=test-cluster >> /etc/ecs/ecs.config\n".to_vec();
    f.doctor_says(
        "warm-pool",
        Status::Warn,
        &[
            "does not set ECS_WARM_POOLS_CHECK=true",
            "registers with the cluster while it warms",
            "/etc/ecs/ecs.config",
        ],
    )
    .await;
    f.user_data = b"# ECS_WARM_POOLS_CHECK=true\n".to_vec();
    f.doctor_says("warm-pool", Status::Warn, &["does not set"])
        .await;
}

#[tokio::test]
async fn user_data_that_is_not_text_or_none_cannot_show_the_setting() {
    let mut f = with_a_warm_pool();
    // gzip-compressed, as cloud-init takes it
    f.user_data = vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe];
    f.doctor_says(
        "warm-pool",
        Status::Warn,
        &["no user data readable as text"],
    )
    .await;
    f.user_data = Vec::new();
    f.doctor_says(
        "warm-pool",
        Status::Warn,
        &["no user data readable as text"],
    )
    .await;
}

#[tokio::test]
async fn a_launch_template_that_cannot_be_read_fails_naming_the_call() {
    let mut f = with_a_warm_pool();
    f.errors
        .insert("DescribeLaunchTemplateVersions", "UnauthorizedOperation");
    f.doctor_says(
        "warm-pool",
        Status::Fail,
        &["DescribeLaunchTemplateVersions", "UnauthorizedOperation"],
    )
    .await;
}

#[tokio::test]
async fn a_group_without_a_warm_pool_has_no_warm_pool_check() {
    let report = run(&Fixture::default()).await;
    assert_skipped(&report, "warm-pool");
}

#[tokio::test]
async fn target_tracking_on_the_clusters_reservation_fails() {
    let mut f = Fixture::default();
    let policy = |name: &str, namespace: &str, metric: &str| {
        (
            name.to_string(),
            namespace.to_string(),
            metric.to_string(),
            75.0,
        )
    };
    // on the instances' own load: not what the task count follows
    f.policies = vec![policy("cpu", "AWS/EC2", "CPUUtilization")];
    f.doctor_says("scaling-policies", Status::Pass, &["no target tracking"])
        .await;
    f.policies
        .push(policy("reserved", "AWS/ECS", "CPUReservation"));
    f.doctor_says(
        "scaling-policies",
        Status::Fail,
        &[
            "reserved (CPUReservation at 75 %)",
            "every instance but 1",
            "down to the group's minimum",
            "capacity provider",
        ],
    )
    .await;
    let options = f.options();
    let (operation, code) = ("DescribePolicies", "AccessDenied");
    assert_read_error_fails(&f, options, operation, code, "scaling-policies").await;
}
