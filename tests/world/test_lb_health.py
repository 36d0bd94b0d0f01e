"""Load-balancer health checks: a new registration serves only once it passed them; failing instances;
NLB connection termination; who deregistered."""

from __future__ import annotations

import aws_setup as aws

CHECK = {
    "HealthCheckIntervalSeconds": 10,
    "HealthCheckTimeoutSeconds": 5,
    "HealthyThresholdCount": 3,
    "UnhealthyThresholdCount": 2,
}


def _running_instance(world):
    ec2 = world.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def _classic(world, name, instance):
    [state] = world.client("elb").describe_instance_health(LoadBalancerName=name, Instances=[{"InstanceId": instance}])[
        "InstanceStates"
    ]
    return state


def _target(world, tg, instance, port=80):
    [found] = world.client("elbv2").describe_target_health(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": port}])[
        "TargetHealthDescriptions"
    ]
    return found["TargetHealth"]


def _one(world, kind, **match):
    found = [e for e in world.events(kind) if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (kind, match, found)
    return found[0]


def test_a_new_target_is_initial_for_healthy_threshold_times_interval(world):
    world.configure(timescale=0.05)  # 3 checks x 10 s = 30 s -> 1.5 s
    tg = aws.target_group(world, **CHECK)
    instance = _running_instance(world)
    world.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])

    assert _target(world, tg, instance) == {
        "State": "initial",
        "Reason": "Elb.InitialHealthChecking",
        "Description": "Initial health checks in progress",
    }
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "healthy", timeout=10, what="healthy")
    assert "Reason" not in _target(world, tg, instance)
    registered = _one(world, "elbv2.target.registered", id=instance)
    healthy = _one(world, "elbv2.target.healthy", id=instance, port=80, target_group=tg)
    assert healthy["t"] - registered["t"] >= 1.45


def test_a_new_classic_elb_instance_is_registering_until_healthy_threshold_times_interval(world):
    world.configure(timescale=0.05)  # 2 checks x 10 s = 20 s -> 1 s
    name = aws.classic_elb(world, health_check={"Interval": 10, "HealthyThreshold": 2})
    instance = _running_instance(world)
    world.client("elb").register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": instance}]
    )

    assert _classic(world, name, instance) == {
        "InstanceId": instance,
        "State": "OutOfService",
        "ReasonCode": "ELB",
        "Description": "Instance registration is still in progress.",
    }
    world.wait_for(lambda: _classic(world, name, instance)["State"] == "InService", timeout=10, what="InService")
    assert _classic(world, name, instance)["ReasonCode"] == "N/A"
    registered = _one(world, "elb.instance.registered", instance_id=instance, load_balancer=name)
    in_service = _one(world, "elb.instance.in_service", instance_id=instance, load_balancer=name)
    assert in_service["t"] - registered["t"] >= 0.95
    # registering it again does not restart its health checks
    world.client("elb").register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": instance}]
    )
    assert _classic(world, name, instance)["State"] == "InService"
    assert len(world.events("elb.instance.registered")) == 1


