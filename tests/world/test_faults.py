"""Faults on demand, in each protocol's error shape, and API call counts."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def _error(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response


def test_throttling_and_unavailable_in_each_protocol(world):
    world.configure(
        faults={
            "ecs:ListClusters": {"throttle": 1.0},
            "autoscaling:DescribeAutoScalingGroups": {"throttle": 1.0},
            "elb:DescribeLoadBalancers": {"unavailable": 1.0},
            "autoscaling:DescribeLifecycleHooks": {"unavailable": 1.0},
            "stepfunctions:*": {"unavailable": 1.0},
        }
    )
    ecs = _error(world.client("ecs").list_clusters)
    assert ecs["Error"]["Code"] == "ThrottlingException" and ecs["ResponseMetadata"]["HTTPStatusCode"] == 400
    asg = _error(world.client("autoscaling").describe_auto_scaling_groups)
    assert asg["Error"]["Code"] == "Throttling" and asg["ResponseMetadata"]["HTTPStatusCode"] == 400
    contention = _error(world.client("autoscaling").describe_lifecycle_hooks, AutoScalingGroupName="any")
    assert contention["Error"]["Code"] == "ResourceContentionFault"
    assert contention["ResponseMetadata"]["HTTPStatusCode"] == 500
    elb = _error(world.client("elb").describe_load_balancers)
    assert elb["Error"]["Code"] == "ServiceUnavailable" and elb["ResponseMetadata"]["HTTPStatusCode"] == 503
    sfn = _error(world.client("stepfunctions").list_state_machines)
    assert sfn["ResponseMetadata"]["HTTPStatusCode"] == 503
    # other APIs are untouched
    world.client("ecs").list_task_definitions()
    world.client("elbv2").describe_load_balancers()


def test_a_denied_call_is_access_denied_in_each_protocol(world):
    world.configure(
        faults={
            "ecs:ListClusters": {"denied": 1.0},
            "autoscaling:DescribeAutoScalingGroups": {"denied": 1.0},
        }
    )
    ecs = _error(world.client("ecs").list_clusters)
    assert ecs["Error"]["Code"] == "AccessDeniedException" and ecs["ResponseMetadata"]["HTTPStatusCode"] == 400
    asg = _error(world.client("autoscaling").describe_auto_scaling_groups)
    assert asg["Error"]["Code"] == "AccessDenied" and asg["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "explicit deny" in asg["Error"]["Message"]
    injected = [e for e in world.events() if e["type"] == "fault.injected"]
    assert [e["kind"] for e in injected] == ["denied", "denied"]


def test_the_sdk_retries_throttling_and_rates_are_seeded(world):
    world.configure(seed=42, faults={"ecs:*": {"throttle": 0.5}})
    ecs = world.client("ecs", retries={"max_attempts": 20, "mode": "standard"})
    for _ in range(5):
        ecs.list_clusters()
    first = world.control("GET", "/_world/calls")
    assert first["calls"]["ecs:ListClusters"] > 5
    assert first["faults"]["ecs:ListClusters:throttle"] == first["calls"]["ecs:ListClusters"] - 5

    # same seed, same sequence
    world.control("POST", "/_world/calls/reset")
    world.configure(seed=42)
    for _ in range(5):
        ecs.list_clusters()
    assert world.control("GET", "/_world/calls") == first


def test_calls_are_counted_per_api(world):
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.list_clusters()
    ecs.list_clusters()
    world.client("autoscaling").describe_auto_scaling_groups()
    world.client("elbv2").describe_target_groups()
    world.client("elb").describe_load_balancers()
    calls = world.control("GET", "/_world/calls")["calls"]
    assert calls["ecs:ListClusters"] == 2
    assert calls["ecs:CreateCluster"] == 1
    assert calls["autoscaling:DescribeAutoScalingGroups"] == 1
    assert calls["elbv2:DescribeTargetGroups"] == 1
    assert calls["elb:DescribeLoadBalancers"] == 1
