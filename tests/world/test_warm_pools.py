"""Warm pools: back to the pool on scale-in (stopped), reused on scale-out with the same instance id,
and the ECS agent's record across the stop and start."""

from __future__ import annotations

import base64
import json

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

CLUSTER = "test-cluster"


def _group(world, desired=2, check=True, reuse=True, max_prepared=None, min_size=0):
    ec2 = world.client("ec2")
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    lines = ["#!/bin/bash", f"echo ECS_CLUSTER={CLUSTER} >> /etc/ecs/ecs.config"]
    if check:
        lines.append("echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config")
    ec2.create_launch_template(
        LaunchTemplateName="warm-lt",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "UserData": base64.b64encode("\n".join(lines).encode()).decode(),
        },
    )
    asg = world.client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="warm",
        LaunchTemplate={"LaunchTemplateName": "warm-lt"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=desired,
        VPCZoneIdentifier=aws.subnet(world),
    )
    aws.terminate_hook(world, "warm")
    kwargs = {"MaxGroupPreparedCapacity": max_prepared if max_prepared is not None else desired, "MinSize": min_size}
    asg.put_warm_pool(AutoScalingGroupName="warm", InstanceReusePolicy={"ReuseOnScaleIn": reuse}, **kwargs)
    return asg


def _pool(world):
    return {
        i["InstanceId"]: i["LifecycleState"]
        for i in world.client("autoscaling").describe_warm_pool(AutoScalingGroupName="warm")["Instances"]
    }


def _returning(world):
    """The instances whose terminate hook waits on their way back to the pool."""
    return [i for i, s in _pool(world).items() if s == "Warmed:Pending:Wait"]


def _record(world, instance_id):
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=CLUSTER, filter=f"ec2InstanceId=={instance_id}")[
        "containerInstanceArns"
    ]
    if not arns:
        return None
    return ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"][0]


def test_scale_in_returns_the_instance_to_the_pool_and_scale_out_reuses_it(world):
    asg = _group(world)
    machine = aws.state_machine_rule(world)
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)
    # on its way back, its terminate hook waits in Warmed:Pending:Wait: a warm pool instance
    [victim] = world.wait_for(lambda: _returning(world))
    assert victim not in aws.instances(world, "warm")
    [listed] = asg.describe_auto_scaling_instances(InstanceIds=[victim])["AutoScalingInstances"]
    assert (listed["AutoScalingGroupName"], listed["LifecycleState"]) == ("warm", "Warmed:Pending:Wait")
    [event] = world.wait_for(lambda: aws.execution_inputs(world, machine))
    assert event["detail"]["Origin"] == "AutoScalingGroup" and event["detail"]["Destination"] == "WarmPool"
    assert event["detail"]["EC2InstanceId"] == victim
    [wait] = world.events("asg.lifecycle.wait")
    assert wait["destination"] == "WarmPool"
    record = _record(world, victim)
    ecs = world.client("ecs")
    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[record["containerInstanceArn"]], status="DRAINING"
    )
    aws.proceed(world, "warm", victim)

    assert victim not in aws.instances(world, "warm")
    assert _pool(world) == {victim: "Warmed:Stopped"}
    [listed] = asg.describe_auto_scaling_instances(InstanceIds=[victim])["AutoScalingInstances"]
    assert (listed["AutoScalingGroupName"], listed["LifecycleState"]) == ("warm", "Warmed:Stopped")
    assert aws.ec2_state(world, victim) == "stopped"  # not terminated
    [left] = world.events("asg.instance.terminated")
    assert left["destination"] == "WarmPool"
    stopped = _record(world, victim)  # ECS keeps a stopped instance's record, and its status
    assert stopped["status"] == "DRAINING" and stopped["agentConnected"] is False
    assert stopped["containerInstanceArn"] == record["containerInstanceArn"]

    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    assert aws.instances(world, "warm")[victim] == "InService"  # the same instance id
    assert len(aws.instances(world, "warm")) == 2 and _pool(world) == {}
    assert aws.ec2_state(world, victim) == "running"
    back = _record(world, victim)
    assert back["containerInstanceArn"] == record["containerInstanceArn"]
    assert back["agentConnected"] is True and back["status"] == "DRAINING"  # still DRAINING
    assert [e["status"] for e in world.events("ecs.container_instance.reconnected")] == ["DRAINING"]


