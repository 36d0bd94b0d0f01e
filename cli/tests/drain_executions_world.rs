//! `ecs-sta executions`, `show` and `replay` as an operator runs them, against the local
//! AWS world (tests/world: moto, whose Step Functions interpreter runs the executions,
//! extended to run several executions of one state machine). The state machine has the
//! drain's state names; its `CheckDrained` Task invokes a Lambda that does not exist, so
//! executions fail there after one retry, with a real history. RedriveExecution is the
//! world's (tests/world/redrive.py).

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use integration_tests::{endpoint_env, python, repo_root, sdk_config, start_reporting_server};
use serde_json::{json, Value};
use sta_shared::event::execution_name;

const FAILING_INSTANCE: &str = "i-0000000000000001a";
const SPOT_INSTANCE: &str = "i-0000000000000002b";
const RELEASED_INSTANCE: &str = "i-0000000000000003c";
const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

/// The local AWS world on a free loopback port, stopped on drop.
struct World {
    child: Child,
    endpoint: String,
}

impl World {
    fn start() -> Self {
        let root = repo_root();
        let mut command = Command::new(python());
        command
            .args(["-m", "world.server", "--port", "0"])
            .current_dir(&root)
            .env("PYTHONPATH", root.join("tests"));
        let (child, endpoint) = start_reporting_server(command, "world ready on", "the world");
        Self { child, endpoint }
    }

    fn env(&self) -> [(&'static str, String); 4] {
        endpoint_env(&self.endpoint)
    }

    async fn config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint).await
    }

    async fn client(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config().await)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Best effort: the process may already be gone.
        if self.child.kill().is_ok() {
            self.child.wait().ok();
        }
    }
}

fn ecs_sta(world: &World, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-sta"))
        .args(args)
        .env_remove("ECS_STA_STATE_MACHINE_ARN")
        .env_remove("ECS_STA_STACK")
        .envs(world.env())
        .envs(env.iter().copied())
        .output()
        .expect("ecs-sta runs")
}

fn ok_json(output: Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn lifecycle(instance: &str, token: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/lifecycle-terminate.json"
    ))
    .unwrap();
    event["detail"]["EC2InstanceId"] = json!(instance);
    event["detail"]["LifecycleActionToken"] = json!(token);
    event
}

fn spot(instance: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/spot-interruption.json")).unwrap();
    event["detail"]["instance-id"] = json!(instance);
    event
}

/// A definition with the drain's state names whose CheckDrained always fails.
fn drain_definition() -> Value {
    json!({
        "StartAt": "IsInstanceInCluster",
        "States": {
            "IsInstanceInCluster": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.released", "IsPresent": true, "Next": "InstanceReleased"}],
                "Default": "DrainContainerInstance"
            },
            "DrainContainerInstance": {"Type": "Pass", "Next": "WaitForDrain"},
            "WaitForDrain": {"Type": "Wait", "Seconds": 1, "Next": "CheckDrained"},
            "CheckDrained": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "check-drained-missing", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "End": true
            },
            "InstanceReleased": {"Type": "Succeed"}
        }
    })
}

/// A state machine with the drain's state names whose CheckDrained always fails.
async fn drain_machine(client: &aws_sdk_sfn::Client) -> String {
    client
        .create_state_machine()
        .name("drain")
        .definition(drain_definition().to_string())
        .role_arn("arn:aws:iam::123456789012:role/drain")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string()
}

async fn start(client: &aws_sdk_sfn::Client, machine: &str, name: &str, input: Value) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string()
}

