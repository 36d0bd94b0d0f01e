"""Lambda invocations run the real binaries (world.emulator.lambdas); function errors reach Step Functions by name."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aws_setup as aws
import pytest
from world.emulator.service_roles import WITHOUT_SDK_CLASS
from world.harness import history

BIN = Path(__file__).resolve().parents[2] / "target" / "debug" / "drain-ecs"


@pytest.fixture(autouse=True)
def _binaries_built():
    if not BIN.exists():
        pytest.fail(
            f"{BIN} is missing: build the Lambdas first with `cargo build --bins -p drain-ecs` (make test-world does)"
        )


def test_invoke_runs_the_binary_and_reports_its_error_as_a_function_error(world):
    aws.function(world)
    resp = world.client("lambda").invoke(FunctionName="drain-ecs", Payload=json.dumps({"event": {}}))
    assert resp["FunctionError"]
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "InvalidEvent"
    assert "detail-type" in body["errorMessage"]
    [box] = world.control("GET", "/_world/lambdas")["sandboxes"]
    assert box["function"] == "drain-ecs" and box["alive"] and box["invocations"] == 1


def test_a_misconfigured_function_answers_each_invocation_with_its_stable_error(world):
    # not a process exiting at its cold start (Runtime.ExitError, which the state machine retries):
    # the error the state machine fails on at once, naming the variable
    aws.function(world, env={"TARGET_GROUP_ARNS": "not-an-arn"})
    for _ in range(2):
        resp = world.client("lambda").invoke(FunctionName="drain-ecs", Payload=b"{}")
        assert resp.get("FunctionError")
        body = json.loads(resp["Payload"].read())
        assert body["errorType"] == "Misconfigured"
        assert "TARGET_GROUP_ARNS" in body["errorMessage"]
    [box] = world.control("GET", "/_world/lambdas")["sandboxes"]
    assert box["alive"] and box["invocations"] == 2


def test_step_functions_sees_error_type_as_the_task_error(world):
    arn = aws.function(world)
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
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn=aws.service_role(world, "states")
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"source":"x"}')["executionArn"]
    deadline = time.monotonic() + 30
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "InvalidEvent"
    assert json.loads(desc["cause"])["errorType"] == "InvalidEvent"
    events = history(sfn, execution)
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert failed and failed[0]["taskFailedEventDetails"]["error"] == "InvalidEvent"


FIRST_CALLS = ("autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:DescribeLifecycleHooks")


def _hold(world, api: str, seconds: float, times: int) -> None:
    for _ in range(times):
        world.control(
            "POST", "/_world/lambdas/sabotage", {"function": "drain-ecs", "api": api, "do": "hang", "seconds": seconds}
        )


def _invoke_all(world, n: int) -> list:
    """``n`` synchronous invocations of drain-ecs at once, by a caller that does not retry."""
    import concurrent.futures

    from botocore.exceptions import ClientError

    lam = world.client("lambda", retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=60)

    def one(_i):
        try:
            resp = lam.invoke(FunctionName="drain-ecs", Payload=json.dumps(aws.drain_payload()))
            return resp.get("FunctionError") or "ok"
        except ClientError as err:
            return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_invocations_run_in_parallel_sandboxes(world):
    aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    for api in FIRST_CALLS:  # whichever the function makes first holds each invocation 2 s
        _hold(world, api, 2, 4)
    started = time.monotonic()
    outcomes = _invoke_all(world, 4)
    took = time.monotonic() - started
    assert all(o != ("TooManyRequestsException", 429) for o in outcomes), outcomes
    lambdas = world.control("GET", "/_world/lambdas")
    assert lambdas["peak_concurrency"]["drain-ecs"] == 4
    assert len({b["sandbox"] for b in lambdas["sandboxes"]}) == 4
    assert took < 9, f"four invocations held 2 s (or twice 2 s) took {took:.1f}s: not in parallel"
    held = [e for e in world.events() if e["type"] == "lambda.call.held"]
    assert len({e["sandbox"] for e in held}) == 4


def test_past_the_concurrency_invoke_answers_too_many_requests(world):
    import threading

    aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    world.configure(**{"lambda": {"concurrency": 1}})
    for api in FIRST_CALLS:
        _hold(world, api, 3, 1)
    slow = threading.Thread(target=lambda: _invoke_all(world, 1))
    slow.start()
    deadline = time.monotonic() + 10
    while not any(b["busy"] for b in world.control("GET", "/_world/lambdas")["sandboxes"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [outcome] = _invoke_all(world, 1)
    slow.join(20)
    assert outcome == ("TooManyRequestsException", 429)
    assert world.control("GET", "/_world/lambdas")["throttled"] == {"drain-ecs": 1}
    assert any(e["type"] == "lambda.throttled" for e in world.events())


def _one_task_fails(world, arn: str, within: float) -> str:
    """The error of an execution whose one Task invokes ``arn`` with no retrier: FAILED within ``within`` s."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    task["Parameters"] = {"FunctionName": arn, "Payload": {"event.$": "$"}}
    sfn = world.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m",
        definition=json.dumps({"StartAt": "Drain", "States": {"Drain": task}}),
        roleArn=aws.service_role(world, "states"),
    )
    deadline = time.monotonic() + within
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the Task did not fail at once"
        time.sleep(0.1)
    assert desc["status"] == "FAILED", desc
    return str(desc["error"])


