"""A task's life on a container instance (AWS docs: "Task lifecycle", StopTask, RunTask, StartTask;
"Use load balancing to distribute Amazon ECS service traffic").

A service task is PENDING for ``ecs.task_start_seconds``, then RUNNING and registered in
the service's target groups (instance id + host port) and Classic ELBs (the instance). A
stopping task gets desiredStatus STOPPED at once, is deregistered from all its load
balancers and reaches lastStatus STOPPED after their draining (+ ``ecs.task_stop_seconds``),
DEACTIVATING while they drain and STOPPING while its containers stop ("Task lifecycle":
"DEACTIVATING ... Amazon ECS has to perform additional steps before the task is stopped ...
target group deregistration"; then STOPPING); ECS counts neither as running
(ContainerInstance's ``runningTasksCount``: "The number of tasks on the container instance that
are in the RUNNING status"; aws-cdk pull request 13559 saw exactly that on a draining instance). A
task whose agent is disconnected stays RUNNING: nobody reports its containers stopping;
a task is healthy only once healthy in every load balancer of its service (the service
scheduler counts it then: world.emulator.ecs_drain.service_scheduler).

* A task in ``bridge`` network mode (the EC2 default) gets a host port for each port mapping
  without one, from the ephemeral range (PortMapping: "you can omit the hostPort (or set it to 0)
  while specifying a containerPort and your container automatically receives a port in the
  ephemeral port range"), is
  registered in its target groups on it, and DescribeTasks shows each of its container's
  mappings as a ``networkBindings`` entry once it is RUNNING (PortMapping: "After a task reaches
  the RUNNING status, manual and automatic host and container port assignments are visible in
  the networkBindings section"). A ``host`` task serves on its container ports; whether its
  bindings show AWS does not make clear, and the world shows none, the harsher reading: a reader
  must know that a task without bindings serves on its container ports.
* StopTask: desiredStatus STOPPED at once; the task is STOPPING for
  ``ecs.task_stop_seconds`` (its containers' stop time; a service task is
  first deregistered and drained like above), then STOPPED ("StopTask": the
  containers get SIGTERM, then SIGKILL after the stop timeout).
* Standalone tasks (RunTask/StartTask) are not the scheduler's; one exits on its own
  after ``ecs.standalone_task_seconds`` (if set).
* DescribeTasks shows a stopped task STOPPED, then DELETED ("Task lifecycle": "DELETED: This
  is a transition state when a task stops. This state is not displayed in the console, but
  is displayed in describe-tasks."). AWS does not say when; the world shows DELETED from
  ``DELETED_AFTER_SECONDS`` (0.2 s, scaled) after the task stopped, the harsher reading: a
  reader that waits for STOPPED alone almost never sees it. Inside the world the task stays
  STOPPED.
* DescribeTasks answers a task it does not know, or one started less than
  ``ecs.describe_lag_seconds`` ago (AWS seconds, default 0, kinder than AWS; a scenario raises it),
  as a failure with reason MISSING, not in ``tasks``. The ECS API "follows an eventual consistency
  model ... the result of an API command you run that affects your Amazon ECS resources might not
  be immediately visible to all subsequent commands you run", and a task RunTask just started is
  to be read with DescribeTasks "using an exponential backoff algorithm" (RunTask API reference);
  a read that does not see a resource yet answers that it does not exist (Amazon EC2 API
  reference, "Eventual consistency"). Nothing ties the two reads: ListTasks may show a task that
  DescribeTasks does not know yet, the harsher reading. The world's harness sees every task.
"""

from __future__ import annotations

import copy
import random
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from world.emulator import core
from world.emulator.ecs_drain.cluster_state import _ci_of, _now, _orphaned, _refresh_counts, _schedule_reconcile
from world.emulator.rate_limits.throttling import HARNESS_AGENT


