"""Lambda invocations run the real binaries (world.lambdas); function errors reach Step Functions by name."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parents[2] / "target" / "debug" / "drain-ecs"


@pytest.fixture(autouse=True)
def _binaries_built():
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build the Lambdas first with `cargo build --bins -p drain-ecs` (make test-world does)")

ROLE = "arn:aws:iam::123456789012:role/lambda"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "")
    return buf.getvalue()


def _role(world) -> str:
    iam = world.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    try:
        return iam.create_role(RoleName="lambda", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName="lambda")["Role"]["Arn"]


def _function(world, name="drain-ecs", env=None):
    _role(world)
    return world.client("lambda").create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="bootstrap",
        Code={"ZipFile": _zip()},
        Timeout=30,
        Environment={"Variables": env or {"ECS_CLUSTER": "c"}},
    )["FunctionArn"]


def test_invoke_runs_the_binary_and_reports_its_error_as_a_function_error(world):
    _function(world)
    resp = world.client("lambda").invoke(FunctionName="drain-ecs", Payload=json.dumps({"event": {}}))
    assert resp["FunctionError"]
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "InvalidEvent"
    assert "detail-type" in body["errorMessage"]
    [box] = world.control("GET", "/_world/lambdas")["sandboxes"]
    assert box["function"] == "drain-ecs" and box["alive"] and box["invocations"] == 1


def test_a_misconfigured_function_fails_its_cold_start_visibly(world):
    _function(world, env={"TARGET_GROUP_ARNS": "not-an-arn"})
    resp = world.client("lambda").invoke(FunctionName="drain-ecs", Payload=b"{}")
    assert resp.get("FunctionError")
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "TARGET_GROUP_ARNS" in body["errorMessage"]


def test_step_functions_sees_error_type_as_the_task_error(world):
    arn = _function(world)
    definition = {
        "StartAt": "Drain",
        "States": {
            "Drain": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {"event.$": "$"}},
                "Retry": [{"ErrorEquals": ["Retryable"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["InvalidEvent"], "ResultPath": "$.failure", "Next": "Rejected"}],
                "End": True,
            },
            "Rejected": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"},
        },
    }
    sfn = world.client("stepfunctions")
    machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn")
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"source":"x"}')["executionArn"]
    deadline = time.monotonic() + 30
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "InvalidEvent"
    assert json.loads(desc["cause"])["errorType"] == "InvalidEvent"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert failed and failed[0]["taskFailedEventDetails"]["error"] == "InvalidEvent"
