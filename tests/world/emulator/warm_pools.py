"""Warm pools: instances stopped into the pool on scale-in and started again on scale-out,
and what the ECS agent does across that stop and start.

moto stores PutWarmPool's settings and nothing else. This follows the AWS docs:

* "Warm pools for Amazon EC2 Auto Scaling" (API reference of PutWarmPool,
  DescribeWarmPool, DeleteWarmPool): the pool holds instances stopped
  (``PoolState`` Stopped, the default), running or hibernated; its size is
  ``MaxGroupPreparedCapacity`` (default: the group's MaxSize) minus the
  desired capacity, at least ``MinSize``; PutWarmPool fills it, and Auto Scaling keeps it at
  that size: once a scale-out took instances from it, and once an instance terminated out of
  the group (the capacity it counted against MaxGroupPreparedCapacity is free again: "The
  maximum number of instances that are allowed to be in the warm pool or in any state except
  Terminated", WarmPoolConfiguration), new instances are launched into it; with ``InstanceReusePolicy.ReuseOnScaleIn``
  an instance scaled in goes back to the pool instead of terminating; on
  scale-out Auto Scaling takes instances from the pool (oldest first, here)
  before launching new ones; DescribeWarmPool lists the pool's instances and
  their ``Warmed:*`` states; DeleteWarmPool terminates them (below).
* API reference, AutoScalingInstanceDetails (what DescribeAutoScalingInstances
  returns): its ``LifecycleState`` takes the ``Warmed:*`` values too, so that
  call lists the pool's instances with their group and pool state (moto lists
  only the group's), while DescribeAutoScalingGroups' ``Instances`` does not.
* "Use lifecycle hooks with a warm pool in Auto Scaling group": "if you specify an instance
  reuse policy to return instances to the warm pool on scale in instead of terminating them,
  then an instance that is returning to the warm pool pauses to perform a custom action at the
  ``Warmed:Pending:Wait`` state for the ``EC2_INSTANCE_TERMINATING`` lifecycle action": such an
  instance passes Warmed:Pending (the group's load balancers let it go first: AWS does not say,
  the order of a terminating instance), Warmed:Pending:Wait (the terminate hooks),
  Warmed:Pending:Proceed ("Lifecycle actions wrap up", "Manage retained instances"), then
  Warmed:Stopped (or Warmed:Running, Warmed:Hibernated); "When instances reach a wait state,
  Amazon EC2 Auto Scaling sends a notification that includes the origin and the destination":
  ``Origin`` AutoScalingGroup, ``Destination`` WarmPool. From Warmed:Pending on it is a warm pool
  instance: DescribeWarmPool lists it, DescribeAutoScalingGroups' ``Instances`` does not (its API
  reference: "To retrieve information about the instances in a warm pool, you must call the
  DescribeWarmPool API"; AWS does not say that one still waiting on its way back is in the pool
  already: the harsher reading for whoever looks for instances waiting on a hook), and
  DescribeAutoScalingInstances does, with its state. So does DescribeWarmPool one retained on its
  way back (``Warmed:Pending:Retained``, world.emulator.retention; AWS does not say which call lists
  it).
* Launch hooks of an instance launched into the pool: "When you add a launch lifecycle hook,
  Amazon EC2 Auto Scaling pauses an instance that transitions to the Warmed:Pending:Wait state"
  ("Use lifecycle hooks with a warm pool"): each ``autoscaling:EC2_INSTANCE_LAUNCHING`` hook's
  action starts, an "EC2 Instance-launch Lifecycle Action" event (``Origin`` EC2,
  ``Destination`` WarmPool) goes out, and the instance runs (its agent registered unless the
  warm pools check holds it back) until the actions are over: CONTINUE, then
  ``Warmed:Pending:Proceed`` and stopped; ABANDON, terminated. Scale-out takes only instances
  that are done warming. (The launch hooks of instances launched into the group, and of those
  leaving the pool, ``Pending:Wait``, are not modelled.)
* A warm pool instance that terminates (DeleteWarmPool) has a lifecycle of its own: the states
  ``Warmed:Terminating``, ``Warmed:Terminating:Wait``, ``Warmed:Terminating:Proceed`` and, after
  an abandoned action under a retaining instance lifecycle policy, ``Warmed:Terminating:Retained``
  (API reference, LifecycleState); "A final lifecycle hook runs immediately before the instance
  is terminated" ("Use lifecycle hooks with a warm pool"): the group's terminate hooks wait in
  ``Warmed:Terminating:Wait``, the event's ``Origin`` WarmPool and ``Destination`` EC2 ("Warm pool
  example events and patterns": Origin and Destination are EC2, AutoScalingGroup or WarmPool).
  DeleteWarmPool marks the pool ``Status`` PendingDelete (WarmPoolConfiguration) and terminates its
  instances through those hooks; the pool is gone once the last has left. With ``ForceDelete`` it
  is "deleted along with all of its associated instances, without waiting for all instances to be
  terminated. This parameter also deletes any outstanding lifecycle actions associated with the
  warm pool instances" (API reference, DeleteWarmPool). A terminating instance is not taken back
  into service, nor counted in the pool's size.
* "Warm pools limitations": "You can't add a warm pool to Auto Scaling groups that have a mixed
  instances policy or that launch Spot Instances": PutWarmPool refuses such a group with a
  ValidationError (AWS does not document the error; its wording is the world's).
* DescribeWarmPool pages: "MaxRecords ... The maximum value is 50"; AWS documents no default (the
  world's is 10) and, as its one paging error, ``InvalidNextToken``.
* What the ECS agent does across the stop and start of a pool instance:
  world.emulator.ecs_drain.stop_start.

Event log: ``asg.instance.warmed`` (asg, instance_id, state), ``asg.instance.reused``
(asg, instance_id).
"""

