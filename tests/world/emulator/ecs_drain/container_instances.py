"""Container instances: the ECS agent on each instance, state changes and deregistration
(AWS docs: "Container instance draining", "Deregister a container instance",
UpdateContainerInstancesState, DeregisterContainerInstance).

* The agent: an EC2 instance whose user data sets ``ECS_CLUSTER=<name>``
  registers as a container instance of that cluster when it launches (config
  ``ecs.agent_autoregister``), ``ecs.agent_register_seconds`` (AWS seconds, default 0)
  after the launch: the agent starts on the booted instance, reading its configuration
  "when the container agent starts" (Amazon ECS Developer Guide, "Bootstrapping Amazon
  ECS Linux container instances to pass data"), and registers it (RegisterContainerInstance,
  "used by the Amazon ECS agent"); AWS gives no figure, so the default is the kinder 0,
  which a scenario raises. Auto Scaling meanwhile has the instance InService, or
  Terminating:Wait if it was scaled in already; an instance no longer running by then
  never registers (event ``ecs.agent.late`` with the delay, at the launch). When the instance
  terminates, its agent disconnects, the container instance becomes INACTIVE and its
  tasks STOPPED.
* With the account's ``awsvpcTrunking`` setting enabled (PutAccountSetting), a container
  instance registered since is REGISTERING for ``ecs.trunk_provision_seconds`` (AWS seconds)
  and ACTIVE then: "If your account has opted in to the awsvpcTrunking account setting, then
  any newly registered container instance will transition to a REGISTERING status while the
  trunk elastic network interface is provisioned for the instance" (ContainerInstance API
  reference; AWS gives no figure). No scheduler places a task on it meanwhile, and tasks
  come at once when it turns ACTIVE (events ``ecs.container_instance.registering`` and
  ``.active``).
* UpdateContainerInstancesState records each status change (DRAINING: the service
  scheduler replaces the instance's tasks, world.emulator.ecs_drain.service_scheduler);
  an instance neither ACTIVE nor DRAINING cannot change status (InvalidParameterException):
  "A container instance can't be changed to DRAINING until it has reached an ACTIVE status.
  If the instance is in any other status, an error will be received" (its API reference;
  the error's form is not documented: the world refuses the whole call, as for INACTIVE).
* DeregisterContainerInstance with ``force`` orphans the instance's running
  tasks: DescribeTasks still shows them RUNNING (ECS no longer manages them),
  the scheduler starts replacements elsewhere and deregisters the orphaned
  service tasks from their load balancers, which drain them as usual.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from moto.ec2.models import instances as ec2_instances
from moto.ecs import models as ecs_models
from moto.ecs.exceptions import InvalidParameterException
from world.emulator import core
from world.emulator.ecs_drain.cluster_state import _backend, _refresh_counts, _schedule_reconcile, _tasks_on
from world.emulator.ecs_drain.tasks import _deregister_from_lbs, _task_stopped


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
    delay = float(core.CONFIG["ecs"].get("agent_register_seconds") or 0)
    for instance in reservation.instances:
        cluster = _user_data_cluster(getattr(instance, "user_data", None) or user_data)
        if not cluster:
            continue
        if delay > 0:
            core.record("ecs.agent.late", instance_id=instance.id, cluster=cluster, seconds=delay)
            core.after(core.scaled(delay), _agent_starts, self, instance, cluster, name="ecs-agent-start")
        else:
            _agent_starts(self, instance, cluster)
    return reservation


def _agent_starts(ec2: Any, instance: Any, cluster: str) -> None:
    """The instance's ECS agent starts: it registers the instance in ``cluster``."""
    if instance.state != "running":
        return  # stopped or terminated before its agent started
    backend = _backend(ec2.account_id, ec2.region_name)
    if cluster not in backend.clusters:
        core.record("ecs.agent.no_cluster", instance_id=instance.id, cluster=cluster)
        return
    register(backend, cluster, instance.id)
    _schedule_reconcile(backend, cluster)


def register(backend: Any, cluster: str, instance_id: str) -> Any:
    """The agent registers its instance as a new container instance of ``cluster``, and saves the
    record's ARN on the instance's disk (its checkpoint: world.emulator.warm_pools)."""
    ci = backend.register_container_instance(cluster, instance_id)
    if not hasattr(backend, "_world_agent_saved"):
        backend._world_agent_saved = {}
    backend._world_agent_saved[(cluster, instance_id)] = ci.container_instance_arn
    core.record(
        "ecs.container_instance.registered",
        cluster=cluster,
        instance_id=instance_id,
        container_instance=ci.container_instance_arn,
    )
    trunking = getattr(backend, "account_settings", {}).get("awsvpcTrunking")
    if trunking is not None and trunking.value == "enabled":
        ci.status = "REGISTERING"
        seconds = float(core.CONFIG["ecs"]["trunk_provision_seconds"])
        _status_changed(cluster, ci, seconds=seconds)
        core.after(core.scaled(seconds), _trunk_provisioned, backend, cluster, ci, name="ecs-trunk")
    return ci


def _trunk_provisioned(backend: Any, cluster: str, ci: Any) -> None:
    """The instance's trunk network interface is provisioned: REGISTERING -> ACTIVE."""
    if ci.status != "REGISTERING":
        return  # terminated or deregistered meanwhile
    ci.status = "ACTIVE"
    _status_changed(cluster, ci)
    _schedule_reconcile(backend, cluster)


def _status_changed(cluster: str, ci: Any, **details: Any) -> None:
    core.record(
        f"ecs.container_instance.{ci.status.lower()}",
        cluster=cluster,
        instance_id=ci.ec2_instance_id,
        container_instance=ci.container_instance_arn,
        **details,
    )


def saved_arn(backend: Any, cluster: str, instance_id: str) -> str | None:
    """The container instance ARN the agent of ``instance_id`` saved when it registered in ``cluster``."""
    return getattr(backend, "_world_agent_saved", {}).get((cluster, instance_id))


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


_orig_update_ci_state = ecs_models.EC2ContainerServiceBackend.update_container_instances_state


def _update_container_instances_state(self: Any, cluster_str: str, ids: list[str], status: str) -> Any:
    cluster = self._get_cluster(cluster_str)
    for ci_id in ids:
        ci = self.container_instances.get(cluster.name, {}).get(ci_id.split("/")[-1])
        if ci is not None and ci.status not in ("ACTIVE", "DRAINING"):
            raise InvalidParameterException(f"Container instance {ci_id} is {ci.status} and cannot change status.")
    before = {
        ci_id: getattr(self.container_instances.get(cluster.name, {}).get(ci_id.split("/")[-1]), "status", None)
        for ci_id in ids
    }
    result = _orig_update_ci_state(self, cluster_str, ids, status)
    for ci in result[0]:
        if before.get(ci.container_instance_arn, before.get(ci.id)) != ci.status:
            _status_changed(cluster.name, ci)
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
    if ci is not None and not force and any(t.last_status != "STOPPED" for t in _tasks_on(self, cluster.name, ci)):
        # a task still stopping (DEACTIVATING, STOPPING) has not stopped: ECS counts it in no
        # runningTasksCount, but "If an instance has running tasks" the harsher reading refuses
        raise InvalidParameterException("Found running tasks on the instance.")
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
            # DeregisterContainerInstance's force: "Any containers in orphaned service tasks that are
            # registered with a Classic Load Balancer or an Application Load Balancer target group are
            # deregistered": a Network Load Balancer's are not named, so they stay (the harsher reading)
            _deregister_from_lbs(self, task, result, network=False)
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
