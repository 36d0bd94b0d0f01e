"""The ECS agent, service scheduler and container instance draining."""

from __future__ import annotations

import time

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

CLUSTER = "test-cluster"


def _cluster(world, instances=3, desired=2, delay=2, min_healthy=100, tg=True, bridge=False):
    """Cluster + ASG whose instances register through their user data, a service behind a target group."""
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    tg_arn = aws.target_group(world, delay=delay) if tg else None
    aws.asg(world, desired=instances, cluster=CLUSTER)
    aws.web_task_definition(world, bridge=bridge)
    kwargs = {}
    if tg_arn:
        kwargs["loadBalancers"] = [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}]
    ecs.create_service(
        cluster=CLUSTER,
        serviceName="web",
        taskDefinition="web",
        desiredCount=desired,
        launchType="EC2",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": min_healthy},
        **kwargs,
    )
    return tg_arn


def _tasks(world, **kwargs):
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, **kwargs)["taskArns"]
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else []


def _instance_of(world):
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    cis = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
    return {ci["containerInstanceArn"]: ci for ci in cis}


def _running(world):
    return [t for t in _tasks(world) if t["lastStatus"] == "RUNNING"]


def test_agent_registers_and_service_places_one_task_per_instance(world):
    tg = _cluster(world, instances=3, desired=2)
    cis = _instance_of(world)
    assert len(cis) == 3 and all(ci["status"] == "ACTIVE" and ci["agentConnected"] for ci in cis.values())
    running = world.wait_for(lambda: len(_running(world)) == 2 and _running(world), what="2 running tasks")
    assert len({t["containerInstanceArn"] for t in running}) == 2
    assert all(t["group"] == "service:web" and t["desiredStatus"] == "RUNNING" for t in running)
    ec2_ids = {cis[t["containerInstanceArn"]]["ec2InstanceId"] for t in running}
    health = world.client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {(h["Target"]["Id"], h["Target"]["Port"]) for h in health} == {(i, 8080) for i in ec2_ids}
    service = world.client("ecs").describe_services(cluster=CLUSTER, services=["web"])["services"][0]
    assert service["runningCount"] == 2 and service["desiredCount"] == 2

    # scale out beyond the instances: one per instance, then no room
    world.client("ecs").update_service(cluster=CLUSTER, service="web", desiredCount=4)
    world.wait_for(lambda: len(_running(world)) == 3, what="3 running tasks")
    world.wait_for(lambda: world.events("ecs.service.no_room"), what="no room event")
    events = world.client("ecs").describe_services(cluster=CLUSTER, services=["web"])["services"][0]["events"]
    assert "unable to place a task" in events[0]["message"]


def test_a_bridge_task_serves_on_an_ephemeral_host_port_its_network_bindings_show(world):
    tg = _cluster(world, instances=2, desired=2, bridge=True)
    running = world.wait_for(lambda: len(_running(world)) == 2 and _running(world), what="2 running tasks")
    cis = _instance_of(world)
    bound = set()
    for task in running:
        [container] = task["containers"]
        [binding] = container["networkBindings"]
        assert binding["containerPort"] == 8080 and 32768 <= binding["hostPort"] <= 60999, binding
        bound.add((cis[task["containerInstanceArn"]]["ec2InstanceId"], binding["hostPort"]))

    def registered():
        health = world.client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return {(h["Target"]["Id"], h["Target"]["Port"]) for h in health}

    assert world.wait_for(lambda: registered() == bound and bound, what="registered on the bound ports")


def test_a_host_network_task_shows_no_network_binding(world):
    _cluster(world, instances=1, desired=1)
    [task] = world.wait_for(lambda: _running(world), what="a running task")
    assert [c.get("networkBindings", []) for c in task["containers"]] == [[]]


