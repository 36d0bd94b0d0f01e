"""ECS on EC2: the agent, the service scheduler and container instance draining.

moto stores ECS resources but runs nothing. This adds, after the AWS docs
("Container instance draining", "Deregister a container instance", "Service scheduler concepts", "Deployment
configuration: minimumHealthyPercent / maximumPercent", "Task lifecycle",
ListTasks, ListContainerInstances, "Cluster query language"):

* The agent: an EC2 instance whose user data sets ``ECS_CLUSTER=<name>``
  registers as a container instance of that cluster when it launches (config
  ``ecs.agent_autoregister``). When the instance terminates, its agent
  disconnects, the container instance becomes INACTIVE and its tasks STOPPED.
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
* StopTask: desiredStatus STOPPED at once; the task stays RUNNING for
  ``ecs.task_stop_seconds`` (its containers' stop time; a service task is
  first deregistered and drained like above), then STOPPED ("StopTask": the
  containers get SIGTERM, then SIGKILL after the stop timeout).
* CreateService / UpdateService record the service's desired count,
  deployment configuration and load balancers in the event log.
* DeregisterContainerInstance with ``force`` orphans the instance's running
  tasks: DescribeTasks still shows them RUNNING (ECS no longer manages them),
  the scheduler starts replacements elsewhere and deregisters the orphaned
  service tasks from their load balancers, which drain them as usual.
* ListTasks filters on desiredStatus (default RUNNING) and serviceName;
  ListContainerInstances honours ``status`` (default: all but INACTIVE) and
  ``filter`` (``ec2InstanceId ==``/``in``, ``agentConnected``,
  ``runningTasksCount``, ``attribute:<name>``; others are rejected).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import random
import re
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import instances as ec2_instances
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import InvalidParameterException
from world.emulator import core

DEFAULT_DEPLOYMENT = {"maximumPercent": 200, "minimumHealthyPercent": 100}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _backend(account: str, region: str) -> Any:
    return ecs_models.ecs_backends[account][region]


def _pin_task_states() -> None:
    """moto advances a task one state per DescribeTasks; the world sets states itself."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})


# --------------------------------------------------------------------------- the agent


def _user_data_cluster(user_data: Any) -> str | None:
    """The ECS_CLUSTER=<name> an instance's user data sets (base64 as EC2 keeps it)."""
    import base64

    values = user_data if isinstance(user_data, list) else [user_data]
    for value in values:
        if value is None:
            continue
        texts = []
        if hasattr(value, "decode") and not isinstance(value, bytes):
            with contextlib.suppress(Exception):
                texts.append(value.decode())
        raw = value if isinstance(value, (str, bytes)) else getattr(value, "_encoded_string", "")
        texts.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        with contextlib.suppress(Exception):
            texts.append(base64.b64decode(raw).decode("utf-8", "replace"))
        for text in texts:
            match = re.search(r"ECS_CLUSTER=([A-Za-z0-9_-]+)", text)
            if match:
                return match.group(1)
    return None


_orig_run_instances = ec2_instances.InstanceBackend.run_instances


def _run_instances(
    self: Any, image_id: str, count: int, user_data: Any, security_group_names: Any, **kwargs: Any
) -> Any:
    reservation = _orig_run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    if not core.CONFIG["ecs"].get("agent_autoregister", True):
        return reservation
    for instance in reservation.instances:
        cluster = _user_data_cluster(getattr(instance, "user_data", None) or user_data)
        if not cluster:
            continue
        backend = _backend(self.account_id, self.region_name)
        if cluster not in backend.clusters:
            core.record("ecs.agent.no_cluster", instance_id=instance.id, cluster=cluster)
            continue
        ci = backend.register_container_instance(cluster, instance.id)
        core.record(
            "ecs.container_instance.registered",
            cluster=cluster,
            instance_id=instance.id,
            container_instance=ci.container_instance_arn,
        )
        _schedule_reconcile(backend, cluster)
    return reservation


_orig_terminate_instances = ec2_instances.InstanceBackend.terminate_instances