@pytest.mark.parametrize(
    ("vpc", "woken", "pending"),
    [
        (False, ("CodeArtifactUserPendingException", 409), ("CodeArtifactUserPendingException", 409)),
        (True, ("ResourceNotReadyException", 502), ("ResourceConflictException", 409)),
    ],
    ids=["outside-a-vpc", "in-a-vpc"],
)
def test_an_inactive_function_refuses_invocations_until_it_is_active_again(world, vpc, woken, pending):
    arn = aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    if vpc:
        world.client("lambda").update_function_configuration(
            FunctionName="drain-ecs", VpcConfig={"SubnetIds": [aws.subnet(world)], "SecurityGroupIds": []}
        )
    world.configure(**{"lambda": {"inactive": ["drain-ecs"], "pending_seconds": 6}})
    started = time.monotonic()
    # Step Functions names the refusal Lambda.<code>, or the generic class where the SDK it names
    # errors after has none (world.emulator.service_roles): a Task without a retrier for it fails.
    named = "AWSLambdaException" if woken[0] in WITHOUT_SDK_CLASS else woken[0]
    assert _one_task_fails(world, arn, within=6) == f"Lambda.{named}"

    assert _invoke_all(world, 1) == [pending]  # Pending now
    while (outcome := _invoke_all(world, 1)) == [pending]:
        assert time.monotonic() - started < 15, "still Pending"
        time.sleep(0.2)
    assert time.monotonic() - started >= 6
    assert isinstance(outcome[0], str), outcome  # answered by the function itself: Active
    refusals = [(e["type"], e.get("error")) for e in world.events() if e["type"].startswith("lambda.")]
    assert refusals[:2] == [("lambda.inactive.invoked", woken[0]), ("lambda.pending.refused", pending[0])]
    assert refusals[-1][0] == "lambda.invoked", refusals


def _state(world, name: str = "drain-ecs") -> tuple[str, str | None]:
    config = world.client("lambda").get_function_configuration(FunctionName=name)
    return config["State"], config.get("StateReasonCode")


def _settled_state(world, name: str = "drain-ecs") -> tuple[str, str | None]:
    """The state while no Pending can end between two reads: GetFunction tells the same."""
    config = world.client("lambda").get_function_configuration(FunctionName=name)
    config.pop("ResponseMetadata")
    assert config == world.client("lambda").get_function(FunctionName=name)["Configuration"]
    return config["State"], config.get("StateReasonCode")


