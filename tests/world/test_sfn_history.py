"""GetExecutionHistory as AWS serves it: ascending by default, newest first with reverseOrder,
in pages of 100 by default (1000 at most) with a nextToken, and without data when asked."""

from __future__ import annotations

import json

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError
from world.harness import history

SHORT = {
    "StartAt": "One",
    "States": {
        "One": {"Type": "Pass", "Next": "Two"},
        "Two": {"Type": "Pass", "Next": "Three"},
        "Three": {"Type": "Pass", "End": True},
    },
}
# a loop of 60 turns: 4 events a turn, some 245 events in all
LONG = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Result": {"n": 0}, "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
        "Again": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 60, "Next": "Count"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _finished_execution(world, name, definition):
    sfn = world.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=aws.service_role(world, "states")
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"secret": "input"}')["executionArn"]
    world.wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        what="the execution to finish",
        timeout=60,
    )
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    return sfn, arn


def test_history_is_ascending_by_default_and_newest_first_when_reversed(world):
    sfn, arn = _finished_execution(world, "order", SHORT)
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


def test_a_long_history_comes_in_pages_of_100_by_default(world):
    sfn, arn = _finished_execution(world, "pages", LONG)
    first = sfn.get_execution_history(executionArn=arn)
    assert [e["id"] for e in first["events"]] == list(range(1, 101)) and first["nextToken"]
    assert len(sfn.get_execution_history(executionArn=arn, maxResults=0)["events"]) == 100  # 0 is the default
    assert len(sfn.get_execution_history(executionArn=arn, maxResults=7)["events"]) == 7

    whole = history(sfn, arn)  # every page
    assert len(whole) > 200 and [e["id"] for e in whole] == list(range(1, len(whole) + 1))
    assert whole[-1]["type"] == "ExecutionSucceeded"
    one = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    assert one["events"] == whole and "nextToken" not in one

    second = sfn.get_execution_history(executionArn=arn, nextToken=first["nextToken"])
    assert [e["id"] for e in second["events"]] == list(range(101, 201))

    newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)
    assert [e["id"] for e in newest["events"]] == list(range(len(whole), len(whole) - 50, -1))
    older = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50, nextToken=newest["nextToken"])
    assert [e["id"] for e in older["events"]] == list(range(len(whole) - 50, len(whole) - 100, -1))


def test_a_page_size_over_1000_or_a_token_not_given_for_these_arguments_is_refused(world):
    sfn, arn = _finished_execution(world, "refused", LONG)
    with pytest.raises(ClientError) as too_many:
        sfn.get_execution_history(executionArn=arn, maxResults=1001)
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    token = sfn.get_execution_history(executionArn=arn)["nextToken"]
    for bad in (
        {"nextToken": token, "reverseOrder": True},  # "Keep all other arguments unchanged"
        {"nextToken": "not-a-token"},
    ):
        with pytest.raises(ClientError) as refused:
            sfn.get_execution_history(executionArn=arn, **bad)
        assert refused.value.response["Error"]["Code"] == "InvalidToken", bad


def test_without_execution_data_the_events_carry_no_input_or_output(world):
    sfn, arn = _finished_execution(world, "data", SHORT)
    full = sfn.get_execution_history(executionArn=arn)["events"]
    assert full[0]["executionStartedEventDetails"]["input"] == '{"secret": "input"}'
    bare = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert [e["type"] for e in bare] == [e["type"] for e in full]
    assert "secret" not in json.dumps(bare, default=str)
    names = [e["stateEnteredEventDetails"]["name"] for e in bare if "stateEnteredEventDetails" in e]
    assert names == ["One", "Two", "Three"]  # what is not data stays
