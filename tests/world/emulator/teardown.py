"""Teardown as AWS does it: the Auto Scaling group deleted, the cluster deleted, the ECS agent
cut off, under a drain.

* DeleteAutoScalingGroup (API reference): without ``ForceDelete`` it fails while the group
  has instances, ``ResourceInUse`` "You cannot delete an AutoScalingGroup while there are
  instances or pending Spot instance request(s) still in the group."; with it, "the group is
  deleted along with all instances associated with the group, without waiting for all
  instances to be terminated. This action also deletes any outstanding lifecycle actions
  associated with the group": ``asg.deleted`` (``force``), then each outstanding action ends
  (``asg.lifecycle.completed``, result ABANDON, ``by`` ``ForceDelete``) and each instance
  terminates (``asg.instance.terminated``, ``by`` ``ForceDelete``).
* CompleteLifecycleAction and RecordLifecycleActionHeartbeat on a group that no longer exists:
  ``ValidationError`` "AutoScalingGroup name not found - AutoScalingGroup <name> not found".
* DeleteCluster (API reference, Errors): ``ClusterContainsContainerInstancesException`` while
  container instances are registered (ACTIVE or DRAINING), ``ClusterContainsServicesException``
  while a service is ACTIVE, ``ClusterContainsTasksException`` while tasks ECS manages are not
  STOPPED (a forced deregistration's orphans are no longer the cluster's); then the cluster is
  INACTIVE (``ecs.cluster.deleted``) and every other call naming it fails with
  ``ClusterNotFoundException`` (DescribeClusters still describes it INACTIVE). DeleteService
  records ``ecs.service.deleted``.
* The ECS agent disconnected (``POST /_world/ecs/disconnect-agent`` ``{"instance_id"}``: the
  agent of a live instance stops talking to ECS, e.g. it crashed or lost its network): the
  container instance keeps its status with ``agentConnected`` false
  (``ecs.container_instance.disconnected``, ``by`` ``world``); ECS can no longer see its tasks
  stop, so they stay RUNNING (world.emulator.ecs_drain); when the instance then terminates, ECS
  deregisters neither the container instance nor its tasks ("If you terminate a running
  container instance, Amazon ECS automatically deregisters the instance from your cluster
  (stopped container instances or instances with disconnected agents aren't automatically
  deregistered when terminated)", DeregisterContainerInstance API reference). With
  ``reconnect_after_seconds`` the agent comes back that long after (AWS seconds) if its instance
  still runs: "The ECS agent disconnects and reconnects as a normal part of its function" (an ECS
  maintainer, amazon-ecs-agent issue 618), so a reader sees ``agentConnected`` false for a
  moment on a healthy instance (``ecs.container_instance.reconnected``, ``by`` ``world``); it then
  reports the tasks that stopped meanwhile.
* Every EC2 termination is recorded (``ec2.instance.terminated``, ``agent_connected`` of the
  instance's container instance, null when it has none).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.ec2 import models as ec2_models
from moto.ec2.models import instances as ec2_instances
from moto.ecs import models as ecs_models
from moto.ecs.exceptions import ClusterNotFoundException, ECSException
from world.emulator import core, retention

CONTAINS_INSTANCES = (
    "You can't delete a cluster that has registered container instances. First, deregister the "
    "container instances before you can delete the cluster."
)
CONTAINS_SERVICES = (
    "You can't delete a cluster that contains services. First, update the service to reduce its "
    "desired task count to 0, and then delete the service."
)
CONTAINS_TASKS = "You can't delete a cluster that has active tasks."


class ResourceInUse(AutoscalingClientError):
    code = "ResourceInUse"


def _group_not_found(name: str) -> ValidationError:
    return ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")


# --------------------------------------------------------------------------- Auto Scaling


def delete_auto_scaling_group(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    name = self._get_param("AutoScalingGroupName")
    force = bool(self._get_bool_param("ForceDelete", False))
    backend = self.autoscaling_backend
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise _group_not_found(name)
    if group.instances and not force:  # retained instances included (world.emulator.retention)
        raise ResourceInUse(
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot "
            "instance request(s) still in the group."
        )
    core.record("asg.deleted", asg=name, force=force)  # first: what follows is the deletion's doing
    if force:
        _abandon_and_terminate(backend, group)
    backend.delete_auto_scaling_group(name)
    return EmptyResult()


def _abandon_and_terminate(backend: Any, group: Any) -> None:
    from world.emulator.autoscaling_hooks import actions

    actions.drop_actions(backend, lambda action: action.group.name == group.name, "ForceDelete")
    ids = [s.instance.id for s in group.instance_states]
    ids += [s.instance.id for s in retention.take_all(group)]  # ForceDelete terminates retained ones too
    group.instance_states = []
    group._world_force = True
    if ids:
        backend.ec2_backend.terminate_instances(ids)
        backend.elbv2_backend.notify_terminate_instances(ids)
    for instance_id in ids:
        core.record(
            "asg.instance.terminated", asg=group.name, instance_id=instance_id, destination="EC2", by="ForceDelete"
        )


def _needs_group(method: Any) -> Any:
    def wrapper(self: Any) -> Any:
        name = self._get_param("AutoScalingGroupName")
        if name and name not in self.autoscaling_backend.autoscaling_groups:
            raise _group_not_found(name)
        return method(self)

    wrapper.__name__ = method.__name__
    return wrapper


# --------------------------------------------------------------------------- ECS


_orig_get_cluster = ecs_models.EC2ContainerServiceBackend._get_cluster
_orig_delete_cluster = ecs_models.EC2ContainerServiceBackend.delete_cluster
_orig_delete_service = ecs_models.EC2ContainerServiceBackend.delete_service


def _get_cluster(self: Any, name: str) -> Any:
    cluster = _orig_get_cluster(self, name)
    if cluster.status == "INACTIVE":
        raise ClusterNotFoundException
    return cluster


def _delete_cluster(self: Any, cluster_str: str) -> Any:
    from world.emulator import ecs_drain

    cluster = self._get_cluster(cluster_str)
    registered = [ci for ci in self.container_instances.get(cluster.name, {}).values() if ci.status != "INACTIVE"]
    if registered:
        raise ECSException("ClusterContainsContainerInstancesException", CONTAINS_INSTANCES)
    if any(s.cluster_name == cluster.name and s.status == "ACTIVE" for s in self.services.values()):
        raise ECSException("ClusterContainsServicesException", CONTAINS_SERVICES)
    active = [
        t
        for t in self.tasks.get(cluster.name, {}).values()
        if t.last_status != "STOPPED" and not ecs_drain._orphaned(t)
    ]
    if active:
        raise ECSException("ClusterContainsTasksException", CONTAINS_TASKS)
    result = _orig_delete_cluster(self, cluster_str)
    core.record("ecs.cluster.deleted", cluster=cluster.name)
    return result


def _delete_service(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
    from world.emulator import ecs_drain

    service = _orig_delete_service(self, cluster_name, service_name, force)
    core.record("ecs.service.deleted", cluster=service.cluster_name, service=service.name, force=bool(force))
    ecs_drain._schedule_reconcile(self, service.cluster_name)  # its tasks stop
    return service


def _ecs(account: str = "123456789012", region: str = "us-west-2") -> Any:
    return ecs_models.ecs_backends[account][region]


def disconnect_agent(
    instance_id: str,
    account: str = "123456789012",
    region: str = "us-west-2",
    reconnect_after: float | None = None,
) -> list[str]:
    """The ECS agent of ``instance_id`` stops talking to ECS (for ``reconnect_after`` AWS seconds,
    or for good); the container instances it cut off."""
    backend = _ecs(account, region)
    cut: list[str] = []
    with core.LOCK:
        for cluster, cis in list(backend.container_instances.items()):
            for ci in cis.values():
                if ci.ec2_instance_id == instance_id and ci.status != "INACTIVE" and ci.agent_connected:
                    _agent_connected(cluster, ci, False)
                    cut.append(ci.container_instance_arn)
    if cut and reconnect_after is not None:
        core.after(core.scaled(reconnect_after), _reconnect, backend, instance_id, cut, name="ecs-agent-reconnect")
    return cut


def _reconnect(backend: Any, instance_id: str, arns: list[str]) -> None:
    """The agent of a live instance talks to ECS again and reports the tasks that stopped meanwhile."""
    from world.emulator.ecs_drain.cluster_state import _tasks_on
    from world.emulator.ecs_drain.tasks import _task_stopped

    ec2 = ec2_models.ec2_backends[backend.account_id][backend.region_name]
    running = any(i.id == instance_id and i.state == "running" for r in ec2.reservations.values() for i in r.instances)
    if not running:
        core.record("ecs.container_instance.not_reconnected", instance_id=instance_id, reason="its instance is gone")
        return
    with core.LOCK:
        for cluster, cis in list(backend.container_instances.items()):
            for ci in cis.values():
                if ci.container_instance_arn not in arns or ci.status == "INACTIVE" or ci.agent_connected:
                    continue
                _agent_connected(cluster, ci, True)
                for task in _tasks_on(backend, cluster, ci):
                    if getattr(task, "_world_report_due", False):
                        _task_stopped(backend, cluster, task)


def _agent_connected(cluster: str, ci: Any, connected: bool) -> None:
    ci.agent_connected = connected
    core.record(
        f"ecs.container_instance.{'reconnected' if connected else 'disconnected'}",
        cluster=cluster,
        instance_id=ci.ec2_instance_id,
        container_instance=ci.container_instance_arn,
        status=ci.status,
        by="world",
    )


def _post_disconnect(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not body.get("instance_id"):
        return 400, {"error": 'need {"instance_id"}'}
    back = body.get("reconnect_after_seconds")
    cut = disconnect_agent(
        body["instance_id"],
        body.get("account", "123456789012"),
        body.get("region", "us-west-2"),
        None if back is None else float(back),
    )
    return 200, {"disconnected": cut}


# --------------------------------------------------------------------------- EC2


_inner_terminate = None


def _terminate_instances(self: Any, instance_ids: list[str]) -> Any:
    backend = _ecs(self.account_id, self.region_name)
    connected: dict[str, bool | None] = {i: None for i in instance_ids}
    for cluster, cis in list(backend.container_instances.items()):
        if cluster not in backend.clusters:
            continue  # moto's store of deregistered instances with orphaned tasks
        for ci in cis.values():
            if ci.ec2_instance_id in connected and ci.status != "INACTIVE":
                connected[ci.ec2_instance_id] = bool(ci.agent_connected)
    running = {i.id for r in self.reservations.values() for i in r.instances if i.state == "running"}
    result = _inner_terminate(self, instance_ids)  # type: ignore[misc]
    retention.forget(instance_ids)  # a retained instance terminated through EC2 leaves its group
    for instance_id in instance_ids:
        if instance_id in running:
            core.record("ec2.instance.terminated", instance_id=instance_id, agent_connected=connected[instance_id])
    return result


def install() -> None:
    global _inner_terminate
    resp = asg_responses.AutoScalingResponse
    resp.delete_auto_scaling_group = delete_auto_scaling_group
    resp.complete_lifecycle_action = _needs_group(resp.complete_lifecycle_action)
    resp.record_lifecycle_action_heartbeat = _needs_group(resp.record_lifecycle_action_heartbeat)
    backend = ecs_models.EC2ContainerServiceBackend
    backend._get_cluster = _get_cluster
    backend.delete_cluster = _delete_cluster
    backend.delete_service = _delete_service
    _inner_terminate = ec2_instances.InstanceBackend.terminate_instances
    ec2_instances.InstanceBackend.terminate_instances = _terminate_instances
    core.route("POST", "/_world/ecs/disconnect-agent")(_post_disconnect)