def _terminate_instances(self: Any, instance_ids: list[str]) -> Any:
    result = _orig_terminate_instances(self, instance_ids)
    backend = _backend(self.account_id, self.region_name)
    for cluster_name, cis in list(backend.container_instances.items()):
        if cluster_name not in backend.clusters:
            continue  # moto keeps deregistered instances with orphaned tasks under "orphaned"
        for ci in list(cis.values()):
            if ci.ec2_instance_id not in instance_ids or ci.status == "INACTIVE":
                continue
            if not ci.agent_connected:
                # "stopped container instances or instances with disconnected agents aren't automatically
                # deregistered when terminated" (DeregisterContainerInstance): the record and its tasks stay
                continue
            ci.agent_connected = False
            ci.status = "INACTIVE"
            if cluster_name in backend.clusters:
                backend.clusters[cluster_name].registered_container_instances_count -= 1
            reason = f"Host EC2 (instance {ci.ec2_instance_id}) terminated."
            for task in _tasks_on(backend, cluster_name, ci):
                if task.last_status != "STOPPED":
                    task.desired_status = "STOPPED"
                    task.stopped_reason = task.stopped_reason or reason
                    task.stop_code = getattr(task, "stop_code", None) or "TerminationNotice"
                    _task_stopped(backend, cluster_name, task)
            core.record(
                "ecs.container_instance.inactive",
                cluster=cluster_name,
                instance_id=ci.ec2_instance_id,
                container_instance=ci.container_instance_arn,
                reason="instance terminated",
            )
            _schedule_reconcile(backend, cluster_name)
    return result


# --------------------------------------------------------------------------- helpers


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


def _service_event(service: Any, message: str) -> None:
    if service.events and service.events[0]["message"] == message:
        return
    service.events.insert(0, {"id": str(random.getrandbits(64)), "createdAt": _now(), "message": message})
    del service.events[100:]


# --------------------------------------------------------------------------- tasks


def _host_port(task_definition: Any, container_name: str, container_port: int) -> int:
    for container in task_definition.container_definitions:
        if container.get("name") != container_name:
            continue
        for mapping in container.get("portMappings", []):
            if int(mapping.get("containerPort", -1)) == int(container_port):
                if mapping.get("hostPort"):
                    return int(mapping["hostPort"])
                if task_definition.network_mode == "host":
                    return int(container_port)
                return random.randint(32768, 60999)  # dynamic host port (bridge mode)
    return int(container_port)


def _start_task(backend: Any, service: Any, task_definition: Any, ci: Any) -> Any:
    cluster = backend.clusters[service.cluster_name]
    requirements = backend._calculate_task_resource_requirements(task_definition)
    task = ecs_models.Task(
        cluster,
        task_definition,
        ci.container_instance_arn,
        requirements,
        backend=backend,
        group=f"service:{service.name}",
        launch_type="EC2",
        started_by=service.deployments[0]["id"] if service.deployments else "ecs-svc",
    )
    task.last_status = "PENDING"
    task.created_at = _now()
    task.availability_zone = ci.attributes.get("ecs.availability-zone")
    task._world_service = service.name
    task._world_targets = []
    task._world_elbs = []
    for lb in service.load_balancers or []:
        port = _host_port(task_definition, lb.get("containerName", ""), lb.get("containerPort", 0))
        if lb.get("targetGroupArn"):
            task._world_targets.append((lb["targetGroupArn"], {"Id": ci.ec2_instance_id, "Port": port}))
        if lb.get("loadBalancerName"):
            task._world_elbs.append(lb["loadBalancerName"])
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    backend.update_container_instance_resources(ci, requirements)
    core.record(
        "ecs.task.pending",
        cluster=cluster.name,
        service=service.name,
        task_arn=task.task_arn,
        instance_id=ci.ec2_instance_id,
    )
    seconds = core.scaled(core.CONFIG["ecs"].get("task_start_seconds", 0))
    core.after(seconds, _task_running, backend, cluster.name, task, name="ecs-task-running")
    return task


