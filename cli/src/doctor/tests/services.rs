//! N+1 and the deployment configuration.

use super::*;
use crate::doctor::services::{deployment, Placement, Service};

#[tokio::test]
async fn no_spare_instance_fails_n_plus_1_and_the_deployment() {
    let mut f = Fixture::default();
    f.services[0].desired = 3;
    f.services[0].hosts = vec![1, 2, 3];
    let report = f
        .doctor_says(
            "n-plus-1",
            Status::Fail,
            &[
                "3 usable instances < desired 3 + N 1",
                "scale the group out by 1",
            ],
        )
        .await;
    assert_check(
        &report,
        "deployment-configuration",
        Status::Fail,
        &["host networking", "nowhere to start"],
    );
}

#[tokio::test]
async fn n_is_configurable() {
    let f = Fixture::default();
    let mut options = f.options();
    options.n_count = 2;
    assert_check(
        &run_with(&f, options).await,
        "n-plus-1",
        Status::Fail,
        &["desired 2 + N 2"],
    );
}

#[tokio::test]
async fn maximum_percent_100_at_minimum_100_fails() {
    let mut f = Fixture::default();
    f.services[0].max = 100;
    f.doctor_says(
        "deployment-configuration",
        Status::Fail,
        &["never replaced", "raise maximumPercent to at least 150"],
    )
    .await;
}

#[tokio::test]
async fn minimum_healthy_0_warns() {
    let cases: [(i32, Status, &str); 2] = [
        (0, Status::Warn, "minimumHealthyPercent to 100"),
        (50, Status::Pass, "keeping 1 of 2 healthy"),
    ];
    let mut f = Fixture::default();
    for (min, status, words) in cases {
        f.services[0].min = min;
        f.doctor_says("deployment-configuration", status, &[words])
            .await;
    }
}

#[tokio::test]
async fn dynamic_host_ports_share_instances() {
    let mut f = Fixture::default();
    f.services[0].network = "bridge".to_string();
    f.services[0].host_ports = vec![0];
    f.services[0].desired = 3;
    f.services[0].hosts = vec![1, 2, 3];
    f.doctor_says(
        "deployment-configuration",
        Status::Pass,
        &["beside the others"],
    )
    .await;
    f.services[0].host_ports = vec![8080];
    f.doctor_says(
        "deployment-configuration",
        Status::Fail,
        &["fixed host port 8080"],
    )
    .await;
}

#[test]
fn the_minimum_rounds_up() {
    let service = Service {
        desired: 3,
        minimum_healthy_percent: 50,
        maximum_percent: 200,
        ..Service::default()
    };
    assert_eq!(service.minimum_healthy(), 2);
    let zero = Service {
        desired: 0,
        minimum_healthy_percent: 100,
        maximum_percent: 100,
        ..Service::default()
    };
    assert_eq!(
        deployment(&zero, &Placement::Shared, 0).status,
        Status::Pass
    );
}

#[tokio::test]
async fn a_missing_service_fails() {
    let f = Fixture::default();
    let mut options = f.options();
    options.services = vec!["api".to_string()];
    assert_check(
        &run_with(&f, options).await,
        "service",
        Status::Fail,
        &["no ACTIVE service api"],
    );
}

#[tokio::test]
async fn without_service_every_service_of_the_cluster_is_checked() {
    let f = Fixture::default();
    let mut options = f.options();
    options.services.clear();
    assert_check(&run_with(&f, options).await, "n-plus-1", Status::Pass, &[]);
}

