"""infra's standalone template deploys in the world with every resource it declares."""

from __future__ import annotations

import json

import aws_setup as aws
import pytest
from world import harness, stack

CLUSTER = "stack-cluster"


def _deploy(world, name: str = "ecs-sta", group: str | None = None, **params):
    group = group or aws.asg(world, name=f"{name}-asg", desired=1, cluster=CLUSTER)
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    stack.publish_code(world, harness.REPO / "target" / "debug")
    values = {
        "ClusterName": CLUSTER,
        "AutoScalingGroupName1": group,
        "ServiceName1": "web",
        "MinTaskCount1": 1,
        "HeartbeatTimeoutSeconds": 60,
        **params,
    }
    return stack.deploy(world, name, stack.parameters(**values)), group


def test_every_resource_of_the_template_is_created(world):
    deployed, group = _deploy(world)
    assert deployed.status == "CREATE_COMPLETE"
    assert set(deployed.functions) == set(stack.FUNCTIONS)

    [hook] = world.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert hook["LifecycleHookName"] == "ecs-sta-drain"
    assert hook["HeartbeatTimeout"] == 60 and hook["DefaultResult"] == "CONTINUE"
    assert json.loads(hook["NotificationMetadata"]) == {"cluster": CLUSTER}

    scheduler = world.client("scheduler")
    schedules = {s["Name"]: s for s in scheduler.list_schedules()["Schedules"]}
    assert len(schedules) == 2  # the sweeper and the one service's task scaler
    targets = {scheduler.get_schedule(Name=n)["Target"]["Arn"].split(":")[-1] for n in schedules}
    assert targets == {deployed.functions["sweeper"], deployed.functions["task-scaler"]}

    alarms = world.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == len(deployed.of_type("AWS::CloudWatch::Alarm")) == 6
    assert all(a["AlarmActions"] for a in alarms)

    lam = world.client("lambda")
    config = lam.get_function_event_invoke_config(FunctionName=deployed.functions["task-scaler"])
    assert config["MaximumRetryAttempts"] == 0 and config["MaximumEventAgeInSeconds"] == 60

    [queue] = deployed.of_type("AWS::SQS::Queue").values()
    policy = world.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]
    assert "sqs:SendMessage" in policy["Policy"]
    [topic] = deployed.of_type("AWS::SNS::Topic").values()
    assert "aws:SecureTransport" in world.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]


def test_the_state_machine_gets_its_definition_substitutions(world):
    deployed, _ = _deploy(world, DrainDeadlineSeconds=1234)
    [machine] = deployed.of_type("AWS::StepFunctions::StateMachine").values()
    definition = world.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["definition"]
    assert "${" not in definition
    assert "1234" in definition
    for crate in ("drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle"):
        assert f":function:{deployed.functions[crate]}" in definition


def test_the_functions_run_the_crates_their_code_names(world):
    deployed, _ = _deploy(world)
    lam = world.client("lambda")
    answer = lam.invoke(FunctionName=deployed.functions["drain-ecs"], Payload=b'{"not": "an event"}')
    assert answer.get("FunctionError")
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "InvalidEvent"  # the drain-ecs binary's own error for a bad input
    env = lam.get_function_configuration(FunctionName=deployed.functions["drain-ecs"])["Environment"]["Variables"]
    assert env["ECS_CLUSTER"] == CLUSTER


def test_deleting_the_stack_removes_the_hook_schedules_and_alarms(world):
    deployed, group = _deploy(world)
    world.client("cloudformation").delete_stack(StackName=deployed.name)
    assert world.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"] == []
    assert world.client("scheduler").list_schedules()["Schedules"] == []
    assert world.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_a_hook_on_a_missing_group_fails_the_stack(world):
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    with pytest.raises(RuntimeError, match="not found"):
        _deploy(world, group="no-such-group")
