"""Teardown as AWS does it (world.emulator.teardown): the group deleted, the cluster deleted, the agent cut off."""

from __future__ import annotations

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError

CLUSTER = "test-cluster"
GROUP = "test-cluster-asg"


def _error(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]


def _group_in_wait(world):
    """A group of two with a terminate hook, one instance in Terminating:Wait."""
    aws.asg(world, desired=2, cluster=CLUSTER)
    aws.terminate_hook(world, GROUP)
    asg = world.client("autoscaling")
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [wait] = world.wait_for(lambda: world.events("asg.lifecycle.wait"), what="the lifecycle action")
    return wait


def test_delete_group_needs_force_delete_while_it_has_instances(world):
    world.client("ecs").create_cluster(clusterName=CLUSTER)
    wait = _group_in_wait(world)
    asg = world.client("autoscaling")
    err = _error(asg.delete_auto_scaling_group, AutoScalingGroupName=GROUP)
    assert err["Code"] == "ResourceInUse"
    assert err["Message"] == (
        "You cannot delete an AutoScalingGroup while there are instances or pending Spot "
        "instance request(s) still in the group."
    )
    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)

    [done] = world.events("asg.lifecycle.completed")
    assert done["token"] == wait["token"] and done["result"] == "ABANDON" and done["by"] == "ForceDelete"
    terminated = world.events("asg.instance.terminated")
    assert len(terminated) == 2 and all(e["by"] == "ForceDelete" for e in terminated)
    assert world.events("asg.deleted")[0]["force"] is True
    assert aws.ec2_state(world, wait["instance_id"]) in ("shutting-down", "terminated")
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"] == []
    # the ECS agents were connected: ECS deregistered both container instances
    assert len(world.events("ecs.container_instance.inactive")) == 2

    not_found = f"AutoScalingGroup name not found - AutoScalingGroup {GROUP} not found"
    for call in (asg.complete_lifecycle_action, asg.record_lifecycle_action_heartbeat):
        kwargs = {
            "AutoScalingGroupName": GROUP,
            "LifecycleHookName": "ecsTermination",
            "LifecycleActionToken": wait["token"],
        }
        if call == asg.complete_lifecycle_action:
            kwargs["LifecycleActionResult"] = "CONTINUE"
        err = _error(call, **kwargs)
        assert err["Code"] == "ValidationError" and err["Message"] == not_found


def test_an_empty_group_is_deleted_without_force(world):
    aws.asg(world, name="empty", desired=0)
    world.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="empty")
    assert world.events("asg.deleted")[0] == {**world.events("asg.deleted")[0], "asg": "empty", "force": False}


def _cluster_with_service(world):
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    aws.asg(world, desired=2, cluster=CLUSTER)
    aws.web_task_definition(world)
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition="web", desiredCount=1, launchType="EC2")
    world.wait_for(lambda: world.events("ecs.task.running"), what="a running task")
    return ecs


def test_delete_cluster_waits_for_its_services_and_container_instances(world):
    ecs = _cluster_with_service(world)
    assert _error(ecs.delete_cluster, cluster=CLUSTER)["Code"] == "ClusterContainsContainerInstancesException"
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    for arn in arns:
        ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=arn, force=True)
    assert _error(ecs.delete_cluster, cluster=CLUSTER)["Code"] == "ClusterContainsServicesException"
    ecs.delete_service(cluster=CLUSTER, service="web", force=True)
    assert world.events("ecs.service.deleted")[0]["service"] == "web"
    ecs.delete_cluster(cluster=CLUSTER)
    assert world.events("ecs.cluster.deleted")[0]["cluster"] == CLUSTER

    [described] = ecs.describe_clusters(clusters=[CLUSTER])["clusters"]
    assert described["status"] == "INACTIVE"
    assert _error(ecs.list_tasks, cluster=CLUSTER)["Code"] == "ClusterNotFoundException"
    assert (
        _error(ecs.describe_container_instances, cluster=CLUSTER, containerInstances=arns)["Code"]
        == "ClusterNotFoundException"
    )


