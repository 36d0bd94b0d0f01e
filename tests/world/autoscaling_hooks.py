"""Auto Scaling scale-in with lifecycle hooks, and EventBridge delivery of its events.

What moto lacks and this adds (AWS docs: "Amazon EC2 Auto Scaling lifecycle
hooks", "Complete a lifecycle action", "CompleteLifecycleAction",
"RecordLifecycleActionHeartbeat", "Add an Elastic Load Balancing health check /
connection draining" and the EventBridge event reference for Auto Scaling):

* Scale-in (SetDesiredCapacity / UpdateAutoScalingGroup lower,
  TerminateInstanceInAutoScalingGroup) no longer terminates at once. The
  instance goes ``Terminating``: Auto Scaling deregisters it from the Classic
  ELBs and target groups attached to the group and waits out their draining;
  then, for each ``autoscaling:EC2_INSTANCE_TERMINATING`` hook, a lifecycle
  action starts: ``Terminating:Wait``, an "EC2 Instance-terminate Lifecycle
  Action" event goes to the default event bus. The instance terminates when
  every action is completed (CONTINUE or ABANDON; ABANDON skips the other
  hooks) or timed out (the hook's DefaultResult after HeartbeatTimeout without
  heartbeat, or after the global timeout min(48 h, 100 x HeartbeatTimeout)).
* CompleteLifecycleAction and RecordLifecycleActionHeartbeat, by token or by
  instance id, with AWS's ValidationError when no action is active.
* DeleteLifecycleHook completes the hook's outstanding actions first, as the
  API reference says: CONTINUE for terminating instances (``by``
  ``DeleteLifecycleHook`` in the event log); the instance then proceeds.
* PutLifecycleHook keeps NotificationMetadata, NotificationTargetARN, RoleARN
  and reports GlobalTimeout.
* EventBridge rules deliver to Step Functions state machines (StartExecution
  with the event as input) and Lambda functions (asynchronous invoke), and
  honour Input / InputPath / InputTransformer and the rule's state.
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import uuid
from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from moto.core.responses import ActionResult, EmptyResult
from moto.events import models as events_models
from moto.stepfunctions import models as sfn_models

from world import core

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
MAX_GLOBAL_TIMEOUT = 48 * 3600


# --------------------------------------------------------------------------- lifecycle actions


class Action:
    def __init__(self, group: Any, hook: Any, instance_id: str):
        self.token = str(uuid.uuid4())
        self.group = group
        self.hook = hook
        self.instance_id = instance_id
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
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    detail["Destination"] = "EC2"
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


def begin_termination(group: Any, state: Any, cause: str) -> None:
    """Take an instance out of service the way Auto Scaling does on scale-in."""
    from world import lb_drain

    instance_id = state.instance.id
    state.lifecycle_state = "Terminating"
    core.record("asg.instance.terminating", asg=group.name, instance_id=instance_id, cause=cause)
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
        core.after(core.scaled(wait), _run_hooks, group, state, name="asg-lb-drained")
    else:
        _run_hooks(group, state)


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
    for hook in hooks:
        action = Action(group, hook, state.instance.id)
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
    if result == "ABANDON":  # skips the remaining hooks
        for other in others:
            actions.pop(other.token, None)
            for timer in (other.heartbeat_timer, other.global_timer):
                if timer:
                    timer.cancel()
        others = []
    if not others:
        state = next((s for s in action.group.instance_states if s.instance.id == action.instance_id), None)
        if state is not None:
            _proceed(action.group, state)


def _proceed(group: Any, state: Any) -> None:
    backend = _backend_of(group)
    instance_id = state.instance.id
    state.lifecycle_state = "Terminating:Proceed"
    group.instance_states = [s for s in group.instance_states if s is not state]
    backend.ec2_backend.terminate_instances([instance_id])
    backend.elbv2_backend.notify_terminate_instances([instance_id])
    core.record("asg.instance.terminated", asg=group.name, instance_id=instance_id)


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
    candidates = [s for s in group.instance_states if s.lifecycle_state == "InService" and not s.protected_from_scale_in]
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
    if mixed or excess <= 0 or getattr(self, "_world_force", False):
        _orig_group_set_desired(self, new_capacity)
        return
    self.desired_capacity = desired
    for victim in _choose_victims(self, excess):
        begin_termination(self, victim, "scale-in")


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
    begin_termination(group, state, "TerminateInstanceInAutoScalingGroup")
    if not should_decrement:  # a replacement is launched at once
        _orig_group_set_desired(group, group.desired_capacity)
    return asg_models.TerminateInstanceActivity(state.instance, original_size)


_orig_delete_group = asg_models.AutoScalingBackend.delete_auto_scaling_group


def _delete_auto_scaling_group(self: Any, group_name: str) -> None:
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        group._world_force = True  # ForceDelete semantics: no hooks, no draining
    _orig_delete_group(self, group_name)


# --------------------------------------------------------------------------- API: hooks and actions


class LifecycleHook(asg_models.LifecycleHook):
    def __init__(self, name: str, as_name: str, transition: str | None, timeout: int | None, result: str | None):
        super().__init__(name, as_name, transition, timeout, result)
        self.lifecycle_hook_name = name
        self.notification_metadata: str | None = None
        self.notification_target_arn = None  # type: ignore[assignment]
        self.role_arn = None  # type: ignore[assignment]
        self.global_timeout = min(MAX_GLOBAL_TIMEOUT, 100 * self.heartbeat_timeout)


def put_lifecycle_hook(self: Any) -> ActionResult:
    timeout = self._get_int_param("HeartbeatTimeout")
    if timeout is not None and not 30 <= timeout <= 7200:
        raise ValidationError(f"Heartbeat timeout must be between 30 and 7200 seconds, got {timeout}")
    result = self._get_param("DefaultResult")
    if result is not None and result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"Invalid DefaultResult {result}: must be CONTINUE or ABANDON")
    group_name = self._get_param("AutoScalingGroupName")
    if group_name not in self.autoscaling_backend.autoscaling_groups:
        raise ValidationError(f"Group {group_name} not found")
    name = self._get_param("LifecycleHookName")
    key = f"{group_name}_{name}"
    existing = self.autoscaling_backend.lifecycle_hooks.get(key)
    hook = LifecycleHook(
        name,
        group_name,
        self._get_param("LifecycleTransition") or (existing.lifecycle_transition if existing else None),
        timeout or (existing.heartbeat_timeout if existing else None),
        result or (existing.default_result if existing else None),
    )
    hook.notification_metadata = self._get_param("NotificationMetadata") or getattr(existing, "notification_metadata", None)
    hook.notification_target_arn = self._get_param("NotificationTargetARN") or getattr(existing, "notification_target_arn", None)
    hook.role_arn = self._get_param("RoleARN") or getattr(existing, "role_arn", None)
    self.autoscaling_backend.lifecycle_hooks[key] = hook
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


# --------------------------------------------------------------------------- EventBridge delivery


def _json_path(document: Any, path: str) -> Any:
    node = document
    for part in [p for p in path.lstrip("$").split(".") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        parsed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return parsed if isinstance(parsed, str) else json.dumps(parsed)
    return json.dumps(event)


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The event as targets receive it (moto keeps a float time and ingestion-time)."""
    event = dict(event)
    event.pop("ingestion-time", None)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(event["time"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _start_execution(rule: Any, target: dict[str, Any], payload: str) -> None:
    from moto.stepfunctions.responses import get_backend

    arn = target["Arn"]
    account, region = arn.split(":")[4], arn.split(":")[3]
    try:
        execution = get_backend(account, region).start_execution(
            state_machine_arn=arn, name=str(uuid.uuid4()), execution_input=payload
        )
        core.record("eventbridge.delivered", rule=rule.name, target=arn, execution_arn=execution.execution_arn)
    except Exception as err:  # AWS drops (or dead-letters) failed deliveries
        core.record("eventbridge.failed", rule=rule.name, target=arn, error=f"{type(err).__name__}: {err}")


def _invoke_lambda(rule: Any, target: dict[str, Any], payload: str) -> None:
    from moto.awslambda.utils import get_backend

    arn = target["Arn"]
    account, region = arn.split(":")[4], arn.split(":")[3]

    def run() -> None:
        try:
            get_backend(account, region).invoke(
                function_name=arn,
                qualifier=None,
                body=payload,
                headers={"X-Amz-Invocation-Type": "Event"},
                response_headers={},
            )
        except Exception as err:
            core.record("eventbridge.failed", rule=rule.name, target=arn, error=f"{type(err).__name__}: {err}")

    core.record("eventbridge.delivered", rule=rule.name, target=arn)
    threading.Thread(target=run, name="world-event-lambda", daemon=True).start()


_orig_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if getattr(self, "state", "ENABLED") != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    event = _normalise(original_event)
    ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda")]
    theirs = [t for t in self.targets if t not in ours]
    if theirs:
        saved = self.targets
        self.targets = theirs
        try:
            _orig_send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = saved
    for target in ours:
        payload = _target_input(target, event)
        if target["Arn"].split(":")[2] == "states":
            _start_execution(self, target, payload)
        else:
            _invoke_lambda(self, target, payload)


def deliver_event(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Send an AWS service event to the rules of the account's default event bus."""
    backend = events_models.events_backends[account_id][region]
    bus = backend.event_buses.get("default")
    core.record("eventbridge.event", source=event["source"], detail_type=event["detail-type"], detail=event["detail"])
    if bus is None:
        return
    for rule in list(bus.rules.values()):
        rule.send_to_targets(event)


def _state_machine_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """moto deep-copies the state machine on StartExecution, including its running
    executions (thread locks: TypeError). AWS runs many executions at once; copy
    everything but the execution list."""
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, [] if key == "executions" else copy.deepcopy(value, memo))
    return clone


# --------------------------------------------------------------------------- install


def install() -> None:
    asg_models.FakeAutoScalingGroup.set_desired_capacity = _group_set_desired_capacity
    asg_models.AutoScalingBackend.terminate_instance = _terminate_instance
    asg_models.AutoScalingBackend.delete_auto_scaling_group = _delete_auto_scaling_group
    asg_models.AutoScalingBackend.delete_lifecycle_hook = _delete_lifecycle_hook
    asg_models.LifecycleHook = LifecycleHook
    resp = asg_responses.AutoScalingResponse
    resp.put_lifecycle_hook = put_lifecycle_hook
    resp.complete_lifecycle_action = complete_lifecycle_action
    resp.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
    events_models.Rule.send_to_targets = _send_to_targets
    sfn_models.StateMachine.__deepcopy__ = _state_machine_deepcopy