def _task_running(backend: Any, cluster_name: str, task: Any) -> None:
    if task.desired_status != "RUNNING" or task.last_status != "PENDING":
        return
    ci = _ci_of(backend, cluster_name, task)
    elbv2, elb = _lb_backends(backend)
    for arn, target in task._world_targets:
        try:
            elbv2.register_targets(arn, [target])
        except Exception as err:  # a missing target group: the task still runs
            core.record("ecs.task.lb_error", task_arn=task.task_arn, target_group=arn, error=str(err))
    for name in task._world_elbs:
        try:
            elb.register_instances(name, [ci.ec2_instance_id])
        except Exception as err:
            core.record("ecs.task.lb_error", task_arn=task.task_arn, load_balancer=name, error=str(err))
    task.last_status = "RUNNING"
    task.started_at = _now()
    core.record(
        "ecs.task.running",
        cluster=cluster_name,
        service=getattr(task, "_world_service", None),
        task_arn=task.task_arn,
        instance_id=ci.ec2_instance_id if ci else None,
    )
    _refresh_counts(backend, cluster_name)
    _schedule_reconcile(backend, cluster_name)


def _lb_backends(backend: Any) -> tuple[Any, Any]:
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[backend.account_id][backend.region_name], elb_backends[backend.account_id][
        backend.region_name
    ]


def _stop_task(
    backend: Any, cluster_name: str, task: Any, reason: str, code: str = "ServiceSchedulerInitiated"
) -> None:
    """Stop a task the way ECS does: deregister from its load balancers, drain, stop."""
    if task.desired_status == "STOPPED":
        return
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    task.stop_code = code
    task.stopping_at = _now()
    core.record(
        "ecs.task.stopping",
        cluster=cluster_name,
        service=getattr(task, "_world_service", None),
        task_arn=task.task_arn,
        reason=reason,
    )
    wait = 0.0
    if task.last_status == "RUNNING":
        wait = _deregister_from_lbs(backend, task, _ci_of(backend, cluster_name, task))
        wait += float(core.CONFIG["ecs"].get("task_stop_seconds", 0))
    core.after(core.scaled(wait), _agent_reports_stopped, backend, cluster_name, task, name="ecs-task-stopped")


def _agent_reports_stopped(backend: Any, cluster_name: str, task: Any) -> None:
    """The agent reports the task STOPPED; while it is disconnected (world.emulator.teardown) nobody does, and
    ECS keeps the task RUNNING (desiredStatus STOPPED)."""
    ci = _ci_of(backend, cluster_name, task)
    if ci is not None and ci.status != "INACTIVE" and not ci.agent_connected and not _orphaned(task):
        return
    _task_stopped(backend, cluster_name, task)


def _deregister_from_lbs(backend: Any, task: Any, ci: Any) -> float:
    """Take a service task out of its target groups and Classic ELBs; the longest draining (s)."""
    from world.emulator import lb_drain

    wait = 0.0
    elbv2, elb = _lb_backends(backend)
    with lb_drain.acting("ecs"):
        for arn, target in getattr(task, "_world_targets", []):
            tg = elbv2.target_groups.get(arn)
            if tg is not None and lb_drain.is_registered(tg, target):
                elbv2.deregister_targets(arn, [target])
                wait = max(wait, lb_drain.tg_drain_seconds(tg))
        for name in getattr(task, "_world_elbs", []):
            lb = elb.get_load_balancer(name)
            if lb is not None and ci is not None and ci.ec2_instance_id in lb.instance_ids:
                unhealthy = lb_drain.classic_state(lb, ci.ec2_instance_id) == "unhealthy"
                elb.deregister_instances(name, [ci.ec2_instance_id])
                if not unhealthy:  # no draining for an unhealthy instance
                    wait = max(wait, lb_drain.classic_drain_seconds(lb))
    return wait