from __future__ import annotations

import base64
from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from world.emulator import core, scaling_activities

# DescribeWarmPool: "MaxRecords ... The maximum value is 50"; AWS documents no default: the world
# pages 10 at a time unless asked for more (the harsher reading for a caller that does not page)
PAGE_MAX = 50
PAGE_DEFAULT = 10
POOL_STATES = {"Stopped": "Warmed:Stopped", "Running": "Warmed:Running", "Hibernated": "Warmed:Hibernated"}


class InvalidNextToken(AutoscalingClientError):
    code = "InvalidNextToken"

    def __init__(self, token: str):
        super().__init__(f"The token '{token}' is invalid.")


def _pool(group: Any) -> list[Any]:
    if not hasattr(group, "_world_warm"):
        group._world_warm = []
    return group._world_warm


def _terminating(state: Any) -> bool:
    return state.lifecycle_state.startswith("Warmed:Terminating")


def warm_instances(group: Any) -> list[Any]:
    """The pool's instances that stay in it (not terminating)."""
    return [s for s in _pool(group) if not _terminating(s)]


def terminating_in_pool(group: Any) -> list[Any]:
    """The pool's instances on their way out of it (``Warmed:Terminating*``)."""
    return [s for s in _pool(group) if _terminating(s)]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _reuses_on_scale_in(group: Any) -> bool:
    pool = getattr(group, "warm_pool", None)
    policy = getattr(pool, "instance_reuse_policy", None) or {}
    return pool is not None and _truthy(policy.get("ReuseOnScaleIn"))


def _pending_delete(group: Any) -> bool:
    return getattr(getattr(group, "warm_pool", None), "status", None) == "PendingDelete"


def destination(group: Any, cause: str) -> str:
    """Where a terminating instance goes: "WarmPool" on scale-in with ReuseOnScaleIn (unless the
    pool is being deleted), else "EC2"."""
    return "WarmPool" if cause == "scale-in" and _reuses_on_scale_in(group) and not _pending_delete(group) else "EC2"


def _user_data_text(group: Any) -> str:
    raw = getattr(group, "user_data", None) or ""
    if hasattr(raw, "_encoded_string"):  # moto's Base64EncodedString
        raw = raw._encoded_string
    raw = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    try:
        return base64.b64decode(raw).decode("utf-8", "replace")
    except Exception:
        return raw


