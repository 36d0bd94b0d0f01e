"""world.run up to its scale-in: the service steady, the scenario's failing instances and
standalone tasks, the Classic ELB registrations before (they have no event), and the scale-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from world.deploy import Deployment
from world.harness import World, asg_instances, lb_health, running_tasks, wait_for, wait_steady


def container_instances(world: World, dep: Deployment) -> list[dict[str, Any]]:
    """The cluster's container instances, described."""
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=dep.cluster)["containerInstanceArns"]
    if not arns:
        return []
    return ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"]


def prepare(world: World, dep: Deployment, sc: dict[str, Any], out: Callable[[str], None]) -> dict[str, list[str]]:
    """Before the scale-in: no registration still in its initial health checks (a steady service), then
    the scenario's failing instances (unhealthy in every load balancer they are in) and standalone
    tasks, and the late service task. The instances ``scale_in.pick`` can name:
    {"failing": [...], "with_standalone": [...], "with_late_task": [...]}."""
    wait_steady(world, dep)
    cis = container_instances(world, dep)
    ec2_of = {ci["containerInstanceArn"]: ci["ec2InstanceId"] for ci in cis}
    hosts = list(dict.fromkeys(t["containerInstanceArn"] for t in running_tasks(world, dep)))
    busy = [ec2_of[arn] for arn in hosts if arn in ec2_of]
    picked: dict[str, list[str]] = {"failing": [], "with_standalone": [], "with_late_task": []}

    failing = sc["failing_instances"]
    if failing["pick"] != "none":
        pool = {"spare": [i for i in ec2_of.values() if i not in busy], "with_task": busy}[failing["pick"]]
        ids = sorted(pool)[: int(failing["count"])]
        world.configure(health={"failing_instances": ids})
        out(f"health checks fail from now on for {ids} ({failing['pick']})")
        wait_for(
            lambda: all(state == "unhealthy" for i in ids for state in lb_health(world, dep).get(i, {}).values()),
            60,
            "the failing instances unhealthy",
            every=0.5,
        )
        picked["failing"] = ids

    standalone = sc["standalone_tasks"]
    if int(standalone["count"]):
        world.configure(ecs={"standalone_task_seconds": standalone["run_seconds"]})
        family = f"{dep.prefix}-batch"
        ecs = world.client("ecs")
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "batch", "image": "busybox", "memory": 64}]
        )
        for arn in hosts[: int(standalone["count"])]:
            ecs.start_task(cluster=dep.cluster, taskDefinition=family, containerInstances=[arn], startedBy="scenario")
            picked["with_standalone"].append(ec2_of[arn])
        ends = (
            f"exits after {standalone['run_seconds']}s"
            if standalone["run_seconds"] is not None
            else "runs until stopped"
        )
        out(f"standalone task {family} on {picked['with_standalone']} ({ends})")

    if sc["late_service_task"]:
        picked["with_late_task"] = [late_service_task(world, dep, busy, out)]
    return picked


def late_service_task(world: World, dep: Deployment, busy: list[str], out: Callable[[str], None]) -> str:
    """The service's desired count up by one: ECS places the new task on an instance that had
    none. Once it serves in every load balancer of the service, that instance."""
    ecs = world.client("ecs")
    service = ecs.describe_services(cluster=dep.cluster, services=[dep.service])["services"][0]
    ecs.update_service(cluster=dep.cluster, service=dep.service, desiredCount=service["desiredCount"] + 1)
    instance = wait_for(
        lambda: next(
            (
                ci["ec2InstanceId"]
                for ci in container_instances(world, dep)
                if ci["ec2InstanceId"] not in busy and ci["runningTasksCount"]
            ),
            None,
        ),
        30,
        "the new service task placed",
        every=0.2,
    )
    wait_for(
        lambda: (
            len(lbs := lb_health(world, dep).get(instance, {})) == len(dep.classic) + len(dep.target_groups)
            and all(state == "healthy" for state in lbs.values())
        ),
        30,
        "the new service task healthy in every load balancer",
        every=0.2,
    )
    out(
        f"service {dep.service} desired {service['desiredCount']} -> {service['desiredCount'] + 1}: its new task serves on {instance}"
    )
    return instance


def classic_registrations(world: World, dep: Deployment) -> set[tuple[str, str]]:
    """(load balancer, instance) of every Classic ELB registration (Classic ELB registrations have no event)."""
    return {
        (name, h["InstanceId"])
        for name in dep.classic
        for h in world.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"]
    }


def scale_in(
    world: World, dep: Deployment, sc: dict[str, Any], prepared: dict[str, list[str]], out: Callable[[str], None]
) -> list[str]:
    """The scenario's scale-in (``scale_in.count`` by lowering the desired capacity, or the instances
    ``scale_in.pick`` names terminated through Auto Scaling); the instances it took out."""
    autoscaling = world.client("autoscaling")
    count = int(sc["scale_in"]["count"])
    pick = sc["scale_in"].get("pick", "policy")
    before = asg_instances(world, dep)
    if count == 0:
        out("no scale-in")
        return []
    if pick == "policy":
        autoscaling.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=len(before) - count)
        out(f"scale in: {dep.asg} desired {len(before)} -> {len(before) - count}")
    else:
        cis = container_instances(world, dep)
        in_ecs = {ci["ec2InstanceId"] for ci in cis}
        with_task = {ci["ec2InstanceId"] for ci in cis if ci["runningTasksCount"]}
        pool = {
            "unregistered": [i for i in before if i not in in_ecs],
            "registering": [ci["ec2InstanceId"] for ci in cis if ci["status"] == "REGISTERING"],
            "with_task": [i for i in before if i in with_task],
            **prepared,
        }[pick]
        for instance in pool[:count]:
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=instance, ShouldDecrementDesiredCapacity=True
            )
            out(f"scale in: TerminateInstanceInAutoScalingGroup {instance} ({pick})")
    victims = wait_for(
        lambda: (
            [i for i, s in asg_instances(world, dep).items() if s.startswith("Terminating")]
            or [i for i in before if i not in asg_instances(world, dep)]
        ),
        10,
        "victims",
    )
    return sorted(victims)
