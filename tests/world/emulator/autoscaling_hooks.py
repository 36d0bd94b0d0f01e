"""Auto Scaling scale-in with lifecycle hooks.

What moto lacks and this adds (AWS docs: "Amazon EC2 Auto Scaling lifecycle
hooks", "How lifecycle hooks work", "Complete a lifecycle action",
"CompleteLifecycleAction", "RecordLifecycleActionHeartbeat", "Add an Elastic
Load Balancing health check / connection draining" and the Auto Scaling event
reference):

* Scale-in (SetDesiredCapacity / UpdateAutoScalingGroup lower,
  TerminateInstanceInAutoScalingGroup) no longer terminates at once. The
  instance goes ``Terminating``: Auto Scaling deregisters it from the Classic
  ELBs and target groups attached to the group and waits out their draining;
  then, for each ``autoscaling:EC2_INSTANCE_TERMINATING`` hook, a lifecycle
  action starts: ``Terminating:Wait``, an "EC2 Instance-terminate Lifecycle
  Action" event goes to the default event bus (world.emulator.eventbridge delivers it),
  with ``Origin`` AutoScalingGroup and ``Destination`` EC2, or WarmPool for an
  instance going back to the group's warm pool (world.emulator.warm_pools). The
  instance leaves when every action is completed or timed out (the hook's
  DefaultResult after HeartbeatTimeout without heartbeat, or after the global
  timeout min(48 h, 100 x HeartbeatTimeout)).
* Several terminate hooks: AWS documents no order among the hooks of one
  transition (PutLifecycleHook has no order field), so the world starts all
  their actions at once, the harsher reading: "If an instance is terminating,
  both abandon and continue allow the instance to terminate. However, abandon
  stops any remaining actions, such as other lifecycle hooks, and continue
  allows any other lifecycle hooks to complete" ("Amazon EC2 Auto Scaling
  lifecycle hooks", considerations). An ABANDON of one hook ends the other
  hooks' outstanding actions at once (``by`` ``ABANDON-of-other-hook`` in the
  event log) and the instance proceeds, even mid-drain.
* CompleteLifecycleAction and RecordLifecycleActionHeartbeat, by token or by
  instance id, with AWS's ValidationError when no action is active.
* DeleteLifecycleHook completes the hook's outstanding actions first, as the
  API reference says: CONTINUE for terminating instances (``by``
  ``DeleteLifecycleHook`` in the event log); the instance then proceeds.
* PutLifecycleHook keeps NotificationMetadata, NotificationTargetARN, RoleARN
  and reports GlobalTimeout.
* moto re-registers every group instance, terminating ones included, in the
  group's target groups whenever the capacity changes (and deregisters from
  its Classic ELBs whatever is not InService). Auto Scaling registers an
  instance when it enters service and deregisters it only when it leaves
  ("Use Elastic Load Balancing to distribute incoming application traffic in
  your Auto Scaling group"): the world registers InService instances not yet
  registered, and nothing else.
* Each termination is a scaling activity (world.emulator.scaling_activities).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from moto.core.responses import ActionResult, EmptyResult
from world.emulator import core
from world.emulator.eventbridge import deliver_event

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
MAX_GLOBAL_TIMEOUT = 48 * 3600


# --------------------------------------------------------------------------- lifecycle actions


class Action:
    def __init__(self, group: Any, hook: Any, instance_id: str, destination: str = "EC2"):
        self.token = str(uuid.uuid4())
        self.group = group
        self.hook = hook
        self.instance_id = instance_id
        self.destination = destination  # "EC2", or "WarmPool" for an instance going back to the pool
        self.heartbeat_timer: core.Timer | None = None
        self.global_timer: core.Timer | None = None

    def arm_heartbeat(self) -> None:
        if self.heartbeat_timer:
            self.heartbeat_timer.cancel()
        self.heartbeat_timer = core.after(
            core.scaled(self.hook.heartbeat_timeout), _expire, self, "heartbeat-timeout", name="hook-heartbeat"
        )


def _actions(backend: Any) -> dict[str, Action]:
    if not hasattr(backend, "_world_actions"):
        backend._world_actions = {}
    return backend._world_actions


def _backend_of(group: Any) -> Any:
    return group.autoscaling_backend


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lifecycle_event(action: Action) -> dict[str, Any]:
    group, hook = action.group, action.hook
    detail = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": group.name,
        "LifecycleHookName": hook.name,
        "EC2InstanceId": action.instance_id,
        "LifecycleTransition": TERMINATING,
    }
    if getattr(hook, "notification_metadata", None):
        detail["NotificationMetadata"] = hook.notification_metadata
    detail["Origin"] = "AutoScalingGroup"
    detail["Destination"] = action.destination
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Instance-terminate Lifecycle Action",
        "source": "aws.autoscaling",
        "account": group.account_id,
        "time": _now_iso(),
        "region": group.region,
        "resources": [group.arn],
        "detail": detail,
    }


def begin_termination(group: Any, state: Any, cause: str, original_capacity: int | None = None) -> Any:
    """Take an instance out of service the way Auto Scaling does on scale-in; its scaling activity.

    ``cause``: ``scale-in`` (the group's desired capacity went down: the instance goes back to
    the warm pool when the pool reuses instances on scale-in), ``TerminateInstanceInAutoScalingGroup``,
    ``instance-refresh``, ``spot-interruption``."""
    from world.emulator import lb_drain, scaling_activities, warm_pools

    instance_id = state.instance.id
    state.lifecycle_state = "Terminating"
    state._world_destination = warm_pools.destination(group, cause)
    activity = scaling_activities.terminating(group, instance_id, cause, original_capacity)
    state._world_activity = activity
    core.record(
        "asg.instance.terminating",
        asg=group.name,
        instance_id=instance_id,
        cause=cause,
        destination=state._world_destination,
    )
    backend = _backend_of(group)
    wait = 0.0
    for name in list(group.load_balancer_names or []):
        lb = backend.elb_backend.load_balancers.get(name)
        if lb is None or instance_id not in lb.instance_autoscaling_ids:
            continue
        backend.elb_backend.deregister_instances(name, [instance_id], from_autoscaling=True)
        wait = max(wait, lb_drain.classic_drain_seconds(lb))
        core.record("asg.lb.deregistered", asg=group.name, instance_id=instance_id, load_balancer=name)
    for arn in list(group.target_group_arns or []):
        tg = backend.elbv2_backend.target_groups.get(arn)
        if tg is None:
            continue
        target = {"Id": instance_id, "Port": tg.port}
        if lb_drain.is_registered(tg, target):
            backend.elbv2_backend.deregister_targets(arn, [target])
            wait = max(wait, lb_drain.tg_drain_seconds(tg))
            core.record("asg.lb.deregistered", asg=group.name, instance_id=instance_id, target_group=arn)
    if wait > 0:
        activity.status_code = "WaitingForELBConnectionDraining"
        core.after(core.scaled(wait), _run_hooks, group, state, name="asg-lb-drained")
    else:
        _run_hooks(group, state)
    return activity


def _run_hooks(group: Any, state: Any) -> None:
    backend = _backend_of(group)
    hooks = [
        h
        for h in backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == TERMINATING
    ]
    if not hooks or getattr(group, "_world_force", False):
        _proceed(group, state)
        return
    state.lifecycle_state = "Terminating:Wait"
    destination = getattr(state, "_world_destination", "EC2")
    if getattr(state, "_world_activity", None) is not None:
        state._world_activity.status_code = "MidTerminatingLifecycleAction"
    for hook in hooks:  # all at once: AWS documents no order among them
        action = Action(group, hook, state.instance.id, destination)
        _actions(backend)[action.token] = action
        action.arm_heartbeat()
        action.global_timer = core.after(
            core.scaled(hook.global_timeout), _expire, action, "global-timeout", name="hook-global"
        )
        core.record(
            "asg.lifecycle.wait",
            asg=group.name,
            hook=hook.name,
            instance_id=state.instance.id,
            token=action.token,
            origin="AutoScalingGroup",
            destination=destination,
        )
        deliver_event(group.account_id, group.region, _lifecycle_event(action))


def _expire(action: Action, how: str) -> None:
    if action.token in _actions(_backend_of(action.group)):
        _complete(action, action.hook.default_result, how)


def _complete(action: Action, result: str, how: str) -> None:
    backend = _backend_of(action.group)
    actions = _actions(backend)
    actions.pop(action.token, None)
    for timer in (action.heartbeat_timer, action.global_timer):
        if timer:
            timer.cancel()
    core.record(
        "asg.lifecycle.completed",
        asg=action.group.name,
        hook=action.hook.name,
        instance_id=action.instance_id,
        token=action.token,
        result=result,
        by=how,
    )
    others = [a for a in actions.values() if a.instance_id == action.instance_id]
    if result == "ABANDON":  # "abandon stops any remaining actions, such as other lifecycle hooks"
        for other in others:
            actions.pop(other.token, None)
            for timer in (other.heartbeat_timer, other.global_timer):
                if timer:
                    timer.cancel()
            core.record(
                "asg.lifecycle.completed",
                asg=other.group.name,
                hook=other.hook.name,
                instance_id=other.instance_id,
                token=other.token,
                result="ABANDON",
                by="ABANDON-of-other-hook",
                other_hook=action.hook.name,
            )
        others = []
    if not others:
        state = next((s for s in action.group.instance_states if s.instance.id == action.instance_id), None)
        if state is not None:
            _proceed(action.group, state)


def _proceed(group: Any, state: Any) -> None:
    """Terminating:Proceed: the instance leaves the group, terminated, or stopped into the warm pool.
    Either way ``asg.instance.terminated`` (with its ``destination``) marks that it left."""
    from world.emulator import scaling_activities, warm_pools

    backend = _backend_of(group)
    instance_id = state.instance.id
    state.lifecycle_state = "Terminating:Proceed"
    group.instance_states = [s for s in group.instance_states if s is not state]
    destination = getattr(state, "_world_destination", "EC2")
    if destination == "WarmPool" and warm_pools.enter_pool(group, state):
        pass
    else:
        destination = "EC2"
        backend.ec2_backend.terminate_instances([instance_id])
        backend.elbv2_backend.notify_terminate_instances([instance_id])
    scaling_activities.done(getattr(state, "_world_activity", None))
    core.record("asg.instance.terminated", asg=group.name, instance_id=instance_id, destination=destination)


def _find_action(backend: Any, group_name: str, hook_name: str, token: str | None, instance_id: str | None) -> Action:
    for action in _actions(backend).values():
        if action.group.name != group_name or action.hook.name != hook_name:
            continue
        if token and action.token == token:
            return action
        if not token and instance_id and action.instance_id == instance_id:
            return action
    if token:
        raise ValidationError(f"No active Lifecycle Action found with token {token}")
    raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")


# --------------------------------------------------------------------------- scale-in


def _choose_victims(group: Any, count: int) -> list[Any]:
    """Default termination policy, simplified: AZ with most instances first, then oldest."""
    candidates = [
        s for s in group.instance_states if s.lifecycle_state == "InService" and not s.protected_from_scale_in
    ]
    victims: list[Any] = []
    for _ in range(count):
        if not candidates:
            break
        per_az: dict[str, int] = {}
        for s in candidates:
            per_az[s.availability_zone] = per_az.get(s.availability_zone, 0) + 1
        busiest = max(per_az, key=lambda az: per_az[az])
        victim = next(s for s in candidates if s.availability_zone == busiest)
        candidates.remove(victim)
        victims.append(victim)
    return victims


_orig_group_set_desired = asg_models.FakeAutoScalingGroup.set_desired_capacity


def _group_set_desired_capacity(self: Any, new_capacity: int | None) -> None:
    desired = self.min_size if new_capacity is None else new_capacity
    mixed = self.mixed_instances_policy and self.mixed_instances_policy.get("LaunchTemplate", {}).get("Overrides")
    in_service = [s for s in self.instance_states if s.lifecycle_state == "InService"]
    excess = len(in_service) - (desired or 0)
    if excess < 0 and not mixed and not getattr(self, "_world_force", False):
        from world.emulator import warm_pools

        warm_pools.leave_pool(self, -excess)  # scale-out takes warm instances first
    if mixed or excess <= 0 or getattr(self, "_world_force", False):
        _orig_group_set_desired(self, new_capacity)
        return
    original = self.desired_capacity
    self.desired_capacity = desired
    for victim in _choose_victims(self, excess):
        begin_termination(self, victim, "scale-in", original)


_orig_terminate_instance = asg_models.AutoScalingBackend.terminate_instance


def _terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
    state = next(
        (s for g in self.autoscaling_groups.values() for s in g.instance_states if s.instance.id == instance_id),
        None,
    )
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    group = state.instance.autoscaling_group
    original_size = group.desired_capacity
    if state.lifecycle_state != "InService":
        return asg_models.TerminateInstanceActivity(state.instance, original_size)
    if should_decrement:
        if group.desired_capacity - 1 < (group.min_size or 0):
            raise ValidationError(
                f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without "
                "replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity "
                "flag to false or lower group's min size."
            )
        group.desired_capacity -= 1
    activity = begin_termination(group, state, "TerminateInstanceInAutoScalingGroup", original_size)
    if not should_decrement:  # a replacement is launched at once
        _orig_group_set_desired(group, group.desired_capacity)
    return activity


_orig_delete_group = asg_models.AutoScalingBackend.delete_auto_scaling_group


def _delete_auto_scaling_group(self: Any, group_name: str) -> None:
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        group._world_force = True  # ForceDelete semantics: no hooks, no draining
    _orig_delete_group(self, group_name)


def _update_attached_elbs(self: Any, group_name: str) -> None:
    """Register the group's InService instances that are not yet in its Classic ELBs; deregister
    nothing (Auto Scaling deregisters an instance only when it leaves: begin_termination)."""
    group = self.autoscaling_groups[group_name]
    for name in list(group.load_balancer_names or []):
        lb = self.elb_backend.load_balancers.get(name)
        if lb is None:
            continue  # deleted before its group
        new = [s.instance.id for s in group.active_instances() if s.instance.id not in lb.instance_ids]
        if new:
            self.elb_backend.register_instances(name, new, from_autoscaling=True)


def _update_attached_target_groups(self: Any, group_name: str) -> None:
    """The same for target groups (moto registers every group instance, terminating ones too)."""
    from world.emulator import lb_drain

    group = self.autoscaling_groups[group_name]
    for arn in list(group.target_group_arns or []):
        tg = self.elbv2_backend.target_groups.get(arn)
        if tg is None:
            continue
        new = [
            {"Id": s.instance.id, "Port": tg.port}
            for s in group.active_instances()
            if not lb_drain.is_registered(tg, {"Id": s.instance.id, "Port": tg.port})
        ]
        if new:
            self.elbv2_backend.register_targets(arn, new)


# --------------------------------------------------------------------------- API: hooks and actions


class LifecycleHook(asg_models.LifecycleHook):
    def __init__(self, name: str, as_name: str, transition: str | None, timeout: int | None, result: str | None):
        super().__init__(name, as_name, transition, timeout, result)
        self.lifecycle_hook_name = name
        self.notification_metadata: str | None = None
        self.notification_target_arn = None  # type: ignore[assignment]
        self.role_arn = None  # type: ignore[assignment]
        self.global_timeout = min(MAX_GLOBAL_TIMEOUT, 100 * self.heartbeat_timeout)


def put_hook(
    backend: Any,
    group_name: str,
    name: str,
    transition: str | None,
    timeout: int | None,
    result: str | None,
    metadata: str | None = None,
    target: str | None = None,
    role: str | None = None,
) -> LifecycleHook:
    """PutLifecycleHook, as the API and CloudFormation's AWS::AutoScaling::LifecycleHook make it:
    the group must exist; what is not given keeps the existing hook's value."""
    if timeout is not None and not 30 <= timeout <= 7200:
        raise ValidationError(f"Heartbeat timeout must be between 30 and 7200 seconds, got {timeout}")
    if result is not None and result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"Invalid DefaultResult {result}: must be CONTINUE or ABANDON")
    if group_name not in backend.autoscaling_groups:
        raise ValidationError(f"Group {group_name} not found")
    key = f"{group_name}_{name}"
    existing = backend.lifecycle_hooks.get(key)
    hook = LifecycleHook(
        name,
        group_name,
        transition or (existing.lifecycle_transition if existing else None),
        timeout or (existing.heartbeat_timeout if existing else None),
        result or (existing.default_result if existing else None),
    )
    hook.notification_metadata = metadata or getattr(existing, "notification_metadata", None)
    hook.notification_target_arn = target or getattr(existing, "notification_target_arn", None)
    hook.role_arn = role or getattr(existing, "role_arn", None)
    backend.lifecycle_hooks[key] = hook
    return hook


