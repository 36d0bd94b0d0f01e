"""Lifecycle actions of the terminate hooks (AWS docs: "How lifecycle hooks work", "Complete a
lifecycle action", "Lifecycle hook timeouts" and the Auto Scaling event reference).

For each ``autoscaling:EC2_INSTANCE_TERMINATING`` hook of the group, a lifecycle
action starts: ``Terminating:Wait`` (``Warmed:Pending:Wait`` for an instance going back to the
warm pool, world.emulator.warm_pools), an "EC2 Instance-terminate Lifecycle
Action" event goes to the default event bus (world.emulator.eventbridge delivers it),
with ``Origin`` AutoScalingGroup and ``Destination`` EC2, or WarmPool for an
instance going back to the group's warm pool (world.emulator.warm_pools); a warm pool instance
that terminates waits in ``Warmed:Terminating:Wait``, ``Origin`` WarmPool, ``Destination`` EC2. The
instance leaves (``Terminating:Proceed``) when every action is completed or timed out (the hook's
DefaultResult after HeartbeatTimeout without heartbeat, or after the global
timeout min(48 h, 100 x HeartbeatTimeout)), or, when the last one ended with ABANDON and
the group's instance lifecycle policy retains, stays retained (world.emulator.retention).

* Several terminate hooks: AWS documents no order among the hooks of one
  transition (PutLifecycleHook has no order field), so the world starts all
  their actions at once, the harsher reading: "If an instance is terminating,
  both abandon and continue allow the instance to terminate. However, abandon
  stops any remaining actions, such as other lifecycle hooks, and continue
  allows any other lifecycle hooks to complete" ("Amazon EC2 Auto Scaling
  lifecycle hooks", considerations). An ABANDON of one hook ends the other
  hooks' outstanding actions at once (``by`` ``ABANDON-of-other-hook`` in the
  event log) and the instance proceeds, even mid-drain.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from world.emulator import core, retention
from world.emulator.eventbridge import deliver_event

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


# where a terminate hook waits, by (Origin, Destination) of the instance
WAIT_STATES = {
    ("AutoScalingGroup", "EC2"): "Terminating:Wait",
    ("AutoScalingGroup", "WarmPool"): "Warmed:Pending:Wait",
    ("WarmPool", "EC2"): "Warmed:Terminating:Wait",
}


def origin_of(state: Any) -> str:
    """Where a terminating instance comes from: "WarmPool" for a warm pool instance, else "AutoScalingGroup"."""
    return getattr(state, "_world_origin", "AutoScalingGroup")


class Action:
    def __init__(self, group: Any, hook: Any, state: Any):
        self.token = str(uuid.uuid4())
        self.group = group
        self.hook = hook
        self.instance_id = state.instance.id
        self.transition = hook.lifecycle_transition
        if self.transition == LAUNCHING:  # a launch into the warm pool (world.emulator.warm_pools)
            self.origin, self.destination = "EC2", "WarmPool"
        else:
            self.origin = origin_of(state)
            # "EC2", or "WarmPool" for an instance going back to the pool
            self.destination = getattr(state, "_world_destination", "EC2")
        # the event log's prefix: a launch's wait is no drain's (world.invariants reads asg.lifecycle.*)
        self.events = "asg.launch" if self.transition == LAUNCHING else "asg.lifecycle"
        self.heartbeat_timer: core.Timer | None = None
        self.global_timer: core.Timer | None = None
        self.started = time.monotonic()

    @property
    def settings(self) -> Any:
        """The hook as it is now: PutLifecycleHook may have changed it since the action began."""
        return _backend_of(self.group).lifecycle_hooks.get(f"{self.group.name}_{self.hook.name}", self.hook)

    def arm_heartbeat(self) -> None:
        """The action's start or a heartbeat: it times out after the hook's HeartbeatTimeout as it
        is now ("This extends the timeout by the length of time defined using the PutLifecycleHook
        API call", RecordLifecycleActionHeartbeat)."""
        if self.heartbeat_timer:
            self.heartbeat_timer.cancel()
        self.heartbeat_timer = core.after(
            core.scaled(self.settings.heartbeat_timeout), _expire, self, "heartbeat-timeout", name="hook-heartbeat"
        )

    def arm_global(self) -> None:
        """The global timeout, min(48 h, 100 x HeartbeatTimeout) of the hook as it is now, counted
        from the action's start: a HeartbeatTimeout lowered mid-action brings it closer (AWS does not
        say whether a waiting action keeps the one it began with: the harsher reading)."""
        if self.global_timer:
            self.global_timer.cancel()
        left = self.started + core.scaled(self.settings.global_timeout) - time.monotonic()
        self.global_timer = core.after(max(0.0, left), _expire, self, "global-timeout", name="hook-global")


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
        "LifecycleTransition": action.transition,
    }
    if getattr(hook, "notification_metadata", None):
        detail["NotificationMetadata"] = hook.notification_metadata
    detail["Origin"] = action.origin
    detail["Destination"] = action.destination
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": f"EC2 Instance-{'launch' if action.transition == LAUNCHING else 'terminate'} Lifecycle Action",
        "source": "aws.autoscaling",
        "account": group.account_id,
        "time": _now_iso(),
        "region": group.region,
        "resources": [group.arn],
        "detail": detail,
    }