def _task_healthy(backend: Any, task: Any) -> bool:
    """RUNNING and, for a service with load balancers, healthy in every one of them. A load
    balancer deleted under the service no longer counts (what ECS does then is not documented)."""
    from world.emulator import lb_drain

    if task.last_status != "RUNNING":
        return False
    ci = _ci_of(backend, task.cluster_name, task)
    elbv2, elb = _lb_backends(backend)
    for arn, target in getattr(task, "_world_targets", []):
        tg = elbv2.target_groups.get(arn)
        if tg is not None and lb_drain.target_state(tg, target) != "healthy":
            return False
    for name in getattr(task, "_world_elbs", []):
        lb = elb.load_balancers.get(name)
        if lb is not None and (ci is None or lb_drain.classic_state(lb, ci.ec2_instance_id) != "healthy"):
            return False
    return True


def _on_health(account_id: str, region: str) -> None:
    """A registration's health changed: the scheduler looks again (a replacement may count now)."""
    backend = _backend(account_id, region)
    for cluster_name in list(backend.clusters):
        if any(s.cluster_name == cluster_name for s in backend.services.values()):
            _schedule_reconcile(backend, cluster_name)


def _orphaned(task: Any) -> bool:
    return getattr(task, "_world_orphaned", False)


def _task_stopped(backend: Any, cluster_name: str, task: Any) -> None:
    if task.last_status == "STOPPED":
        return
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_at = _now()
    task.execution_stopped_at = task.stopped_at
    ci = _ci_of(backend, cluster_name, task)
    if ci is not None and not getattr(task, "_world_freed", False):
        backend.update_container_instance_resources(ci, task.resource_requirements, removing=True)
        task._world_freed = True
    core.record(
        "ecs.task.stopped",
        cluster=cluster_name,
        service=getattr(task, "_world_service", None),
        task_arn=task.task_arn,
        instance_id=ci.ec2_instance_id if ci else None,
        reason=task.stopped_reason,
    )
    _refresh_counts(backend, cluster_name)
    _schedule_reconcile(backend, cluster_name)


# --------------------------------------------------------------------------- the service scheduler


def _schedule_reconcile(backend: Any, cluster_name: str) -> None:
    key = f"_world_reconcile_{cluster_name}"
    if getattr(backend, key, False):
        return
    setattr(backend, key, True)

    def run() -> None:
        setattr(backend, key, False)
        for service in list(backend.services.values()):
            if service.cluster_name == cluster_name:
                _reconcile(backend, service)
        _refresh_counts(backend, cluster_name)

    core.after(0, run, name="ecs-scheduler")


def _reconcile(backend: Any, service: Any) -> None:
    cluster_name = service.cluster_name
    if cluster_name not in backend.clusters or not service.task_definition:
        return
    if service.scheduling_strategy not in (None, "REPLICA"):
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


_orig_create_service = ecs_responses.EC2ContainerServiceResponse.create_service
_orig_update_service = ecs_models.EC2ContainerServiceBackend.update_service
_orig_update_ci_state = ecs_models.EC2ContainerServiceBackend.update_container_instances_state
_orig_stop_task = ecs_models.EC2ContainerServiceBackend.stop_task


def create_service(self: Any) -> Any:
    result = _orig_create_service(self)
    service = result.result["service"]
    service.deployment_configuration = dict(DEFAULT_DEPLOYMENT, **(self._get_param("deploymentConfiguration") or {}))
    service.running_count = 0
    service.pending_count = 0
    _record_service("ecs.service.created", service)
    _schedule_reconcile(self.ecs_backend, service.cluster_name)
    return result


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


def _update_container_instances_state(self: Any, cluster_str: str, ids: list[str], status: str) -> Any:
    cluster = self._get_cluster(cluster_str)
    for ci_id in ids:
        ci = self.container_instances.get(cluster.name, {}).get(ci_id.split("/")[-1])
        if ci is not None and ci.status == "INACTIVE":
            raise InvalidParameterException(f"Container instance {ci_id} is INACTIVE and cannot change status.")
    before = {
        ci_id: getattr(self.container_instances.get(cluster.name, {}).get(ci_id.split("/")[-1]), "status", None)
        for ci_id in ids
    }
    result = _orig_update_ci_state(self, cluster_str, ids, status)
    for ci in result[0]:
        if before.get(ci.container_instance_arn, before.get(ci.id)) != ci.status:
            core.record(
                f"ecs.container_instance.{ci.status.lower()}",
                cluster=cluster.name,
                instance_id=ci.ec2_instance_id,
                container_instance=ci.container_instance_arn,
            )
    _schedule_reconcile(self, cluster.name)
    return result


