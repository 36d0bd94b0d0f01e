"""An instance lifecycle policy retains an instance whose terminate lifecycle action was abandoned
(world.emulator.retention)."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError


def _scale_in_one(world, group: str) -> str:
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(
        lambda: [i for i, s in aws.instances(world, group).items() if s == "Terminating:Wait"], what="Terminating:Wait"
    )
    return victim


def _complete(world, group: str, victim: str, result: str) -> None:
    world.client("autoscaling").complete_lifecycle_action(
        AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=victim, LifecycleActionResult=result
    )


def _states(world, victim: str) -> list[str]:
    found = world.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[victim])
    return [i["LifecycleState"] for i in found["AutoScalingInstances"]]


def test_an_abandoned_action_leaves_the_instance_retained_running_out_of_the_capacity(world):
    group = aws.asg(world, desired=2, retention="retain")
    aws.terminate_hook(world, group, default="CONTINUE")
    asg = world.client("autoscaling")
    [described] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    assert described["InstanceLifecyclePolicy"] == {"RetentionTriggers": {"TerminateHookAbandon": "retain"}}
    victim = _scale_in_one(world, group)

    _complete(world, group, victim, "ABANDON")
    assert aws.instances(world, group)[victim] == "Terminating:Retained"
    assert _states(world, victim) == ["Terminating:Retained"]
    assert aws.ec2_state(world, victim) == "running"
    [described] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    in_service = [i for i in described["Instances"] if i["LifecycleState"] == "InService"]
    assert described["DesiredCapacity"] == 1 and len(in_service) == 1  # no longer counted
    [retained] = world.events("asg.instance.retained")
    assert (retained["instance_id"], retained["state"]) == (victim, "Terminating:Retained")
    assert not world.events("asg.instance.terminated")
    with pytest.raises(ClientError, match="No active Lifecycle Action"):
        _complete(world, group, victim, "CONTINUE")

    # it stays until someone terminates it: then at once, no hook again
    asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    assert aws.ec2_state(world, victim) == "terminated"
    assert victim not in aws.instances(world, group) and _states(world, victim) == []
    [terminated] = world.events("asg.instance.terminated")
    assert terminated["instance_id"] == victim and terminated["retained"] is True
    assert len(world.events("asg.lifecycle.wait")) == 1


def test_a_heartbeat_timeout_with_default_result_abandon_retains(world):
    world.configure(timescale=0.05)  # the 30 s heartbeat timeout: 1.5 s
    group = aws.asg(world, desired=2, retention="retain")
    aws.terminate_hook(world, group, heartbeat=30, default="ABANDON")
    victim = _scale_in_one(world, group)
    world.wait_for(lambda: world.events("asg.instance.retained"), what="retained")
    assert _states(world, victim) == ["Terminating:Retained"]
    [ended] = world.events("asg.lifecycle.completed")
    assert (ended["result"], ended["by"]) == ("ABANDON", "heartbeat-timeout")
    assert aws.ec2_state(world, victim) == "running"


@pytest.mark.parametrize(
    ("retention", "result"),
    [("retain", "CONTINUE"), ("terminate", "ABANDON"), (None, "ABANDON")],
    ids=["continue-with-retain", "abandon-with-terminate", "abandon-without-policy"],
)
def test_every_other_end_terminates(world, retention, result):
    group = aws.asg(world, desired=2, retention=retention)
    aws.terminate_hook(world, group)
    victim = _scale_in_one(world, group)
    _complete(world, group, victim, result)
    assert aws.ec2_state(world, victim) == "terminated"
    assert _states(world, victim) == [] and not world.events("asg.instance.retained")


def test_a_policy_value_auto_scaling_does_not_know_is_refused(world):
    aws.asg(world, name="kept", desired=0)
    with pytest.raises(ClientError, match="terminateHookAbandon") as refused:
        world.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName="kept", InstanceLifecyclePolicy={"RetentionTriggers": {"TerminateHookAbandon": "keep"}}
        )
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    world.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="kept", InstanceLifecyclePolicy={"RetentionTriggers": {"TerminateHookAbandon": "retain"}}
    )
    [described] = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["kept"])[
        "AutoScalingGroups"
    ]
    assert described["InstanceLifecyclePolicy"]["RetentionTriggers"]["TerminateHookAbandon"] == "retain"