def put_lifecycle_hook(self: Any) -> ActionResult:
    put_hook(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        transition=self._get_param("LifecycleTransition"),
        timeout=self._get_int_param("HeartbeatTimeout"),
        result=self._get_param("DefaultResult"),
        metadata=self._get_param("NotificationMetadata"),
        target=self._get_param("NotificationTargetARN"),
        role=self._get_param("RoleARN"),
    )
    return EmptyResult()


_orig_delete_lifecycle_hook = asg_models.AutoScalingBackend.delete_lifecycle_hook


def _delete_lifecycle_hook(self: Any, as_name: str, name: str) -> None:
    """DeleteLifecycleHook: "If there are any outstanding lifecycle actions, they are completed
    first (ABANDON for launching instances, CONTINUE for terminating instances)." (API reference)"""
    for action in [a for a in _actions(self).values() if a.group.name == as_name and a.hook.name == name]:
        _complete(action, "CONTINUE", "DeleteLifecycleHook")
    _orig_delete_lifecycle_hook(self, as_name, name)


def complete_lifecycle_action(self: Any) -> ActionResult:
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"Invalid LifecycleActionResult {result}: must be CONTINUE or ABANDON")
    action = _find_action(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        self._get_param("LifecycleActionToken"),
        self._get_param("InstanceId"),
    )
    _complete(action, result, "CompleteLifecycleAction")
    return EmptyResult()


def record_lifecycle_action_heartbeat(self: Any) -> ActionResult:
    action = _find_action(
        self.autoscaling_backend,
        self._get_param("AutoScalingGroupName"),
        self._get_param("LifecycleHookName"),
        self._get_param("LifecycleActionToken"),
        self._get_param("InstanceId"),
    )
    action.arm_heartbeat()
    core.record(
        "asg.lifecycle.heartbeat",
        asg=action.group.name,
        hook=action.hook.name,
        instance_id=action.instance_id,
        token=action.token,
    )
    return EmptyResult()


# --------------------------------------------------------------------------- install


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
