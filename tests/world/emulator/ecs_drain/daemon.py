"""The DAEMON service scheduler (AWS: Amazon ECS Developer Guide, "Daemon scheduling strategy";
API reference of CreateService and UpdateService).

* One task of the service on each ACTIVE container instance with a connected agent, where it fits
  (moto's CPU, memory and port check; the world's services have no placement constraints); none
  on a DRAINING instance ("The daemon service scheduler doesn't place any tasks on instances that
  have a DRAINING status"); an instance that joins gets one ("monitors when new container
  instances are added to your cluster and adds the daemon tasks to them").
* First to launch: the scheduler places the daemon services' tasks before the replica services'
  ("the daemon task is the first task to launch on the instances").
* Last to stop: on a DRAINING instance, the daemon task stops (deregistered and drained like any
  service task) only once every replica service task there has stopped ("the last task to stop
  after all replica tasks are stopped"). Standalone tasks are not replica tasks and do not hold it.
* The desired count is the scheduler's: the instances the service runs on (ACTIVE, agent
  connected). A desired count in CreateService or UpdateService is refused
  (InvalidParameterException "The daemon scheduling strategy does not support a desired count for
  services. Remove the desired count value and try again", the error AWS answers), and so is a
  maximumPercent other than 100 ("the value for the maximumPercent parameter must be 100");
  minimumHealthyPercent defaults to 0.
"""

from __future__ import annotations

from typing import Any

from moto.ecs.exceptions import InvalidParameterException
from world.emulator import core
from world.emulator.ecs_drain.cluster_state import _ci_of, _orphaned, _service_tasks, _tasks_on
from world.emulator.ecs_drain.tasks import _start_task, _stop_task

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
    if maximum is not None and int(maximum) != 100:
        raise InvalidParameterException(
            "The maximumPercent of a service with the daemon scheduling strategy must be 100."
        )


def reconcile(backend: Any, service: Any) -> None:
    cluster_name = service.cluster_name
    active = service.status == "ACTIVE"
    eligible = [
        ci
        for ci in backend.container_instances.get(cluster_name, {}).values()
        if ci.status == "ACTIVE" and ci.agent_connected
    ]
    tasks = _service_tasks(backend, service)
    hosts = {t.container_instance_arn for t in tasks}
    if active:
        task_definition = backend.describe_task_definition(service.task_definition)
        requirements = backend._calculate_task_resource_requirements(task_definition)
        for ci in eligible:
            if ci.container_instance_arn in hosts:
                continue
            if backend._can_be_placed(ci, requirements):
                _start_task(backend, service, task_definition, ci)
            else:
                core.record("ecs.service.no_room", cluster=cluster_name, service=service.name, missing=1)
    service.desired_count = len(eligible) if active else 0
    for task in tasks:
        ci = _ci_of(backend, cluster_name, task)
        if not active:
            _stop_task(backend, cluster_name, task, f"Service {service.name} was deleted")
        elif ci is not None and ci.status != "ACTIVE" and not _replica_tasks_left(backend, cluster_name, ci):
            _stop_task(backend, cluster_name, task, f"Service {service.name}: container instance is in DRAINING state")


def _replica_tasks_left(backend: Any, cluster_name: str, ci: Any) -> bool:
    """A replica service's task on the instance that has not stopped yet."""
    services = {s.name: s for s in backend.services.values() if s.cluster_name == cluster_name}
    for task in _tasks_on(backend, cluster_name, ci):
        service = services.get(getattr(task, "_world_service", None))
        if service is None or is_daemon(service) or _orphaned(task):
            continue
        if task.last_status != "STOPPED":
            return True
    return False
