use super::*;

#[tokio::test]
async fn executions_and_show_read_the_drains() {
    let world = World::start();
    let (_client, machine) = drains(&world).await;

    let failed = lists_the_drains(&world, &machine);
    shows_a_failed_drain(&world, &machine, failed["execution_arn"].as_str().unwrap());
}

#[tokio::test]
async fn wrong_input_and_unknown_names_exit_non_zero() {
    let world = World::start();
    let machine = "arn:aws:states:us-west-2:123456789012:stateMachine:nope";
    for (args, code, says) in [
        (
            vec![
                "executions",
                "--state-machine",
                machine,
                "--status",
                "broken",
            ],
            2,
            "invalid value 'broken' for '--status <STATUS>'",
        ),
        (
            vec!["executions", "--state-machine", machine, "--since", "soon"],
            2,
            "invalid value 'soon' for '--since <SINCE>'",
        ),
        (vec!["executions"], 2, "--state-machine"),
        (vec!["show", "just-a-name"], 2, "not an execution ARN"),
        (
            vec!["executions", "--state-machine", machine],
            1,
            "StateMachineDoesNotExist",
        ),
        (
            vec!["replay", "--state-machine", machine],
            1,
            "StateMachineDoesNotExist",
        ),
        (
            vec!["show", "gone", "--state-machine", machine],
            1,
            "ExecutionDoesNotExist",
        ),
    ] {
        let out = ecs_sta(&world, &args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `ecs-sta executions`: JSON rows, the table filtered by status with the state machine from
/// the environment, and `--since`; the FAILED drain's row.
fn lists_the_drains(world: &World, machine: &str) -> Value {
    let rows = ok_json(ecs_sta(
        world,
        &["executions", "--state-machine", machine, "--json"],
        &[],
    ));
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    let failed = by_name(&rows, "lifecycle-1");
    assert_eq!(failed["instance_id"], FAILING_INSTANCE);
    assert_eq!(failed["asg_name"], "test-cluster-asg");
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["state"], "CheckDrained");
    assert_eq!(failed["error"], "Lambda.ResourceNotFoundException");
    assert!(
        failed["duration_seconds"].as_f64().unwrap() >= 2.0,
        "{failed}"
    );
    let spot = by_name(&rows, "spot-1");
    assert_eq!(spot["instance_id"], SPOT_INSTANCE);
    assert_eq!(spot["asg_name"], Value::Null);
    let released = by_name(&rows, "released-1");
    assert_eq!(released["status"], "SUCCEEDED");
    assert_eq!(released["state"], "InstanceReleased");
    assert_eq!(released["error"], Value::Null);

    // The table, with the state machine from the environment and a status filter.
    let out = ecs_sta(
        world,
        &["executions", "--status", "failed"],
        &[("ECS_STA_STATE_MACHINE_ARN", machine)],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("INSTANCE  "), "{stdout}");
    assert!(
        lines.iter().any(|line| line.contains(FAILING_INSTANCE)
            && line.contains("FAILED")
            && line.contains("CheckDrained")
            && line.contains("Lambda.ResourceNotFoundException: Function not found")),
        "{stdout}"
    );

    // Nothing started or stopped in the last second, once a second has passed since the
    // last drain stopped (bounded: they all stopped before the listing above).
    let last_stop = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["stopped"].as_str())
        .map(|stopped| stopped.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
        .max()
        .unwrap();
    let quiet_from = last_stop + chrono::Duration::milliseconds(1200);
    while chrono::Utc::now() < quiet_from {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let none = ok_json(ecs_sta(
        world,
        &[
            "executions",
            "--state-machine",
            machine,
            "--since",
            "1s",
            "--json",
        ],
        &[],
    ));
    assert_eq!(none, json!([]));
    failed.clone()
}

/// `ecs-sta show`, by ARN (the text) and by name (the JSON timeline).
fn shows_a_failed_drain(world: &World, machine: &str, arn: &str) {
    let out = ecs_sta(world, &["show", arn], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "instance    {FAILING_INSTANCE}  asg test-cluster-asg"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("error       Lambda.ResourceNotFoundException"),
        "{stdout}"
    );
    assert!(stdout.contains("0 checks, waited 1"), "{stdout}");
    // The table of visits (each line at its offset), not the chart's rows.
    let check = stdout
        .lines()
        .find(|line| line.starts_with('+') && line.contains("CheckDrained"))
        .unwrap();
    assert!(
        check.contains("1 retried (Lambda.ResourceNotFoundException)"),
        "{stdout}"
    );
    assert!(
        check.contains("FAILED Lambda.ResourceNotFoundException"),
        "{stdout}"
    );
    let wait = stdout
        .lines()
        .find(|line| line.starts_with('+') && line.contains("WaitForDrain"))
        .unwrap();
    assert!(wait.contains("waited 1"), "{stdout}");

    let timeline = ok_json(ecs_sta(
        world,
        &["show", "lifecycle-1", "--state-machine", machine, "--json"],
        &[],
    ));
    assert_eq!(timeline["status"], "FAILED");
    assert_eq!(timeline["retries"], 1);
    assert_eq!(timeline["redrives"], 0);
    assert_eq!(
        strings(&timeline["entries"], "name"),
        [
            "IsInstanceInCluster",
            "DrainContainerInstance",
            "WaitForDrain",
            "CheckDrained"
        ]
    );
    assert_eq!(timeline["entries"][3]["attempts"], 2);
}