def _warm_pools_check(group: Any) -> bool:
    return "ECS_WARM_POOLS_CHECK=true" in _user_data_text(group).replace(" ", "")


# --------------------------------------------------------------------------- the pool


def _stop(group: Any, state: Any) -> None:
    pool_state = getattr(group.warm_pool, "pool_state", None) or "Stopped"
    if pool_state in ("Stopped", "Hibernated"):
        group.autoscaling_backend.ec2_backend.stop_instances([state.instance.id])
    state.lifecycle_state = POOL_STATES.get(pool_state, "Warmed:Stopped")
    core.record("asg.instance.warmed", asg=group.name, instance_id=state.instance.id, state=state.lifecycle_state)


def enter_pool(group: Any, state: Any) -> bool:
    """Terminating:Proceed of an instance going back to the pool: Warmed:Pending, then stopped.
    False when the group has no warm pool any more, or one being deleted (then it terminates)."""
    if getattr(group, "warm_pool", None) is None or _pending_delete(group):
        return False
    state.lifecycle_state = "Warmed:Pending"
    _pool(group).append(state)
    _stop(group, state)
    return True


def leave_pool(group: Any, count: int) -> list[Any]:
    """Scale-out: up to ``count`` warm instances started and put in service (oldest first)."""
    taken = []
    ready = [s for s in warm_instances(group) if s.lifecycle_state in POOL_STATES.values()]  # not still launching
    for state in ready[: max(0, count)]:
        _pool(group).remove(state)
        state.lifecycle_state = "Pending"
        if state.instance.state != "running":
            group.autoscaling_backend.ec2_backend.start_instances([state.instance.id])
        state.lifecycle_state = "InService"
        state._world_destination = "EC2"
        group.instance_states.append(state)
        scaling_activities.finished(
            group,
            f"Launching a new EC2 instance from warm pool: {state.instance.id}",
            "an instance was started in response to a difference between desired and actual "
            f"capacity, increasing the capacity to {group.desired_capacity}",
        )
        core.record("asg.instance.reused", asg=group.name, instance_id=state.instance.id)
        taken.append(state)
    return taken


def _fill(group: Any) -> None:
    pool = group.warm_pool
    prepared = pool.max_group_prepared_capacity
    prepared = group.max_size if prepared in (None, -1, "-1") else int(prepared)
    size = max(int(pool.min_size or 0), prepared - int(group.desired_capacity or 0))
    missing = size - len(warm_instances(group))
    if missing <= 0:
        return
    before = {id(s) for s in group.instance_states}
    ecs = core.CONFIG["ecs"]
    saved = ecs.get("agent_autoregister", True)
    if _warm_pools_check(group):
        ecs["agent_autoregister"] = False  # the agent waits until the instance is bound for service
    group._world_launching_into_pool = True
    try:
        group.replace_autoscaling_group_instances(missing, group.get_propagated_tags())
    finally:
        ecs["agent_autoregister"] = saved
        group._world_launching_into_pool = False
    new = [s for s in group.instance_states if id(s) not in before]
    group.instance_states = [s for s in group.instance_states if id(s) in before]
    from world.emulator.autoscaling_hooks.actions import LAUNCHING, hooks_of, start_actions

    hooks = hooks_of(group, LAUNCHING)
    for state in new:
        _pool(group).append(state)
        if hooks:  # running, until its launch actions are over
            state.lifecycle_state = "Warmed:Pending:Wait"
            start_actions(group, state, hooks)
        else:
            state.lifecycle_state = "Warmed:Pending"
            _stop(group, state)


def launched_into_pool(group: Any, instance_id: str, result: str) -> None:
    """The launch actions of an instance launched into the pool are over: with CONTINUE it goes on
    (``Warmed:Pending:Proceed``) and is stopped; with ABANDON it is terminated (and not replaced:
    AWS does not say when)."""
    state = next((s for s in _pool(group) if s.instance.id == instance_id), None)
    if state is None:
        return
    if result == "CONTINUE":
        state.lifecycle_state = "Warmed:Pending:Proceed"
        _stop(group, state)
        return
    _pool(group).remove(state)
    group.autoscaling_backend.ec2_backend.terminate_instances([instance_id])
    core.record("asg.instance.launch_abandoned", asg=group.name, instance_id=instance_id)


