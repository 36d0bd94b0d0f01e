"""State machines created by CloudFormation stacks are ordinary state machines."""

from __future__ import annotations

import json
import time

import aws_setup as aws

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"drained": True}, "End": True}}}


def _template(role: str, name: str = "from-stack") -> str:
    return json.dumps(
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue"},
                "Machine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {
                        "StateMachineName": name,
                        "DefinitionString": json.dumps(DEFINITION),
                        "RoleArn": role,
                    },
                },
            }
        }
    )


def test_the_stack_state_machine_is_listed_and_runs(world):
    cfn = world.client("cloudformation")
    sfn = world.client("stepfunctions")
    cfn.create_stack(StackName="drain", TemplateBody=_template(aws.service_role(world, "states")))

    resources = cfn.list_stack_resources(StackName="drain")["StackResourceSummaries"]
    machine = next(r for r in resources if r["ResourceType"] == "AWS::StepFunctions::StateMachine")
    arn = machine["PhysicalResourceId"]
    assert arn == "arn:aws:states:us-west-2:123456789012:stateMachine:from-stack"
    assert [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]] == [arn]

    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 20
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still RUNNING"
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"drained": True}


def test_deleting_the_stack_deletes_the_state_machine(world):
    cfn = world.client("cloudformation")
    sfn = world.client("stepfunctions")
    cfn.create_stack(StackName="drain", TemplateBody=_template(aws.service_role(world, "states")))
    assert len(sfn.list_state_machines()["stateMachines"]) == 1
    cfn.delete_stack(StackName="drain")
    assert sfn.list_state_machines()["stateMachines"] == []
