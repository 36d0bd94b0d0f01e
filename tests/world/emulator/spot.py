"""EC2 Spot interruptions: the two-minute warning on EventBridge, then the instance is gone
(terminated), or stopped and perhaps started again.

The Spot service itself is the world's control endpoint (it decides which
instance to interrupt). What follows is AWS's:

* Amazon EC2 User Guide, "Spot Instance interruption notices": the "EC2 Spot
  Instance Interruption Warning" (source ``aws.ec2``, detail ``instance-id``
  and ``instance-action``; the shape of fixtures/spot-interruption.json)
  goes to EventBridge two minutes before the interruption, then the instance
  is interrupted (``terminate``: terminated, as EC2 TerminateInstances does:
  its ECS agent goes away, its targets drain).
* Amazon EC2 Auto Scaling lifecycle hooks, considerations: "a lifecycle hook
  does not prevent an instance from terminating in the event that capacity is
  no longer available, which can happen at any time with a two-minute
  interruption notice"; and "when a Spot Instance terminates, you must still
  complete the lifecycle action": once the instance is gone, Auto Scaling
  takes it out of its group through the terminate hooks (a lifecycle action
  for an instance that no longer exists) and launches a replacement. The
  two minutes are AWS's and scale with the timescale.

* "Behavior of Spot Instance interruptions" (EC2 User Guide): "You can specify
  that Amazon EC2 stops your Spot Instances when they are interrupted" (a
  persistent request, or a fleet that maintains its capacity), or hibernates
  them; "Amazon EC2 restarts the stopped instance when capacity is available".
  "Spot Instance interruption notices": with hibernation "you receive an
  interruption notice, but you do not receive a two-minute warning because the
  hibernation process begins immediately". ``action`` ``stop`` stops the
  instance two minutes after the warning, ``hibernate`` at once (both through
  EC2's StopInstances path: its ECS agent disconnects, its container instance
  stays as it was); with ``restart_after_seconds`` EC2 starts it again that
  long (AWS seconds) after the interruption, as StartInstances does (its agent
  reconnects to the same container instance, world.emulator.ecs_drain.stop_start).

``POST /_world/ec2/spot-interruption`` ``{"instance_id": "i-...", "action":
"terminate"|"stop"|"hibernate" (default terminate), "restart_after_seconds":
null}`` -> ``{"event_id", "interrupt_in"}`` (world seconds). Event log:
``ec2.spot.warning`` (instance_id, event_id, action) then ``ec2.instance.interrupted``
(instance_id, asg, action), and ``ec2.instance.restarted`` (instance_id).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from world.emulator import core

WARNING_DETAIL_TYPE = "EC2 Spot Instance Interruption Warning"
NOTICE_SECONDS = 120  # "two minutes prior to the actual interruption"


def warning_event(account: str, region: str, az: str, instance_id: str, action: str = "terminate") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": WARNING_DETAIL_TYPE,
        "source": "aws.ec2",
        "account": account,
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:ec2:{az}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "instance-action": action},
    }


def _find(instance_id: str) -> tuple[Any, Any, str, str]:
    """(ec2 backend, instance, account, region) of a running instance."""
    from moto.ec2.models import ec2_backends

    for account, regions in ec2_backends.items():
        for region, backend in regions.items():
            try:
                instance = backend.get_instance_by_id(instance_id)
            except Exception:
                instance = None
            if instance is not None:
                return backend, instance, account, region
    raise KeyError(f"no instance {instance_id}")


ACTIONS = ("terminate", "stop", "hibernate")


def interrupt_later(instance_id: str, action: str = "terminate", restart_after: float | None = None) -> dict[str, Any]:
    from world.emulator.eventbridge import deliver_event

    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    _backend, instance, account, region = _find(instance_id)
    if instance.state != "running":
        raise ValueError(f"{instance_id} is {instance.state}, not running")
    event = warning_event(account, region, instance._placement.zone, instance_id, action)
    core.record("ec2.spot.warning", instance_id=instance_id, event_id=event["id"], action=action)
    deliver_event(account, region, event)
    delay = 0.0 if action == "hibernate" else core.scaled(NOTICE_SECONDS)  # hibernation: no two minutes
    core.after(delay, _interrupt, instance_id, action, restart_after, name="ec2-spot-interruption")
    return {"event_id": event["id"], "interrupt_in": delay}


def _interrupt(instance_id: str, action: str = "terminate", restart_after: float | None = None) -> None:
    from moto.autoscaling.models import autoscaling_backends
    from world.emulator import autoscaling_hooks

    backend, instance, account, region = _find(instance_id)
    if instance.state == "terminated":
        return
    group = getattr(instance, "autoscaling_group", None)
    state = next((s for s in group.instance_states if s.instance.id == instance_id), None) if group else None
    core.record("ec2.instance.interrupted", instance_id=instance_id, asg=group.name if group else None, action=action)
    if action != "terminate":
        backend.stop_instances([instance_id])
        if restart_after is not None:
            core.after(core.scaled(restart_after), _restart, instance_id, name="ec2-spot-restart")
        return
    backend.terminate_instances([instance_id])
    autoscaling_backends[account][region].elbv2_backend.notify_terminate_instances([instance_id])
    if state is None or state.lifecycle_state != "InService":
        return
    autoscaling_hooks.begin_termination(group, state, "spot-interruption")
    autoscaling_hooks._orig_group_set_desired(group, group.desired_capacity)  # the replacement


def _restart(instance_id: str) -> None:
    """EC2 starts the stopped instance again, "when capacity is available"."""
    backend, instance, _account, _region = _find(instance_id)
    if instance.state == "stopped":
        core.record("ec2.instance.restarted", instance_id=instance_id)
        backend.start_instances([instance_id])


def _post(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not body.get("instance_id"):
        return 400, {"error": 'body must be {"instance_id": "i-...", "action": ..., "restart_after_seconds": ...}'}
    restart = body.get("restart_after_seconds")
    with core.LOCK:
        try:
            return 200, interrupt_later(
                str(body["instance_id"]),
                str(body.get("action") or "terminate"),
                None if restart is None else float(restart),
            )
        except (KeyError, ValueError) as err:
            return 400, {"error": str(err)}


def install() -> None:
    core.route("POST", "/_world/ec2/spot-interruption")(_post)
