"""Token buckets per account, Region and API (world.emulator.rate_limits): shared by every caller, each
service's own throttling answer, refilled in AWS time, counted per second."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from world.emulator import rate_limits


def _caller(world, service):
    """A client that is not the world's harness: it takes tokens like any caller on AWS."""
    return world.client(service, user_agent_extra="some-caller", retries={"total_max_attempts": 1, "mode": "standard"})


def _throttled(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as err:
        return err.response
    return None


def test_bucket_figures_follow_aws_pages():
    assert rate_limits.buckets_of("ecs", "DescribeTasks") == ["ecs:cluster-resource-read"]
    assert rate_limits.buckets_of("ecs", "ListContainerInstances") == ["ecs:cluster-resource-read"]
    assert rate_limits.buckets_of("ecs", "UpdateContainerInstancesState") == ["ecs:cluster-resource-modify"]
    assert rate_limits.BUCKETS["ecs:cluster-resource-read"][:2] == (100, 20)
    assert rate_limits.buckets_of("elbv2", "DeregisterTargets") == ["elbv2:account", "elbv2:registration"]
    assert rate_limits.buckets_of("elbv2", "DescribeTargetHealth") == ["elbv2:account", "elbv2:non-mutating"]
    assert rate_limits.buckets_of("elb", "DescribeInstanceHealth") == ["elb:account", "elb:non-mutating"]
    assert rate_limits.buckets_of("elb", "ConfigureHealthCheck") == ["elb:account", "elb:mutating"]
    assert rate_limits.buckets_of("autoscaling", "CompleteLifecycleAction") == ["autoscaling:account"]
    assert rate_limits.buckets_of("autoscaling", "DescribeAutoScalingGroups") == ["autoscaling:account"]
    assert rate_limits.buckets_of("ec2", "DescribeInstances") == ["ec2:unfiltered"]
    assert rate_limits.buckets_of("ec2", "DescribeSubnets") == ["ec2:non-mutating"]
    assert rate_limits.buckets_of("ec2", "CreateLaunchTemplate") == ["ec2:mutating"]
    assert rate_limits.buckets_of("stepfunctions", "StartExecution") == ["stepfunctions:StartExecution"]
    assert rate_limits.buckets_of("lambda", "Invoke") == []  # concurrency, not a bucket (world.emulator.lambdas)
    assert all(source for _b, _r, source, _a in rate_limits.BUCKETS.values())


def test_a_category_shares_one_bucket_and_throttles_with_ecs_answer(world):
    # scale 0.1: Cluster read actions hold 5 tokens and get 2 back a second; at timescale 1000 no
    # AWS second passes during the test
    world.configure(timescale=1000, limits={"scale": 0.1})
    ecs = _caller(world, "ecs")
    for _ in range(3):
        assert _throttled(ecs.list_clusters) is None
    for _ in range(2):
        assert _throttled(ecs.describe_clusters, clusters=["x"]) is None
    err = _throttled(ecs.describe_clusters, clusters=["x"])
    assert err["Error"]["Code"] == "ThrottlingException" and err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _throttled(ecs.list_clusters)["Error"]["Code"] == "ThrottlingException"
    # another category has its own bucket; the harness is never limited
    world.client("ecs").create_cluster(clusterName="c")
    assert _throttled(ecs.list_services, cluster="c") is None
    assert world.client("ecs").list_clusters()["clusterArns"]


@pytest.mark.parametrize(
    "service,call,kwargs,code,status",
    [
        ("autoscaling", "describe_auto_scaling_groups", {}, "Throttling", 400),
        ("elbv2", "describe_target_groups", {}, "ThrottlingException", 400),
        ("elb", "describe_load_balancers", {}, "ThrottlingException", 400),
        ("ec2", "describe_instances", {}, "RequestLimitExceeded", 503),
        ("stepfunctions", "list_state_machines", {}, "ThrottlingException", 400),
    ],
)
def test_each_service_answers_its_own_throttling_error(world, service, call, kwargs, code, status):
    world.configure(timescale=1000, limits={"buckets": {b: {"burst": 1, "rate": 1} for b in rate_limits.BUCKETS}})
    client = _caller(world, service)
    assert _throttled(getattr(client, call), **kwargs) is None
    err = _throttled(getattr(client, call), **kwargs)
    assert err is not None, f"{service} not throttled"
    assert err["Error"]["Code"] == code and err["ResponseMetadata"]["HTTPStatusCode"] == status


def test_buckets_refill_each_aws_second_on_the_worlds_clock(world):
    # timescale 2: an AWS second lasts 2 s of the world's time
    world.configure(timescale=2, limits={"buckets": {"autoscaling:account": {"burst": 2, "rate": 1}}})
    asg = _caller(world, "autoscaling")
    assert [_throttled(asg.describe_auto_scaling_groups) is None for _ in range(3)] == [True, True, False]
    # at the next AWS second one token comes back (throttled attempts take none)
    world.wait_for(lambda: _throttled(asg.describe_auto_scaling_groups) is None, timeout=5, what="a token back")
    assert _throttled(asg.describe_auto_scaling_groups) is not None


def test_calls_per_second_and_peaks_are_reported(world):
    world.configure(timescale=1000, limits={"buckets": {"ecs:cluster-read": {"burst": 3, "rate": 1}}})
    world.control("POST", "/_world/calls/reset", {})
    ecs = _caller(world, "ecs")
    outcomes = [_throttled(ecs.list_clusters) for _ in range(5)]
    assert [o is None for o in outcomes] == [True, True, True, False, False]
    world.client("ecs").list_clusters()  # the harness: not counted
    report = world.control("GET", "/_world/limits")
    assert report["series"]["ecs:ListClusters"] == [[0, 5, 2]]
    peak = report["peaks"]["ecs:ListClusters"]
    assert peak["calls"] == 5 and peak["throttled"] == 2
    assert peak["limit"]["bucket"] == "ecs:cluster-read" and peak["limit"]["burst"] == 3
    assert report["buckets"]["ecs:cluster-read"]["source"].startswith("Amazon ECS API Reference")


def test_limits_off_and_scale(world):
    world.configure(timescale=1000, limits={"enabled": False, "buckets": {"ecs:cluster-read": {"burst": 1, "rate": 1}}})
    ecs = _caller(world, "ecs")
    assert all(_throttled(ecs.list_clusters) is None for _ in range(5))
    world.configure(limits={"enabled": True, "scale": 2.0})
    report = world.control("GET", "/_world/limits")
    assert report["buckets"]["ecs:cluster-read"]["burst"] == 2.0
    assert report["buckets"]["ecs:service-read"] == {
        **report["buckets"]["ecs:service-read"],
        "burst": 200.0,
        "rate": 40.0,
    }