def test_a_deregistered_instance_never_rejoins_its_agent_exits_on_the_inactive_record(world):
    asg = _group(world)
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _returning(world))
    old = _record(world, victim)["containerInstanceArn"]
    world.client("ecs").deregister_container_instance(cluster=CLUSTER, containerInstance=old, force=True)
    aws.proceed(world, "warm", victim)
    assert _record(world, victim) is None
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    assert aws.instances(world, "warm")[victim] == "InService" and aws.ec2_state(world, victim) == "running"
    # the agent re-registers with the ARN it saved, is refused and exits: the instance serves no cluster
    assert _record(world, victim) is None
    [exited] = world.events("ecs.agent.exited")
    assert (exited["instance_id"], exited["container_instance"]) == (victim, old)
    assert "is inactive" in exited["reason"]
    assert not [e for e in world.events("ecs.container_instance.registered") if e["instance_id"] == victim][1:]


def test_without_reuse_on_scale_in_the_instance_terminates(world):
    asg = _group(world, reuse=False)
    machine = aws.state_machine_rule(world)
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)
    [event] = world.wait_for(lambda: aws.execution_inputs(world, machine))
    assert event["detail"]["Destination"] == "EC2"
    aws.proceed(world, "warm", event["detail"]["EC2InstanceId"])
    assert aws.ec2_state(world, event["detail"]["EC2InstanceId"]) == "terminated"


def test_the_pool_is_kept_at_its_size(world):
    asg = _group(world, desired=1, max_prepared=3, reuse=False)
    first = set(_pool(world))
    assert len(first) == 2  # 3 prepared - 1 desired
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)  # one taken from the pool...
    taken = [i for i in aws.instances(world, "warm") if i in first]
    assert len(taken) == 1
    assert len(_pool(world)) == 1 and set(_pool(world)) <= first  # ...none launched: 3 - 2 = 1
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)  # terminated, not reused
    [victim] = [i for i, s in aws.instances(world, "warm").items() if s == "Terminating:Wait"]
    assert len(_pool(world)) == 1  # still counted against the prepared capacity while it terminates
    aws.proceed(world, "warm", victim)
    assert len(_pool(world)) == 2  # its capacity free again: one launched into the pool
    assert all(s == "Warmed:Stopped" for s in _pool(world).values())


def test_put_warm_pool_fills_the_pool_and_the_agent_honours_the_warm_pools_check(world):
    _group(world, desired=1, max_prepared=3)  # 3 - 1 = 2 warm instances
    pool = _pool(world)
    assert sorted(pool.values()) == ["Warmed:Stopped", "Warmed:Stopped"]
    assert all(aws.ec2_state(world, i) == "stopped" for i in pool)
    assert all(_record(world, i) is None for i in pool)  # ECS_WARM_POOLS_CHECK=true: not registered
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    [reused] = [i for i in pool if i in aws.instances(world, "warm")]
    assert _record(world, reused)["status"] == "ACTIVE"  # registers once bound for service


def test_without_the_warm_pools_check_warm_instances_register_while_warming(world):
    _group(world, desired=1, max_prepared=2, check=False)
    [warm] = _pool(world)
    record = _record(world, warm)
    assert record is not None and record["status"] == "ACTIVE" and record["agentConnected"] is False


