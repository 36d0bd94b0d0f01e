"""EC2 Spot interruption warnings: the event on EventBridge, the instance gone two minutes later,
then Auto Scaling's terminate hook for an instance that no longer exists."""

from __future__ import annotations

import json
from pathlib import Path

import aws_setup as aws

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "spot-interruption.json").read_text())


def _spot_rule(world):
    sfn = world.client("stepfunctions")
    arn = sfn.create_state_machine(name="spot", definition=aws.PASS_MACHINE, roleArn=aws.service_role(world, "states"))[
        "stateMachineArn"
    ]
    events = world.client("events")
    events.put_rule(
        Name="spot-rule",
        EventPattern=json.dumps({"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}),
    )
    events.put_targets(
        Rule="spot-rule", Targets=[{"Id": "sfn", "Arn": arn, "RoleArn": aws.service_role(world, "events")}]
    )
    return arn


def test_warning_then_interruption_two_minutes_later(world):
    world.configure(timescale=0.01)  # 120 s -> 1.2 s
    group = aws.asg(world, desired=2, cluster=None)
    aws.terminate_hook(world, group)
    spot = _spot_rule(world)
    lifecycle = aws.state_machine_rule(world)
    victim = sorted(aws.instances(world, group))[0]

    answer = world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": victim})
    assert abs(answer["interrupt_in"] - 1.2) < 1e-6
    [event] = world.wait_for(lambda: aws.execution_inputs(world, spot), what="the warning")
    assert event["detail-type"] == "EC2 Spot Instance Interruption Warning" and event["source"] == "aws.ec2"
    assert event["detail"] == {"instance-id": victim, "instance-action": "terminate"}
    assert event["resources"] == [f"arn:aws:ec2:us-west-2a:instance/{victim}"]
    assert set(event) == set(FIXTURE) and set(event["detail"]) == set(FIXTURE["detail"])
    assert aws.ec2_state(world, victim) == "running"  # the hook cannot delay what follows

    world.wait_for(lambda: aws.ec2_state(world, victim) == "terminated", timeout=10, what="the interruption")
    [warning] = world.events("ec2.spot.warning")
    [interrupted] = world.events("ec2.instance.interrupted")
    assert 1.1 <= interrupted["t"] - warning["t"] < 3
    # Auto Scaling then takes the (gone) instance out through its terminate hook, and replaces it
    [lifecycle_event] = world.wait_for(lambda: aws.execution_inputs(world, lifecycle), what="the lifecycle event")
    assert lifecycle_event["detail"]["EC2InstanceId"] == victim
    states = aws.instances(world, group)
    assert states[victim] == "Terminating:Wait" and list(states.values()).count("InService") == 2
    aws.proceed(world, group, victim)
    assert victim not in aws.instances(world, group)


def test_the_interruption_stops_the_instances_tasks_through_its_ecs_agent(world):
    world.configure(timescale=0.01)
    world.client("ecs").create_cluster(clusterName="test-cluster")
    group = aws.asg(world, desired=1, cluster="test-cluster")
    [victim] = aws.instances(world, group)
    world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": victim})
    world.wait_for(lambda: world.events("ecs.container_instance.inactive"), timeout=10, what="the agent going away")
    assert aws.ec2_state(world, victim) == "terminated"


def test_only_running_instances_are_interrupted(world):
    group = aws.asg(world, desired=1)
    [victim] = aws.instances(world, group)
    world.client("ec2").terminate_instances(InstanceIds=[victim])
    try:
        world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": victim})
    except Exception as err:  # urllib raises on 400
        assert "400" in str(err)
    else:
        raise AssertionError("a terminated instance was interrupted")


def _cluster_instance(world, cluster):
    """An instance of no group whose ECS agent joins ``cluster`` (its user data)."""
    ec2 = world.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
    [instance] = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, UserData=user_data)["Instances"]
    return instance["InstanceId"]


def _launch_time(world, instance):
    [reservation] = world.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"]
    return reservation["Instances"][0]["LaunchTime"]


def test_a_stop_interruption_stops_the_instance_and_ec2_may_start_it_again(world):
    world.configure(timescale=0.01)  # 120 s -> 1.2 s; the restart 100 s later -> 1 s
    world.client("ecs").create_cluster(clusterName="spot-cluster")
    victim = _cluster_instance(world, "spot-cluster")
    world.wait_for(lambda: world.events("ecs.container_instance.registered"), timeout=10, what="the agent")
    launched = _launch_time(world, victim)

    body = {"instance_id": victim, "action": "stop", "restart_after_seconds": 100}
    answer = world.control("POST", "/_world/ec2/spot-interruption", body)
    assert abs(answer["interrupt_in"] - 1.2) < 1e-6
    [warning] = world.events("ec2.spot.warning")
    assert warning["action"] == "stop"
    world.wait_for(lambda: world.events("ec2.instance.stopped"), timeout=10, what="the stop")
    [interrupted] = world.events("ec2.instance.interrupted")
    assert interrupted["action"] == "stop" and 1.1 <= interrupted["t"] - warning["t"] < 3
    assert world.events("ecs.container_instance.disconnected")
    world.wait_for(lambda: aws.ec2_state(world, victim) == "running", timeout=10, what="the restart")
    [reconnected] = world.wait_for(
        lambda: world.events("ecs.container_instance.reconnected"), timeout=10, what="the agent back"
    )
    assert reconnected["instance_id"] == victim
    # "The time that the instance was last launched"
    assert _launch_time(world, victim) > launched


def test_a_hibernate_interruption_gives_no_two_minutes(world):
    world.configure(timescale=0.01)
    world.client("ecs").create_cluster(clusterName="spot-cluster")
    victim = _cluster_instance(world, "spot-cluster")
    try:
        world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": victim, "action": "reboot"})
    except Exception as err:  # urllib raises on 400
        assert "400" in str(err)
    else:
        raise AssertionError("an action EC2 does not take was accepted")
    answer = world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": victim, "action": "hibernate"})
    assert answer["interrupt_in"] == 0
    world.wait_for(lambda: aws.ec2_state(world, victim) == "stopped", timeout=10, what="the hibernation")
    [warning] = world.events("ec2.spot.warning")
    assert warning["action"] == "hibernate"
