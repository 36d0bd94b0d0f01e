"""Load-balancer draining: Classic ELB connection draining and ELBv2 deregistration delay.

Classic ELB (AWS docs: "Configure connection draining for your Classic Load
Balancer", DescribeInstanceHealth, InstanceState): DeregisterInstancesFromLoadBalancer
removes the instance from DescribeLoadBalancers at once; while connection
draining runs (attribute ConnectionDraining, Timeout 1-3600 s, default 300),
DescribeInstanceHealth reports it ``InService`` with Description "Instance
deregistration currently in progress.", then ``OutOfService`` ("Instance is
not currently registered with the LoadBalancer."). With draining disabled it
is OutOfService at once. Explicitly named instances are reported even when no
longer registered; terminated instances are not reported.

ELBv2 (AWS docs: "Deregistration delay", DeregisterTargets, TargetHealth):
targets are (Id, Port) pairs, so an instance can be registered on several
ports; DeregisterTargets without Port means the target group's port;
deregistering an absent target succeeds; a deregistered target is
``draining`` (Target.DeregistrationInProgress) for the target group's
``deregistration_delay.timeout_seconds`` (default 300), then ``unused``
(Target.NotRegistered) when asked for, absent from the full listing.
Targets of terminated instances are deregistered (draining) the same way.
"""

from __future__ import annotations

import time
from typing import Any

from moto.elb import models as elb_models
from moto.elb import responses as elb_responses
from moto.elbv2 import models as elbv2_models

from world import core

DRAINING_DESCRIPTION = "Instance deregistration currently in progress."
NOT_REGISTERED = "Instance is not currently registered with the LoadBalancer."


# --------------------------------------------------------------------------- Classic ELB


def classic_drain_seconds(lb: Any) -> float:
    """The connection draining timeout (AWS seconds), 0 when draining is disabled."""
    cd = lb.attributes.get("connection_draining") or {}
    enabled = cd.get("enabled", cd.get("Enabled", False))
    if str(enabled).lower() != "true":
        return 0.0
    # moto keeps the request's {"Enabled", "Timeout"} and adds its own default "timeout": 300
    return float(cd.get("Timeout", cd.get("timeout", 300)) or 0)


def _classic_draining(lb: Any) -> dict[str, float]:
    if not hasattr(lb, "_world_draining"):
        lb._world_draining = {}
    return lb._world_draining


_orig_deregister_instances = elb_models.ELBBackend.deregister_instances
_orig_register_instances = elb_models.ELBBackend.register_instances


def _deregister_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False) -> Any:
    lb = self.get_load_balancer(load_balancer_name)
    instance_ids = list(instance_ids)
    registered = set(lb.instance_ids) if lb is not None else set()
    result = _orig_deregister_instances(self, load_balancer_name, instance_ids, from_autoscaling)
    if lb is None:
        return result
    still = set(lb.instance_ids)
    seconds = core.scaled(classic_drain_seconds(lb))
    for instance_id in instance_ids:
        if instance_id not in registered or instance_id in still:
            continue
        if seconds > 0:
            _classic_draining(lb)[instance_id] = time.monotonic() + seconds
            core.record("elb.instance.draining", load_balancer=lb.name, instance_id=instance_id)
            core.after(seconds, _classic_drained, lb, instance_id, name="elb-drained")
        else:
            core.record("elb.instance.out_of_service", load_balancer=lb.name, instance_id=instance_id)
    return result


def _classic_drained(lb: Any, instance_id: str) -> None:
    deadline = _classic_draining(lb).get(instance_id)
    if deadline is not None and deadline <= time.monotonic() + 0.001:
        _classic_draining(lb).pop(instance_id, None)
        core.record("elb.instance.out_of_service", load_balancer=lb.name, instance_id=instance_id)


def _register_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False) -> Any:
    instance_ids = list(instance_ids)
    lb = self.get_load_balancer(load_balancer_name)
    if lb is not None:
        for instance_id in instance_ids:
            _classic_draining(lb).pop(instance_id, None)
    return _orig_register_instances(self, load_balancer_name, instance_ids, from_autoscaling)


