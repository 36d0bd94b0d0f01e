"""Scenario actions that tear things down under a drain (tests/scenarios/README.md): the group
deleted, the cluster deleted, the ECS agent cut off. world.run calls ``act`` mid-drain; the AWS
behaviours are the world's (world.emulator.teardown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

KINDS = ("delete_asg", "delete_cluster", "disconnect_agent")


def disconnect(
    world: Any, instances: list[str], out: Callable[[str], None], reconnect_after: float | None = None
) -> None:
    """The ECS agent of each instance stops talking to ECS, for good or (``reconnect_after``
    AWS seconds) for a blip."""
    body: dict[str, Any] = {} if reconnect_after is None else {"reconnect_after_seconds": reconnect_after}
    for instance in instances:
        cut = world.control("POST", "/_world/ecs/disconnect-agent", {"instance_id": instance, **body})["disconnected"]
        back = "" if reconnect_after is None else f", back {reconnect_after:g} s later"
        out(f"mid-drain: the ECS agent of {instance} disconnected ({len(cut)} container instance(s){back})")


def _refused(call: Callable[[], Any], code: str, out: Callable[[str], None], what: str) -> None:
    """``call`` must fail with ``code`` (as AWS refuses it); a violation-worthy surprise raises."""
    try:
        call()
    except ClientError as err:
        got = err.response["Error"]["Code"]
        if got != code:
            raise
        out(f"mid-drain: {what} refused: {got}: {err.response['Error']['Message']}")
        return
    raise AssertionError(f"{what} was not refused with {code}")


def delete_asg(world: Any, dep: Any, action: dict[str, Any], out: Callable[[str], None]) -> None:
    """DeleteAutoScalingGroup: refused while the group has instances, then with ForceDelete
    (``force``, default true)."""
    asg = world.client("autoscaling")
    _refused(
        lambda: asg.delete_auto_scaling_group(AutoScalingGroupName=dep.asg),
        "ResourceInUse",
        out,
        f"DeleteAutoScalingGroup {dep.asg}",
    )
    if action.get("force", True):
        asg.delete_auto_scaling_group(AutoScalingGroupName=dep.asg, ForceDelete=True)
        out(
            f"mid-drain: DeleteAutoScalingGroup {dep.asg} ForceDelete (its instances terminate, its lifecycle "
            "actions are abandoned)"
        )


def delete_cluster(world: Any, dep: Any, action: dict[str, Any], out: Callable[[str], None]) -> None:
    """The cluster torn down under the drain: DeleteCluster (refused while container instances are
    registered), DeregisterContainerInstance (force) of every container instance (their running
    tasks are orphaned), DeleteService (force), DeleteCluster again until ECS takes it (at most
    ``wait_seconds``, default 30)."""
    ecs = world.client("ecs")
    _refused(
        lambda: ecs.delete_cluster(cluster=dep.cluster),
        "ClusterContainsContainerInstancesException",
        out,
        f"DeleteCluster {dep.cluster}",
    )
    arns = [
        a
        for page in ecs.get_paginator("list_container_instances").paginate(cluster=dep.cluster)
        for a in page["containerInstanceArns"]
    ]
    for arn in arns:
        ecs.deregister_container_instance(cluster=dep.cluster, containerInstance=arn, force=True)
    out(f"mid-drain: DeregisterContainerInstance (force) of {len(arns)} container instance(s)")
    ecs.delete_service(cluster=dep.cluster, service=dep.service, force=True)
    out(f"mid-drain: DeleteService {dep.service} (force)")
    deadline = time.monotonic() + float(action.get("wait_seconds", 30))
    while True:
        try:
            ecs.delete_cluster(cluster=dep.cluster)
            out(f"mid-drain: DeleteCluster {dep.cluster}")
            return
        except ClientError as err:
            if not err.response["Error"]["Code"].startswith("ClusterContains") or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def act(world: Any, dep: Any, victims: list[str], action: dict[str, Any], out: Callable[[str], None]) -> None:
    kind = action["type"]
    if kind == "delete_asg":
        delete_asg(world, dep, action, out)
    elif kind == "delete_cluster":
        delete_cluster(world, dep, action, out)
    elif kind == "disconnect_agent":
        disconnect(world, victims, out, action.get("reconnect_after_seconds"))
