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


def test_a_draining_instance_stops_its_daemon_task_only_after_its_replica_task(world):
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
    # a standalone task does not hold the daemon's stop
    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    [standalone] = ecs.start_task(cluster=CLUSTER, taskDefinition="batch", containerInstances=[host])["tasks"]

    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[host], status="DRAINING")

    def stopped(arn):
        return next((e for e in world.events("ecs.task.stopped") if e["task_arn"] == arn), None)

    agent_stopped = world.wait_for(lambda: stopped(agent["taskArn"]), timeout=30, what="agent task stopped")
    web_stopped = stopped(web[0]["taskArn"])
    agent_stopping = next(e for e in world.events("ecs.task.stopping") if e["task_arn"] == agent["taskArn"])
    assert web_stopped is not None and agent_stopping["t"] >= web_stopped["t"]
    assert web_stopped["t"] - agent_stopped["t"] < 0  # the replica's 2 s of draining came first
    assert "DRAINING" in agent_stopping["reason"]
    # none on the draining instance again; the desired count follows the instances
    assert not [t for t in _running(world, "service:agent") if t["containerInstanceArn"] == host]
    assert _service(world, "agent")["desiredCount"] == 2
    [still] = ecs.describe_tasks(cluster=CLUSTER, tasks=[standalone["taskArn"]])["tasks"]
    assert still["lastStatus"] == "RUNNING"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"desiredCount": 2}, "does not support a desired count"),
        ({"deploymentConfiguration": {"maximumPercent": 200}}, "must be 100"),
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