def test_delete_warm_pool_terminates_its_instances_through_the_terminate_hooks(world):
    asg = _group(world, desired=1, max_prepared=2)
    machine = aws.state_machine_rule(world)
    [warm] = _pool(world)
    asg.delete_warm_pool(AutoScalingGroupName="warm")
    # the pool is pending deletion, its instance waits on the terminate hook in the pool's own states
    found = asg.describe_warm_pool(AutoScalingGroupName="warm")
    assert found["WarmPoolConfiguration"]["Status"] == "PendingDelete"
    assert _pool(world) == {warm: "Warmed:Terminating:Wait"}
    [listed] = asg.describe_auto_scaling_instances(InstanceIds=[warm])["AutoScalingInstances"]
    assert listed["LifecycleState"] == "Warmed:Terminating:Wait"
    assert warm not in aws.instances(world, "warm")
    [event] = world.wait_for(lambda: aws.execution_inputs(world, machine))
    assert event["detail"]["EC2InstanceId"] == warm
    assert (event["detail"]["Origin"], event["detail"]["Destination"]) == ("WarmPool", "EC2")
    activities = asg.describe_scaling_activities(AutoScalingGroupName="warm")["Activities"]
    assert activities[0]["Description"] == f"Terminating EC2 instance from warm pool: {warm}"
    assert activities[0]["StatusCode"] == "MidTerminatingLifecycleAction"
    assert aws.ec2_state(world, warm) == "stopped"
    # scale-out does not take it back
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    assert warm not in aws.instances(world, "warm")

    aws.proceed(world, "warm", warm)
    assert aws.ec2_state(world, warm) == "terminated"
    assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName="warm")  # gone with it
    [left] = [e for e in world.events("asg.instance.terminated") if e["instance_id"] == warm]
    assert left["destination"] == "EC2"


def test_an_abandoned_action_of_a_pool_instance_is_retained_under_a_retaining_policy(world):
    asg = _group(world, desired=1, max_prepared=2)
    asg.update_auto_scaling_group(
        AutoScalingGroupName="warm", InstanceLifecyclePolicy={"RetentionTriggers": {"TerminateHookAbandon": "retain"}}
    )
    [warm] = _pool(world)
    asg.delete_warm_pool(AutoScalingGroupName="warm")
    asg.complete_lifecycle_action(
        AutoScalingGroupName="warm",
        LifecycleHookName="ecsTermination",
        InstanceId=warm,
        LifecycleActionResult="ABANDON",
    )
    [listed] = asg.describe_auto_scaling_instances(InstanceIds=[warm])["AutoScalingInstances"]
    assert listed["LifecycleState"] == "Warmed:Terminating:Retained"
    assert aws.ec2_state(world, warm) == "stopped"
    assert warm not in aws.instances(world, "warm")
    # the pool is still being deleted: an instance retained in it is associated with it
    assert asg.describe_warm_pool(AutoScalingGroupName="warm")["WarmPoolConfiguration"]["Status"] == "PendingDelete"
    # ForceDelete deletes the pool "along with all of its associated instances": the retained one too
    asg.delete_warm_pool(AutoScalingGroupName="warm", ForceDelete=True)
    assert aws.ec2_state(world, warm) == "terminated"
    assert asg.describe_auto_scaling_instances(InstanceIds=[warm])["AutoScalingInstances"] == []
    assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName="warm")


def test_force_delete_terminates_at_once_and_deletes_the_outstanding_actions(world):
    asg = _group(world, desired=1, max_prepared=2)
    [warm] = _pool(world)
    asg.delete_warm_pool(AutoScalingGroupName="warm")
    assert _pool(world) == {warm: "Warmed:Terminating:Wait"}
    asg.delete_warm_pool(AutoScalingGroupName="warm", ForceDelete=True)
    assert aws.ec2_state(world, warm) == "terminated"
    assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName="warm")
    [ended] = world.events("asg.lifecycle.completed")
    assert (ended["instance_id"], ended["by"]) == (warm, "ForceDelete")
    assert _pool(world) == {}
    with pytest.raises(ClientError, match="No active Lifecycle Action"):
        aws.proceed(world, "warm", warm)


def test_describe_warm_pool_reports_its_configuration(world):
    _group(world, desired=1, max_prepared=1, min_size=1)
    found = world.client("autoscaling").describe_warm_pool(AutoScalingGroupName="warm")
    config = found["WarmPoolConfiguration"]
    assert config["MinSize"] == 1 and config["PoolState"] == "Stopped"
    assert json.loads(json.dumps(config["InstanceReusePolicy"], default=str))["ReuseOnScaleIn"] is True
    assert len(found["Instances"]) == 1


