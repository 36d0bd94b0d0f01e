"""ECS counts a service task as healthy only once every load balancer of the service says so; StopTask
and standalone tasks take their time to stop."""

from __future__ import annotations

import aws_setup as aws
from world.deploy import delete_target_group

CLUSTER = "test-cluster"
TG_CHECK = {
    "HealthCheckIntervalSeconds": 10,
    "HealthCheckTimeoutSeconds": 5,
    "HealthyThresholdCount": 3,
    "UnhealthyThresholdCount": 2,
}  # 30 s to healthy, 20 s to unhealthy
CLB_CHECK = {"Interval": 10, "HealthyThreshold": 2, "UnhealthyThreshold": 2}  # 20 s to healthy


def _service(world, instances=3, desired=2, delay=20):
    """A service behind a Classic ELB and a target group, both managed by the service."""
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    tg = aws.target_group(world, port=8080, delay=delay, **TG_CHECK)
    clb = aws.classic_elb(world, draining=delay, health_check=CLB_CHECK)
    aws.asg(world, desired=instances, cluster=CLUSTER)
    aws.web_task_definition(world)
    ecs.create_service(
        cluster=CLUSTER,
        serviceName="web",
        taskDefinition="web",
        desiredCount=desired,
        launchType="EC2",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
        loadBalancers=[
            {"targetGroupArn": tg, "containerName": "web", "containerPort": 8080},
            {"loadBalancerName": clb, "containerName": "web", "containerPort": 8080},
        ],
    )
    world.wait_for(
        lambda: (
            len(world.events("elbv2.target.healthy")) >= desired
            and len(world.events("elb.instance.in_service")) >= desired
        ),
        timeout=15,
        what="healthy tasks",
    )
    return tg, clb


def _tasks(world):
    ecs = world.client("ecs")
    arns = (
        ecs.list_tasks(cluster=CLUSTER)["taskArns"]
        + ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    )
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


def _instance_ids(world):
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    cis = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
    return {ci["containerInstanceArn"]: ci["ec2InstanceId"] for ci in cis}


def _drain_one(world):
    """DRAINING for the instance of the first service task; (its task ARN, its instance id)."""
    old = next(t for t in _tasks(world) if t["lastStatus"] == "RUNNING")
    world.client("ecs").update_container_instances_state(
        cluster=CLUSTER, containerInstances=[old["containerInstanceArn"]], status="DRAINING"
    )
    return old["taskArn"], _instance_ids(world)[old["containerInstanceArn"]]