def test_an_agent_registers_its_instance_once_booted_and_never_once_it_is_gone(world):
    world.configure(ecs={"agent_register_seconds": 1.5})
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=2, cluster=CLUSTER)
    launched = [e["instance_id"] for e in world.events("ecs.agent.late")]
    assert len(launched) == 2 and all(e["seconds"] == 1.5 for e in world.events("ecs.agent.late"))
    assert world.client("ecs").list_container_instances(cluster=CLUSTER)["containerInstanceArns"] == []  # booting
    world.client("ec2").terminate_instances(InstanceIds=launched[1:])
    # Auto Scaling replaces the terminated one: its agent starts after the first two's were due
    registered = world.wait_for(
        lambda: len(r := world.events("ecs.container_instance.registered")) == 2 and r, what="two registrations"
    )
    ids = [e["instance_id"] for e in registered]
    assert ids[0] == launched[0] and ids[1] not in launched  # the terminated one never registered
    assert {ci["status"] for ci in _instance_of(world).values()} == {"ACTIVE"}


def test_draining_replaces_the_task_then_stops_it_after_the_deregistration_delay(world):
    world.configure(timescale=0.01)  # deregistration delay 200 s -> 2 s
    tg = _cluster(world, instances=3, desired=2, delay=200)
    ecs = world.client("ecs")
    running = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))
    _wait_healthy(world, tg, 2)  # a task that is not healthy yet would not count: it could stop at once
    old = running[0]
    cis = _instance_of(world)
    old_instance = cis[old["containerInstanceArn"]]["ec2InstanceId"]
    # a standalone task on the same instance is not touched
    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    [standalone] = ecs.start_task(
        cluster=CLUSTER, taskDefinition="batch", containerInstances=[old["containerInstanceArn"]]
    )["tasks"]

    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[old["containerInstanceArn"]], status="DRAINING"
    )

    world.wait_for(lambda: world.events("ecs.task.stopped"), timeout=15, what="old task stopped")
    replacement_running = world.events("ecs.task.running")[-1]
    stopping = next(e for e in world.events("ecs.task.stopping") if e["task_arn"] == old["taskArn"])
    stopped = next(e for e in world.events("ecs.task.stopped") if e["task_arn"] == old["taskArn"])
    assert replacement_running["instance_id"] != old_instance
    assert replacement_running["t"] <= stopping["t"]  # min healthy 100 %: replacement first
    assert stopped["t"] - stopping["t"] >= 1.9  # the deregistration delay
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[old["taskArn"]])["tasks"]
    assert described["lastStatus"] in aws.STOPPED and described["desiredStatus"] == "STOPPED"
    health = elbv2_health(world, tg, old_instance)
    assert health == "unused"
    # the standalone task keeps running, the instance stays DRAINING
    [still] = ecs.describe_tasks(cluster=CLUSTER, tasks=[standalone["taskArn"]])["tasks"]
    assert still["lastStatus"] == "RUNNING" and still["desiredStatus"] == "RUNNING"
    assert _instance_of(world)[old["containerInstanceArn"]]["status"] == "DRAINING"
    assert len([t for t in _running(world) if t["group"] == "service:web"]) == 2


def test_without_a_load_balancer_a_replacement_counts_as_healthy_40_s_after_it_runs(world):
    world.configure(timescale=0.05)  # 40 s -> 2 s
    _cluster(world, instances=3, desired=2, tg=False)
    old = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))[0]
    first = max(e["t"] for e in world.events("ecs.task.running"))
    world.wait_for(lambda: time.time() - first >= 2.1, what="both tasks counted healthy")
    world.client("ecs").update_container_instances_state(
        cluster=CLUSTER, containerInstances=[old["containerInstanceArn"]], status="DRAINING"
    )
    world.wait_for(lambda: world.events("ecs.task.stopping"), timeout=15, what="old task stopping")
    replacement = world.events("ecs.task.running")[-1]
    stopping = next(e for e in world.events("ecs.task.stopping") if e["task_arn"] == old["taskArn"])
    assert stopping["t"] - replacement["t"] >= 1.9  # min healthy 100 %: the old task waits 40 s more


