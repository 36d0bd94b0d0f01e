"""RedriveExecution: resumes a failed execution at the failed state, with the same input."""

from __future__ import annotations

import json
import time

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError
from world.harness import history

MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"prepared": True}, "ResultPath": "$.prepare", "Next": "ListClusters"},
        "ListClusters": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:listClusters",
            "Parameters": {},
            "ResultPath": "$.clusters",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _machine(world, definition=MACHINE, name="redrive"):
    sfn = world.client("stepfunctions")
    return sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=aws.service_role(world, "states")
    )["stateMachineArn"]


def _settle(world, arn, timeout=20):
    sfn = world.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still RUNNING"
        time.sleep(0.1)
    return desc


def _failed_execution(world, machine):
    world.configure(faults={"ecs:ListClusters": {"throttle": 1.0}})
    sfn = world.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input='{"token":"t-1"}')["executionArn"]
    desc = _settle(world, arn)
    assert desc["status"] == "FAILED", desc
    world.configure(faults={})
    return arn, desc


def _not_redrivable(world, arn):
    with pytest.raises(ClientError) as err:
        world.client("stepfunctions").redrive_execution(executionArn=arn)
    assert err.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    return err.value.response["Error"]["Message"]


def test_redrive_resumes_at_the_failed_state_with_the_same_input(world):
    sfn = world.client("stepfunctions")
    machine = _machine(world)
    world.client("ecs").create_cluster(clusterName="c")
    arn, failed = _failed_execution(world, machine)
    assert failed["error"] and "Rate exceeded" in failed["cause"]
    assert failed["redriveCount"] == 0 and "redriveDate" not in failed
    assert failed["redriveStatus"] == "REDRIVABLE"

    answer = sfn.redrive_execution(executionArn=arn)
    assert answer["redriveDate"]
    done = _settle(world, arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["input"]) == {"token": "t-1"}
    output = json.loads(done["output"])
    assert output["token"] == "t-1" and output["prepare"] == {"prepared": True}
    assert "arn:aws:ecs:us-west-2:123456789012:cluster/c" in json.dumps(output["clusters"])
    assert done["redriveCount"] == 1 and done["redriveDate"] == answer["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."

    events = history(sfn, arn)
    types = [e["type"] for e in events]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert types.count("PassStateEntered") == 1  # the successful state is not run again
    assert types.count("ExecutionFailed") == 1 and types.count("ExecutionSucceeded") == 1
    redriven = types.index("ExecutionRedriven")
    assert types.index("ExecutionFailed") < redriven < types.index("ExecutionSucceeded")
    assert events[redriven]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    entered = [e["stateEnteredEventDetails"] for e in events if e["type"] == "TaskStateEntered"]
    assert [e["name"] for e in entered] == ["ListClusters", "ListClusters"]
    assert entered[0]["input"] == entered[1]["input"]

    [item] = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert item["redriveCount"] == 1 and item["redriveDate"] == answer["redriveDate"]
    assert [
        e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    ] == [arn]
    assert sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"] == []
    assert "SUCCEEDED" in _not_redrivable(world, arn)
    assert [e["type"] for e in world.events("stepfunctions")] == ["stepfunctions.execution.redriven"]


def test_a_redriven_execution_that_fails_again_can_be_redriven_again(world):
    sfn = world.client("stepfunctions")
    machine = _machine(world)
    arn, _ = _failed_execution(world, machine)
    world.configure(faults={"ecs:ListClusters": {"throttle": 1.0}})
    sfn.redrive_execution(executionArn=arn)
    again = _settle(world, arn)
    assert again["status"] == "FAILED" and again["redriveCount"] == 1 and again["redriveStatus"] == "REDRIVABLE"
    world.configure(faults={})
    sfn.redrive_execution(executionArn=arn, clientToken="once")
    assert sfn.redrive_execution(executionArn=arn, clientToken="once")  # same token: same answer
    assert _settle(world, arn)["status"] == "SUCCEEDED"
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 2


def test_an_aborted_execution_is_redriven_from_the_state_it_was_in(world):
    sfn = world.client("stepfunctions")
    definition = {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}},
    }
    machine = _machine(world, definition, "aborted")
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert "RUNNING" in _not_redrivable(world, arn)
    sfn.stop_execution(executionArn=arn)
    assert _settle(world, arn)["status"] == "ABORTED"
    sfn.redrive_execution(executionArn=arn)
    assert _settle(world, arn)["status"] == "SUCCEEDED"