def test_a_disconnected_agent_keeps_its_tasks_running_and_its_record_after_termination(world):
    world.configure(ecs={"task_stop_seconds": 0})
    ecs = _cluster_with_service(world)
    [task] = [
        t for t in ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(cluster=CLUSTER)["taskArns"])["tasks"]
    ]
    [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[task["containerInstanceArn"]])[
        "containerInstances"
    ]
    instance = ci["ec2InstanceId"]
    cut = world.control("POST", "/_world/ecs/disconnect-agent", {"instance_id": instance})["disconnected"]
    assert cut == [ci["containerInstanceArn"]]
    assert world.events("ecs.container_instance.disconnected")[0]["by"] == "world"

    # draining: ECS wants the task stopped (desiredStatus STOPPED) but nobody reports it stopped
    ecs.update_container_instances_state(
        cluster=CLUSTER, containerInstances=[ci["containerInstanceArn"]], status="DRAINING"
    )
    world.wait_for(lambda: world.events("ecs.task.stopping"), what="the task stopping")
    world.wait_for(lambda: len(world.events("ecs.task.running")) >= 2, what="the replacement")
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task["taskArn"]])["tasks"]
    assert described["lastStatus"] == "RUNNING" and described["desiredStatus"] == "STOPPED"

    # terminated with its agent disconnected: ECS deregisters neither the instance nor its task
    world.client("ec2").terminate_instances(InstanceIds=[instance])
    [terminated] = world.events("ec2.instance.terminated")
    assert terminated["instance_id"] == instance and terminated["agent_connected"] is False
    [after] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[ci["containerInstanceArn"]])[
        "containerInstances"
    ]
    assert after["status"] == "DRAINING" and after["agentConnected"] is False
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task["taskArn"]])["tasks"]
    assert described["lastStatus"] == "RUNNING"
    assert not [e for e in world.events("ecs.task.stopped") if e["task_arn"] == task["taskArn"]]


def test_an_agent_back_from_a_blip_reports_the_tasks_that_stopped_meanwhile(world):
    world.configure(ecs={"task_stop_seconds": 0})
    ecs = _cluster_with_service(world)
    [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=ecs.list_tasks(cluster=CLUSTER)["taskArns"])["tasks"]
    arn = task["containerInstanceArn"]
    [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    body = {"instance_id": ci["ec2InstanceId"], "reconnect_after_seconds": 3}
    assert world.control("POST", "/_world/ecs/disconnect-agent", body)["disconnected"] == [arn]
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[arn], status="DRAINING")
    world.wait_for(lambda: world.events("ecs.task.stopping"), what="the task stopping")
    [described] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task["taskArn"]])["tasks"]
    assert described["lastStatus"] == "RUNNING" and described["desiredStatus"] == "STOPPED"

    # back: connected to its DRAINING record, and the task it could not report is STOPPED
    [back] = world.wait_for(lambda: world.events("ecs.container_instance.reconnected"), what="the agent back")
    assert back["by"] == "world" and back["status"] == "DRAINING"
    world.wait_for(
        lambda: [e for e in world.events("ecs.task.stopped") if e["task_arn"] == task["taskArn"]],
        what="the task reported stopped",
    )
    [after] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    assert after["status"] == "DRAINING" and after["agentConnected"] is True


def test_an_agent_does_not_come_back_on_a_terminated_instance(world):
    ecs = _cluster_with_service(world)
    arn = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"][0]
    [ci] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    body = {"instance_id": ci["ec2InstanceId"], "reconnect_after_seconds": 1}
    world.control("POST", "/_world/ecs/disconnect-agent", body)
    world.client("ec2").terminate_instances(InstanceIds=[ci["ec2InstanceId"]])
    world.wait_for(lambda: world.events("ecs.container_instance.not_reconnected"), what="the blip's end")
    assert not world.events("ecs.container_instance.reconnected")
    [after] = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[arn])["containerInstances"]
    assert after["agentConnected"] is False