def _wait_healthy(world, tg, count):
    def healthy():
        found = world.client("elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return len([h for h in found if h["TargetHealth"]["State"] == "healthy"]) >= count

    world.wait_for(healthy, timeout=15, what=f"{count} healthy targets")


def elbv2_health(world, tg, instance_id):
    health = world.client("elbv2").describe_target_health(
        TargetGroupArn=tg, Targets=[{"Id": instance_id, "Port": 8080}]
    )
    return health["TargetHealthDescriptions"][0]["TargetHealth"]["State"]


def test_forced_deregistration_orphans_the_tasks_and_replaces_them(world):
    world.configure(timescale=0.01)  # deregistration delay 200 s -> 2 s
    tg = _cluster(world, instances=3, desired=2, delay=200)
    ecs = world.client("ecs")
    old = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))[0]
    ci_arn = old["containerInstanceArn"]
    instance = _instance_of(world)[ci_arn]["ec2InstanceId"]

    # without force, running tasks refuse the deregistration
    with pytest.raises(ClientError) as refused:
        ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=ci_arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"

    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=ci_arn, force=True)
    [orphaned] = world.events("ecs.task.orphaned")
    assert orphaned["task_arn"] == old["taskArn"] and orphaned["instance_id"] == instance
    # ECS no longer knows the instance; the task still shows RUNNING, unmanaged
    described = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[ci_arn])
    assert described["failures"][0]["reason"] == "MISSING"
    [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[old["taskArn"]])["tasks"]
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert cluster["registeredContainerInstancesCount"] == 2
    # it is taken out of its target group, which drains it; a replacement starts elsewhere
    assert elbv2_health(world, tg, instance) == "draining"
    world.wait_for(lambda: elbv2_health(world, tg, instance) == "unused", timeout=15, what="target unused")
    world.wait_for(lambda: len(world.events("ecs.task.running")) == 3, timeout=15, what="replacement running")
    replacement = world.events("ecs.task.running")[-1]
    assert replacement["instance_id"] != instance
    service = ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]
    assert service["runningCount"] == 2 and service["desiredCount"] == 2
    assert not world.events("ecs.task.stopping")


def test_forced_deregistration_leaves_an_orphans_network_load_balancer_registration(world):
    # force: "Any containers in orphaned service tasks that are registered with a Classic Load
    # Balancer or an Application Load Balancer target group are deregistered": no NLB named
    world.configure(timescale=0.01, elbv2={"nlb_registration_seconds": 100})
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    alb = aws.target_group(world, name="web-alb", delay=200)
    nlb = aws.target_group(world, name="web-nlb", protocol="TCP", port=8080, delay=200)
    aws.asg(world, desired=3, cluster=CLUSTER)
    aws.web_task_definition(world)
    ecs.create_service(
        cluster=CLUSTER,
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        launchType="EC2",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
        loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080} for tg in (alb, nlb)],
    )
    old = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))[0]
    instance = _instance_of(world)[old["containerInstanceArn"]]["ec2InstanceId"]
    world.wait_for(
        lambda: {elbv2_health(world, tg, instance) for tg in (alb, nlb)} == {"healthy"},
        timeout=15,
        what="healthy in both groups",
    )

    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=old["containerInstanceArn"], force=True)
    assert elbv2_health(world, alb, instance) == "draining"
    assert elbv2_health(world, nlb, instance) == "healthy"
    world.wait_for(lambda: len(world.events("ecs.task.running")) == 3, timeout=15, what="replacement running")
    assert elbv2_health(world, nlb, instance) == "healthy", "nobody takes it out"