async fn wait_until_stopped(client: &aws_sdk_sfn::Client, machine: &str) {
    let started = Instant::now();
    loop {
        let running = client
            .list_executions()
            .state_machine_arn(machine)
            .status_filter(ExecutionStatus::Running)
            .send()
            .await
            .expect("ListExecutions");
        if running.executions().is_empty() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "executions still running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The drain of FAILING_INSTANCE's lifecycle action, `lifecycle-1`: fails at CheckDrained.
async fn start_failing(client: &aws_sdk_sfn::Client, machine: &str) -> String {
    start(
        client,
        machine,
        "lifecycle-1",
        lifecycle(FAILING_INSTANCE, TOKEN),
    )
    .await
}

/// Three drains: two fail at CheckDrained (a lifecycle action, a Spot warning), one succeeds.
async fn drains(world: &World) -> (aws_sdk_sfn::Client, String) {
    let client = world.client().await;
    let machine = drain_machine(&client).await;
    let mut released = lifecycle(RELEASED_INSTANCE, "released-token");
    released["released"] = json!(true);
    start_failing(&client, &machine).await;
    start(&client, &machine, "spot-1", spot(SPOT_INSTANCE)).await;
    start(&client, &machine, "released-1", released).await;
    wait_until_stopped(&client, &machine).await;
    (client, machine)
}

fn by_name<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {rows}"))
}

#[tokio::test]
async fn executions_and_show_read_the_drains() {
    let world = World::start();
    let (_client, machine) = drains(&world).await;

    let rows = ok_json(ecs_sta(
        &world,
        &["executions", "--state-machine", &machine, "--json"],
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
        &world,
        &["executions", "--status", "failed"],
        &[("ECS_STA_STATE_MACHINE_ARN", machine.as_str())],
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

    // Nothing started in the last second.
    let none = ok_json(ecs_sta(
        &world,
        &[
            "executions",
            "--state-machine",
            &machine,
            "--since",
            "1s",
            "--json",
        ],
        &[],
    ));
    assert_eq!(none, json!([]));

    // show, by ARN and by name.
    let arn = failed["execution_arn"].as_str().unwrap();
    let out = ecs_sta(&world, &["show", arn], &[]);
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
        &world,
        &["show", "lifecycle-1", "--state-machine", &machine, "--json"],
        &[],
    ));
    assert_eq!(timeline["status"], "FAILED");
    assert_eq!(timeline["retries"], 1);
    assert_eq!(timeline["redrives"], 0);
    let states: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "IsInstanceInCluster",
            "DrainContainerInstance",
            "WaitForDrain",
            "CheckDrained"
        ]
    );
    assert_eq!(timeline["entries"][3]["attempts"], 2);
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
    let actions: Vec<&str> = dry["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["would_redrive", "would_redrive"], "{dry}");

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

    // Again: Step Functions refuses a second execution of the same name.
    let out = replay(&["--restart"]);
    let again = ok_json(out);
    let items = again["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{again}");
    assert!(
        items
            .iter()
            .all(|item| item["action"] == "already_restarted"),
        "{again}"
    );

    // The table says the same.
    let out = ecs_sta(
        &world,
        &["replay", "--state-machine", &machine, "--restart"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.ends_with("4 already restarted\n"), "{stdout}");
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

#[tokio::test]
async fn replay_redrives_and_says_why_it_cannot() {
    let world = World::start();
    let (client, machine) = drains(&world).await;
    let spot_arn = format!(
        "{}:spot-1",
        machine.replace(":stateMachine:", ":execution:")
    );
    world.age(&spot_arn, 15 * 86_400);

    let out = ecs_sta(
        &world,
        &[
            "replay",
            "--state-machine",
            &machine,
            "--since",
            "all",
            "--json",
        ],
        &[],
    );
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
    let rows = ok_json(ecs_sta(
        &world,
        &[
            "executions",
            "--state-machine",
            &machine,
            "--since",
            "all",
            "--json",
        ],
        &[],
    ));
    assert_eq!(by_name(&rows, "lifecycle-1")["redrive_count"], 1);
}

/// The drain state machine deployed as CloudFormation deploys it, in a stack with other
/// resources; returns its ARN as Step Functions knows it.
async fn deploy_stack(world: &World, stack: &str) -> String {
    let template = json!({
        "Resources": {
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
            "DrainStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "drain-from-stack",
                    "DefinitionString": drain_definition().to_string(),
                    "RoleArn": "arn:aws:iam::123456789012:role/drain"
                }
            }
        }
    });
    create_stack(world, stack, template).await;
    let machines = world
        .client()
        .await
        .list_state_machines()
        .send()
        .await
        .expect("ListStateMachines");
    machines
        .state_machines()
        .iter()
        .find(|machine| machine.name() == "drain-from-stack")
        .expect("the stack created the state machine")
        .state_machine_arn()
        .to_string()
}

