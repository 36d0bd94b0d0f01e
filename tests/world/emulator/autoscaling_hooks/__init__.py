"""Auto Scaling scale-in with lifecycle hooks.

What moto lacks and this adds (AWS docs: "Amazon EC2 Auto Scaling lifecycle
hooks", "How lifecycle hooks work", "Complete a lifecycle action",
"CompleteLifecycleAction", "RecordLifecycleActionHeartbeat", "Add an Elastic
Load Balancing health check / connection draining" and the Auto Scaling event
reference), each part in its module:

* ``scale_in``: scale-in no longer terminates at once: the instance is taken out of its
  load balancers, their draining waited out, then the terminate hooks run; the group's
  load balancers get its InService instances, never a terminating one;
* ``actions``: the lifecycle actions of the terminate hooks (all at once, an ABANDON ends
  the others), their event, their timeouts, and the instance's exit;
* ``hooks_api``: PutLifecycleHook, DeleteLifecycleHook, CompleteLifecycleAction and
  RecordLifecycleActionHeartbeat.
"""

from __future__ import annotations

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from world.emulator.autoscaling_hooks.actions import _actions
from world.emulator.autoscaling_hooks.hooks_api import (
    LifecycleHook,
    _delete_lifecycle_hook,
    complete_lifecycle_action,
    put_hook,
    put_lifecycle_hook,
    record_lifecycle_action_heartbeat,
)
from world.emulator.autoscaling_hooks.scale_in import (
    _choose_victims,
    _delete_auto_scaling_group,
    _group_set_desired_capacity,
    _orig_group_set_desired,
    _terminate_instance,
    _update_attached_elbs,
    _update_attached_target_groups,
    begin_termination,
)

# what the other extensions use (spot, instance_refresh, stack_resources, teardown)
__all__ = ["_actions", "_choose_victims", "_orig_group_set_desired", "begin_termination", "install", "put_hook"]


def install() -> None:
    asg_models.FakeAutoScalingGroup.set_desired_capacity = _group_set_desired_capacity
    asg_models.AutoScalingBackend.terminate_instance = _terminate_instance
    asg_models.AutoScalingBackend.delete_auto_scaling_group = _delete_auto_scaling_group
    asg_models.AutoScalingBackend.delete_lifecycle_hook = _delete_lifecycle_hook
    asg_models.AutoScalingBackend.update_attached_elbs = _update_attached_elbs
    asg_models.AutoScalingBackend.update_attached_target_groups = _update_attached_target_groups
    asg_models.LifecycleHook = LifecycleHook
    resp = asg_responses.AutoScalingResponse
    resp.put_lifecycle_hook = put_lifecycle_hook
    resp.complete_lifecycle_action = complete_lifecycle_action
    resp.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
