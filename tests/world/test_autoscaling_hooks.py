"""Scale-in with a terminate lifecycle hook, as Auto Scaling does it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

# the event as AWS sends it (tests/fixtures/README.md says where each fixture comes from)
FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "lifecycle-terminate.json").read_text())


def _waiting(world, group):
    return [i for i, s in aws.instances(world, group).items() if s == "Terminating:Wait"]


def test_scale_in_pauses_emits_the_event_and_terminates_on_complete(world):
    group = aws.asg(world, desired=3)
    aws.terminate_hook(world, group)
    machine = aws.state_machine_rule(world)
    asg = world.client("autoscaling")

    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)

    [victim] = world.wait_for(lambda: _waiting(world, group), what="Terminating:Wait")
    assert aws.ec2_state(world, victim) == "running"
    [event] = world.wait_for(lambda: aws.execution_inputs(world, machine), what="execution")
    detail = event["detail"]
    assert event["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    assert event["source"] == "aws.autoscaling"
    assert event["resources"][0].startswith("arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:")
    assert event["resources"][0].endswith(f":autoScalingGroupName/{group}")
    assert detail["EC2InstanceId"] == victim
    assert detail["AutoScalingGroupName"] == group
    assert detail["LifecycleHookName"] == "ecsTermination"
    assert detail["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert detail["NotificationMetadata"] == '{"cluster":"test-cluster"}'
    assert detail["Origin"] == "AutoScalingGroup" and detail["Destination"] == "EC2"
    uuid.UUID(detail["LifecycleActionToken"])
    assert set(event) == set(FIXTURE)
    assert set(detail) == set(FIXTURE["detail"])
    assert len(event["time"]) == len(FIXTURE["time"]) and event["time"].endswith("Z")

    asg.complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName="ecsTermination",
        LifecycleActionToken=detail["LifecycleActionToken"],
        LifecycleActionResult="CONTINUE",
    )
    assert victim not in aws.instances(world, group)
    assert aws.ec2_state(world, victim) == "terminated"
    assert len(aws.instances(world, group)) == 2
    [done] = world.events("asg.lifecycle.completed")
    assert done["result"] == "CONTINUE" and done["by"] == "CompleteLifecycleAction"
    assert [e["instance_id"] for e in world.events("asg.instance.terminated")] == [victim]


def test_no_active_action_is_a_validation_error(world):
    group = aws.asg(world, desired=1)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    with pytest.raises(ClientError) as err:
        asg.complete_lifecycle_action(
            AutoScalingGroupName=group,
            LifecycleHookName="ecsTermination",
            LifecycleActionToken="87654321-4321-4321-4321-210987654321",
            LifecycleActionResult="CONTINUE",
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == (
        "No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321"
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    [instance] = aws.instances(world, group)
    with pytest.raises(ClientError) as err:
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=instance
        )
    assert err.value.response["Error"]["Message"] == f"No active Lifecycle Action found with instance ID {instance}"
    # a token of another length is refused as out of its bounds, not looked for
    lax = world.client("autoscaling", parameter_validation=False)
    for token, bound in (("token", "greater than or equal to 36"), ("t" * 37, "less than or equal to 36")):
        with pytest.raises(ClientError) as err:
            lax.record_lifecycle_action_heartbeat(
                AutoScalingGroupName=group, LifecycleHookName="ecsTermination", LifecycleActionToken=token
            )
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == (
            f"1 validation error detected: Value '{token}' at 'lifecycleActionToken' failed to satisfy "
            f"constraint: Member must have length {bound}"
        )

    # completing twice: the second one fails the same way
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    world.wait_for(lambda: _waiting(world, group))
    kwargs = dict(AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=instance)
    asg.complete_lifecycle_action(LifecycleActionResult="ABANDON", **kwargs)
    with pytest.raises(ClientError) as err:
        asg.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert aws.ec2_state(world, instance) == "terminated"  # ABANDON terminates too


def test_an_action_just_begun_may_not_be_shown_yet_to_all_but_the_harness(world):
    """Within ``autoscaling.action_propagation_seconds`` of its start, heartbeats and completions of an
    action are answered "No active Lifecycle Action found" while DescribeAutoScalingInstances shows the
    instance waiting (AWS's control plane, PrairieLearn pull request 15586); then they are taken."""
    world.configure(timescale=0.01, autoscaling={"action_propagation_seconds": 200})
    try:
        group = aws.asg(world, desired=1)
        aws.terminate_hook(world, group)
        product = world.client("autoscaling", user_agent_extra="the-product")  # not the harness
        world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
        [instance] = world.wait_for(lambda: _waiting(world, group), what="Terminating:Wait")
        kwargs = dict(AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=instance)
        for call in (
            lambda: product.record_lifecycle_action_heartbeat(**kwargs),
            lambda: product.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **kwargs),
        ):
            with pytest.raises(ClientError) as err:
                call()
            assert err.value.response["Error"]["Code"] == "ValidationError"
            assert (
                err.value.response["Error"]["Message"]
                == f"No active Lifecycle Action found with instance ID {instance}"
            )
        assert _waiting(world, group) == [instance]
        assert len(world.events("asg.lifecycle.not_yet_propagated")) == 2
        # the harness, the judge, sees the action at once
        world.client("autoscaling").record_lifecycle_action_heartbeat(**kwargs)

        # 200 s at 1/100: taken 2 s after the action began
        def completed() -> bool:
            try:
                product.complete_lifecycle_action(LifecycleActionResult="CONTINUE", **kwargs)
            except ClientError:
                return False
            return True

        world.wait_for(completed, timeout=10, what="the completion taken")
        assert aws.ec2_state(world, instance) == "terminated"
    finally:
        world.configure(timescale=1.0, autoscaling={"action_propagation_seconds": 0})


