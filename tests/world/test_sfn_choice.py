"""A Choice rule on a path that does not resolve fails the execution with States.Runtime, as Step
Functions does; an IsPresent guard before it decides first."""

from __future__ import annotations

import json

import aws_setup as aws

MACHINE = {
    "StartAt": "IsDrained",
    "States": {
        "IsDrained": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.status", "StringEquals": "drained", "Next": "Done"}],
            "Default": "Wait",
        },
        "Guarded": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.status", "IsPresent": True},
                        {"Variable": "$.status", "StringEquals": "drained"},
                    ],
                    "Next": "Done",
                }
            ],
            "Default": "Done",
        },
        "Wait": {"Type": "Pass", "Next": "Guarded"},
        "Done": {"Type": "Succeed"},
    },
}


def _run(world, name, document, start="IsDrained"):
    sfn = world.client("stepfunctions")
    definition = {**MACHINE, "StartAt": start}
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=aws.service_role(world, "states")
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(document))["executionArn"]
    world.wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", what="the execution")
    return sfn.describe_execution(executionArn=arn)


def test_a_choice_on_a_missing_path_fails_with_states_runtime(world):
    described = _run(world, "missing", {"other": 1})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert described["cause"].startswith("An error occurred while executing the state 'IsDrained'")
    assert (
        "Invalid path '$.status': The choice state's condition path references an invalid value."
        in (described["cause"])
    )
    # a path that resolves decides as before
    assert _run(world, "present", {"status": "draining"})["status"] == "SUCCEEDED"


def test_an_is_present_guard_decides_before_the_comparison(world):
    assert _run(world, "guarded", {"other": 1}, start="Guarded")["status"] == "SUCCEEDED"
