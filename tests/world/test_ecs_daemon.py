"""The DAEMON service scheduler: a task on every instance, first to launch, last to stop."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

CLUSTER = "test-cluster"
ASG = "test-cluster-asg"


def _daemon(world, **kwargs):
    ecs = world.client("ecs")
    ecs.register_task_definition(family="agent", containerDefinitions=[{"name": "agent", "image": "x", "memory": 64}])
    return ecs.create_service(
        cluster=CLUSTER,
        serviceName="agent",
        taskDefinition="agent",
        launchType="EC2",
        schedulingStrategy="DAEMON",
        **kwargs,
    )["service"]


def _web(world, desired=2, tg=None):
    aws.web_task_definition(world)
    lbs = [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}] if tg else []
    world.client("ecs").create_service(
        cluster=CLUSTER,
        serviceName="web",
        taskDefinition="web",
        desiredCount=desired,
        launchType="EC2",
        loadBalancers=lbs,
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
    )


def _running(world, group):
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER)["taskArns"]
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["group"] == group and t["lastStatus"] == "RUNNING"]


def _service(world, name):
    return world.client("ecs").describe_services(cluster=CLUSTER, services=[name])["services"][0]


def test_a_daemon_runs_a_task_on_every_instance_placed_before_the_replica_tasks(world):
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    _daemon(world)
    _web(world, desired=2)
    aws.asg(world, desired=3, cluster=CLUSTER)

    agents = world.wait_for(lambda: len(_running(world, "service:agent")) == 3 and _running(world, "service:agent"))
    assert len({t["containerInstanceArn"] for t in agents}) == 3
    world.wait_for(lambda: len(_running(world, "service:web")) == 2, what="2 web tasks")
    service = _service(world, "agent")
    assert service["schedulingStrategy"] == "DAEMON" and service["desiredCount"] == 3
    assert service["deploymentConfiguration"] == {"maximumPercent": 100, "minimumHealthyPercent": 0}
    # on each instance the daemon's task was placed first
    pending = world.events("ecs.task.pending")
    for instance in {e["instance_id"] for e in pending if e["service"] == "web"}:
        order = [e["service"] for e in pending if e["instance_id"] == instance]
        assert order[0] == "agent", order

    # an instance that joins gets one
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=4)
    world.wait_for(lambda: len(_running(world, "service:agent")) == 4, what="4 agent tasks")
    assert _service(world, "agent")["desiredCount"] == 4


def test_a_draining_instance_stops_its_daemon_task_only_after_every_other_task(world):
    world.configure(timescale=0.01)  # deregistration delay 200 s -> 2 s
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    tg = aws.target_group(world, delay=200)
    aws.asg(world, desired=3, cluster=CLUSTER)
    _daemon(world)
    _web(world, desired=2, tg=tg)
    web = world.wait_for(lambda: len(_running(world, "service:web")) == 2 and _running(world, "service:web"))
    world.wait_for(lambda: len(_running(world, "service:agent")) == 3, what="3 agent tasks")
    host = web[0]["containerInstanceArn"]
    [agent] = [t for t in _running(world, "service:agent") if t["containerInstanceArn"] == host]
    # a standalone task holds it too (AWS does not say it does not)
    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    [standalone] = ecs.start_task(cluster=CLUSTER, taskDefinition="batch", containerInstances=[host])["tasks"]

    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[host], status="DRAINING")

    def event(kind, arn):
        return next((e for e in world.events(kind) if e["task_arn"] == arn), None)

    web_stopped = world.wait_for(lambda: event("ecs.task.stopped", web[0]["taskArn"]), timeout=30, what="web stopped")
    assert _service(world, "agent")["desiredCount"] == 2  # the instances it runs on
    # an instance that joins meanwhile waits for its agent: 2 desired, and the draining one's still runs
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=4)
    world.wait_for(lambda: _service(world, "agent")["desiredCount"] == 3, what="a fourth instance")
    assert len(_running(world, "service:agent")) == 3 and event("ecs.task.stopping", agent["taskArn"]) is None

    ecs.stop_task(cluster=CLUSTER, task=standalone["taskArn"])
    agent_stopped = world.wait_for(
        lambda: event("ecs.task.stopped", agent["taskArn"]), timeout=30, what="agent stopped"
    )
    agent_stopping = event("ecs.task.stopping", agent["taskArn"])
    assert agent_stopping["t"] >= event("ecs.task.stopped", standalone["taskArn"])["t"] > web_stopped["t"]
    assert "DRAINING" in agent_stopping["reason"] and agent_stopped["t"] >= agent_stopping["t"]
    # none on the draining instance again; the new instance gets its own once the old one stopped
    world.wait_for(lambda: len(_running(world, "service:agent")) == 3, what="the new instance's agent")
    assert not [t for t in _running(world, "service:agent") if t["containerInstanceArn"] == host]
    [placed] = [e for e in world.events("ecs.task.pending") if e["service"] == "agent"][-1:]
    assert placed["t"] >= agent_stopped["t"]


def test_a_pending_daemon_task_on_a_draining_instance_stops_at_once(world):
    world.configure(ecs={"task_start_seconds": 60})
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=2, cluster=CLUSTER)
    _daemon(world)
    [pending, _] = world.wait_for(
        lambda: len(world.events("ecs.task.pending")) == 2 and world.events("ecs.task.pending")
    )
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    cis = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
    [ci] = [c for c in cis if c["ec2InstanceId"] == pending["instance_id"]]

    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[ci["containerInstanceArn"]], status="DRAINING"
    )

    world.wait_for(
        lambda: [e for e in world.events("ecs.task.stopped") if e["task_arn"] == pending["task_arn"]],
        timeout=5,
        what="the PENDING agent task stopped",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"desiredCount": 2}, "does not support a desired count"),
        ({"deploymentConfiguration": {"maximumPercent": 200}}, "does not support values above 100 for maximumPercent"),
        ({"deploymentConfiguration": {"maximumPercent": 50}}, "must be 100"),
    ],
)
def test_a_daemon_refuses_a_desired_count_and_a_maximum_other_than_100(world, kwargs, message):
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    with pytest.raises(ClientError) as err:
        _daemon(world, **kwargs)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in err.value.response["Error"]["Message"]


def test_update_service_refuses_a_daemon_a_desired_count(world):
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    _daemon(world)
    with pytest.raises(ClientError) as err:
        world.client("ecs").update_service(cluster=CLUSTER, service="agent", desiredCount=3)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "does not support a desired count" in err.value.response["Error"]["Message"]