def test_hook_description_and_global_timeout(world):
    group = aws.asg(world, desired=0)
    aws.terminate_hook(world, group, heartbeat=60, default="CONTINUE")
    [hook] = world.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert hook["HeartbeatTimeout"] == 60
    assert hook["GlobalTimeout"] == 6000
    assert hook["DefaultResult"] == "CONTINUE"
    assert hook["NotificationMetadata"] == '{"cluster":"test-cluster"}'
    aws.terminate_hook(world, group, heartbeat=7200)
    [hook] = world.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert hook["GlobalTimeout"] == 172800
    with pytest.raises(ClientError):
        aws.terminate_hook(world, group, heartbeat=10)


def test_heartbeat_timeout_applies_default_result_and_heartbeats_extend_it(world):
    world.configure(timescale=0.02)  # heartbeat timeout 30 s -> 0.6 s
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group, heartbeat=30, default="CONTINUE")
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _waiting(world, group))
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # 2.5 heartbeat timeouts, kept alive
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=victim
        )
        time.sleep(0.15)
    assert aws.instances(world, group)[victim] == "Terminating:Wait"
    world.wait_for(lambda: victim not in aws.instances(world, group), timeout=5, what="heartbeat timeout")
    [done] = world.events("asg.lifecycle.completed")
    assert done["result"] == "CONTINUE" and done["by"] == "heartbeat-timeout"
    assert aws.ec2_state(world, victim) == "terminated"
    assert len(world.events("asg.lifecycle.heartbeat")) >= 5


def test_a_waiting_action_follows_the_hook_as_it_is_now(world):
    world.configure(timescale=0.02)  # heartbeat timeout 600 s -> 12 s, 30 s -> 0.6 s
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group, heartbeat=600, default="CONTINUE")
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _waiting(world, group))
    aws.terminate_hook(world, group, heartbeat=30, default="ABANDON")  # a stack update, mid-action
    time.sleep(1.0)
    assert aws.instances(world, group)[victim] == "Terminating:Wait", "the timer already running is kept"
    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=victim
    )
    beat = time.monotonic()
    world.wait_for(lambda: world.events("asg.lifecycle.completed"), timeout=5, what="the shorter timeout")
    assert time.monotonic() - beat < 3, "the heartbeat extended it by the hook's timeout as it is now"
    [done] = world.events("asg.lifecycle.completed")
    assert done["result"] == "ABANDON" and done["by"] == "heartbeat-timeout"


def test_a_lowered_heartbeat_timeout_brings_the_global_timeout_closer(world):
    world.configure(timescale=0.001)  # 7200 s -> 7.2 s; the global timeout of 30 s, 3000 s -> 3 s
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group, heartbeat=7200)
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    world.wait_for(lambda: _waiting(world, group))
    aws.terminate_hook(world, group, heartbeat=30)
    world.wait_for(lambda: world.events("asg.lifecycle.completed"), timeout=6, what="the global timeout")
    [done] = world.events("asg.lifecycle.completed")
    assert done["by"] == "global-timeout", done


def test_terminate_instance_in_group_with_and_without_decrement(world):
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    first, second = sorted(aws.instances(world, group))

    asg.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=True)
    assert aws.instances(world, group)[first] == "Terminating:Wait"
    group_desc = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert group_desc["DesiredCapacity"] == 1 and len(group_desc["Instances"]) == 2

    asg.terminate_instance_in_auto_scaling_group(InstanceId=second, ShouldDecrementDesiredCapacity=False)
    states = aws.instances(world, group)
    assert states[second] == "Terminating:Wait"
    assert list(states.values()).count("InService") == 1  # the replacement
    for instance in (first, second):
        aws.proceed(world, group, instance)
    assert list(aws.instances(world, group).values()) == ["InService"]