def test_a_failing_instance_turns_unhealthy_and_its_requests_are_completed_unseen(world):
    world.configure(timescale=0.05)
    check = {"Interval": 10, "HealthyThreshold": 2, "UnhealthyThreshold": 3}
    name = aws.classic_elb(world, draining=60, health_check=check)  # 60 s -> 3 s
    undrained = aws.classic_elb(world, name="undrained", draining=None, health_check=check)
    tg = aws.target_group(world, delay=100, **CHECK)
    instance = _running_instance(world)
    elb, elbv2 = world.client("elb"), world.client("elbv2")
    for lb in (name, undrained):
        elb.register_instances_with_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": instance}])
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    world.wait_for(
        lambda: (
            _classic(world, name, instance)["State"] == "InService"
            and _target(world, tg, instance)["State"] == "healthy"
        ),
        timeout=10,
        what="healthy",
    )

    world.configure(health={"failing_instances": [instance]})
    world.wait_for(
        lambda: (
            _classic(world, name, instance)["ReasonCode"] == "Instance"
            and _target(world, tg, instance)["State"] == "unhealthy"
        ),
        timeout=10,
        what="unhealthy",
    )
    assert _classic(world, name, instance) == {
        "InstanceId": instance,
        "State": "OutOfService",
        "ReasonCode": "Instance",
        "Description": "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
    }
    assert _target(world, tg, instance) == {
        "State": "unhealthy",
        "Reason": "Target.FailedHealthChecks",
        "Description": "Health checks failed",
    }
    assert _one(world, "elb.instance.unhealthy", instance_id=instance, load_balancer=name)["reason_code"] == "Instance"
    assert _one(world, "elbv2.target.unhealthy", id=instance)["reason"] == "Target.FailedHealthChecks"

    # its in-flight requests are completed, unseen: DescribeInstanceHealth says "not registered" at
    # once, the world ends them after the draining timeout
    not_registered = "Instance is not currently registered with the LoadBalancer."
    for lb in (name, undrained):
        elb.deregister_instances_from_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": instance}])
        assert _classic(world, lb, instance) == {
            "InstanceId": instance,
            "State": "OutOfService",
            "ReasonCode": "ELB",
            "Description": not_registered,
        }
    draining = _one(world, "elb.instance.draining", instance_id=instance, load_balancer=name)
    assert draining["unhealthy"] is True and draining["by"] == "client"
    # without connection draining nothing is completed: out at once
    out = _one(world, "elb.instance.out_of_service", instance_id=instance, load_balancer=undrained)
    assert out["unhealthy"] is True and out["by"] == "client"
    assert not [e for e in world.events("elb.instance.out_of_service") if e["load_balancer"] == name]
    world.wait_for(
        lambda: [e for e in world.events("elb.instance.out_of_service") if e["load_balancer"] == name],
        timeout=10,
        what="the unhealthy instance's requests completed",
    )
    done = _one(world, "elb.instance.out_of_service", instance_id=instance, load_balancer=name)
    assert done["t"] - draining["t"] >= 2.95
    assert _classic(world, name, instance)["Description"] == not_registered
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert _target(world, tg, instance)["State"] == "draining"
    draining = _one(world, "elbv2.target.draining", id=instance)
    assert draining["health"] == "unhealthy" and draining["by"] == "client"


def test_an_instance_that_fails_its_checks_while_draining_is_out_of_service_with_its_requests_unseen(world):
    world.configure(timescale=0.05)
    check = {"Interval": 10, "HealthyThreshold": 2, "UnhealthyThreshold": 2}
    name = aws.classic_elb(world, draining=120, health_check=check)  # 120 s -> 6 s; unhealthy after 1 s
    instance = _running_instance(world)
    elb = world.client("elb")
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    world.wait_for(lambda: _classic(world, name, instance)["State"] == "InService", timeout=10, what="InService")
    elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    assert _classic(world, name, instance)["Description"] == "Instance deregistration currently in progress."

    # its health checks go on while it drains: failing them, it is out of service, told apart by
    # nothing from a finished drain, while its in-flight requests go on unseen
    world.configure(health={"failing_instances": [instance]})
    world.wait_for(lambda: _classic(world, name, instance)["State"] == "OutOfService", timeout=10, what="out")
    assert _classic(world, name, instance) == {
        "InstanceId": instance,
        "State": "OutOfService",
        "ReasonCode": "ELB",
        "Description": "Instance is not currently registered with the LoadBalancer.",
    }
    draining = _one(world, "elb.instance.draining", instance_id=instance, load_balancer=name)
    assert "unhealthy" not in draining
    _one(world, "elb.instance.draining_unhealthy", instance_id=instance, load_balancer=name)
    assert not world.events("elb.instance.out_of_service")
    world.wait_for(
        lambda: world.events("elb.instance.out_of_service"), timeout=10, what="its unseen requests completed"
    )
    done = _one(world, "elb.instance.out_of_service", instance_id=instance, load_balancer=name)
    assert done["t"] - draining["t"] >= 5.95  # when its draining would have ended


def test_a_failing_instance_never_becomes_healthy_until_it_passes_again(world):
    world.configure(timescale=0.05)
    tg = aws.target_group(world, **CHECK)
    instance = _running_instance(world)
    world.configure(health={"failing_instances": [instance]})
    world.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert _target(world, tg, instance)["State"] == "initial"
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "unhealthy", timeout=10, what="unhealthy")
    assert not world.events("elbv2.target.healthy")

    world.configure(health={"failing_instances": []})
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "healthy", timeout=10, what="healthy again")
    unhealthy = _one(world, "elbv2.target.unhealthy", id=instance)
    healthy = _one(world, "elbv2.target.healthy", id=instance)
    assert healthy["t"] - unhealthy["t"] >= 1.45  # 3 passing checks x 10 s