def test_scaling_activities_of_the_pool(world):
    asg = _group(world, desired=1, max_prepared=2)
    [warm] = _pool(world)
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    [first] = [i for i in aws.instances(world, "warm") if i != warm]
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)  # back to the pool: the oldest
    activities = asg.describe_scaling_activities(AutoScalingGroupName="warm")["Activities"]
    descriptions = [a["Description"] for a in activities]
    assert descriptions[0] == f"Terminating EC2 instance: {first}"  # in progress: listed first
    assert "warm pool" not in activities[0]["Description"] + activities[0]["Details"]  # nothing says where it goes
    assert f"Launching a new EC2 instance from warm pool: {warm}" in descriptions
    assert f"Launching a new EC2 instance into warm pool: {warm}" in descriptions
    assert f"Launching a new EC2 instance: {first}" in descriptions


def test_an_instance_retained_on_its_way_back_is_listed_by_the_pool_not_the_group(world):
    asg = _group(world)
    asg.update_auto_scaling_group(
        AutoScalingGroupName="warm", InstanceLifecyclePolicy={"RetentionTriggers": {"TerminateHookAbandon": "retain"}}
    )
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _returning(world))
    asg.complete_lifecycle_action(
        AutoScalingGroupName="warm",
        LifecycleHookName="ecsTermination",
        InstanceId=victim,
        LifecycleActionResult="ABANDON",
    )
    assert _pool(world)[victim] == "Warmed:Pending:Retained"
    assert victim not in aws.instances(world, "warm")
    assert aws.ec2_state(world, victim) == "running"
    # "This operation cannot be called on instances in a warm pool"; EC2 ends it
    with pytest.raises(ClientError, match="cannot be called on instances in a warm pool"):
        asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    assert aws.ec2_state(world, victim) == "running"
    world.client("ec2").terminate_instances(InstanceIds=[victim])
    assert victim not in _pool(world)


def test_an_instance_on_its_way_back_to_a_pool_being_deleted_terminates(world):
    asg = _group(world, desired=2, max_prepared=3)
    [warm] = _pool(world)
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _returning(world))
    asg.delete_warm_pool(AutoScalingGroupName="warm")
    assert _pool(world) == {victim: "Warmed:Pending:Wait", warm: "Warmed:Terminating:Wait"}
    for instance in (victim, warm):
        aws.proceed(world, "warm", instance)
    assert aws.ec2_state(world, victim) == "terminated" and aws.ec2_state(world, warm) == "terminated"
    assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName="warm")
    # and a scale-in while the pool is being deleted goes to EC2
    asg.put_warm_pool(
        AutoScalingGroupName="warm", MaxGroupPreparedCapacity=2, InstanceReusePolicy={"ReuseOnScaleIn": True}
    )
    [pooled] = _pool(world)
    asg.delete_warm_pool(AutoScalingGroupName="warm")
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=0)
    [wait] = [e for e in world.events("asg.lifecycle.wait") if e["instance_id"] not in (victim, warm, pooled)]
    assert wait["destination"] == "EC2"


def test_describe_warm_pool_pages_at_most_50_instances(world):
    asg = _group(world, desired=0, max_prepared=55)
    first = asg.describe_warm_pool(AutoScalingGroupName="warm")
    assert len(first["Instances"]) == 10 and first["NextToken"]  # AWS documents no default
    page = asg.describe_warm_pool(AutoScalingGroupName="warm", MaxRecords=50)
    rest = asg.describe_warm_pool(AutoScalingGroupName="warm", MaxRecords=50, NextToken=page["NextToken"])
    assert len(page["Instances"]) == 50 and len(rest["Instances"]) == 5 and "NextToken" not in rest
    assert not {i["InstanceId"] for i in page["Instances"]} & {i["InstanceId"] for i in rest["Instances"]}
    for records in (51, 0):
        with pytest.raises(ClientError, match="maxRecords"):
            asg.describe_warm_pool(AutoScalingGroupName="warm", MaxRecords=records)
    with pytest.raises(ClientError, match="InvalidNextToken"):
        asg.describe_warm_pool(AutoScalingGroupName="warm", NextToken="not-a-token")