def describe_instance_health(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ec2.models import ec2_backends
    from moto.elb.exceptions import LoadBalancerNotFoundError

    lb_name = self._get_param("LoadBalancerName")
    lb = self.elb_backend.get_load_balancer(lb_name)
    if lb is None:
        raise LoadBalancerNotFoundError(lb_name)
    asked = [i["InstanceId"] for i in self._get_param("Instances", [])]
    ids = asked or list(lb.instance_ids)
    ec2 = ec2_backends[self.current_account][self.region]
    now = time.monotonic()
    states = []
    for instance_id in ids:
        instance = ec2.get_instance_by_id(instance_id) if hasattr(ec2, "get_instance_by_id") else None
        if instance is None or instance.state == "terminated":
            continue  # "The state of terminated instances is not returned."
        deadline = _classic_draining(lb).get(instance_id)
        if instance_id in lb.instance_ids:
            running = instance.state == "running"
            state = {
                "InstanceId": instance_id,
                "State": "InService" if running else "OutOfService",
                "ReasonCode": "N/A" if running else "Instance",
                "Description": "N/A" if running else f"Instance is in {instance.state} state.",
            }
        elif deadline is not None and deadline > now:
            state = {"InstanceId": instance_id, "State": "InService", "ReasonCode": "N/A", "Description": DRAINING_DESCRIPTION}
        else:
            state = {"InstanceId": instance_id, "State": "OutOfService", "ReasonCode": "ELB", "Description": NOT_REGISTERED}
        states.append(state)
    return ActionResult({"InstanceStates": states})


# --------------------------------------------------------------------------- ELBv2


def tg_drain_seconds(tg: Any) -> float:
    return float(tg.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)


def _key(tg: Any, target: dict[str, Any]) -> str:
    return f"{target['Id']}|{int(target.get('Port') or tg.port or 0)}"


def is_registered(tg: Any, target: dict[str, Any]) -> bool:
    return _key(tg, target) in tg.targets


def _tg_draining(tg: Any) -> dict[str, tuple[dict[str, Any], float]]:
    if not hasattr(tg, "_world_draining"):
        tg._world_draining = {}
    return tg._world_draining


def _tg_register(self: Any, targets: list[dict[str, Any]]) -> None:
    from moto.elbv2.exceptions import TargetNotRunning

    for target in targets:
        instance = self.ec2_backend.get_instance_by_id(target["Id"])
        if instance is not None and instance.state != "running":
            raise TargetNotRunning(instance_id=target["Id"])
        key = _key(self, target)
        port = int(target.get("Port") or self.port or 0)
        self.targets[key] = {"Id": target["Id"], "Port": port}
        _tg_draining(self).pop(key, None)
        core.record("elbv2.target.registered", target_group=self.arn, id=target["Id"], port=port)


def _tg_deregister(self: Any, targets: list[dict[str, Any]]) -> None:
    seconds = core.scaled(tg_drain_seconds(self))
    for target in targets:
        key = _key(self, target)
        registered = self.targets.pop(key, None)
        if registered is None:
            continue  # deregistering an absent target succeeds
        if seconds > 0:
            _tg_draining(self)[key] = (registered, time.monotonic() + seconds)
            core.record("elbv2.target.draining", target_group=self.arn, id=registered["Id"], port=registered["Port"])
            core.after(seconds, _tg_drained, self, key, name="elbv2-drained")
        else:
            core.record("elbv2.target.unused", target_group=self.arn, id=registered["Id"], port=registered["Port"])


def _tg_drained(tg: Any, key: str) -> None:
    entry = _tg_draining(tg).get(key)
    if entry is not None and entry[1] <= time.monotonic() + 0.001:
        _tg_draining(tg).pop(key, None)
        core.record("elbv2.target.unused", target_group=tg.arn, id=entry[0]["Id"], port=entry[0]["Port"])


def _tg_deregister_terminated(self: Any, instance_ids: list[str]) -> None:
    self.deregister([dict(t) for t in self.targets.values() if t["Id"] in instance_ids])


def _tg_health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
    status = elbv2_models.FakeHealthStatus
    key = _key(self, target)
    port = int(target.get("Port") or self.port or 0)
    registered = self.targets.get(key)
    if registered is not None:
        instance = ec2_backend.get_instance_by_id(target["Id"]) if target["Id"].startswith("i-") else None
        if instance is not None and instance.state != "running":
            return status(target["Id"], port, self.health_check_port, "unused", "Target.InvalidState", f"Target is in the {instance.state} state")
        return status(target["Id"], port, self.health_check_port, "healthy")
    draining = _tg_draining(self).get(key)
    if draining is not None and draining[1] > time.monotonic():
        return status(
            target["Id"], port, self.health_check_port, "draining",
            "Target.DeregistrationInProgress", "Target deregistration is in progress",
        )
    return status(
        target["Id"], port, self.health_check_port, "unused",
        "Target.NotRegistered", "Target is not registered to the target group",
    )


def _describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
    from moto.elbv2.exceptions import TargetGroupNotFoundError

    tg = self.target_groups.get(target_group_arn)
    if tg is None:
        raise TargetGroupNotFoundError()
    if not targets:
        now = time.monotonic()
        targets = list(tg.targets.values()) + [t for t, deadline in _tg_draining(tg).values() if deadline > now]
    return [tg.health_for(t, self.ec2_backend) for t in targets]


_orig_delete_classic = elb_models.ELBBackend.delete_load_balancer
_orig_delete_tg = elbv2_models.ELBv2Backend.delete_target_group


def _delete_classic(self: Any, load_balancer_name: str) -> None:
    """Deleting a Classic ELB ends its registrations and any connection draining at once."""
    existed = load_balancer_name in self.load_balancers
    _orig_delete_classic(self, load_balancer_name)
    if existed:
        core.record("elb.load_balancer.deleted", load_balancer=load_balancer_name)


def _delete_tg(self: Any, target_group_arn: str) -> Any:
    """Deleting a target group ends its registrations and any deregistration delay at once."""
    existed = target_group_arn in self.target_groups
    result = _orig_delete_tg(self, target_group_arn)
    if existed and target_group_arn not in self.target_groups:
        core.record("elbv2.target_group.deleted", target_group=target_group_arn)
    return result


def install() -> None:
    elb_models.ELBBackend.delete_load_balancer = _delete_classic
    elbv2_models.ELBv2Backend.delete_target_group = _delete_tg
    elb_models.ELBBackend.deregister_instances = _deregister_instances
    elb_models.ELBBackend.register_instances = _register_instances
    elb_responses.ELBResponse.describe_instance_health = describe_instance_health
    tg = elbv2_models.FakeTargetGroup
    tg.register = _tg_register
    tg.deregister = _tg_deregister
    tg.deregister_terminated_instances = _tg_deregister_terminated
    tg.health_for = _tg_health_for
    elbv2_models.ELBv2Backend.describe_target_health = _describe_target_health
