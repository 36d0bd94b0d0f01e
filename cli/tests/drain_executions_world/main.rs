//! `ecs-sta executions`, `show` and `replay` as an operator runs them, against the local
//! AWS world (tests/world: moto, whose Step Functions interpreter runs the executions,
//! extended to run several executions of one state machine). The state machine has the
//! drain's state names; its `CheckDrained` Task invokes a Lambda that does not exist, so
//! executions fail there after one retry, with a real history. RedriveExecution is the
//! world's (tests/world/emulator/redrive.py).

use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use integration_tests::{endpoint_env, python, repo_root, sdk_config, start_reporting_server};
use serde_json::{json, Value};
use sta_shared::event::execution_name;

const FAILING_INSTANCE: &str = "i-0000000000000001a";
const SPOT_INSTANCE: &str = "i-0000000000000002b";
const RELEASED_INSTANCE: &str = "i-0000000000000003c";
const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

/// The role the state machines run with (`ROLE`), made in each world before its first
/// client: Step Functions may assume it and invoke any function. The world holds a state
/// machine to its role (tests/world/emulator/service_roles.py).
const ROLE: &str = "arn:aws:iam::123456789012:role/drain";

/// The local AWS world on a free loopback port, stopped on drop.
struct World {
    child: Child,
    endpoint: String,
    role_made: AtomicBool,
}

impl World {
    fn start() -> Self {
        let root = repo_root();
        let mut command = Command::new(python());
        command
            .args(["-m", "world.emulator.server", "--port", "0"])
            .current_dir(&root)
            .env("PYTHONPATH", root.join("tests"));
        let (child, endpoint) = start_reporting_server(command, "world ready on", "the world");
        Self {
            child,
            endpoint,
            role_made: AtomicBool::new(false),
        }
    }

    fn env(&self) -> [(&'static str, String); 4] {
        endpoint_env(&self.endpoint)
    }

    async fn config(&self) -> aws_config::SdkConfig {
        let config = sdk_config(&self.endpoint).await;
        if !self.role_made.swap(true, Ordering::SeqCst) {
            make_role(&config).await;
        }
        config
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
        "../../../tests/fixtures/lifecycle-terminate.json"
    ))
    .unwrap();
    event["detail"]["EC2InstanceId"] = json!(instance);
    event["detail"]["LifecycleActionToken"] = json!(token);
    event
}

fn spot(instance: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/spot-interruption.json"
    ))
    .unwrap();
    event["detail"]["instance-id"] = json!(instance);
    event
}

/// `ROLE`, as CloudFormation makes it.
async fn make_role(config: &aws_config::SdkConfig) {
    let trust = json!({"Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "states.amazonaws.com"},
        "Action": "sts:AssumeRole"
    }]});
    let invoke = json!({"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]});
    let role = json!({"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": ROLE.rsplit('/').next(),
        "AssumeRolePolicyDocument": trust,
        "Policies": [{"PolicyName": "invoke", "PolicyDocument": invoke}]
    }});
    aws_sdk_cloudformation::Client::new(config)
        .create_stack()
        .stack_name("drain-role")
        .template_body(json!({"Resources": {"Role": role}}).to_string())
        .send()
        .await
        .expect("CreateStack of the state machines' role");
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
    create_machine(client, "drain", &drain_definition()).await
}

/// CreateStateMachine: the new machine's ARN.
async fn create_machine(client: &aws_sdk_sfn::Client, name: &str, definition: &Value) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
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

/// Each row's `key`, a string.
fn strings<'a>(rows: &'a Value, key: &str) -> Vec<&'a str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {row}"))
        })
        .collect()
}

mod executions;
mod replay;
mod stack;