_orig_put_warm_pool = asg_models.AutoScalingBackend.put_warm_pool
_orig_describe_auto_scaling_instances = asg_models.AutoScalingBackend.describe_auto_scaling_instances
_orig_delete_warm_pool = asg_models.AutoScalingBackend.delete_warm_pool
_orig_describe_warm_pool = asg_responses.AutoScalingResponse.describe_warm_pool


def _spot(group: Any) -> bool:
    """Whether the group launches Spot Instances: its launch configuration's SpotPrice, or its
    launch template's InstanceMarketOptions."""
    if group.ec2_launch_template:
        data = group.ec2_launch_template.get_version(group.launch_template_version).data or {}
        return str((data.get("InstanceMarketOptions") or {}).get("MarketType", "")).lower() == "spot"
    return bool(getattr(group.launch_config, "spot_price", None))


def _put_warm_pool(self: Any, group_name: str, **kwargs: Any) -> None:
    group = self.autoscaling_groups.get(group_name)
    if group is not None and (group.mixed_instances_policy or _spot(group)):
        # "You can't add a warm pool to Auto Scaling groups that have a mixed instances policy or
        # that launch Spot Instances" (warm pools' limitations); the error's wording is the world's
        raise ValidationError(
            "You can't add a warm pool to an Auto Scaling group that has a mixed instances policy "
            "or that launches Spot Instances."
        )
    _orig_put_warm_pool(self, group_name, **kwargs)
    _fill(self.autoscaling_groups[group_name])


def pool_instances(group: Any) -> list[Any]:
    """Every instance in the pool, terminating ones included."""
    return list(_pool(group))


def refill(group: Any) -> None:
    """Launch into the pool what it lacks (an instance refresh replaced its instances)."""
    if getattr(group, "warm_pool", None) is not None and not _pending_delete(group):
        _fill(group)


def terminate_from_pool(group: Any, state: Any, cause: str) -> None:
    """A pool instance terminating (``cause``: ``warm-pool-deleted``, ``instance-refresh``):
    ``Warmed:Terminating``, then the group's terminate hooks (``Warmed:Terminating:Wait``;
    ``Origin`` WarmPool, ``Destination`` EC2), then it leaves (world.emulator.autoscaling_hooks.actions,
    which calls terminated_from_pool)."""
    from world.emulator.autoscaling_hooks.actions import _run_hooks

    state.lifecycle_state = "Warmed:Terminating"
    state._world_origin = "WarmPool"
    state._world_destination = "EC2"
    activity = scaling_activities.terminating(group, state.instance.id, cause, None)
    activity.description = f"Terminating EC2 instance from warm pool: {state.instance.id}"
    state._world_activity = activity
    core.record(
        "asg.instance.terminating",
        asg=group.name,
        instance_id=state.instance.id,
        cause=cause,
        origin="WarmPool",
        destination="EC2",
    )
    _run_hooks(group, state)


def terminated_from_pool(group: Any, state: Any) -> None:
    """A terminating pool instance leaves the pool (terminated or retained)."""
    _pool(group)[:] = [s for s in _pool(group) if s is not state]
    settle_deletion(group)


def settle_deletion(group: Any) -> None:
    """A pool pending deletion is gone once no instance is associated with it: none in it, none
    retained in it."""
    from world.emulator import retention

    if _pending_delete(group) and not _pool(group) and not retention.retained_in_pool(group):
        group.warm_pool = None


