"""The ECS service scheduler (REPLICA, EC2 launch type; DAEMON: world.emulator.ecs_drain.daemon) and container instance draining (AWS docs:
"Service scheduler concepts", "Deployment configuration: minimumHealthyPercent / maximumPercent",
"Container instance draining").

* The service scheduler (REPLICA, EC2 launch type): CreateService /
  UpdateService place tasks, at most one per container instance ("an instance
  has room if it runs no task of that service" and moto's CPU/memory/port
  check), only on ACTIVE instances with a connected agent. A task is PENDING
  for ``ecs.task_start_seconds`` then RUNNING, and is then registered in the
  service's target groups (instance id + host port) and Classic ELBs (the
  instance), where it starts health checking. When no instance has room the
  service records the "unable to place a task" event.
* Draining: UpdateContainerInstancesState(DRAINING) makes the scheduler
  replace the service tasks on that instance: PENDING ones stop at once;
  RUNNING ones are replaced within maximumPercent, and stopped while the
  service keeps minimumHealthyPercent of its desired count healthy. A task of
  a service with load balancers is healthy only once it is healthy in every
  one of them (its targets ``healthy``, its Classic ELB instance InService;
  world.emulator.lb_drain runs the health checks), so at 100 % the old task stops only
  after its replacement passed the health checks, and a replacement that
  never does keeps the old task running ("Deployment configuration",
  "Service load balancing": "a task is considered healthy when it passes the
  load balancer health check"). A draining task that is not healthy does not
  count and stops at once. A stopping task gets desiredStatus STOPPED at once,
  is deregistered from all its load balancers (target groups and Classic
  ELBs) and reaches lastStatus STOPPED after their draining
  (+ ``ecs.task_stop_seconds``). Standalone tasks (RunTask/StartTask) are not
  touched; one exits on its own after ``ecs.standalone_task_seconds`` (if set).
* CreateService / UpdateService record the service's desired count,
  deployment configuration and load balancers in the event log.
"""

from __future__ import annotations

import math
import random
from typing import Any

from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from world.emulator import core
from world.emulator.ecs_drain import daemon
from world.emulator.ecs_drain.cluster_state import (
    _backend,
    _ci_of,
    _now,
    _refresh_counts,
    _schedule_reconcile,
    _service_tasks,
)
from world.emulator.ecs_drain.tasks import _start_task, _stop_task, _task_healthy

DEFAULT_DEPLOYMENT = {"maximumPercent": 200, "minimumHealthyPercent": 100}


def _service_event(service: Any, message: str) -> None:
    if service.events and service.events[0]["message"] == message:
        return
    service.events.insert(0, {"id": str(random.getrandbits(64)), "createdAt": _now(), "message": message})
    del service.events[100:]


def _reconcile(backend: Any, service: Any) -> None:
    cluster_name = service.cluster_name
    if cluster_name not in backend.clusters or not service.task_definition:
        return
    if daemon.is_daemon(service):
        daemon.reconcile(backend, service)
        return
    desired = service.desired_count if service.status == "ACTIVE" else 0
    config = getattr(service, "deployment_configuration", None) or DEFAULT_DEPLOYMENT
    max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
    min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
    tasks = _service_tasks(backend, service)
    status_of = {
        t.task_arn: (_ci_of(backend, cluster_name, t).status if _ci_of(backend, cluster_name, t) else "INACTIVE")
        for t in tasks
    }
    keepers = [t for t in tasks if status_of[t.task_arn] == "ACTIVE"]
    draining = [t for t in tasks if status_of[t.task_arn] != "ACTIVE"]

    # scale in: too many tasks on active instances (newest first)
    for task in sorted(keepers, key=lambda t: t.created_at if hasattr(t, "created_at") else _now(), reverse=True)[
        : max(0, len(keepers) - desired)
    ]:
        _stop_task(
            backend,
            cluster_name,
            task,
            f"Scaling activity initiated by (deployment {service.deployments[0]['id'] if service.deployments else ''})",
        )
        keepers.remove(task)
        tasks.remove(task)
    # PENDING tasks on draining instances stop at once
    for task in [t for t in draining if t.last_status == "PENDING"]:
        _stop_task(backend, cluster_name, task, f"Service {service.name}: container instance is in DRAINING state")
        draining.remove(task)
        tasks.remove(task)

    # start replacements within maximumPercent, one task of the service per instance
    need = desired - len(keepers)
    room = max(0, max_total - len(tasks)) if desired else 0
    started = 0
    if need > 0 and room > 0:
        task_definition = backend.describe_task_definition(service.task_definition)
        requirements = backend._calculate_task_resource_requirements(task_definition)
        busy = {t.container_instance_arn for t in tasks}
        for ci in backend.container_instances.get(cluster_name, {}).values():
            if started >= min(need, room):
                break
            if ci.status != "ACTIVE" or not ci.agent_connected or ci.container_instance_arn in busy:
                continue
            if not backend._can_be_placed(ci, requirements):
                continue
            tasks.append(_start_task(backend, service, task_definition, ci))
            busy.add(ci.container_instance_arn)
            started += 1
    if need > started and need > 0:
        if not getattr(service, "_world_unplaced", False):
            core.record("ecs.service.no_room", cluster=cluster_name, service=service.name, missing=need - started)
        service._world_unplaced = True
        _service_event(
            service,
            f"(service {service.name}) was unable to place a task because no container instance met all of its requirements.",
        )
    else:
        service._world_unplaced = False

    # stop draining tasks while keeping minimumHealthyPercent healthy
    healthy = [t for t in tasks if _task_healthy(backend, t)]
    for task in draining:
        if len(healthy) - 1 >= min_healthy or task not in healthy:
            _stop_task(backend, cluster_name, task, f"Service {service.name}: container instance is in DRAINING state")
            if task in healthy:
                healthy.remove(task)