def test_with_awsvpc_trunking_a_new_container_instance_is_registering_until_its_trunk_is_provisioned(world):
    world.configure(timescale=0.01, ecs={"trunk_provision_seconds": 300})  # 3 s
    _cluster(world, instances=2, desired=2, tg=False)
    ecs = world.client("ecs")
    world.wait_for(lambda: len(_running(world)) == 2, what="2 running tasks")
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled")
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName="test-cluster-asg", DesiredCapacity=3)
    [new] = world.wait_for(
        lambda: [ci for ci in _instance_of(world).values() if ci["status"] == "REGISTERING"], what="REGISTERING"
    )
    arn = new["containerInstanceArn"]
    # ECS takes DRAINING only from ACTIVE
    with pytest.raises(ClientError) as refused:
        ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[arn], status="DRAINING")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    ecs.update_service(cluster=CLUSTER, service="web", desiredCount=3)
    world.wait_for(lambda: _instance_of(world)[arn]["runningTasksCount"] == 1, timeout=10, what="its task")
    [registering] = world.events("ecs.container_instance.registering")
    [active] = world.events("ecs.container_instance.active")
    [placed] = [e for e in world.events("ecs.task.pending") if e["instance_id"] == new["ec2InstanceId"]]
    # nothing is placed on it until it is ACTIVE, and the service's task comes then
    assert registering["container_instance"] == active["container_instance"] == arn
    assert registering["seq"] < active["seq"] < placed["seq"]


def test_stopping_task_leaves_list_tasks_at_once_and_deactivates_uncounted(world):
    world.configure(timescale=0.01, ecs={"task_stop_seconds": 200})
    _cluster(world, instances=3, desired=2, delay=300, min_healthy=0)
    ecs = world.client("ecs")
    old = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))[0]
    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[old["containerInstanceArn"]], status="DRAINING"
    )
    world.wait_for(lambda: world.events("ecs.task.stopping"), what="stopping")
    assert (
        old["taskArn"] not in ecs.list_tasks(cluster=CLUSTER, containerInstance=old["containerInstanceArn"])["taskArns"]
    )
    assert old["taskArn"] in ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[old["taskArn"]])["tasks"]
    assert described["lastStatus"] == "DEACTIVATING" and described["desiredStatus"] == "STOPPED"
    # ECS counts only RUNNING and PENDING tasks: not this one while its load balancers drain...
    arn = old["containerInstanceArn"]

    def counted() -> int:
        [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
        return ci["runningTasksCount"] + ci["pendingTasksCount"]

    assert counted() == 0
    # but it has not stopped: an unforced deregistration is refused all the same
    with pytest.raises(ClientError) as refused:
        ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    # ...nor while its containers stop (the 300 s delay, then 200 s of stop time, at 1/100)
    world.wait_for(
        lambda: ecs.describe_tasks(cluster=CLUSTER, tasks=[old["taskArn"]])["tasks"][0]["lastStatus"] == "STOPPING",
        what="its containers stopping",
    )
    assert counted() == 0
    world.wait_for(lambda: world.events("ecs.task.stopped"), what="stopped")


def test_no_spare_instance_means_the_task_is_never_replaced_at_100_percent(world):
    world.configure(timescale=0.01)
    tg = _cluster(world, instances=2, desired=2, delay=10)
    ecs = world.client("ecs")
    old = world.wait_for(lambda: len(_running(world)) == 2 and _running(world))[0]
    _wait_healthy(world, tg, 2)
    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[old["containerInstanceArn"]], status="DRAINING"
    )
    world.wait_for(lambda: world.events("ecs.service.no_room"), what="no room")
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[old["taskArn"]])["tasks"]
    assert described["desiredStatus"] == "RUNNING" and described["lastStatus"] == "RUNNING"


def test_list_container_instances_filter_status_and_termination(world):
    _cluster(world, instances=2, desired=0, tg=False)
    ecs = world.client("ecs")
    cis = _instance_of(world)
    arn, ci = next(iter(cis.items()))
    found = ecs.list_container_instances(cluster=CLUSTER, filter=f"ec2InstanceId == {ci['ec2InstanceId']}")
    assert found["containerInstanceArns"] == [arn]
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[arn], status="DRAINING")
    assert ecs.list_container_instances(cluster=CLUSTER, status="DRAINING")["containerInstanceArns"] == [arn]
    assert arn not in ecs.list_container_instances(cluster=CLUSTER, status="ACTIVE")["containerInstanceArns"]
    with pytest.raises(ClientError) as err:
        ecs.list_container_instances(cluster=CLUSTER, filter="task:group == service:web")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    world.client("ec2").terminate_instances(InstanceIds=[ci["ec2InstanceId"]])
    [gone] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    assert gone["status"] == "INACTIVE" and gone["agentConnected"] is False
    assert arn not in ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    assert ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["registeredContainerInstancesCount"] >= 1


