"""Instance refresh: every instance replaced in batches, each one through the terminate hook."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError


def _refresh(world, group):
    [found] = world.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=group)["InstanceRefreshes"]
    return found


def _complete_waiting(world, group):
    for instance, state in aws.instances(world, group).items():
        if state == "Terminating:Wait":
            aws.proceed(world, group, instance)


def test_instances_are_replaced_one_by_one_through_the_terminate_hook(world):
    world.configure(timescale=0.01)
    group = aws.asg(world, desired=3)
    aws.terminate_hook(world, group)
    machine = aws.state_machine_rule(world)
    old = set(aws.instances(world, group))
    asg = world.client("autoscaling")
    refresh_id = asg.start_instance_refresh(AutoScalingGroupName=group, Preferences={"InstanceWarmup": 50})[
        "InstanceRefreshId"
    ]
    with pytest.raises(ClientError) as err:
        asg.start_instance_refresh(AutoScalingGroupName=group)
    assert err.value.response["Error"]["Code"] == "InstanceRefreshInProgress"

    seen: list[str] = []
    while _refresh(world, group)["Status"] in ("Pending", "InProgress"):
        waiting = world.wait_for(
            lambda: (
                [i for i, s in aws.instances(world, group).items() if s == "Terminating:Wait"]
                or _refresh(world, group)["Status"] == "Successful"
            ),
            timeout=10,
            what="the next batch",
        )
        if waiting is True:
            break
        assert len(waiting) == 1  # 3 instances at 90 % healthy: one at a time
        assert list(aws.instances(world, group).values()).count("InService") == 2  # terminate, then launch
        seen += waiting
        _complete_waiting(world, group)
    found = _refresh(world, group)
    assert found["InstanceRefreshId"] == refresh_id and found["Status"] == "Successful"
    assert found["PercentageComplete"] == 100 and found["InstancesToUpdate"] == 0
    assert sorted(seen) == sorted(old)
    assert not old & set(aws.instances(world, group)) and len(aws.instances(world, group)) == 3
    inputs = aws.execution_inputs(world, machine)
    assert sorted(e["detail"]["EC2InstanceId"] for e in inputs) == sorted(old)
    assert all(e["detail"]["Destination"] == "EC2" for e in inputs)
    assert [e["cause"] for e in world.events("asg.instance.terminating")] == ["instance-refresh"] * 3


def test_launch_before_terminating_above_100_percent(world):
    world.configure(timescale=0.01)
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.start_instance_refresh(
        AutoScalingGroupName=group,
        Preferences={"InstanceWarmup": 10, "MinHealthyPercentage": 100, "MaxHealthyPercentage": 150},
    )
    world.wait_for(lambda: [i for i, s in aws.instances(world, group).items() if s == "Terminating:Wait"], timeout=10)
    assert list(aws.instances(world, group).values()).count("InService") == 2  # the new one first
    _complete_waiting(world, group)
    world.wait_for(lambda: [i for i, s in aws.instances(world, group).items() if s == "Terminating:Wait"], timeout=10)
    _complete_waiting(world, group)
    world.wait_for(lambda: _refresh(world, group)["Status"] == "Successful", timeout=10)


def test_cancel(world):
    world.configure(timescale=0.01)
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.start_instance_refresh(AutoScalingGroupName=group)
    asg.cancel_instance_refresh(AutoScalingGroupName=group)
    assert _refresh(world, group)["Status"] == "Cancelled"
    with pytest.raises(ClientError) as err:
        asg.cancel_instance_refresh(AutoScalingGroupName=group)
    assert err.value.response["Error"]["Code"] == "ActiveInstanceRefreshNotFound"


def test_the_warm_pool_is_replaced_after_the_groups_instances(world):
    world.configure(timescale=0.01)
    group = aws.asg(world, desired=1)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.put_warm_pool(AutoScalingGroupName=group, MaxGroupPreparedCapacity=2)

    def pool():
        return {
            i["InstanceId"]: i["LifecycleState"]
            for i in asg.describe_warm_pool(AutoScalingGroupName=group)["Instances"]
        }

    [warm] = pool()
    [old] = aws.instances(world, group)
    asg.start_instance_refresh(AutoScalingGroupName=group, Preferences={"InstanceWarmup": 10})
    world.wait_for(lambda: aws.instances(world, group).get(old) == "Terminating:Wait", timeout=10)
    assert pool() == {warm: "Warmed:Stopped"}  # InService instances first
    _complete_waiting(world, group)
    world.wait_for(lambda: pool().get(warm) == "Warmed:Terminating:Wait", timeout=10, what="the pool's turn")
    assert _refresh(world, group)["Status"] == "InProgress"
    [wait] = [e for e in world.events("asg.lifecycle.wait") if e["instance_id"] == warm]
    assert (wait["origin"], wait["destination"]) == ("WarmPool", "EC2")
    aws.proceed(world, group, warm)
    world.wait_for(lambda: _refresh(world, group)["Status"] == "Successful", timeout=10, what="the refresh's end")
    assert aws.ec2_state(world, warm) == "terminated"
    [new] = pool()
    assert new != warm and pool()[new] == "Warmed:Stopped"  # the pool refilled
    assert [e["cause"] for e in world.events("asg.instance.terminating")] == ["instance-refresh"] * 2
