"""EC2 Spot interruptions: the two-minute warning on EventBridge, then the instance is gone.

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

``POST /_world/ec2/spot-interruption`` ``{"instance_id": "i-..."}`` ->
``{"event_id", "interrupt_in"}`` (world seconds). Event log:
``ec2.spot.warning`` (instance_id, event_id) then ``ec2.instance.interrupted``
(instance_id, asg).
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


def interrupt_later(instance_id: str) -> dict[str, Any]:
    from world.emulator.eventbridge import deliver_event

    _backend, instance, account, region = _find(instance_id)
    if instance.state != "running":
        raise ValueError(f"{instance_id} is {instance.state}, not running")
    event = warning_event(account, region, instance._placement.zone, instance_id)
    core.record("ec2.spot.warning", instance_id=instance_id, event_id=event["id"])
    deliver_event(account, region, event)
    delay = core.scaled(NOTICE_SECONDS)
    core.after(delay, _interrupt, instance_id, name="ec2-spot-interruption")
    return {"event_id": event["id"], "interrupt_in": delay}


def _interrupt(instance_id: str) -> None:
    from moto.autoscaling.models import autoscaling_backends
    from world.emulator import autoscaling_hooks

    backend, instance, account, region = _find(instance_id)
    if instance.state == "terminated":
        return
    group = getattr(instance, "autoscaling_group", None)
    state = next((s for s in group.instance_states if s.instance.id == instance_id), None) if group else None
    core.record("ec2.instance.interrupted", instance_id=instance_id, asg=group.name if group else None)
    backend.terminate_instances([instance_id])
    autoscaling_backends[account][region].elbv2_backend.notify_terminate_instances([instance_id])
    if state is None or state.lifecycle_state != "InService":
        return
    autoscaling_hooks.begin_termination(group, state, "spot-interruption")
    autoscaling_hooks._orig_group_set_desired(group, group.desired_capacity)  # the replacement


def _post(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not body.get("instance_id"):
        return 400, {"error": 'body must be {"instance_id": "i-..."}'}
    with core.LOCK:
        try:
            return 200, interrupt_later(str(body["instance_id"]))
        except (KeyError, ValueError) as err:
            return 400, {"error": str(err)}


def install() -> None:
    core.route("POST", "/_world/ec2/spot-interruption")(_post)