def _pin_task_states() -> None:
    """moto advances a task one state per DescribeTasks; the world sets states itself."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})


def _bindings(task_definition: Any) -> dict[str, dict[int, int]]:
    """Each container's host port for each of its container ports: the mapping's, the container
    port under host networking, else one from the ephemeral range (bridge mode)."""
    bound: dict[str, dict[int, int]] = {}
    for container in task_definition.container_definitions:
        ports = bound.setdefault(container.get("name", ""), {})
        for mapping in container.get("portMappings", []):
            port = int(mapping.get("containerPort", -1))
            if mapping.get("hostPort"):
                ports[port] = int(mapping["hostPort"])
            elif task_definition.network_mode == "host":
                ports[port] = port
            else:
                ports[port] = random.randint(32768, 60999)
    return bound


def _show_bindings(task: Any) -> None:
    """DescribeTasks' ``networkBindings`` of a bridge-mode task's container (moto models one), once
    it is RUNNING."""
    bound, mode = task._world_bindings
    if mode not in (None, "bridge"):
        return
    for container in task.containers:
        container.network_bindings = [
            {"bindIP": "0.0.0.0", "containerPort": port, "hostPort": host, "protocol": "tcp"}
            for port, host in bound.get(container.name or "", {}).items()
        ]


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
    task._world_created = time.monotonic()
    task.availability_zone = ci.attributes.get("ecs.availability-zone")
    task._world_service = service.name
    task._world_targets = []
    task._world_elbs = []
    bound = _bindings(task_definition)
    task._world_bindings = (bound, task_definition.network_mode)
    for lb in service.load_balancers or []:
        port = int(lb.get("containerPort", 0))
        port = bound.get(lb.get("containerName", ""), {}).get(port, port)
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
        # where it is to serve: (target group, host port) and Classic ELBs, for judging capacity
        targets=[[arn, target["Port"]] for arn, target in task._world_targets],
        load_balancers=list(task._world_elbs),
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
    _show_bindings(task)
    task.started_at = _now()
    task._world_running = time.monotonic()
    if not task._world_targets and not task._world_elbs:
        # counted healthy 40 s on: the scheduler looks again then
        core.after(core.scaled(RUNNING_BEFORE_HEALTHY_SECONDS), _schedule_reconcile, backend, cluster_name)
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
        ci = _ci_of(backend, cluster_name, task)
        drain = _deregister_from_lbs(backend, task, ci)
        if ci is None or ci.agent_connected:
            balanced = getattr(task, "_world_targets", []) or getattr(task, "_world_elbs", [])
            task.last_status = "DEACTIVATING" if balanced else "STOPPING"
            _refresh_counts(backend, cluster_name)
            core.after(
                core.scaled(drain), _containers_stopping, backend, cluster_name, task, name="ecs-task-deactivated"
            )
        wait = drain + float(core.CONFIG["ecs"].get("task_stop_seconds", 0))
    core.after(core.scaled(wait), _agent_reports_stopped, backend, cluster_name, task, name="ecs-task-stopped")


def _containers_stopping(backend: Any, cluster_name: str, task: Any) -> None:
    """The load balancers drained: ECS has the agent stop the containers."""
    if task.last_status == "DEACTIVATING":
        task.last_status = "STOPPING"
        _refresh_counts(backend, cluster_name)


def _agent_reports_stopped(backend: Any, cluster_name: str, task: Any) -> None:
    """The agent reports the task STOPPED; while it is disconnected (world.emulator.teardown) nobody does, and
    ECS keeps the task RUNNING (desiredStatus STOPPED)."""
    ci = _ci_of(backend, cluster_name, task)
    if ci is not None and ci.status != "INACTIVE" and not ci.agent_connected and not _orphaned(task):
        task._world_report_due = True  # the agent reports it if it reconnects (world.emulator.teardown)
        return
    _task_stopped(backend, cluster_name, task)


def _deregister_from_lbs(backend: Any, task: Any, ci: Any, *, network: bool = True) -> float:
    """Take a service task out of its target groups and Classic ELBs; the longest draining (s).
    ``network`` False leaves its Network Load Balancer target groups alone."""
    from world.emulator import lb_drain
    from world.emulator.lb_drain.elbv2 import NLB_PROTOCOLS

    wait = 0.0
    elbv2, elb = _lb_backends(backend)
    with lb_drain.acting("ecs"):
        for arn, target in getattr(task, "_world_targets", []):
            tg = elbv2.target_groups.get(arn)
            if tg is not None and not network and tg.protocol in NLB_PROTOCOLS:
                continue
            if tg is not None and lb_drain.is_registered(tg, target):
                elbv2.deregister_targets(arn, [target])
                wait = max(wait, lb_drain.tg_drain_seconds(tg))
        for name in getattr(task, "_world_elbs", []):
            lb = elb.get_load_balancer(name)
            if lb is not None and ci is not None and ci.ec2_instance_id in lb.instance_ids:
                unhealthy = lb_drain.classic_state(lb, ci.ec2_instance_id) == "unhealthy"
                elb.deregister_instances(name, [ci.ec2_instance_id])
                # ECS's wait reads DescribeInstanceHealth too: it does not see an unhealthy
                # instance's in-flight requests (world.emulator.lb_drain.classic) and stops the task
                if not unhealthy:
                    wait = max(wait, lb_drain.classic_drain_seconds(lb))
    return wait


# DeploymentConfiguration (ECS API reference), for services that do not use a load balancer: "If a
# task has no essential containers with a health check defined, the service scheduler will wait for
# 40 seconds after a task reaches a RUNNING state before the task is counted towards the minimum
# healthy percent total" (the world's task definitions define no container health check).
RUNNING_BEFORE_HEALTHY_SECONDS = 40


def _task_healthy(backend: Any, task: Any) -> bool:
    """RUNNING and, for a service with load balancers, healthy in every one of them; without one,
    RUNNING for 40 s. A load balancer deleted under the service no longer counts (what ECS does
    then is not documented)."""
    from world.emulator import lb_drain

    if task.last_status != "RUNNING":
        return False
    if not getattr(task, "_world_targets", []) and not getattr(task, "_world_elbs", []):
        running = getattr(task, "_world_running", None)
        return running is None or time.monotonic() - running >= core.scaled(RUNNING_BEFORE_HEALTHY_SECONDS)
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


def _task_stopped(backend: Any, cluster_name: str, task: Any) -> None:
    if task.last_status == "STOPPED":
        return
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stopped_at = _now()
    task._world_stopped = time.monotonic()
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


_orig_stop_task = ecs_models.EC2ContainerServiceBackend.stop_task


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
        task._world_created = time.monotonic()
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


_orig_container_init = ecs_models.Container.__init__


def _container_init(self: Any, task_def: Any) -> None:
    """A task's Container has cpu/memory as strings in the ECS API (moto keeps the
    task definition's integers; strict SDKs such as Rust's reject them)."""
    _orig_container_init(self, task_def)
    for attr in ("cpu", "memory"):
        value = getattr(self, attr, None)
        if value is not None and not isinstance(value, str):
            setattr(self, attr, str(value))


# AWS seconds a stopped task reads STOPPED in DescribeTasks before it reads DELETED
DELETED_AFTER_SECONDS = 0.2

_orig_describe_tasks = ecs_responses.EC2ContainerServiceResponse.describe_tasks


def _shown(task: Any) -> Any:
    """The task as DescribeTasks shows it: DELETED once it has been STOPPED for a while (module doc)."""
    stopped = getattr(task, "_world_stopped", None)
    if task.last_status != "STOPPED" or stopped is None:
        return task
    if time.monotonic() - stopped < core.scaled(DELETED_AFTER_SECONDS):
        return task
    shown = copy.copy(task)
    shown.last_status = "DELETED"
    return shown


def _not_yet_described(task: Any, lag: float, now: float) -> bool:
    return lag > 0 and now - getattr(task, "_world_created", now - lag) < lag


def describe_tasks(self: Any) -> Any:
    answer = _orig_describe_tasks(self)
    result = answer.result
    if not isinstance(result, dict):
        return answer
    found = list(result.get("tasks") or [])
    lag = 0.0
    if HARNESS_AGENT not in (self.headers.get("User-Agent") or ""):
        lag = core.scaled(core.CONFIG["ecs"].get("describe_lag_seconds") or 0)
    now = time.monotonic()
    shown = [_shown(task) for task in found if not _not_yet_described(task, lag, now)]
    for task in found:
        if _not_yet_described(task, lag, now):
            cluster = task.cluster_arn.rsplit("/", 1)[-1] if getattr(task, "cluster_arn", None) else None
            core.record("ecs.task.described_missing", cluster=cluster, task_arn=task.task_arn)
    known = {task.task_arn for task in shown}
    known |= {arn.rsplit("/", 1)[-1] for arn in known}
    failures = [{"arn": asked, "reason": "MISSING"} for asked in self._get_param("tasks", []) if asked not in known]
    return ActionResult({**result, "tasks": shown, "failures": list(result.get("failures") or []) + failures})