def hooks_of(group: Any, transition: str) -> list[Any]:
    """The group's lifecycle hooks of ``transition``."""
    return [
        h
        for h in _backend_of(group).lifecycle_hooks.values()
        if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition
    ]


def _run_hooks(group: Any, state: Any) -> None:
    hooks = hooks_of(group, TERMINATING)
    if not hooks or getattr(group, "_world_force", False):
        _proceed(group, state)
        return
    state.lifecycle_state = WAIT_STATES[(origin_of(state), getattr(state, "_world_destination", "EC2"))]
    if getattr(state, "_world_activity", None) is not None:
        state._world_activity.status_code = "MidTerminatingLifecycleAction"
    start_actions(group, state, hooks)


def start_actions(group: Any, state: Any, hooks: list[Any]) -> None:
    """An action of each of ``hooks`` for the instance (all at once: AWS documents no order among
    them), its timers armed and its event sent."""
    backend = _backend_of(group)
    for hook in hooks:
        action = Action(group, hook, state)
        _actions(backend)[action.token] = action
        action.arm_heartbeat()
        action.arm_global()
        core.record(
            f"{action.events}.wait",
            asg=group.name,
            hook=hook.name,
            instance_id=state.instance.id,
            token=action.token,
            origin=action.origin,
            destination=action.destination,
        )
        deliver_event(group.account_id, group.region, _lifecycle_event(action))


def _expire(action: Action, how: str) -> None:
    if action.token in _actions(_backend_of(action.group)):
        _complete(action, action.settings.default_result, how)


def end_action(action: Action, result: str, how: str, **extra: Any) -> None:
    """The action is over (its timers stopped), and the event log says how; nothing follows."""
    _actions(_backend_of(action.group)).pop(action.token, None)
    for timer in (action.heartbeat_timer, action.global_timer):
        if timer:
            timer.cancel()
    core.record(
        f"{action.events}.completed",
        asg=action.group.name,
        hook=action.hook.name,
        instance_id=action.instance_id,
        token=action.token,
        result=result,
        by=how,
        **extra,
    )


def drop_actions(backend: Any, ended: Any, how: str) -> None:
    """Every outstanding action for which ``ended(action)`` holds deleted (ABANDON, ``by`` ``how``),
    with nothing run after: what a ForceDelete does."""
    for action in [a for a in _actions(backend).values() if ended(a)]:
        end_action(action, "ABANDON", how)


