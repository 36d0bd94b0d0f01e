"""The ECS agent across a stop and start of its instance (a warm pool instance, or any other).

* Amazon ECS Developer Guide, "Configuring pre-initialized instances for your
  Amazon ECS Auto Scaling group": ECS says ReuseOnScaleIn cannot be set for an
  ECS group; the Auto Scaling API accepts it all the same, and the world lets
  it happen (the harsher reading: such an instance comes back with its old
  container instance). ECS agent configuration ``ECS_WARM_POOLS_CHECK``
  "Whether to ensure instances going into an EC2 Auto Scaling group warm pool
  are prevented from being registered with the cluster" (default false): an
  instance launched into the pool registers at launch (and is then stopped)
  unless its user data sets ``ECS_WARM_POOLS_CHECK=true``.
* ECS DeregisterContainerInstance API reference: "stopped container instances
  or instances with disconnected agents aren't automatically deregistered".
  Stopping an instance (for any reason) disconnects its agent: the record
  stays, with ``agentConnected`` false and the status it had (DRAINING stays
  DRAINING); the containers die with the instance, which ECS learns when the
  agent is back. On start the agent re-registers with the container instance
  ARN it saved: the same record, connected again, its status unchanged, its
  tasks that were not STOPPED now STOPPED (the ECS Developer Guide says a stopped
  instance's tasks are "transitioned to the STOPPED status" and its agent
  disconnected "within a few minutes", not how soon: the world takes the later
  reading). The agent never sets its record ACTIVE again (amazon-ecs-agent: its
  one UpdateContainerInstancesState call sets DRAINING, on a Spot interruption),
  and AWS does not say that re-registering does: a record DRAINING when the
  instance stopped comes back DRAINING, with the custom attributes it had (the
  agent sends its own custom attributes only at its first registration: "Custom
  attribute registration only happens on initial instance registration",
  amazon-ecs-agent's agent.go, so ECS keeps them across a re-registration; AWS
  does not document it). When there was no record, the agent registers a new one. When its record was deregistered (INACTIVE), the agent
  stops for good: it re-registers with its saved ARN, ECS refuses it
  ("ClientException: Container instance ... is inactive", amazon-ecs-agent issue
  583), which the agent does not retry, and it exits with its terminal exit code
  (5, "should not be restarted"; ``doStart`` in agent/app/agent.go), a
  deregistration being "supposed to be final" (issue 125). The instance then
  runs in service without ever joining the cluster again. Amazon ECS does not
  support ReuseOnScaleIn at all ("Configuring pre-initialized instances for your
  Amazon ECS Auto Scaling group"; ecs-sta doctor fails it, warm-pool-reuse).

A start sets the instance's ``LaunchTime`` ("The time that the instance was last launched",
EC2 API reference, Instance; moto kept the first launch).

Event log: ``ec2.instance.stopped`` / ``ec2.instance.started`` (instance_id),
``ecs.container_instance.disconnected`` / ``.reconnected`` (cluster, instance_id,
container_instance, status), ``ecs.agent.exited`` (cluster, instance_id, container_instance,
reason: its saved record is INACTIVE).
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import utcnow
from moto.ec2.models import instances as ec2_instances
from world.emulator import core
from world.emulator.ecs_drain import container_instances
from world.emulator.ecs_drain.cluster_state import _backend, _schedule_reconcile, _tasks_on
from world.emulator.ecs_drain.container_instances import _user_data_cluster
from world.emulator.ecs_drain.tasks import _task_stopped


def _records(ecs: Any, instance_id: str) -> list[tuple[str, Any]]:
    return [
        (cluster, ci)
        for cluster, cis in list(ecs.container_instances.items())
        if cluster in ecs.clusters
        for ci in cis.values()
        if ci.ec2_instance_id == instance_id
    ]


_orig_stop_instances = ec2_instances.InstanceBackend.stop_instances
_orig_start_instances = ec2_instances.InstanceBackend.start_instances


def _stop_instances(self: Any, instance_ids: list[str]) -> Any:
    result = _orig_stop_instances(self, instance_ids)
    ecs = _backend(self.account_id, self.region_name)
    for instance, _previous in result:
        core.record("ec2.instance.stopped", instance_id=instance.id)
        for cluster, ci in _records(ecs, instance.id):
            if ci.status != "INACTIVE" and ci.agent_connected:
                ci.agent_connected = False
                core.record(
                    "ecs.container_instance.disconnected",
                    cluster=cluster,
                    instance_id=instance.id,
                    container_instance=ci.container_instance_arn,
                    status=ci.status,
                )
    return result


def _start_instances(self: Any, instance_ids: list[str]) -> Any:
    result = _orig_start_instances(self, instance_ids)
    ecs = _backend(self.account_id, self.region_name)
    for instance, previous in result:
        if previous.name != "running":
            # "LaunchTime: The time that the instance was last launched" (EC2 API reference,
            # Instance); moto kept the first launch
            instance.launch_time = utcnow()
        core.record("ec2.instance.started", instance_id=instance.id)
        cluster = _user_data_cluster(getattr(instance, "user_data", None))
        if not cluster or cluster not in ecs.clusters:
            continue
        saved = container_instances.saved_arn(ecs, cluster, instance.id)
        records = [ci for name, ci in _records(ecs, instance.id) if name == cluster]
        if saved is not None and not any(
            ci.container_instance_arn == saved and ci.status != "INACTIVE" for ci in records
        ):
            # the agent re-registers with the ARN it saved, ECS refuses an inactive one, the agent exits
            core.record(
                "ecs.agent.exited",
                cluster=cluster,
                instance_id=instance.id,
                container_instance=saved,
                reason=f"ClientException: Container instance {saved} is inactive.",
            )
            continue
        alive = [ci for ci in records if ci.status != "INACTIVE"]
        if alive:
            ci = alive[0]
            ci.agent_connected = True
            reason = f"Host EC2 (instance {instance.id}) stopped."
            for task in _tasks_on(ecs, cluster, ci):
                if task.last_status != "STOPPED":
                    task.desired_status = "STOPPED"
                    task.stopped_reason = task.stopped_reason or reason
                    _task_stopped(ecs, cluster, task)
            core.record(
                "ecs.container_instance.reconnected",
                cluster=cluster,
                instance_id=instance.id,
                container_instance=ci.container_instance_arn,
                status=ci.status,
            )
        else:
            container_instances.register(ecs, cluster, instance.id)
        _schedule_reconcile(ecs, cluster)
    return result


def install() -> None:
    ec2_instances.InstanceBackend.stop_instances = _stop_instances
    ec2_instances.InstanceBackend.start_instances = _start_instances
