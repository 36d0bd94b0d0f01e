"""Instance retention: an instance lifecycle policy keeps an instance whose terminate lifecycle
action was abandoned, instead of terminating it.

moto ignores ``InstanceLifecyclePolicy``. This follows the AWS docs ("Control instance retention
with instance lifecycle policies", "Configure instance retention", "Manage retained instances";
API reference: InstanceLifecyclePolicy, RetentionTriggers):

* CreateAutoScalingGroup and UpdateAutoScalingGroup take
  ``InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon`` (``retain`` or
  ``terminate``, the default; any other value is a ValidationError), and DescribeAutoScalingGroups
  returns the policy.
* "The TerminateHookAbandon trigger causes retention": CompleteLifecycleAction with ABANDON, and
  a heartbeat timeout or a global timeout of an action whose default result is ABANDON; so does,
  in the world, an ABANDON that ends an action through another terminate hook of the group
  (world.emulator.autoscaling_hooks.actions). Policies "only apply when termination lifecycle
  actions are abandoned, not when they complete successfully with the CONTINUE result". Once the
  instance's actions are over, it passes ``Terminating:Proceed`` to ``Terminating:Retained``
  instead of leaving. One on its way back to a warm pool goes from ``Warmed:Pending:Wait`` (where
  its terminate hooks wait, world.emulator.warm_pools) to ``Warmed:Pending:Retained``: "Manage
  retained instances" lists that state for "instances scaling back into the warm pool". A warm
  pool instance terminating (``Warmed:Terminating:Wait``) goes to ``Warmed:Terminating:Retained``
  (API reference, LifecycleState; AWS documents no more of it: the world keeps it stopped).
* Retained instances "continue running as active Amazon EC2 instances", "don't count toward your
  Amazon EC2 Auto Scaling group's desired capacity" (Auto Scaling launches a replacement when
  the capacity asks for one) and "remain in Retained state indefinitely until you take action":
  the EC2 instance runs on, its ECS agent stays connected and its container instance keeps its
  status and tasks. DescribeAutoScalingInstances lists it with its state, and so does
  DescribeAutoScalingGroups (``Instances``) for ``Terminating:Retained``; a ``Warmed:*`` instance
  is listed by DescribeWarmPool instead (world.emulator.warm_pools). Its scaling activity ends ``Successful`` (the
  world's choice: AWS does not say). DeleteAutoScalingGroup refuses a group that still has one,
  and ForceDelete terminates it; terminated through EC2, it leaves the group.
* "Retained instances ... remain until you call TerminateInstanceInAutoScalingGroup": that call
  terminates it at once; but not one retained in or on its way to the warm pool (``Warmed:*``):
  that call's API reference says "This operation cannot be called on instances in a warm pool"
  (the harsher reading: a ValidationError; EC2's TerminateInstances ends it). AWS does not say whether the terminate hooks run again (reports say a new
  terminate action begins); the world takes the harsher reading for a drain, they do not (a task
  still on the instance dies with it). DetachInstances, EnterStandby, SetInstanceProtection and
  SetInstanceHealth do nothing to a retained instance here (moto looks only at the group's others).

Events: ``asg.instance.retained`` (asg, instance_id, state), and ``asg.instance.terminated``
with ``retained`` true when TerminateInstanceInAutoScalingGroup ends it.
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from world.emulator import core, scaling_activities

VALUES = ("retain", "terminate")


def _retained(group: Any) -> list[Any]:
    if not hasattr(group, "_world_retained"):
        group._world_retained = []
    return group._world_retained


def retains(group: Any) -> bool:
    """Whether the group retains an instance whose terminate lifecycle action was abandoned."""
    policy = getattr(group, "instance_lifecycle_policy", None) or {}
    return (policy.get("RetentionTriggers") or {}).get("TerminateHookAbandon") == "retain"


def retain(group: Any, state: Any) -> None:
    """Retained (past ``Terminating:Proceed``): out of the group's capacity, still running."""
    from world.emulator import warm_pools
    from world.emulator.autoscaling_hooks.actions import WAIT_STATES, origin_of

    group.instance_states = [s for s in group.instance_states if s is not state]
    wait = WAIT_STATES[(origin_of(state), getattr(state, "_world_destination", "EC2"))]
    state.lifecycle_state = wait.replace(":Wait", ":Retained")
    _retained(group).append(state)
    if origin_of(state) == "WarmPool":
        warm_pools.terminated_from_pool(group, state)
    scaling_activities.done(getattr(state, "_world_activity", None))
    core.record("asg.instance.retained", asg=group.name, instance_id=state.instance.id, state=state.lifecycle_state)


def _policy(response: Any) -> dict[str, Any] | None:
    """The request's ``InstanceLifecyclePolicy``, checked; ``None`` when it gives none."""
    policy = response._get_params().get("InstanceLifecyclePolicy")
    if policy is None:
        return None
    trigger = (policy.get("RetentionTriggers") or {}).get("TerminateHookAbandon")
    if trigger is not None and trigger not in VALUES:
        raise ValidationError(
            f"1 validation error detected: Value '{trigger}' at "
            "'instanceLifecyclePolicy.retentionTriggers.terminateHookAbandon' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(VALUES)}]"
        )
    return policy