_orig_deregister_ci = ecs_models.EC2ContainerServiceBackend.deregister_container_instance


def _deregister_container_instance(self: Any, cluster_str: str, container_instance_str: str, force: bool) -> Any:
    """A forced deregistration orphans the instance's running tasks: they keep running,
    unmanaged; the scheduler starts replacements for the service tasks elsewhere and
    takes the orphans out of their load balancers (which drain as usual)."""
    cluster = self._get_cluster(cluster_str)
    ci = self.container_instances.get(cluster.name, {}).get(container_instance_str.split("/")[-1])
    on_it = [t for t in _tasks_on(self, cluster.name, ci) if t.desired_status == "RUNNING"] if ci else []
    result = _orig_deregister_ci(self, cluster_str, container_instance_str, force)
    if cluster.name in self.clusters:
        self.clusters[cluster.name].registered_container_instances_count -= 1
    core.record(
        "ecs.container_instance.deregistered",
        cluster=cluster.name,
        instance_id=result.ec2_instance_id,
        container_instance=result.container_instance_arn,
        force=force,
    )
    for task in on_it:
        task._world_orphaned = True
        if task.last_status == "RUNNING":
            _deregister_from_lbs(self, task, result)
        core.record(
            "ecs.task.orphaned",
            cluster=cluster.name,
            service=getattr(task, "_world_service", None),
            task_arn=task.task_arn,
            instance_id=result.ec2_instance_id,
        )
    _refresh_counts(self, cluster.name)
    _schedule_reconcile(self, cluster.name)
    return result