#[tokio::test]
async fn a_daemon_is_held_to_neither_n_plus_1_nor_a_replacement() {
    let f = Fixture::with_a_daemon();
    let mut every = f.options();
    every.services = Vec::new();
    let report = run_with(&f, every).await;
    let daemon = check(&report, "daemon-service", Some("agent"));
    assert_eq!(daemon.status, Status::Pass, "{daemon:#?}");
    assert!(daemon.detail.contains("a task on each of 3 instance(s)"));
    assert!(daemon.detail.contains("stops it last"));
    let subjects = |name: &str| -> Vec<Option<String>> {
        report
            .checks
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.subject.clone())
            .collect()
    };
    assert_eq!(subjects("n-plus-1"), [Some(SERVICE.to_string())]);
    assert_eq!(
        subjects("deployment-configuration"),
        [Some(SERVICE.to_string())]
    );
    // its draining follows the replica tasks': the slowest, web-tg's 5 x 30 s + 300 s + the
    // agent's default 30 s stop; then its own 30 s and its container's stopTimeout 10 s
    let draining = check(
        &report,
        "lb-draining",
        Some("agent / target group agent-tg"),
    );
    assert_eq!(draining.status, Status::Pass, "{draining:#?}");
    assert!(
        draining.detail.contains("about 520 s")
            && draining.detail.contains("the replica tasks' drain 480 s")
            && draining.detail.contains("up to 10 s"),
        "{draining:#?}"
    );
    assert!(!subjects("lb-replacement-health")
        .contains(&Some("agent / target group agent-tg".to_string())));
    assert!(report.ok(false), "{:#?}", report.blocking(false));
}

#[test]
fn a_daemons_minimum_leaves_room_for_its_task_on_the_draining_instance() {
    let agent = Service {
        desired: 3,
        minimum_healthy_percent: 100,
        maximum_percent: 100,
        daemon: true,
        ..Service::default()
    };
    assert_eq!(agent.minimum_healthy(), 2);
    let default = Service {
        minimum_healthy_percent: 0,
        ..agent
    };
    assert_eq!(default.minimum_healthy(), 0);
}

#[tokio::test]
async fn application_auto_scaling_beside_the_task_scaler_fails_and_elsewhere_warns() {
    let mut f = Fixture::default();
    f.doctor_says(
        "service-auto-scaling",
        Status::Pass,
        &["no Application Auto Scaling"],
    )
    .await;
    f.scalable = vec![(SERVICE.to_string(), 2, 10, false)];
    // Without a stack, whether the task scaler sets the count too is unknown.
    f.doctor_says(
        "service-auto-scaling",
        Status::Warn,
        &[
            "min 2, max 10",
            "if the task scaler sets it as well",
            "--stack",
        ],
    )
    .await;
    let options = f.stack_options();
    f.schedules = vec![schedule("TaskScalerSchedule1", "scaler")];
    let report = run_with(&f, options.clone()).await;
    assert_check(
        &report,
        "service-auto-scaling",
        Status::Fail,
        &[
            "the task scaler sets it every run (schedule scaler)",
            "each sets it in turn",
            &format!("--resource-id service/{CLUSTER}/{SERVICE}"),
        ],
    );
    // A disabled task scaler schedule sets nothing, nor does a schedule that is not the task
    // scaler's: this service's scaling may take the spare.
    let mut disabled = schedule("TaskScalerSchedule1", "scaler");
    disabled.3 = "DISABLED".to_string();
    for schedules in [vec![disabled], vec![schedule("SweeperSchedule1", "scaler")]] {
        f.schedules = schedules;
        assert_check(
            &run_with(&f, options.clone()).await,
            "service-auto-scaling",
            Status::Warn,
            &[
                "can take the spare instance",
                "does not set this service's count",
            ],
        );
    }
    // Suspended entirely, it sets nothing.
    f.scalable[0].3 = true;
    f.doctor_says(
        "service-auto-scaling",
        Status::Pass,
        &["all its scaling is suspended"],
    )
    .await;
}

#[tokio::test]
async fn scalable_targets_that_cannot_be_read_fail_the_check() {
    let f = Fixture::default();
    let options = f.options();
    let (operation, code) = ("DescribeScalableTargets", "AccessDeniedException");
    assert_read_error_fails(&f, options, operation, code, "service-auto-scaling").await;
}

#[tokio::test]
async fn a_task_scaler_schedule_whose_input_fails_every_run_fails() {
    let mut f = Fixture::default();
    f.schedules = vec![schedule("TaskScalerBrokenSchedule", "scaler")];
    let options = f.stack_options();
    assert_check(
        &run_with(&f, options).await,
        "task-scaler-input",
        Status::Fail,
        &["every run fails on its input", "service_name"],
    );
}