def _of(world, kind, **match):
    return [e for e in world.events(kind) if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def test_the_old_task_stops_only_once_its_replacement_is_healthy_in_every_load_balancer(world):
    world.configure(timescale=0.05, ecs={"task_start_seconds": 0})
    _tg, clb = _service(world)
    old, old_instance = _drain_one(world)

    world.wait_for(lambda: _of(world, "ecs.task.stopped", task_arn=old), timeout=20, what="old task stopped")
    [replacement] = [
        e
        for e in _of(world, "ecs.task.running")
        if e["instance_id"] != old_instance and e["seq"] > _of(world, "ecs.container_instance.draining")[0]["seq"]
    ]
    new = replacement["instance_id"]
    # the service registers its new task's instance in its Classic ELB too
    assert _of(world, "elb.instance.registered", load_balancer=clb, instance_id=new)
    [stopping] = _of(world, "ecs.task.stopping", task_arn=old)
    healthy_tg = _of(world, "elbv2.target.healthy", id=new)[0]
    healthy_clb = _of(world, "elb.instance.in_service", instance_id=new)[0]
    assert stopping["seq"] > max(healthy_tg["seq"], healthy_clb["seq"])  # healthy in both, then stopped
    assert healthy_tg["t"] - replacement["t"] >= 1.45  # the slower of the two: 3 checks x 10 s

    # ECS took the old task out of both load balancers and waited out their draining
    [tg_out] = _of(world, "elbv2.target.draining", id=old_instance)
    [clb_out] = _of(world, "elb.instance.draining", instance_id=old_instance)
    assert tg_out["by"] == "ecs" and clb_out["by"] == "ecs"
    [stopped] = _of(world, "ecs.task.stopped", task_arn=old)
    assert stopped["seq"] > max(tg_out["seq"], clb_out["seq"])
    assert stopped["t"] - stopping["t"] >= 0.95  # 20 s of draining


def test_a_replacement_that_never_becomes_healthy_keeps_the_old_task_running(world):
    world.configure(timescale=0.05, ecs={"task_start_seconds": 0})
    _service(world)
    busy = {e["instance_id"] for e in _of(world, "ecs.task.running")}
    [spare] = [i for i in _instance_ids(world).values() if i not in busy]
    world.configure(health={"failing_instances": [spare]})
    old, _ = _drain_one(world)

    world.wait_for(
        lambda: (
            _of(world, "elbv2.target.unhealthy", id=spare) and _of(world, "elb.instance.unhealthy", instance_id=spare)
        ),
        timeout=20,
        what="the replacement unhealthy",
    )
    [task] = [t for t in _tasks(world) if t["taskArn"] == old]
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    assert not _of(world, "ecs.task.stopping", task_arn=old)
    assert not _of(world, "elbv2.target.draining") and not _of(world, "elb.instance.draining")

    # once the replacement passes its checks, the old task goes
    world.configure(health={"failing_instances": []})
    world.wait_for(lambda: _of(world, "ecs.task.stopped", task_arn=old), timeout=20, what="old task stopped")


def test_a_draining_task_that_is_not_healthy_stops_without_waiting_for_its_replacement(world):
    world.configure(timescale=0.05, ecs={"task_start_seconds": 0})
    _service(world)
    first = next(t for t in _tasks(world) if t["lastStatus"] == "RUNNING")
    sick = _instance_ids(world)[first["containerInstanceArn"]]
    world.configure(health={"failing_instances": [sick]})
    world.wait_for(
        lambda: (
            _of(world, "elbv2.target.unhealthy", id=sick) and _of(world, "elb.instance.unhealthy", instance_id=sick)
        ),
        timeout=20,
        what="unhealthy",
    )
    old, old_instance = _drain_one(world)
    assert old_instance == sick

    world.wait_for(lambda: _of(world, "ecs.task.stopping", task_arn=old), timeout=10, what="stopping")
    [stopping] = _of(world, "ecs.task.stopping", task_arn=old)
    later = [
        e
        for e in world.events()
        if e["type"] in ("elbv2.target.healthy", "elb.instance.in_service")
        and e["seq"] > _of(world, "ecs.container_instance.draining")[0]["seq"]
    ]
    assert all(stopping["seq"] < e["seq"] for e in later)  # no replacement was healthy yet
    # ECS did not wait for the Classic ELB's unseen requests to the unhealthy instance; the target group drained
    [out] = _of(world, "elb.instance.draining", instance_id=sick)
    assert out["unhealthy"] is True and out["by"] == "ecs"
    world.wait_for(lambda: _of(world, "ecs.task.stopped", task_arn=old), timeout=10, what="stopped")


def test_stop_task_and_standalone_tasks_take_their_time(world):
    world.configure(timescale=0.01, ecs={"task_stop_seconds": 100, "standalone_task_seconds": 200})
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=1, cluster=CLUSTER)
    [ci] = _instance_ids(world)
    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    [stopped_by_hand, exits] = [
        ecs.start_task(cluster=CLUSTER, taskDefinition="batch", containerInstances=[ci])["tasks"][0] for _ in range(2)
    ]
    assert len(_of(world, "ecs.task.running", service=None)) == 2

    answer = ecs.stop_task(cluster=CLUSTER, task=stopped_by_hand["taskArn"], reason="maintenance")["task"]
    assert answer["desiredStatus"] == "STOPPED" and answer["lastStatus"] == "STOPPING"  # containers still stopping
    assert stopped_by_hand["taskArn"] not in ecs.list_tasks(cluster=CLUSTER)["taskArns"]
    world.wait_for(
        lambda: _of(world, "ecs.task.stopped", task_arn=stopped_by_hand["taskArn"]), timeout=10, what="stopped"
    )
    [stopping] = _of(world, "ecs.task.stopping", task_arn=stopped_by_hand["taskArn"])
    [stopped] = _of(world, "ecs.task.stopped", task_arn=stopped_by_hand["taskArn"])
    assert stopped["t"] - stopping["t"] >= 0.95  # the containers' stop time: 100 s -> 1 s
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[stopped_by_hand["taskArn"]])["tasks"]
    assert described["lastStatus"] in aws.STOPPED and described["stopCode"] == "UserInitiated"

    world.wait_for(lambda: _of(world, "ecs.task.stopped", task_arn=exits["taskArn"]), timeout=10, what="exited")
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[exits["taskArn"]])["tasks"]
    assert described["stopCode"] == "EssentialContainerExited" and described["lastStatus"] in aws.STOPPED
    # a stopped task reads DELETED a while after it stopped ("Task lifecycle"); the world's record stays
    world.wait_for(
        lambda: ecs.describe_tasks(cluster=CLUSTER, tasks=[exits["taskArn"]])["tasks"][0]["lastStatus"] == "DELETED",
        timeout=10,
        what="DELETED",
    )
    [running] = _of(world, "ecs.task.running", task_arn=exits["taskArn"])
    assert _of(world, "ecs.task.stopped", task_arn=exits["taskArn"])[0]["t"] - running["t"] >= 1.95


def test_the_service_configuration_is_in_the_event_log(world):
    world.configure(timescale=0.05)
    tg, clb = _service(world, instances=2, desired=1)
    world.client("ecs").update_service(cluster=CLUSTER, service="web", desiredCount=2)
    [created] = world.events("ecs.service.created")
    assert created["desired"] == 1 and created["minimum_healthy_percent"] == 100 and created["maximum_percent"] == 200
    assert created["target_groups"] == [tg] and created["load_balancers"] == [clb]
    [updated] = world.events("ecs.service.updated")
    assert updated["desired"] == 2 and updated["service"] == "web" and updated["cluster"] == CLUSTER


def test_load_balancers_deleted_under_the_service_no_longer_hold_the_old_task(world):
    world.configure(timescale=0.05, ecs={"task_start_seconds": 0})
    tg, clb = _service(world)
    busy = {e["instance_id"] for e in _of(world, "ecs.task.running")}
    [spare] = [i for i in _instance_ids(world).values() if i not in busy]
    world.configure(health={"failing_instances": [spare]})  # the replacement would never be healthy
    old, _ = _drain_one(world)
    world.wait_for(lambda: _of(world, "elbv2.target.registered", id=spare), timeout=10, what="replacement registered")
    assert not _of(world, "ecs.task.stopping", task_arn=old)
    delete_target_group(world, tg)
    world.client("elb").delete_load_balancer(LoadBalancerName=clb)
    world.wait_for(lambda: _of(world, "ecs.task.stopped", task_arn=old), timeout=10, what="old task stopped")
