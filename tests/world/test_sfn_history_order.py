"""GetExecutionHistory: ascending by default, newest first with reverseOrder."""

from __future__ import annotations

import json

ROLE = "arn:aws:iam::123456789012:role/sfn"
MACHINE = {
    "StartAt": "One",
    "States": {
        "One": {"Type": "Pass", "Next": "Two"},
        "Two": {"Type": "Pass", "Next": "Three"},
        "Three": {"Type": "Pass", "End": True},
    },
}


def _finished_execution(world):
    sfn = world.client("stepfunctions")
    machine = sfn.create_state_machine(name="order", definition=json.dumps(MACHINE), roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    world.wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        what="the execution to finish",
    )
    return sfn, arn


def test_history_is_ascending_by_default_and_newest_first_when_reversed(world):
    sfn, arn = _finished_execution(world)
    forward = sfn.get_execution_history(executionArn=arn)["events"]
    assert [e["id"] for e in forward] == list(range(1, len(forward) + 1))
    assert forward[0]["type"] == "ExecutionStarted" and forward[-1]["type"] == "ExecutionSucceeded"
    assert sfn.get_execution_history(executionArn=arn, reverseOrder=False)["events"] == forward

    backward = sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
    assert [e["id"] for e in backward] == [e["id"] for e in reversed(forward)]
    stamps = [e["timestamp"] for e in backward]
    assert stamps == sorted(stamps, reverse=True)
    entered = [e["stateEnteredEventDetails"]["name"] for e in backward if "stateEnteredEventDetails" in e]
    assert entered[0] == "Three"  # the last state entered comes first
