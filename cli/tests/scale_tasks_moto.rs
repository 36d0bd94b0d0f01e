//! `ecs-sta scale-tasks` as an operator runs it, against a real moto server.

use std::process::Command;

use integration_tests::{desired_count, set_draining, single_task_cluster, MotoServer};

fn ecs_sta(moto: &MotoServer, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-sta"))
        .args(args)
        .envs(moto.env())
        .output()
        .expect("ecs-sta runs")
}

#[tokio::test]
async fn scale_tasks_updates_the_service_and_prints_the_decision() {
    let moto = MotoServer::start();
    let config = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let arns = single_task_cluster(&config, "prod", "web", 250, 5).await;
    set_draining(&ecs, "prod", &arns[..10]).await;
    // The `--option=value` spelling; the unit tests parse the spaced one.
    let scale = [
        "scale-tasks",
        "--cluster=prod",
        "--service=web",
        "--min-task-count=2",
        "--n-count=1",
    ];

    let dry = ecs_sta(&moto, &[&scale[..], &["--dry-run"]].concat());
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let line = String::from_utf8(dry.stdout).unwrap();
    assert!(
        line.contains("prod/web: desired 5 -> 239 would change (dry run)"),
        "{line}"
    );
    assert!(line.contains("usable 240, draining 10"), "{line}");
    assert_eq!(desired_count(&ecs, "prod", "web").await, 5);

    let json = ecs_sta(&moto, &[&scale[..], &["--json"]].concat());
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let decision: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(decision["new_desired_count"], 239);
    assert_eq!(decision["changed"], true);
    assert_eq!(decision["instances"]["draining"], 10);
    assert_eq!(desired_count(&ecs, "prod", "web").await, 239);
}

#[tokio::test]
async fn scale_tasks_fails_with_a_clear_message() {
    let moto = MotoServer::start();
    let out = ecs_sta(
        &moto,
        &[
            "scale-tasks",
            "--cluster",
            "nope",
            "--service",
            "web",
            "--min-task-count",
            "2",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cluster `nope` not found (ResourceNotFound)"),
        "{stderr}"
    );
}