_orig_create = asg_responses.AutoScalingResponse.create_auto_scaling_group
_orig_update = asg_responses.AutoScalingResponse.update_auto_scaling_group


def _keeping_the_policy(call: Any) -> Any:
    """CreateAutoScalingGroup or UpdateAutoScalingGroup (``call``), then the request's policy on the group."""

    def patched(self: Any) -> Any:
        policy = _policy(self)
        result = call(self)
        if policy is not None:
            group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
            group.instance_lifecycle_policy = policy
        return result

    return patched


def _instances(self: Any) -> list[Any]:
    """DescribeAutoScalingGroups' ``Instances``: the group's own, none of its warm pool's (an instance
    on its way back to the pool is in ``Warmed:*`` states, listed by DescribeWarmPool)."""
    listed = [s for s in self.instance_states if not s.lifecycle_state.startswith("Warmed:")]
    return listed + [s for s in _retained(self) if s.lifecycle_state.startswith("Terminating")]


def retained_in_pool(group: Any) -> list[Any]:
    """The instances retained on their way back to the group's warm pool or out of it
    (``Warmed:Pending:Retained``, ``Warmed:Terminating:Retained``)."""
    return [s for s in _retained(group) if s.lifecycle_state.startswith("Warmed:")]


def take_in_pool(group: Any) -> list[Any]:
    """The instances retained in the group's warm pool, no longer kept (DeleteWarmPool's
    ForceDelete terminates them)."""
    taken = retained_in_pool(group)
    _retained(group)[:] = [s for s in _retained(group) if s not in taken]
    return taken


def take_all(group: Any) -> list[Any]:
    """The group's retained instances, no longer kept (ForceDelete terminates them)."""
    taken = list(_retained(group))
    _retained(group).clear()
    return taken


def forget(instance_ids: list[str]) -> None:
    """Instances terminated through EC2 are retained no more (a warm pool being deleted may be
    gone then)."""
    from moto.autoscaling.models import autoscaling_backends
    from world.emulator import warm_pools

    for regions in autoscaling_backends.values():
        for backend in regions.values():
            for group in backend.autoscaling_groups.values():
                kept = _retained(group)
                kept[:] = [s for s in kept if s.instance.id not in instance_ids]
                warm_pools.settle_deletion(group)


def _find_retained(backend: Any, instance_ids: list[str] | None) -> list[tuple[Any, Any]]:
    return [
        (group, state)
        for group in backend.autoscaling_groups.values()
        for state in _retained(group)
        if not instance_ids or state.instance.id in instance_ids
    ]


_orig_describe_instances = asg_models.AutoScalingBackend.describe_auto_scaling_instances
_orig_terminate_instance = asg_models.AutoScalingBackend.terminate_instance


def _describe_auto_scaling_instances(self: Any, instance_ids: list[str]) -> list[Any]:
    return _orig_describe_instances(self, instance_ids) + [s for _, s in _find_retained(self, instance_ids)]


def _terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
    found = _find_retained(self, [instance_id])
    if not found:
        return _orig_terminate_instance(self, instance_id, should_decrement)
    [(group, state)] = found
    if state.lifecycle_state.startswith("Warmed:"):
        # "This operation cannot be called on instances in a warm pool" (its API reference),
        # although "Manage retained instances" says they remain until it is called: the
        # harsher reading; the error's wording is the world's
        raise ValidationError(
            f"Instance {instance_id} is in the warm pool: TerminateInstanceInAutoScalingGroup cannot be "
            "called on instances in a warm pool."
        )
    _retained(group).remove(state)  # out of the capacity already: nothing to decrement
    self.ec2_backend.terminate_instances([instance_id])
    self.elbv2_backend.notify_terminate_instances([instance_id])
    core.record("asg.instance.terminated", asg=group.name, instance_id=instance_id, destination="EC2", retained=True)
    return asg_models.TerminateInstanceActivity(state.instance, group.desired_capacity)


def install() -> None:
    """After world.emulator.autoscaling_hooks and warm_pools: it wraps what they installed."""
    global _orig_describe_instances, _orig_terminate_instance
    _orig_describe_instances = asg_models.AutoScalingBackend.describe_auto_scaling_instances
    _orig_terminate_instance = asg_models.AutoScalingBackend.terminate_instance
    asg_models.AutoScalingBackend.describe_auto_scaling_instances = _describe_auto_scaling_instances
    asg_models.AutoScalingBackend.terminate_instance = _terminate_instance
    asg_models.FakeAutoScalingGroup.instances = property(_instances)
    asg_responses.AutoScalingResponse.create_auto_scaling_group = _keeping_the_policy(_orig_create)
    asg_responses.AutoScalingResponse.update_auto_scaling_group = _keeping_the_policy(_orig_update)
