"""Classic ELB connection draining and ELBv2 deregistration delay."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError


def _running_instance(world):
    ec2 = world.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def _health(world, name, instance):
    [state] = world.client("elb").describe_instance_health(LoadBalancerName=name, Instances=[{"InstanceId": instance}])[
        "InstanceStates"
    ]
    return state


def test_classic_elb_draining_shows_only_in_describe_instance_health(world):
    world.configure(timescale=0.01)  # 150 s of draining -> 1.5 s
    name = aws.classic_elb(world, draining=150)
    elb = world.client("elb")
    attributes = elb.describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"]
    assert attributes["ConnectionDraining"] == {"Enabled": True, "Timeout": 150}
    instance = _running_instance(world)
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    # AWS's default health check (30 s x 10 healthy) -> 3 s
    world.wait_for(lambda: _health(world, name, instance)["State"] == "InService", timeout=10, what="InService")

    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    assert elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]["Instances"] == []
    state = _health(world, name, instance)
    assert state["State"] == "InService"
    assert state["Description"] == "Instance deregistration currently in progress."
    assert world.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"] == []

    world.wait_for(lambda: _health(world, name, instance)["State"] == "OutOfService", timeout=10, what="OutOfService")
    assert world.events("elb.instance.out_of_service")[0]["t"] - world.events("elb.instance.draining")[0]["t"] >= 1.4


def test_classic_elb_without_draining_is_out_of_service_at_once(world):
    name = aws.classic_elb(world, draining=None)
    elb = world.client("elb")
    instance = _running_instance(world)
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    state = _health(world, name, instance)
    assert state["State"] == "OutOfService"
    assert state["Description"] == "Instance is not currently registered with the LoadBalancer."


def test_classic_elb_instance_states_answer_unknown_at_the_faults_rate(world):
    name = aws.classic_elb(world, draining=None)
    elb = world.client("elb")
    instance = _running_instance(world)
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    world.configure(faults={"elb:DescribeInstanceHealth": {"unknown": 1.0}})
    state = _health(world, name, instance)
    assert (state["State"], state["Description"]) == ("Unknown", "A transient error occurred. Please try again later.")
    world.configure(faults={"elb:DescribeInstanceHealth": {"unknown": 0.0}})
    assert _health(world, name, instance)["State"] != "Unknown"


def test_target_draining_then_unused_on_every_port(world):
    world.configure(timescale=0.01)  # default 300 s delay -> 3 s ; 100 s -> 1 s
    tg = aws.target_group(world, delay=100)
    elbv2 = world.client("elbv2")
    attrs = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "100"
    instance = _running_instance(world)
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}, {"Id": instance, "Port": 8081}])

    def states():
        found = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return {h["Target"]["Port"]: h["TargetHealth"]["State"] for h in found}

    assert states() == {8080: "initial", 8081: "initial"}
    # the target group's default health check (30 s x 5 healthy) -> 1.5 s
    world.wait_for(lambda: states() == {8080: "healthy", 8081: "healthy"}, timeout=10, what="healthy")
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])
    assert states() == {8080: "draining", 8081: "healthy"}
    [draining] = elbv2.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])[
        "TargetHealthDescriptions"
    ]
    assert draining["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
    world.wait_for(lambda: states() == {8081: "healthy"}, timeout=10, what="draining over")
    [unused] = elbv2.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])[
        "TargetHealthDescriptions"
    ]
    assert unused["TargetHealth"]["State"] == "unused"
    assert unused["TargetHealth"]["Reason"] == "Target.NotRegistered"
    # deregistering an absent target succeeds
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 9999}])
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])


def test_the_deregistration_delay_ranges_from_0_to_3600(world):
    tg = aws.target_group(world)
    elbv2 = world.client("elbv2")

    def set_delay(seconds):
        elbv2.modify_target_group_attributes(
            TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(seconds)}]
        )

    set_delay(3600)
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "3600"} in attributes
    with pytest.raises(ClientError) as refused:
        set_delay(3601)
    assert refused.value.response["Error"]["Code"] == "ValidationError"


def test_zero_delay_is_unused_at_once(world):
    tg = aws.target_group(world, delay=0)
    elbv2 = world.client("elbv2")
    instance = _running_instance(world)
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"] == []


def test_a_target_that_does_not_exist_is_invalid(world):
    """DescribeTargetHealth and DeregisterTargets naming an instance that is gone (terminated,
    or unknown to EC2) and not registered: InvalidTarget, as both APIs document."""
    tg = aws.target_group(world, delay=0)
    elbv2, ec2 = world.client("elbv2"), world.client("ec2")
    instance = _running_instance(world)
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": 8080}])
    ec2.terminate_instances(InstanceIds=[instance])
    for target in ({"Id": instance, "Port": 8080}, {"Id": "i-0123456789abcdef0", "Port": 8080}):
        for call in (elbv2.describe_target_health, elbv2.deregister_targets):
            with pytest.raises(ClientError) as refused:
                call(TargetGroupArn=tg, Targets=[target])
            assert refused.value.response["Error"]["Code"] == "InvalidTarget"
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # a running instance that is not registered: unused (Target.NotRegistered); deregistering it succeeds
    other = _running_instance(world)
    [health] = elbv2.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": other, "Port": 8080}])[
        "TargetHealthDescriptions"
    ]
    assert health["TargetHealth"]["Reason"] == "Target.NotRegistered"
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": other, "Port": 8080}])


def test_a_classic_instance_that_does_not_exist_is_invalid(world):
    """DescribeInstanceHealth and DeregisterInstancesFromLoadBalancer naming an instance that is
    gone (terminated, or unknown to EC2) and neither registered nor draining: InvalidInstance, as
    both APIs document; while it still drains, it is not reported (terminated)."""
    name = aws.classic_elb(world, draining=1)
    elb, ec2 = world.client("elb"), world.client("ec2")
    instance, other = _running_instance(world), _running_instance(world)
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    ec2.terminate_instances(InstanceIds=[instance])
    named = {"LoadBalancerName": name, "Instances": [{"InstanceId": instance}]}
    assert elb.describe_instance_health(**named)["InstanceStates"] == []  # draining, terminated
    world.wait_for(lambda: world.events("elb.instance.out_of_service"), timeout=10, what="drained")
    for gone in (instance, "i-0123456789abcdef0"):
        for call in (elb.describe_instance_health, elb.deregister_instances_from_load_balancer):
            with pytest.raises(ClientError) as refused:
                call(LoadBalancerName=name, Instances=[{"InstanceId": gone}])
            assert refused.value.response["Error"]["Code"] == "InvalidInstance"
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # a running instance that is not registered: not registered; deregistering it succeeds
    assert _health(world, name, other)["Description"] == "Instance is not currently registered with the LoadBalancer."
    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": other}])


def test_one_registration_set_whoever_registered_the_instance(world):
    """Auto Scaling registers the group's instances in its Classic ELB; a client's
    DeregisterInstancesFromLoadBalancer ends that registration too (AWS keeps one set per load
    balancer), and registering a registered instance lists it once."""
    name = aws.classic_elb(world, draining=1)
    elb = world.client("elb")
    group = aws.asg(world, desired=1, load_balancers=[name])
    [instance] = aws.instances(world, group)

    def listed():
        [described] = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
        return [i["InstanceId"] for i in described["Instances"]]

    world.wait_for(lambda: listed() == [instance], what="registered by Auto Scaling")
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    assert listed() == [instance]
    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    assert listed() == []
    assert _health(world, name, instance)["Description"] == "Instance deregistration currently in progress."


def test_a_target_group_no_load_balancer_uses_has_no_healthy_target(world):
    """TargetHealth: "Target.NotInUse - The target group is not used by any load balancer": its
    targets are unused and run no health checks; a listener that forwards to it starts them, and
    deleting that load balancer ends them again."""
    elbv2 = world.client("elbv2")
    arn = elbv2.create_target_group(Name="bare", Protocol="HTTP", Port=80, VpcId=aws.vpc(world), TargetType="instance")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    instance = _running_instance(world)
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])

    def health():
        [described] = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return described["TargetHealth"]["State"], described["TargetHealth"].get("Reason")

    assert health() == ("unused", "Target.NotInUse")
    world.configure(timescale=0.01)
    lb = aws.front(world, arn, "bare-lb")
    world.wait_for(lambda: health() == ("healthy", None), timeout=10, what="healthy once in use")
    elbv2.delete_load_balancer(LoadBalancerArn=lb)
    assert elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["LoadBalancerArns"] == []
    assert health() == ("unused", "Target.NotInUse")
    with pytest.raises(ClientError) as refused:
        world.client("ecs").create_service(
            cluster="default",
            serviceName="web",
            desiredCount=1,
            loadBalancers=[{"targetGroupArn": arn, "containerName": "web", "containerPort": 80}],
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "does not have an associated load balancer" in refused.value.response["Error"]["Message"]
