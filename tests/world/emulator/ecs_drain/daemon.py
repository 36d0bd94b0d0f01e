"""The DAEMON service scheduler (AWS: Amazon ECS Developer Guide, "Daemon scheduling strategy",
"Draining Amazon ECS container instances", "Safely stop Amazon ECS workloads running on EC2
instances"; API reference of CreateService, UpdateService and DeploymentConfiguration).

* One task of the service on each ACTIVE container instance with a connected agent, where it fits
  (moto's CPU, memory and port check; the world's services have no placement constraints); none
  on a DRAINING instance ("The daemon service scheduler doesn't place any tasks on instances that
  have a DRAINING status"); an instance that joins gets one ("monitors when new container
  instances are added to your cluster and adds the daemon tasks to them"), within maximumPercent:
  no more of its tasks RUNNING or PENDING than its desired count, so while a draining instance's
  daemon task is still stopping a new instance waits for its own ("an upper limit on the number of
  your service's tasks that are allowed in the RUNNING or PENDING state").
* First to launch: the scheduler places the daemon services' tasks before the replica services'
  ("the daemon task is the first task to launch on the instances").
* Last to stop: on a DRAINING instance a PENDING daemon task stops at once ("Any tasks that are
  part of a service that are in a PENDING state are stopped immediately"); a RUNNING one (deregistered
  and drained like any service task) only once every other task there has stopped ("the last task
  to stop after all replica tasks are stopped"), and while the service keeps minimumHealthyPercent
  of its desired count healthy, as a replica service does. AWS does not say whether a standalone
  task holds it: the world takes the harsher reading, it does.
* The desired count is the scheduler's: the instances the service runs on (ACTIVE, agent
  connected; AWS documents no figure). A desired count in CreateService or UpdateService is refused
  (InvalidParameterException "The daemon scheduling strategy does not support a desired count for
  services. Remove the desired count value and try again", as ECS answers), and so is a
  maximumPercent above 100 (ECS's wording) or below ("the value for the maximumPercent parameter
  must be 100"; the world's wording); minimumHealthyPercent defaults to 0.
"""

from __future__ import annotations

import math
from typing import Any

from moto.ecs.exceptions import InvalidParameterException
from world.emulator import core
from world.emulator.ecs_drain.cluster_state import _ci_of, _orphaned, _service_tasks, _tasks, _tasks_on
from world.emulator.ecs_drain.tasks import _start_task, _stop_task, _task_healthy

STRATEGY = "DAEMON"
DEFAULT_DEPLOYMENT = {"maximumPercent": 100, "minimumHealthyPercent": 0}
NO_DESIRED_COUNT = (
    "The daemon scheduling strategy does not support a desired count for services. "
    "Remove the desired count value and try again"
)


def is_daemon(service: Any) -> bool:
    return service.scheduling_strategy == STRATEGY


def validate(desired_count: Any, deployment: dict[str, Any] | None) -> None:
    """CreateService / UpdateService of a daemon service: no desired count, maximumPercent 100."""
    if desired_count is not None:
        raise InvalidParameterException(NO_DESIRED_COUNT)
    maximum = (deployment or {}).get("maximumPercent")
    if maximum is not None and int(maximum) > 100:
        raise InvalidParameterException(
            "The daemon scheduling strategy does not support values above 100 for maximumPercent on a "
            "deployment configuration. Change the maximumPercent value to 100, and try again"
        )
    if maximum is not None and int(maximum) < 100:
        raise InvalidParameterException("The maximumPercent of a daemon service must be 100.")


def reconcile(backend: Any, service: Any) -> None:
    cluster_name = service.cluster_name
    active = service.status == "ACTIVE"
    eligible = [
        ci
        for ci in backend.container_instances.get(cluster_name, {}).values()
        if ci.status == "ACTIVE" and ci.agent_connected
    ]
    service.desired_count = len(eligible) if active else 0
    tasks = _service_tasks(backend, service)
    if active:
        _place(backend, service, eligible, {t.container_instance_arn for t in tasks})
    config = getattr(service, "deployment_configuration", None) or DEFAULT_DEPLOYMENT
    min_healthy = math.ceil(service.desired_count * int(config.get("minimumHealthyPercent", 0)) / 100)
    healthy = [t for t in tasks if _task_healthy(backend, t)]
    for task in tasks:
        ci = _ci_of(backend, cluster_name, task)
        if not active:
            _stop_task(backend, cluster_name, task, f"Service {service.name} was deleted")
            continue
        if ci is None or ci.status == "ACTIVE":
            continue
        if task.last_status == "RUNNING" and _others_left(backend, cluster_name, ci):
            continue
        if task in healthy and len(healthy) - 1 < min_healthy:
            continue
        _stop_task(backend, cluster_name, task, f"Service {service.name}: container instance is in DRAINING state")
        if task in healthy:
            healthy.remove(task)


def _place(backend: Any, service: Any, eligible: list[Any], hosts: set[str]) -> None:
    """A task on each eligible instance without one, while fewer than the desired count run or are
    pending (maximumPercent 100: a draining instance's task that has not stopped yet counts)."""
    room = service.desired_count - len(
        [
            t
            for t in _tasks(backend, service.cluster_name)
            if getattr(t, "_world_service", None) == service.name and t.last_status != "STOPPED" and not _orphaned(t)
        ]
    )
    task_definition = backend.describe_task_definition(service.task_definition)
    requirements = backend._calculate_task_resource_requirements(task_definition)
    for ci in eligible:
        if room <= 0:
            return
        if ci.container_instance_arn in hosts:
            continue
        if backend._can_be_placed(ci, requirements):
            _start_task(backend, service, task_definition, ci)
            room -= 1
        else:
            core.record("ecs.service.no_room", cluster=service.cluster_name, service=service.name, missing=1)


def _others_left(backend: Any, cluster_name: str, ci: Any) -> bool:
    """A task of a replica service, or a standalone one, on the instance that has not stopped yet."""
    daemons = {s.name for s in backend.services.values() if s.cluster_name == cluster_name and is_daemon(s)}
    return any(
        task.last_status != "STOPPED" and getattr(task, "_world_service", None) not in daemons and not _orphaned(task)
        for task in _tasks_on(backend, cluster_name, ci)
    )