def _wait_for_state(world, state: str, within: float) -> tuple[str, str | None]:
    deadline = time.monotonic() + within
    while (now := _state(world))[0] != state:
        assert time.monotonic() < deadline, f"still {now}"
        time.sleep(0.1)
    return now


def test_get_function_configuration_tells_inactive_pending_and_active(world):
    aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    assert _settled_state(world) == ("Active", None)
    world.configure(**{"lambda": {"inactive": ["drain-ecs"], "pending_seconds": 4}})
    assert _settled_state(world) == ("Inactive", "Idle")
    assert _invoke_all(world, 1) == [("CodeArtifactUserPendingException", 409)]  # wakes it
    assert _state(world) == ("Pending", "Restoring")
    assert _wait_for_state(world, "Active", 10) == ("Active", None)
    assert _settled_state(world) == ("Active", None)
    assert isinstance(_invoke_all(world, 1)[0], str)  # it runs


def test_a_wake_that_fails_leaves_the_function_inactive_with_its_reason(world):
    aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    world.configure(
        **{
            "lambda": {
                "inactive": ["drain-ecs"],
                "pending_seconds": 3,
                "wake_fails": {"drain-ecs": "SubnetOutOfIPAddresses"},
            }
        }
    )
    refused = ("CodeArtifactUserPendingException", 409)
    for _ in range(2):  # each invocation wakes it again, and the wake fails again
        assert _invoke_all(world, 1) == [refused]
        assert _state(world) == ("Pending", "Restoring")
        assert _wait_for_state(world, "Inactive", 10) == ("Inactive", "SubnetOutOfIPAddresses")
        assert _settled_state(world) == ("Inactive", "SubnetOutOfIPAddresses")
    config = world.client("lambda").get_function_configuration(FunctionName="drain-ecs")
    assert "SubnetOutOfIPAddresses" in config["StateReason"]
    kinds = [e["type"] for e in world.events() if e["type"].startswith("lambda.")]
    assert kinds == ["lambda.inactive.invoked", "lambda.wake.failed"] * 2, kinds


def test_a_vpc_function_whose_set_up_fails_answers_the_error_for_the_configured_invocations(world):
    arn = aws.function(world, env={"ECS_CLUSTER": "c", "MANAGED_ASG_NAMES": "g"})
    aws.function(world, name="check-drained")  # outside a VPC: untouched
    world.client("lambda").update_function_configuration(
        FunctionName="drain-ecs", VpcConfig={"SubnetIds": [aws.subnet(world)], "SecurityGroupIds": []}
    )
    plans = {
        "drain-ecs": {"error": "EC2ThrottledException", "invocations": 2},
        "check-drained": {"error": "ENILimitReachedException", "invocations": 1},
    }
    world.configure(**{"lambda": {"setup_errors": plans}})
    # Step Functions names the error Lambda.<code>: a Task without a retrier for it fails.
    assert _one_task_fails(world, arn, within=20) == "Lambda.EC2ThrottledException"

    assert _invoke_all(world, 1) == [("EC2ThrottledException", 502)]
    assert isinstance(_invoke_all(world, 1)[0], str)  # the third invocation runs
    ran = world.client("lambda").invoke(FunctionName="check-drained", Payload=b"{}")
    assert ran["StatusCode"] == 200
    failed = [(e["function"], e["error"]) for e in world.events() if e["type"] == "lambda.setup.failed"]
    assert failed == [("drain-ecs", "EC2ThrottledException")] * 2


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"error": "NoSuchException", "invocations": 1}, "lambda.setup_errors.drain-ecs.error"),
        ({"error": "EC2ThrottledException", "invocations": 0}, "lambda.setup_errors.drain-ecs.invocations"),
    ],
)
def test_a_set_up_error_the_world_cannot_answer_is_refused(world, plan, field):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        world.configure(**{"lambda": {"setup_errors": {"drain-ecs": plan}}})
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["error"].startswith(field)
    assert "setup_errors" not in world.control("GET", "/_world/config").get("lambda", {})  # left as it was