def _on_health(account_id: str, region: str) -> None:
    """A registration's health changed: the scheduler looks again (a replacement may count now)."""
    backend = _backend(account_id, region)
    for cluster_name in list(backend.clusters):
        if any(s.cluster_name == cluster_name for s in backend.services.values()):
            _schedule_reconcile(backend, cluster_name)


_orig_create_service = ecs_responses.EC2ContainerServiceResponse.create_service
_orig_update_service = ecs_models.EC2ContainerServiceBackend.update_service


def create_service(self: Any) -> Any:
    config = self._get_param("deploymentConfiguration") or {}
    is_daemon = self._get_param("schedulingStrategy") == daemon.STRATEGY
    if is_daemon:
        daemon.validate(self._get_param("desiredCount"), config)
    _target_groups_in_use(self.current_account, self.region, self._get_param("loadBalancers") or [])
    result = _orig_create_service(self)
    service = result.result["service"]
    service.deployment_configuration = dict(daemon.DEFAULT_DEPLOYMENT if is_daemon else DEFAULT_DEPLOYMENT, **config)
    service.running_count = 0
    service.pending_count = 0
    _record_service("ecs.service.created", service)
    _schedule_reconcile(self.ecs_backend, service.cluster_name)
    return result


def _target_groups_in_use(account: str, region: str, load_balancers: list[dict[str, Any]]) -> None:
    """CreateService refuses a target group that no load balancer uses (InvalidParameterException,
    in the words ECS answers with)."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.elbv2.models import elbv2_backends

    target_groups = elbv2_backends[account][region].target_groups
    for lb in load_balancers:
        tg = target_groups.get(lb.get("targetGroupArn") or "")
        if tg is not None and not tg.load_balancer_arns:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {tg.arn} does not have an associated load balancer."
            )


def _record_service(kind: str, service: Any) -> None:
    """The service's desired count, deployment configuration and load balancers, for judging capacity."""
    config = getattr(service, "deployment_configuration", None) or DEFAULT_DEPLOYMENT
    lbs = service.load_balancers or []
    core.record(
        kind,
        cluster=service.cluster_name,
        service=service.name,
        desired=service.desired_count,
        minimum_healthy_percent=int(config.get("minimumHealthyPercent", 100)),
        maximum_percent=int(config.get("maximumPercent", 200)),
        target_groups=[lb["targetGroupArn"] for lb in lbs if lb.get("targetGroupArn")],
        load_balancers=[lb["loadBalancerName"] for lb in lbs if lb.get("loadBalancerName")],
    )


def _update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    current = self._get_service(
        service_properties.get("cluster", "default"), service_properties["service"].split("/")[-1]
    )
    if daemon.is_daemon(current):
        daemon.validate(service_properties.get("desired_count"), service_properties.get("deployment_configuration"))
    config = service_properties.pop("deployment_configuration", None)
    service = _orig_update_service(self, service_properties)
    if config:
        service.deployment_configuration = dict(
            getattr(service, "deployment_configuration", DEFAULT_DEPLOYMENT), **config
        )
    _record_service("ecs.service.updated", service)
    _refresh_counts(self, service.cluster_name)
    _schedule_reconcile(self, service.cluster_name)
    return service
