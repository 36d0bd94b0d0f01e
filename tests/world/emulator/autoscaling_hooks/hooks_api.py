"""The lifecycle hook API (AWS docs: API reference of PutLifecycleHook, DeleteLifecycleHook,
CompleteLifecycleAction, RecordLifecycleActionHeartbeat; "Lifecycle hook timeouts").

* CompleteLifecycleAction and RecordLifecycleActionHeartbeat, by token or by
  instance id, with AWS's ValidationError when no action is active.
* DeleteLifecycleHook completes the hook's outstanding actions first, as the
  API reference says: ABANDON for launching instances, CONTINUE for terminating instances
  (``by`` ``DeleteLifecycleHook`` in the event log); the instance then proceeds.
* PutLifecycleHook keeps NotificationMetadata, NotificationTargetARN, RoleARN
  and reports GlobalTimeout. A waiting action follows the hook as it is now: a heartbeat
  extends it by the current HeartbeatTimeout ("This extends the timeout by the length of time
  defined using the PutLifecycleHook API call", RecordLifecycleActionHeartbeat), its timer
  already running is left as it was, its global timeout (min(48 h, 100 x HeartbeatTimeout))
  is counted again from its start, and a timeout applies the current DefaultResult (AWS does
  not say whether a waiting action keeps the hook it began with: the harsher reading).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling.exceptions import ValidationError
from moto.core.responses import ActionResult, EmptyResult
from world.emulator import core
from world.emulator.autoscaling_hooks.actions import LAUNCHING, _actions, _complete, _find_action
from world.emulator.rate_limits.throttling import HARNESS_AGENT

MAX_GLOBAL_TIMEOUT = 48 * 3600


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
    if existing is not None and existing.global_timeout != hook.global_timeout:
        for action in _actions(backend).values():
            if action.group.name == group_name and action.hook.name == name:
                action.arm_global()
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
        _complete(action, "ABANDON" if action.transition == LAUNCHING else "CONTINUE", "DeleteLifecycleHook")
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
        judge=HARNESS_AGENT in (self.headers.get("User-Agent") or ""),
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
        judge=HARNESS_AGENT in (self.headers.get("User-Agent") or ""),
    )
    action.arm_heartbeat()
    core.record(
        f"{action.events}.heartbeat",
        asg=action.group.name,
        hook=action.hook.name,
        instance_id=action.instance_id,
        token=action.token,
    )
    return EmptyResult()
