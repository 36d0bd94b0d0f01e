use super::*;

#[tokio::test]
async fn replay_restarts_once_and_says_what_it_did() {
    let world = World::start();
    let (client, machine) = drains(&world).await;
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "--state-machine", machine.as_str(), "--json"];
        args.extend_from_slice(extra);
        ecs_sta(&world, &args, &[])
    };

    let dry = ok_json(replay(&["--dry-run"]));
    assert_eq!(
        strings(&dry["items"], "action"),
        ["would_redrive", "would_redrive"],
        "{dry}"
    );

    // A lifecycle action is named by its token, a Spot warning by its time (the fixture's).
    let warned = "2026-11-27T00:00:00Z".parse().unwrap();
    let restart_name = execution_name(FAILING_INSTANCE, Some(TOKEN), warned);
    let spot_name = execution_name(SPOT_INSTANCE, None, warned);
    let dry = ok_json(replay(&["--dry-run", "--restart"]));
    assert_eq!(
        by_name(&dry["items"], "lifecycle-1")["new_execution_name"],
        restart_name.as_str()
    );
    assert_eq!(
        by_name(&dry["items"], "spot-1")["new_execution_name"],
        spot_name.as_str()
    );

    let restarted = ok_json(replay(&["--restart"]));
    for (name, new_name) in [("lifecycle-1", &restart_name), ("spot-1", &spot_name)] {
        let item = by_name(&restarted["items"], name);
        assert_eq!(item["action"], "restarted", "{item}");
        assert!(
            item["new_execution_arn"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{new_name}")),
            "{item}"
        );
    }
    // The restarts ran with the original input (and failed the same way).
    wait_until_stopped(&client, &machine).await;
    let described = client
        .describe_execution()
        .execution_arn(format!(
            "{}:{restart_name}",
            machine.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, lifecycle(FAILING_INSTANCE, TOKEN));

    // Again: Step Functions refuses a second execution of the same name, and the restarts
    // FAILED too: each of the four drains still needs an operator (a redrive), exit code 1.
    let out = replay(&["--restart"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = again["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{again}");
    for item in items {
        assert_eq!(item["action"], "not_restartable", "{item}");
        let reason = item["reason"].as_str().unwrap();
        assert!(
            reason.contains("FAILED") && reason.contains("without --restart"),
            "{item}"
        );
    }

    // The table says the same.
    let out = ecs_sta(
        &world,
        &["replay", "--state-machine", &machine, "--restart"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.ends_with("4 not restartable\n"), "{stdout}");
}

impl World {
    /// Moves an execution's start and stop dates into the past (`/_world/executions/age`).
    fn age(&self, execution_arn: &str, seconds: u64) {
        use std::io::{Read, Write};
        let address = self.endpoint.trim_start_matches("http://");
        let body = json!({"executionArn": execution_arn, "seconds": seconds}).to_string();
        let mut stream = std::net::TcpStream::connect(address).expect("the world listens");
        write!(
            stream,
            "POST /_world/executions/age HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
}

/// `ecs-sta <command>` of all the state machine's executions, as JSON.
fn of_all_executions(world: &World, command: &str, machine: &str) -> Output {
    let args = [
        command,
        "--state-machine",
        machine,
        "--since",
        "all",
        "--json",
    ];
    ecs_sta(world, &args, &[])
}

#[tokio::test]
async fn replay_redrives_and_says_why_it_cannot() {
    let world = World::start();
    let (client, machine) = drains(&world).await;
    let spot_arn = format!(
        "{}:spot-1",
        machine.replace(":stateMachine:", ":execution:")
    );
    world.age(&spot_arn, 15 * 86_400);

    let out = of_all_executions(&world, "replay", &machine);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one execution could not be redriven"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        by_name(&report["items"], "lifecycle-1")["action"],
        "redriven",
        "{report}"
    );
    let old = by_name(&report["items"], "spot-1");
    assert_eq!(old["action"], "not_redrivable", "{report}");
    assert!(
        old["reason"].as_str().unwrap().contains("--restart"),
        "{old}"
    );

    // The redrive resumed at CheckDrained (and failed there again: its Lambda is missing).
    wait_until_stopped(&client, &machine).await;
    let timeline = ok_json(ecs_sta(
        &world,
        &["show", "lifecycle-1", "--state-machine", &machine, "--json"],
        &[],
    ));
    assert_eq!(timeline["redrives"], 1, "{timeline}");
    let kinds: Vec<(&str, &str)> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap(),
                entry["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        &kinds[kinds.len() - 2..],
        [("redriven", ""), ("state", "CheckDrained")],
        "{kinds:?}"
    );
    let rows = ok_json(of_all_executions(&world, "executions", &machine));
    assert_eq!(by_name(&rows, "lifecycle-1")["redrive_count"], 1);
}