def test_nlb_connections_outlive_unused_unless_connection_termination_is_enabled(world):
    world.configure(timescale=0.01)  # 100 s delay -> 1 s
    elbv2 = world.client("elbv2")
    kept = aws.target_group(world, name="nlb-kept", protocol="TCP", delay=100)
    closed = aws.target_group(world, name="nlb-closed", protocol="TCP", delay=100)
    attrs = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=kept)["Attributes"]}
    assert attrs["deregistration_delay.connection_termination.enabled"] == "false"
    elbv2.modify_target_group_attributes(
        TargetGroupArn=closed,
        Attributes=[{"Key": "deregistration_delay.connection_termination.enabled", "Value": "true"}],
    )
    instance = _running_instance(world)
    for tg in (kept, closed):
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
        elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert _one(world, "elbv2.target.draining", target_group=kept)["connection_termination"] is False
    assert _one(world, "elbv2.target.draining", target_group=closed)["connection_termination"] is True
    world.wait_for(lambda: len(world.events("elbv2.target.unused")) == 2, timeout=10, what="unused")
    [remain] = world.events("elbv2.target.connections_remain")
    assert remain["target_group"] == kept and remain["id"] == instance and remain["port"] == 80
    # an ALB target group has no such attribute and records nothing of the kind
    alb = aws.target_group(world, name="alb", delay=0)
    attrs = {a["Key"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=alb)["Attributes"]}
    assert "deregistration_delay.connection_termination.enabled" not in attrs
    elbv2.register_targets(TargetGroupArn=alb, Targets=[{"Id": instance}])
    elbv2.deregister_targets(TargetGroupArn=alb, Targets=[{"Id": instance}])
    assert "connection_termination" not in _one(world, "elbv2.target.unused", target_group=alb)
    assert len(world.events("elbv2.target.connections_remain")) == 1


def test_an_nlb_routes_to_a_deregistered_target_for_minutes_whatever_its_state(world):
    world.configure(timescale=0.01)  # 5 s delay -> 0.05 s; 300 s of routing -> 3 s
    elbv2 = world.client("elbv2")
    nlb = aws.target_group(world, name="nlb", protocol="TCP", delay=5)
    alb = aws.target_group(world, name="alb", delay=5)
    again = aws.target_group(world, name="nlb-again", protocol="TCP", delay=5)
    instance = _running_instance(world)
    for tg in (nlb, alb, again):
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
        elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    deregistered = _one(world, "elbv2.target.draining", target_group=nlb)
    elbv2.register_targets(TargetGroupArn=again, Targets=[{"Id": instance}])  # registered again: it routes anyway
    world.wait_for(lambda: world.events("elbv2.target.routing_stopped"), timeout=10, what="the routing's end")
    [stopped] = world.events("elbv2.target.routing_stopped")
    assert stopped["target_group"] == nlb and stopped["id"] == instance and stopped["port"] == 80
    assert stopped["t"] - deregistered["t"] >= 2.9
    unused = _one(world, "elbv2.target.unused", target_group=nlb)
    assert unused["t"] < stopped["t"], "unused long before the load balancer stops routing to it"


def test_posting_the_config_does_not_restart_health_checks_on_their_way(world):
    world.configure(timescale=0.05)  # 3 checks x 10 s = 30 s -> 1.5 s
    tg = aws.target_group(world, **CHECK)
    instance = _running_instance(world)
    world.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    registered = _one(world, "elbv2.target.registered", id=instance)
    world.wait_for(lambda: world.control("GET", "/_world/events")["now"] - registered["t"] >= 0.75, what="half-way")
    world.configure(faults={})  # an unrelated change
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "healthy", timeout=10, what="healthy")
    assert _one(world, "elbv2.target.healthy", id=instance)["t"] - registered["t"] < 2.1


def _zones_other_than(world, zone):
    """Two subnets of the VPC whose zones are not ``zone`` (an ALB needs two zones)."""
    subnets = world.client("ec2").describe_subnets()["Subnets"]
    return [s["SubnetId"] for s in subnets if s["AvailabilityZone"] != zone][:2]


def _zone_of(world, instance):
    [reservation] = world.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"]
    return reservation["Instances"][0]["Placement"]["AvailabilityZone"]