def test_several_instances_scale_in_at_once(world):
    group = aws.asg(world, desired=4)
    aws.terminate_hook(world, group)
    machine = aws.state_machine_rule(world)
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    waiting = world.wait_for(lambda: len(_waiting(world, group)) == 3 and _waiting(world, group))
    inputs = world.wait_for(
        lambda: len(aws.execution_inputs(world, machine)) == 3 and aws.execution_inputs(world, machine)
    )
    assert sorted(e["detail"]["EC2InstanceId"] for e in inputs) == sorted(waiting)
    assert len({e["detail"]["LifecycleActionToken"] for e in inputs}) == 3
    for e in inputs:
        asg.complete_lifecycle_action(
            AutoScalingGroupName=group,
            LifecycleHookName="ecsTermination",
            LifecycleActionToken=e["detail"]["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE",
        )
    assert list(aws.instances(world, group).values()) == ["InService"]
    assert all(aws.ec2_state(world, i) == "terminated" for i in waiting)


def test_attached_load_balancers_are_drained_before_the_hook(world):
    world.configure(timescale=0.01)  # 200 s of draining -> 2 s
    tg = aws.target_group(world, delay=200)
    elb = aws.classic_elb(world, draining=100)
    group = aws.asg(world, desired=1, target_groups=[tg], load_balancers=[elb])
    aws.terminate_hook(world, group)
    [instance] = aws.instances(world, group)
    elbv2 = world.client("elbv2")
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])  # by hand: not touched

    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    assert aws.instances(world, group)[instance] == "Terminating"
    health = {
        t["Target"]["Port"]: t["TargetHealth"]["State"]
        for t in elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    }
    assert health == {80: "draining", 8080: "initial"}  # registered just now: still in its first health checks
    [state] = world.client("elb").describe_instance_health(LoadBalancerName=elb, Instances=[{"InstanceId": instance}])[
        "InstanceStates"
    ]
    assert state["State"] == "InService" and state["Description"] == "Instance deregistration currently in progress."

    world.wait_for(lambda: _waiting(world, group), timeout=10, what="Terminating:Wait after draining")
    drained = world.events("elbv2.target.unused")[0]["t"]
    waited = world.events("asg.lifecycle.wait")[0]["t"]
    assert waited >= drained


def test_scale_out_during_a_drain_does_not_register_the_terminating_instance_again(world):
    world.configure(timescale=0.01)
    tg = aws.target_group(world, delay=100)
    group = aws.asg(world, desired=2, target_groups=[tg])
    aws.terminate_hook(world, group)
    asg, elbv2 = world.client("autoscaling"), world.client("elbv2")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _waiting(world, group), what="Terminating:Wait")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)  # scale out mid-drain
    states = aws.instances(world, group)
    assert states[victim] == "Terminating:Wait" and list(states.values()).count("InService") == 2
    health = {
        t["Target"]["Id"]: t["TargetHealth"]["State"]
        for t in elbv2.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": victim, "Port": 80}])[
            "TargetHealthDescriptions"
        ]
    }
    assert health[victim] in ("draining", "unused")
    registered = [e for e in world.events("elbv2.target.registered") if e["id"] == victim]
    assert len(registered) == 1  # at launch, never again
    new = [i for i, s in states.items() if s == "InService"]
    assert all(any(e["id"] == i for e in world.events("elbv2.target.registered")) for i in new)