def test_not_redrivable_after_14_days_or_past_the_history_limit(world):
    sfn = world.client("stepfunctions")
    machine = _machine(world)
    arn, _ = _failed_execution(world, machine)
    events = len(history(sfn, arn))
    # "The execution event history count is less than 24,999" (of the 25,000 limit): one short is too many
    world.configure(stepfunctions={"history_limit": events + 1})
    assert _not_redrivable(world, arn) == "Execution history event limit exceeded."
    assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "NOT_REDRIVABLE"
    world.configure(stepfunctions={"history_limit": 25000})
    world.control("POST", "/_world/executions/age", {"executionArn": arn, "seconds": 15 * 86400})
    assert _not_redrivable(world, arn) == "Execution redrivable period exceeded."
    assert sfn.describe_execution(executionArn=arn)["redriveStatusReason"] == "Execution redrivable period exceeded."


def test_unknown_execution(world):
    machine = _machine(world)
    with pytest.raises(ClientError) as err:
        world.client("stepfunctions").redrive_execution(
            executionArn=machine.replace(":stateMachine:", ":execution:") + ":nope"
        )
    assert err.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_an_execution_whose_history_reaches_the_quota_fails(world):
    """ "If the execution history reaches this quota, the execution will fail" (Step Functions
    service quotas): a loop that never ends fails at the world's history_limit."""
    loop = {
        "StartAt": "Again",
        "States": {
            "Again": {"Type": "Pass", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Again"},
        },
    }
    world.configure(stepfunctions={"history_limit": 40})
    sfn = world.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=_machine(world, loop, name="loop"), input="{}")["executionArn"]
    desc = _settle(world, arn)
    assert desc["status"] == "FAILED", desc
    events = history(sfn, arn)
    assert 40 <= len(events) <= 45, len(events)
    failed = events[-1]
    assert failed["type"] == "ExecutionFailed", failed
    assert failed["executionFailedEventDetails"]["error"] == "States.Runtime"
    assert "quota of 40 events" in failed["executionFailedEventDetails"]["cause"]
    assert _not_redrivable(world, arn) == "Execution history event limit exceeded."
    [limit] = world.events("stepfunctions.execution.history_limit")
    assert limit["execution_arn"] == arn and limit["events"] == 40


def test_list_executions_is_eventually_consistent_for_all_but_the_harness(world):
    """ListExecutions lists an execution only ``stepfunctions.list_lag_seconds`` after it started
    ("This operation is eventually consistent"); DescribeExecution answers at once, and the world's
    harness, the judge, lists it at once."""
    world.configure(timescale=0.01, stepfunctions={"list_lag_seconds": 200})
    machine = _machine(world, definition={"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    reader = world.client("stepfunctions", user_agent_extra="the-product")  # not the harness
    arn = reader.start_execution(stateMachineArn=machine)["executionArn"]
    assert reader.describe_execution(executionArn=arn)["executionArn"] == arn
    assert reader.list_executions(stateMachineArn=machine)["executions"] == []
    assert [
        x["executionArn"] for x in world.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    ] == [arn]
    # 200 s at 1/100: listed 2 s after it started
    world.wait_for(
        lambda: reader.list_executions(stateMachineArn=machine)["executions"], timeout=10, what="listed late"
    )
    world.configure(timescale=1.0, stepfunctions={"list_lag_seconds": 0})