def test_a_target_in_a_zone_its_load_balancer_does_not_enable_is_unused_until_it_does(world):
    world.configure(timescale=0.05)
    tg = aws.target_group(world, **CHECK)
    instance = _running_instance(world)
    zone = _zone_of(world, instance)
    elbv2 = world.client("elbv2")
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "healthy", timeout=10, what="healthy")
    [lb] = elbv2.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["LoadBalancerArns"]
    previous = [
        z["SubnetId"]
        for z in elbv2.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["AvailabilityZones"]
    ]

    elbv2.set_subnets(LoadBalancerArn=lb, Subnets=_zones_other_than(world, zone))
    assert _target(world, tg, instance) == {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": "Target is in an Availability Zone that is not enabled for the load balancer",
    }
    assert _one(world, "elbv2.target.unused", id=instance)["zone"] == zone
    # still registered: listed, and no health check makes it healthy meanwhile
    listed = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [d["Target"]["Id"] for d in listed] == [instance]

    elbv2.set_subnets(LoadBalancerArn=lb, Subnets=previous)
    assert _target(world, tg, instance)["State"] == "initial"
    world.wait_for(lambda: _target(world, tg, instance)["State"] == "healthy", timeout=10, what="healthy again")
    disabled, enabled = (e["zones"] for e in world.events("elbv2.load_balancer.zones"))
    assert zone not in disabled and zone in enabled


def test_a_classic_elb_instance_in_a_zone_it_disables_is_out_of_service_until_enabled(world):
    world.configure(timescale=0.05)
    name = aws.classic_elb(world, health_check={"Interval": 10, "HealthyThreshold": 2})
    instance = _running_instance(world)
    zone = _zone_of(world, instance)
    elb = world.client("elb")
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    world.wait_for(lambda: _classic(world, name, instance)["State"] == "InService", timeout=10, what="InService")
    elb.enable_availability_zones_for_load_balancer(LoadBalancerName=name, AvailabilityZones=["us-west-2b"])

    elb.disable_availability_zones_for_load_balancer(LoadBalancerName=name, AvailabilityZones=[zone])
    assert _classic(world, name, instance) == {
        "InstanceId": instance,
        "State": "OutOfService",
        "ReasonCode": "ELB",
        "Description": "Instance is in an Availability Zone for which LoadBalancer is not configured to route traffic to.",
    }
    assert _one(world, "elb.instance.out_of_zone", instance_id=instance)["zone"] == zone

    elb.enable_availability_zones_for_load_balancer(LoadBalancerName=name, AvailabilityZones=[zone])
    assert _classic(world, name, instance)["Description"] == "Instance registration is still in progress."
    world.wait_for(lambda: _classic(world, name, instance)["State"] == "InService", timeout=10, what="InService again")


def test_a_classic_elb_in_a_vpc_reports_its_subnets_zones(world):
    ec2, elb = world.client("ec2"), world.client("elb")
    subnets = ec2.describe_subnets()["Subnets"][:2]
    elb.create_load_balancer(
        LoadBalancerName="in-vpc",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=[s["SubnetId"] for s in subnets],
    )
    described = lambda: elb.describe_load_balancers(LoadBalancerNames=["in-vpc"])["LoadBalancerDescriptions"][0]  # noqa: E731
    assert described()["AvailabilityZones"] == sorted({s["AvailabilityZone"] for s in subnets})
    elb.detach_load_balancer_from_subnets(LoadBalancerName="in-vpc", Subnets=[subnets[1]["SubnetId"]])
    assert described()["AvailabilityZones"] == [subnets[0]["AvailabilityZone"]]


def test_a_new_nlb_target_is_registering_for_minutes_before_its_health_checks_start(world):
    world.configure(timescale=0.01)  # 300 s of registration -> 3 s; 3 checks x 10 s -> 0.3 s
    nlb = aws.target_group(world, name="nlb", protocol="TCP", **CHECK)
    alb = aws.target_group(world, name="alb", **CHECK)
    instance = _running_instance(world)
    elbv2 = world.client("elbv2")
    for tg in (nlb, alb):
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
    assert _target(world, nlb, instance) == {
        "State": "initial",
        "Reason": "Elb.RegistrationInProgress",
        "Description": "Target registration is in progress",
    }
    # an ALB's target goes straight to its health checks
    assert _target(world, alb, instance)["Reason"] == "Elb.InitialHealthChecking"
    world.wait_for(lambda: _target(world, nlb, instance)["State"] == "healthy", timeout=20, what="healthy")
    registered = _one(world, "elbv2.target.registered", target_group=nlb)
    healthy = _one(world, "elbv2.target.healthy", target_group=nlb)
    assert healthy["t"] - registered["t"] >= 3.25  # the registration, then the checks
    assert _one(world, "elbv2.target.healthy", target_group=alb)["t"] - registered["t"] < 3