def _delete_warm_pool(self: Any, group_name: str, force: bool = False) -> None:
    from world.emulator import retention

    group = self.autoscaling_groups.get(group_name)
    if group is None or not (_pool(group) or retention.retained_in_pool(group)):
        _orig_delete_warm_pool(self, group_name)
        return
    if not force:
        group.warm_pool.status = "PendingDelete"
        for state in warm_instances(group):
            terminate_from_pool(group, state, "warm-pool-deleted")
        return
    from world.emulator.autoscaling_hooks import actions

    # "deleted along with all of its associated instances": those retained in it too
    _pool(group).extend(retention.take_in_pool(group))
    ids = [s.instance.id for s in _pool(group)]
    actions.drop_actions(self, lambda action: action.instance_id in ids, "ForceDelete")
    self.ec2_backend.terminate_instances(ids)
    for state in _pool(group):
        scaling_activities.done(getattr(state, "_world_activity", None))
        scaling_activities.finished(
            group,
            f"Terminating EC2 instance from warm pool: {state.instance.id}",
            "an instance was taken out of the warm pool in response to a user request",
        )
        core.record(
            "asg.instance.terminated",
            asg=group.name,
            instance_id=state.instance.id,
            destination="EC2",
            from_warm_pool=True,
        )
    _pool(group).clear()
    _orig_delete_warm_pool(self, group_name)


def delete_warm_pool(self: Any) -> Any:
    """DeleteWarmPool with ``ForceDelete`` (moto reads only the group's name)."""
    from moto.core.responses import EmptyResult

    force = str(self._get_param("ForceDelete", "false")).lower() == "true"
    self.autoscaling_backend.delete_warm_pool(self._get_param("AutoScalingGroupName"), force)
    return EmptyResult()


def _describe_auto_scaling_instances(self: Any, instance_ids: list[str]) -> list[Any]:
    found = _orig_describe_auto_scaling_instances(self, instance_ids)
    for group in self.autoscaling_groups.values():
        found.extend(s for s in _pool(group) if not instance_ids or s.instance.id in instance_ids)
    return found


def describe_warm_pool(self: Any) -> Any:
    """DescribeWarmPool with the pool's instances, ``MaxRecords`` (at most 50; 10 unless given) at a
    time with ``NextToken`` (API reference of DescribeWarmPool; a token it did not hand out is
    ``InvalidNextToken``, the call's one documented paging error)."""
    from world.emulator import retention

    max_records = self._get_int_param("MaxRecords", PAGE_DEFAULT)
    if not 1 <= max_records <= PAGE_MAX:
        bound = f"less than or equal to {PAGE_MAX}" if max_records > PAGE_MAX else "greater than or equal to 1"
        raise ValidationError(
            f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: "
            f"Member must have value {bound}"
        )
    result = _orig_describe_warm_pool(self)
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    if group is not None and isinstance(getattr(result, "result", None), dict):
        # on their way back (Warmed:Pending, Warmed:Pending:Wait), retained there, then the pool's own
        returning = [s for s in group.instance_states if s.lifecycle_state.startswith("Warmed:")]
        listed = returning + retention.retained_in_pool(group) + _pool(group)
        token = self._get_param("NextToken")
        if token is not None and not (token.isdigit() and 0 < int(token) < len(listed)):
            raise InvalidNextToken(token)
        start = int(token) if token else 0
        result.result["Instances"] = [
            {
                "InstanceId": s.instance.id,
                "InstanceType": s.instance.instance_type,
                "AvailabilityZone": s.availability_zone,
                "LifecycleState": s.lifecycle_state,
                "HealthStatus": "Healthy",
                "ProtectedFromScaleIn": bool(s.protected_from_scale_in),
            }
            for s in listed[start : start + max_records]
        ]
        if start + max_records < len(listed):
            result.result["NextToken"] = str(start + max_records)
    return result


def install() -> None:
    asg_models.AutoScalingBackend.put_warm_pool = _put_warm_pool
    asg_models.AutoScalingBackend.delete_warm_pool = _delete_warm_pool
    asg_models.AutoScalingBackend.describe_auto_scaling_instances = _describe_auto_scaling_instances
    asg_responses.AutoScalingResponse.describe_warm_pool = describe_warm_pool
    asg_responses.AutoScalingResponse.delete_warm_pool = delete_warm_pool