def test_scale_in_drain_complete_makes_the_container_instance_inactive(world):
    world.configure(timescale=0.01)
    _cluster(world, instances=3, desired=2, delay=100)
    aws.terminate_hook(world, "test-cluster-asg")
    ecs = world.client("ecs")
    asg = world.client("autoscaling")
    world.wait_for(lambda: len(_running(world)) == 2)
    asg.set_desired_capacity(AutoScalingGroupName="test-cluster-asg", DesiredCapacity=2)
    [victim] = world.wait_for(
        lambda: [i for i, s in aws.instances(world, "test-cluster-asg").items() if s == "Terminating:Wait"]
    )
    [ci_arn] = ecs.list_container_instances(cluster=CLUSTER, filter=f"ec2InstanceId == {victim}")[
        "containerInstanceArns"
    ]
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[ci_arn], status="DRAINING")
    world.wait_for(
        lambda: (
            not ecs.list_tasks(cluster=CLUSTER, containerInstance=ci_arn)["taskArns"]
            and all(
                t["lastStatus"] in aws.STOPPED for t in _tasks(world, containerInstance=ci_arn, desiredStatus="STOPPED")
            )
        ),
        timeout=15,
        what="victim drained",
    )
    aws.proceed(world, "test-cluster-asg", victim)
    [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[ci_arn])["containerInstances"]
    assert ci["status"] == "INACTIVE" and ci["agentConnected"] is False
    assert aws.ec2_state(world, victim) == "terminated"
    world.wait_for(lambda: len(_running(world)) == 2, what="service back to 2")
    assert all(t["containerInstanceArn"] != ci_arn for t in _running(world))


def test_a_task_just_started_is_listed_and_described_only_after_their_lags(world):
    """ListTasks shows a task ``ecs.list_lag_seconds`` after it started, DescribeTasks knows it only
    ``ecs.describe_lag_seconds`` after (a failure, reason MISSING, meanwhile, as for a task it never
    knew): the ECS API is eventually consistent. The world's harness lists and describes it at once."""
    world.configure(timescale=0.01, ecs={"list_lag_seconds": 100, "describe_lag_seconds": 500})  # 1 s, 5 s
    ecs = world.client("ecs")
    reader = world.client("ecs", user_agent_extra="the-product")  # not the harness
    ecs.create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=1, cluster=CLUSTER)
    [ci] = world.wait_for(lambda: ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"])
    ecs.register_task_definition(family="batch", containerDefinitions=[{"name": "b", "image": "x", "memory": 64}])
    [task] = ecs.start_task(cluster=CLUSTER, taskDefinition="batch", containerInstances=[ci])["tasks"]
    arn = task["taskArn"]
    assert reader.list_tasks(cluster=CLUSTER)["taskArns"] == []
    assert ecs.list_tasks(cluster=CLUSTER)["taskArns"] == [arn]  # the harness
    world.wait_for(lambda: reader.list_tasks(cluster=CLUSTER)["taskArns"] == [arn], timeout=10, what="listed")
    answer = reader.describe_tasks(cluster=CLUSTER, tasks=[arn])
    assert answer["tasks"] == [] and answer["failures"] == [{"arn": arn, "reason": "MISSING"}]
    assert [(e["cluster"], e["task_arn"]) for e in world.events("ecs.task.described_missing")] == [(CLUSTER, arn)]
    [seen] = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]  # the harness
    assert seen["taskArn"] == arn
    world.wait_for(lambda: reader.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"], timeout=15, what="described")
    unknown = arn.rsplit("/", 1)[0] + "/00000000000000000000000000000000"
    answer = reader.describe_tasks(cluster=CLUSTER, tasks=[unknown, arn])
    assert [t["taskArn"] for t in answer["tasks"]] == [arn]
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]