def test_put_warm_pool_refuses_a_group_with_a_mixed_instances_policy_or_spot_instances(world):
    ec2, asg = world.client("ec2"), world.client("autoscaling")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName="spot-lt",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "InstanceMarketOptions": {"MarketType": "spot"},
        },
    )
    ec2.create_launch_template(
        LaunchTemplateName="od-lt", LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )
    common = {"MinSize": 0, "MaxSize": 2, "DesiredCapacity": 0, "VPCZoneIdentifier": aws.subnet(world)}
    asg.create_auto_scaling_group(
        AutoScalingGroupName="spot", LaunchTemplate={"LaunchTemplateName": "spot-lt"}, **common
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "od-lt"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}],
            }
        },
        **common,
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="plain", LaunchTemplate={"LaunchTemplateName": "od-lt"}, **common
    )
    for name in ("spot", "mixed"):
        with pytest.raises(ClientError, match="mixed instances policy or that launches Spot"):
            asg.put_warm_pool(AutoScalingGroupName=name)
        assert "WarmPoolConfiguration" not in asg.describe_warm_pool(AutoScalingGroupName=name)
    asg.put_warm_pool(AutoScalingGroupName="plain")
    assert "WarmPoolConfiguration" in asg.describe_warm_pool(AutoScalingGroupName="plain")


def _launch_hook(world, default="CONTINUE", heartbeat=300):
    aws.lifecycle_hook(world, "warm", "warming", "autoscaling:EC2_INSTANCE_LAUNCHING", heartbeat, default)


def test_a_launch_into_the_pool_waits_on_the_launch_hooks(world):
    asg = _group(world, desired=1, max_prepared=1, check=False)
    _launch_hook(world)
    asg.put_warm_pool(AutoScalingGroupName="warm", MaxGroupPreparedCapacity=3)  # two more into the pool
    waiting = [i for i, s in _pool(world).items() if s == "Warmed:Pending:Wait"]
    assert len(waiting) == 2
    [wait, _] = world.events("asg.launch.wait")
    assert (wait["origin"], wait["destination"]) == ("EC2", "WarmPool")
    assert world.events("asg.lifecycle.wait") == []  # no terminate action
    activities = asg.describe_scaling_activities(AutoScalingGroupName="warm")["Activities"]
    assert f"Launching a new EC2 instance into warm pool: {waiting[0]}" in [a["Description"] for a in activities]
    # running meanwhile, its agent registered (no warm pools check): ECS can place tasks there
    assert aws.ec2_state(world, waiting[0]) == "running"
    assert _record(world, waiting[0])["agentConnected"] is True
    # a scale-out does not take an instance still warming
    asg.set_desired_capacity(AutoScalingGroupName="warm", DesiredCapacity=2)
    assert not set(waiting) & set(aws.instances(world, "warm"))
    ok, abandoned = waiting
    for instance, result in ((ok, "CONTINUE"), (abandoned, "ABANDON")):
        asg.complete_lifecycle_action(
            AutoScalingGroupName="warm", LifecycleHookName="warming", InstanceId=instance, LifecycleActionResult=result
        )
    assert _pool(world)[ok] == "Warmed:Stopped" and aws.ec2_state(world, ok) == "stopped"
    assert abandoned not in _pool(world) and aws.ec2_state(world, abandoned) == "terminated"
    assert [e["by"] for e in world.events("asg.launch.completed")] == ["CompleteLifecycleAction"] * 2


def test_a_launch_action_times_out_to_its_default_result(world):
    world.configure(timescale=0.01)
    asg = _group(world, desired=1, max_prepared=1)
    _launch_hook(world, default="ABANDON", heartbeat=30)
    asg.put_warm_pool(AutoScalingGroupName="warm", MaxGroupPreparedCapacity=2)
    [warming] = _pool(world)
    world.wait_for(lambda: aws.ec2_state(world, warming) == "terminated", timeout=10, what="the default result")
    [ended] = world.events("asg.launch.completed")
    assert (ended["result"], ended["by"]) == ("ABANDON", "heartbeat-timeout")
