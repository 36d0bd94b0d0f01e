"""The cluster as the service scheduler sees it: its tasks and container instances, the counts
ECS reports (cluster, container instance, service and its deployment), and the trigger that makes
the scheduler look again (world.emulator.ecs_drain.service_scheduler).
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.ecs import models as ecs_models
from world.emulator import core


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _backend(account: str, region: str) -> Any:
    return ecs_models.ecs_backends[account][region]


def _tasks(backend: Any, cluster: str) -> list[Any]:
    return list(backend.tasks.get(cluster, {}).values())


def _ci_of(backend: Any, cluster: str, task: Any) -> Any:
    if not task.container_instance_arn:
        return None
    return backend.container_instances.get(cluster, {}).get(task.container_instance_arn.split("/")[-1])


def _tasks_on(backend: Any, cluster: str, ci: Any) -> list[Any]:
    return [t for t in _tasks(backend, cluster) if t.container_instance_arn == ci.container_instance_arn]


def _service_tasks(backend: Any, service: Any) -> list[Any]:
    """The tasks the scheduler manages for the service (orphaned ones are no longer its own)."""
    return [
        t
        for t in _tasks(backend, service.cluster_name)
        if getattr(t, "_world_service", None) == service.name and t.desired_status == "RUNNING" and not _orphaned(t)
    ]


def _orphaned(task: Any) -> bool:
    return getattr(task, "_world_orphaned", False)


def _refresh_counts(backend: Any, cluster_name: str) -> None:
    tasks = [t for t in _tasks(backend, cluster_name) if t.last_status != "STOPPED" and not _orphaned(t)]
    cluster = backend.clusters.get(cluster_name)
    if cluster is not None:
        cluster.running_tasks_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        cluster.pending_tasks_count = sum(1 for t in tasks if t.last_status == "PENDING")
    for ci in backend.container_instances.get(cluster_name, {}).values():
        mine = [t for t in tasks if t.container_instance_arn == ci.container_instance_arn]
        ci.running_tasks_count = sum(1 for t in mine if t.last_status == "RUNNING")
        ci.pending_tasks_count = sum(1 for t in mine if t.last_status == "PENDING")
    for service in backend.services.values():
        if service.cluster_name != cluster_name:
            continue
        mine = [t for t in tasks if getattr(t, "_world_service", None) == service.name]
        service.running_count = sum(1 for t in mine if t.last_status == "RUNNING")
        service.pending_count = sum(1 for t in mine if t.last_status == "PENDING")
        for deployment in service.deployments[:1]:
            deployment["runningCount"] = service.running_count
            deployment["pendingCount"] = service.pending_count
            deployment["desiredCount"] = service.desired_count
            done = service.running_count == service.desired_count and service.pending_count == 0
            deployment["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"


def _schedule_reconcile(backend: Any, cluster_name: str) -> None:
    """The service scheduler looks at the cluster's services again, once, on the timer thread."""
    from world.emulator.ecs_drain.service_scheduler import _reconcile

    key = f"_world_reconcile_{cluster_name}"
    if getattr(backend, key, False):
        return
    setattr(backend, key, True)

    def run() -> None:
        setattr(backend, key, False)
        # the daemon services first: their tasks are "the first task to launch on the instances"
        services = [s for s in backend.services.values() if s.cluster_name == cluster_name]
        for service in sorted(services, key=lambda s: s.scheduling_strategy != "DAEMON"):
            _reconcile(backend, service)
        _refresh_counts(backend, cluster_name)

    core.after(0, run, name="ecs-scheduler")