def _stop_task_api(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    """StopTask: desiredStatus STOPPED now, lastStatus STOPPED once the containers stopped."""
    cluster = self._get_cluster(cluster_str)
    task_id = task_str.split("/")[-1]
    task = next((t for arn, t in self.tasks.get(cluster.name, {}).items() if arn.endswith(task_id)), None)
    if task is None or task.last_status == "STOPPED":
        return _orig_stop_task(self, cluster_str, task_str, reason)  # moto's answer for these
    _stop_task(self, cluster.name, task, reason, code="UserInitiated")
    _refresh_counts(self, cluster.name)
    _schedule_reconcile(self, cluster.name)
    return task


def _standalone_started(backend: Any, cluster_name: str, tasks: list[Any]) -> None:
    seconds = core.CONFIG["ecs"].get("standalone_task_seconds")
    for task in tasks:
        ci = _ci_of(backend, cluster_name, task)
        task.last_status = "RUNNING"
        task.started_at = _now()
        core.record(
            "ecs.task.running",
            cluster=cluster_name,
            service=None,
            task_arn=task.task_arn,
            instance_id=ci.ec2_instance_id if ci else None,
        )
        if seconds is not None:
            core.after(core.scaled(seconds), _standalone_exited, backend, cluster_name, task, name="ecs-task-exited")
    _refresh_counts(backend, cluster_name)


def _standalone_exited(backend: Any, cluster_name: str, task: Any) -> None:
    if task.desired_status != "RUNNING" or task.last_status == "STOPPED":
        return
    task.desired_status = "STOPPED"
    task.stopped_reason = "Essential container in task exited"
    task.stop_code = "EssentialContainerExited"
    _agent_reports_stopped(backend, cluster_name, task)


_orig_run_task = ecs_models.EC2ContainerServiceBackend.run_task
_orig_start_task = ecs_models.EC2ContainerServiceBackend.start_task


def _run_task_api(self: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
    tasks = _orig_run_task(self, cluster_str, *args, **kwargs)
    _standalone_started(self, self._get_cluster(cluster_str).name, tasks)
    return tasks


def _start_task_api(self: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
    tasks = _orig_start_task(self, cluster_str, *args, **kwargs)
    _standalone_started(self, self._get_cluster(cluster_str).name, tasks)
    return tasks


# --------------------------------------------------------------------------- list filters


def list_tasks(self: Any) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    desired = self._get_param("desiredStatus") or "RUNNING"
    service_name = self._get_param("serviceName")
    launch_type = self._get_param("launchType")
    tasks = self.ecs_backend.list_tasks(
        cluster.name,
        self._get_param("containerInstance"),
        self._get_param("family"),
        self._get_param("startedBy"),
        None,
        desired,
    )
    if service_name:
        name = service_name.split("/")[-1]
        tasks = [t for t in tasks if getattr(t, "_world_service", None) == name or t.group == f"service:{name}"]
    if launch_type:
        tasks = [t for t in tasks if t.launch_type == launch_type]
    return ActionResult({"taskArns": [t.task_arn for t in tasks]})


_TERM = re.compile(r"^\s*([\w:.\-]+)\s*(==|!=|in|not in)\s*(.+?)\s*$", re.IGNORECASE)


def _filter_terms(expression: str) -> list[tuple[str, str, list[str]]]:
    terms = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        match = _TERM.match(part)
        if not match:
            raise InvalidParameterException(f"Invalid filter expression: {expression}")
        field, op, value = match.group(1), match.group(2).lower(), match.group(3)
        if op in ("in", "not in"):
            if not (value.startswith("[") and value.endswith("]")):
                raise InvalidParameterException(f"Invalid filter expression: {expression}")
            values = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            values = [value.strip("'\"")]
        if field not in ("ec2InstanceId", "agentConnected", "runningTasksCount") and not field.startswith("attribute:"):
            raise InvalidParameterException(f"Unsupported filter expression: {part.strip()}")
        terms.append((field, op, values))
    return terms


def _matches(ci: Any, terms: list[tuple[str, str, list[str]]]) -> bool:
    for field, op, values in terms:
        if field == "ec2InstanceId":
            actual = ci.ec2_instance_id
        elif field == "agentConnected":
            actual = str(bool(ci.agent_connected)).lower()
        elif field == "runningTasksCount":
            actual = str(ci.running_tasks_count)
        else:
            actual = str(ci.attributes.get(field.split(":", 1)[1]))
        hit = actual in [v.lower() if field == "agentConnected" else v for v in values]
        if hit != (op in ("==", "in")):
            return False
    return True


def list_container_instances(self: Any) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    status = self._get_param("status")
    expression = self._get_param("filter")
    terms = _filter_terms(expression) if expression else []
    found = []
    for ci in self.ecs_backend.container_instances.get(cluster.name, {}).values():
        if (status and ci.status != status) or (not status and ci.status == "INACTIVE"):
            continue
        if _matches(ci, terms):
            found.append(ci.container_instance_arn)
    return ActionResult({"containerInstanceArns": sorted(found)})


# --------------------------------------------------------------------------- install


_orig_container_init = ecs_models.Container.__init__


def _container_init(self: Any, task_def: Any) -> None:
    """A task's Container has cpu/memory as strings in the ECS API (moto keeps the
    task definition's integers; strict SDKs such as Rust's reject them)."""
    _orig_container_init(self, task_def)
    for attr in ("cpu", "memory"):
        value = getattr(self, attr, None)
        if value is not None and not isinstance(value, str):
            setattr(self, attr, str(value))


def install() -> None:
    from world.emulator import lb_drain

    lb_drain.HEALTH_LISTENERS.append(_on_health)
    ecs_models.Container.__init__ = _container_init
    _pin_task_states()
    core.on_reset(_pin_task_states)
    ec2_instances.InstanceBackend.run_instances = _run_instances
    ec2_instances.InstanceBackend.terminate_instances = _terminate_instances
    resp = ecs_responses.EC2ContainerServiceResponse
    resp.create_service = create_service
    resp.list_tasks = list_tasks
    resp.list_container_instances = list_container_instances
    backend = ecs_models.EC2ContainerServiceBackend
    backend.update_service = _update_service
    backend.update_container_instances_state = _update_container_instances_state
    backend.stop_task = _stop_task_api
    backend.run_task = _run_task_api
    backend.start_task = _start_task_api
    backend.deregister_container_instance = _deregister_container_instance