#[tokio::test]
async fn the_stack_names_the_state_machine() {
    let world = World::start();
    let machine = deploy_stack(&world, "ecs-sta-drain").await;
    let client = world.client().await;
    start_failing(&client, &machine).await;
    wait_until_stopped(&client, &machine).await;

    let rows = ok_json(ecs_sta(
        &world,
        &["executions", "--stack", "ecs-sta-drain", "--json"],
        &[],
    ));
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["instance_id"], FAILING_INSTANCE);
    assert_eq!(rows[0]["status"], "FAILED");
    assert!(
        rows[0]["execution_arn"]
            .as_str()
            .unwrap()
            .starts_with(&machine.replace(":stateMachine:", ":execution:")),
        "{rows}"
    );

    // show by name, with the stack from the environment.
    let timeline = ok_json(ecs_sta(
        &world,
        &["show", "lifecycle-1", "--json"],
        &[("ECS_STA_STACK", "ecs-sta-drain")],
    ));
    assert_eq!(timeline["status"], "FAILED", "{timeline}");
    assert_eq!(timeline["instance_id"], FAILING_INSTANCE, "{timeline}");

    // --stack on the command line wins over an ARN in the environment.
    let dry = ok_json(ecs_sta(
        &world,
        &["replay", "--stack", "ecs-sta-drain", "--dry-run", "--json"],
        &[(
            "ECS_STA_STATE_MACHINE_ARN",
            "arn:aws:states:us-west-2:123456789012:stateMachine:other",
        )],
    ));
    assert_eq!(dry["items"][0]["action"], "would_redrive", "{dry}");

    // A stack that does not exist, and one without a state machine.
    create_stack(
        &world,
        "queue-only",
        json!({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}),
    )
    .await;
    for (args, says) in [
        (
            ["executions", "--stack", "missing"],
            "stack \"missing\" does not exist",
        ),
        (
            ["replay", "--stack", "queue-only"],
            "has no AWS::StepFunctions::StateMachine",
        ),
    ] {
        let out = ecs_sta(&world, &args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

async fn create_stack(world: &World, stack: &str, template: Value) {
    aws_sdk_cloudformation::Client::new(&world.config().await)
        .create_stack()
        .stack_name(stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("CreateStack");
}

/// A drain that failed with a Lambda's error, whose cause Step Functions keeps as the
/// runtime's JSON: the commands print its message (the JSON stays in `--json`), and `show`
/// draws the drain in the terminal and, with `--svg`, into a file.
#[tokio::test]
async fn show_draws_the_drain_and_prints_the_message_of_a_lambdas_error() {
    let world = World::start();
    let client = world.client().await;
    let cause = json!({
        "errorType": "Retryable",
        "errorMessage": "CompleteLifecycleAction: ServiceUnavailable: try again"
    })
    .to_string();
    let definition = json!({
        "StartAt": "DrainContainerInstance",
        "States": {
            "DrainContainerInstance": {"Type": "Pass", "Next": "WaitForDrain"},
            "WaitForDrain": {"Type": "Wait", "Seconds": 1, "Next": "CompleteLifecycleAction"},
            "CompleteLifecycleAction": {"Type": "Fail", "Error": "Retryable", "Cause": cause}
        }
    });
    let machine = client
        .create_state_machine()
        .name("pictured")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/drain")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    let arn = start(
        &client,
        &machine,
        "lifecycle-2",
        lifecycle(FAILING_INSTANCE, TOKEN),
    )
    .await;
    wait_until_stopped(&client, &machine).await;

    let out = ecs_sta(&world, &["executions", "--state-machine", &machine], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("Retryable: CompleteLifecycleAction: ServiceUnavailable: try again"),
        "{stdout}"
    );
    assert!(!stdout.contains("errorMessage"), "{stdout}");
    let rows = ok_json(ecs_sta(
        &world,
        &["executions", "--state-machine", &machine, "--json"],
        &[],
    ));
    assert_eq!(rows[0]["cause"], cause.as_str());

    let picture = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lifecycle-2.svg");
    let picture_arg = picture.to_string_lossy().into_owned();
    let out = ecs_sta(&world, &["show", &arn, "--svg", &picture_arg], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout
            .contains("status      FAILED at CompleteLifecycleAction, before the drain started\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cause       CompleteLifecycleAction: ServiceUnavailable: try again\n"),
        "{stdout}"
    );
    let row = |label: &str| -> String {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {stdout}"))
            .to_string()
    };
    assert!(row("WaitForDrain  ").contains('·'), "{stdout}");
    assert!(row("CompleteLifecycleAction  ").contains('✗'), "{stdout}");
    assert!(stderr.contains(&format!("wrote {picture_arg}")), "{stderr}");
    let svg = std::fs::read_to_string(&picture).expect("the SVG was written");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.contains(">WaitForDrain</text>"), "{svg}");
    assert!(
        svg.contains(&format!(
            ">Drain of {FAILING_INSTANCE} (asg test-cluster-asg): lifecycle-2</text>"
        )),
        "{svg}"
    );

    // A file that cannot be written fails the command, after the text was printed.
    let missing = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("missing/dir/x.svg");
    let out = ecs_sta(
        &world,
        &["show", &arn, "--svg", &missing.to_string_lossy()],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("status      FAILED"), "{stdout}");
    assert!(stderr.contains("error: cannot write"), "{stderr}");
}
