"""ECS on EC2: the agent, the service scheduler and container instance draining.

moto stores ECS resources but runs nothing. This adds, after the AWS docs
("Container instance draining", "Deregister a container instance", "Service scheduler concepts", "Deployment
configuration: minimumHealthyPercent / maximumPercent", "Task lifecycle",
ListTasks, ListContainerInstances, "Cluster query language"), each part in its module:

* ``container_instances``: the agent (registration from the user data's ``ECS_CLUSTER``,
  disconnected and INACTIVE on termination), UpdateContainerInstancesState and a forced
  DeregisterContainerInstance, which orphans the instance's running tasks;
* ``service_scheduler``: the REPLICA service scheduler for the EC2 launch type, the
  replacement of the tasks of a DRAINING instance within minimumHealthyPercent /
  maximumPercent, CreateService / UpdateService;
* ``tasks``: a task's life (PENDING, RUNNING in its load balancers, deregistered and
  drained, STOPPED), StopTask, standalone tasks (RunTask/StartTask);
* ``listing``: the filters of ListTasks and ListContainerInstances;
* ``attributes``: the custom attributes of container instances (PutAttributes, DeleteAttributes);
* ``stop_start``: the agent across a stop and start of its instance (a warm pool's);
* ``cluster_state``: the lookups and counts they share.
"""

from __future__ import annotations

from moto.ec2.models import instances as ec2_instances
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from world.emulator import core
from world.emulator.ecs_drain import attributes, stop_start
from world.emulator.ecs_drain.cluster_state import _orphaned, _schedule_reconcile, _tasks_on
from world.emulator.ecs_drain.container_instances import (
    _deregister_container_instance,
    _run_instances,
    _terminate_instances,
    _update_container_instances_state,
    _user_data_cluster,
)
from world.emulator.ecs_drain.listing import list_container_instances, list_tasks
from world.emulator.ecs_drain.service_scheduler import _on_health, _update_service, create_service
from world.emulator.ecs_drain.tasks import (
    _container_init,
    _pin_task_states,
    _run_task_api,
    _start_task_api,
    _stop_task_api,
    _task_stopped,
    describe_tasks,
)

# what the other extensions use (world.emulator.teardown, ...)
__all__ = ["_orphaned", "_schedule_reconcile", "_task_stopped", "_tasks_on", "_user_data_cluster", "install"]


def install() -> None:
    from world.emulator import lb_drain

    lb_drain.HEALTH_LISTENERS.append(_on_health)
    ecs_models.Container.__init__ = _container_init
    _pin_task_states()
    core.on_reset(_pin_task_states)
    ec2_instances.InstanceBackend.run_instances = _run_instances
    ec2_instances.InstanceBackend.terminate_instances = _terminate_instances
    stop_start.install()
    resp = ecs_responses.EC2ContainerServiceResponse
    resp.create_service = create_service
    resp.list_tasks = list_tasks
    resp.describe_tasks = describe_tasks
    resp.list_container_instances = list_container_instances
    resp.put_attributes = attributes.put_attributes
    resp.delete_attributes = attributes.delete_attributes
    backend = ecs_models.EC2ContainerServiceBackend
    backend.update_service = _update_service
    backend.update_container_instances_state = _update_container_instances_state
    backend.stop_task = _stop_task_api
    backend.run_task = _run_task_api
    backend.start_task = _start_task_api
    backend.deregister_container_instance = _deregister_container_instance