def _complete(action: Action, result: str, how: str) -> None:
    end_action(action, result, how)
    others = [
        a
        for a in _actions(_backend_of(action.group)).values()
        if a.instance_id == action.instance_id and a.transition == action.transition
    ]
    if action.transition == LAUNCHING:
        from world.emulator import warm_pools

        if result == "ABANDON":  # the other hooks' actions end with it, as on termination
            for other in others:
                end_action(other, "ABANDON", "ABANDON-of-other-hook", other_hook=action.hook.name)
        if result == "ABANDON" or not others:
            warm_pools.launched_into_pool(action.group, action.instance_id, result)
        return
    if result == "ABANDON":  # "abandon stops any remaining actions, such as other lifecycle hooks"
        for other in others:
            end_action(other, "ABANDON", "ABANDON-of-other-hook", other_hook=action.hook.name)
        others = []
    if not others:
        from world.emulator import warm_pools

        leaving = [*action.group.instance_states, *warm_pools.terminating_in_pool(action.group)]
        state = next((s for s in leaving if s.instance.id == action.instance_id), None)
        if state is not None and result == "ABANDON" and retention.retains(action.group):
            retention.retain(action.group, state)
        elif state is not None:
            _proceed(action.group, state)


def _proceed(group: Any, state: Any) -> None:
    """Terminating:Proceed: the instance leaves the group, terminated, or stopped into the warm pool.
    Either way ``asg.instance.terminated`` (with its ``destination``) marks that it left."""
    from world.emulator import scaling_activities, warm_pools

    backend = _backend_of(group)
    instance_id = state.instance.id
    destination = getattr(state, "_world_destination", "EC2")
    state.lifecycle_state = WAIT_STATES[(origin_of(state), destination)].replace(":Wait", ":Proceed")
    group.instance_states = [s for s in group.instance_states if s is not state]
    if origin_of(state) == "WarmPool":
        warm_pools.terminated_from_pool(group, state)
    if destination == "WarmPool" and warm_pools.enter_pool(group, state):
        pass
    else:
        destination = "EC2"
        backend.ec2_backend.terminate_instances([instance_id])
        backend.elbv2_backend.notify_terminate_instances([instance_id])
    scaling_activities.done(getattr(state, "_world_activity", None))
    core.record("asg.instance.terminated", asg=group.name, instance_id=instance_id, destination=destination)
    if destination == "EC2" and origin_of(state) != "WarmPool":
        warm_pools.refill(group)  # the capacity it counted is free: the pool grows back to its size


# CompleteLifecycleAction, RecordLifecycleActionHeartbeat: "LifecycleActionToken ... Length Constraints: Fixed
# length of 36" (their API references); AWS's constraint wording, as for any parameter out of its bounds
TOKEN_LENGTH = 36


def _find_action(
    backend: Any, group_name: str, hook_name: str, token: str | None, instance_id: str | None, *, judge: bool = False
) -> Action:
    """The active action a heartbeat or a completion names. Within ``autoscaling.action_propagation_seconds``
    of its start, AWS may not know it yet (world.emulator.core's config): "No active Lifecycle Action found",
    as for one that ended, except for the world's own harness (``judge``)."""
    action = _named_action(backend, group_name, hook_name, token, instance_id)
    window = core.scaled(float((core.CONFIG.get("autoscaling") or {}).get("action_propagation_seconds") or 0))
    if not judge and time.monotonic() - action.started < window:
        core.record(
            f"{action.events}.not_yet_propagated", asg=group_name, hook=hook_name, instance_id=action.instance_id
        )
        raise _no_active_action(token, instance_id)
    return action


def _no_active_action(token: str | None, instance_id: str | None) -> ValidationError:
    if token:
        return ValidationError(f"No active Lifecycle Action found with token {token}")
    return ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")


def _named_action(backend: Any, group_name: str, hook_name: str, token: str | None, instance_id: str | None) -> Action:
    if token is not None and len(token) != TOKEN_LENGTH:
        bound = "greater than or equal to" if len(token) < TOKEN_LENGTH else "less than or equal to"
        raise ValidationError(
            f"1 validation error detected: Value '{token}' at 'lifecycleActionToken' failed to satisfy "
            f"constraint: Member must have length {bound} {TOKEN_LENGTH}"
        )
    for action in _actions(backend).values():
        if action.group.name != group_name or action.hook.name != hook_name:
            continue
        if token and action.token == token:
            return action
        if not token and instance_id and action.instance_id == instance_id:
            return action
    raise _no_active_action(token, instance_id)