def test_a_second_hook_that_abandons_ends_the_other_action_at_once(world):
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.put_lifecycle_hook(
        LifecycleHookName="other",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult="CONTINUE",
    )
    machine = aws.state_machine_rule(world)
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _waiting(world, group))
    waits = world.events("asg.lifecycle.wait")
    assert sorted(w["hook"] for w in waits) == ["ecsTermination", "other"]  # both at once
    assert (
        len(
            world.wait_for(
                lambda: len(aws.execution_inputs(world, machine)) == 2 and aws.execution_inputs(world, machine)
            )
        )
        == 2
    )
    asg.complete_lifecycle_action(
        AutoScalingGroupName=group, LifecycleHookName="other", InstanceId=victim, LifecycleActionResult="ABANDON"
    )
    assert aws.ec2_state(world, victim) == "terminated"
    done = {e["hook"]: e for e in world.events("asg.lifecycle.completed")}
    assert done["other"]["by"] == "CompleteLifecycleAction"
    assert done["ecsTermination"]["by"] == "ABANDON-of-other-hook" and done["ecsTermination"]["other_hook"] == "other"
    with pytest.raises(ClientError) as err:
        asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group, LifecycleHookName="ecsTermination", InstanceId=victim
        )
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_continue_waits_for_the_other_hooks(world):
    group = aws.asg(world, desired=2)
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.put_lifecycle_hook(
        LifecycleHookName="other",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
    )
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    [victim] = world.wait_for(lambda: _waiting(world, group))
    aws.proceed(world, group, victim)
    assert aws.instances(world, group)[victim] == "Terminating:Wait" and aws.ec2_state(world, victim) == "running"
    asg.complete_lifecycle_action(
        AutoScalingGroupName=group, LifecycleHookName="other", InstanceId=victim, LifecycleActionResult="ABANDON"
    )
    assert aws.ec2_state(world, victim) == "terminated"
    assert [e["by"] for e in world.events("asg.lifecycle.completed")] == ["CompleteLifecycleAction"] * 2


def _terminations(asg, group):
    return [
        a
        for a in asg.describe_scaling_activities(AutoScalingGroupName=group)["Activities"]
        if a["Description"].startswith("Terminating")
    ]


def test_each_termination_is_a_scaling_activity(world):
    world.configure(timescale=0.01)
    tg = aws.target_group(world, delay=100)
    group = aws.asg(world, desired=3, target_groups=[tg])
    aws.terminate_hook(world, group)
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    [terminating] = world.events("asg.instance.terminating")
    victim = terminating["instance_id"]
    [activity] = _terminations(asg, group)
    assert activity["Description"] == f"Terminating EC2 instance: {victim}"
    assert activity["StatusCode"] == "WaitingForELBConnectionDraining" and "EndTime" not in activity
    assert "shrinking the capacity from 3 to 2" in activity["Cause"]
    assert abs(activity["StartTime"].timestamp() - terminating["t"]) < 1.5  # before the draining and the hook
    world.wait_for(lambda: _waiting(world, group), what="Terminating:Wait")
    [activity] = _terminations(asg, group)
    assert activity["StatusCode"] == "MidTerminatingLifecycleAction"
    [wait] = world.events("asg.lifecycle.wait")
    assert wait["t"] - activity["StartTime"].timestamp() > 0.5  # the wait began after the draining
    aws.proceed(world, group, victim)
    [activity] = _terminations(asg, group)
    assert activity["StatusCode"] == "Successful" and activity["Progress"] == 100 and "EndTime" in activity
    second = asg.terminate_instance_in_auto_scaling_group(
        InstanceId=sorted(aws.instances(world, group))[0], ShouldDecrementDesiredCapacity=True
    )["Activity"]
    listed = _terminations(asg, group)
    assert next(a["ActivityId"] for a in listed) == second["ActivityId"] and len(listed) == 2  # in progress first
    launches = [
        a
        for a in asg.describe_scaling_activities(AutoScalingGroupName=group)["Activities"]
        if a["Description"].startswith("Launching a new EC2 instance: ")
    ]
    assert len(launches) == 3 and all(a["StatusCode"] == "Successful" for a in launches)
    page = asg.describe_scaling_activities(AutoScalingGroupName=group, MaxRecords=1)
    assert len(page["Activities"]) == 1 and page["NextToken"]


def test_a_group_with_a_mixed_instances_policy_scales_in_through_its_hooks_too(world):
    """AWS's lifecycle hooks make no exception for a group with a mixed instances policy (the
    usual shape of a Spot group): its scale-in waits in Terminating:Wait like any other."""
    template = aws.launch_template(world, "mixed-lt", "test-cluster")
    world.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": template, "Version": "$Latest"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3a.micro"}],
            },
            "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 0},
        },
        MinSize=0,
        MaxSize=10,
        DesiredCapacity=3,
        VPCZoneIdentifier=aws.subnet(world),
    )
    aws.terminate_hook(world, "mixed")
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName="mixed", DesiredCapacity=2)
    [victim] = world.wait_for(lambda: _waiting(world, "mixed"), what="Terminating:Wait")
    assert aws.ec2_state(world, victim) == "running"
    aws.proceed(world, "mixed", victim)
    assert aws.ec2_state(world, victim) == "terminated"
    # and it scales out as moto launches it
    asg.set_desired_capacity(AutoScalingGroupName="mixed", DesiredCapacity=3)
    assert list(aws.instances(world, "mixed").values()).count("InService") == 3
