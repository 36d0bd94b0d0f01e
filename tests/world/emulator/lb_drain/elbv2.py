"""ELBv2 target groups: deregistration delay, registration and DescribeTargetHealth.

ELBv2 (AWS docs: "Deregistration delay", DeregisterTargets, TargetHealth):
targets are (Id, Port) pairs, so an instance can be registered on several
ports; DeregisterTargets without Port means the target group's port;
deregistering an absent target succeeds; a deregistered target is
``draining`` (Target.DeregistrationInProgress) for the target group's
``deregistration_delay.timeout_seconds`` (default 300), then ``unused``
(Target.NotRegistered) when asked for, absent from the full listing.
Targets of terminated instances are deregistered (draining) the same way.

A call that names an instance target that is not registered (nor draining)
and whose instance does not exist, or is terminated, fails with
``InvalidTarget`` (400), an error both DescribeTargetHealth and
DeregisterTargets document ("The specified target does not exist, is not in
the same VPC as the target group, or has an unsupported instance type"). EC2
forgets a terminated instance after about an hour, so a drain redriven later
meets it for sure; the world takes the harsher reading and answers it from the
termination on. A registered target of a stopped or terminated instance is
``unused`` (Target.InvalidState), as TargetHealth documents.

NLB target groups (TCP, TLS, UDP, TCP_UDP, QUIC, TCP_QUIC; "Edit target group attributes for
your Network Load Balancer": deregistration delay, connection termination)
report ``deregistration_delay.connection_termination.enabled`` (default false).
While it is false, established connections outlive ``unused``: the world
records ``elbv2.target.connections_remain`` when such a target becomes unused.
A Network Load Balancer's new target is ``initial`` (Elb.RegistrationInProgress) for
``elbv2.nlb_registration_seconds`` (default 180) before its health checks start ("It can
take a few minutes for the registration process to complete and health checks to start").
A Network Load Balancer goes on routing new connections to a deregistered target
for ``elbv2.nlb_deregistration_seconds`` (default 300), whatever its state shows
(draining, then unused): "It can take a few minutes for the deregistration process
to complete and for the load balancer to stop routing requests to the target" (NLB
User Guide, "Register targets for your Network Load Balancer"; AWS support has said
180 to 300 s, aws-load-balancer-controller issue 1834); ``elbv2.target.routing_stopped``
marks its end.
"""

from __future__ import annotations

import time
from typing import Any

from moto.elbv2 import models as elbv2_models
from world.emulator import core
from world.emulator.lb_drain.actor import _by, acting
from world.emulator.lb_drain.health import (
    _health,
    _health_changed,
    _start_health,
    _stop_health,
    not_in_use,
    rearm,
    zone_not_enabled,
)

NLB_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC")
CONNECTION_TERMINATION = "deregistration_delay.connection_termination.enabled"


def tg_drain_seconds(tg: Any) -> float:
    return float(tg.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)


def _key(tg: Any, target: dict[str, Any]) -> str:
    return f"{target['Id']}|{int(target.get('Port') or tg.port or 0)}"


def is_registered(tg: Any, target: dict[str, Any]) -> bool:
    return _key(tg, target) in tg.targets


def target_state(tg: Any, target: dict[str, Any]) -> str | None:
    """initial / healthy / unhealthy of a registered ELBv2 target, None when not registered."""
    health = _health(tg).get(_key(tg, target))
    return health.state if health is not None and _key(tg, target) in tg.targets else None


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
        if key in self.targets:
            continue  # already registered: its health checks go on
        self.targets[key] = {"Id": target["Id"], "Port": port}
        _tg_draining(self).pop(key, None)
        _tg_routing(self).pop(key, None)
        fields = {"target_group": self.arn, "id": target["Id"], "port": port}
        core.record("elbv2.target.registered", **fields)
        lag = core.scaled(float(core.CONFIG["elbv2"]["nlb_registration_seconds"])) if _nlb_fields(self) else 0.0
        _start_health("elbv2", self, key, target["Id"], fields, self.region_name, registering=lag)


def _tg_deregister(self: Any, targets: list[dict[str, Any]]) -> None:
    seconds = core.scaled(tg_drain_seconds(self))
    nlb = _nlb_fields(self)
    for target in targets:
        key = _key(self, target)
        registered = self.targets.pop(key, None)
        if registered is None:
            continue  # deregistering an absent target succeeds
        health = _stop_health(self, key)
        fields = {
            "target_group": self.arn,
            "id": registered["Id"],
            "port": registered["Port"],
            "by": _by(),
            "health": health,
            **nlb,
        }
        if nlb:
            _route_on(self, key, registered)
        if seconds > 0:
            _tg_draining(self)[key] = (registered, time.monotonic() + seconds)
            core.record("elbv2.target.draining", **fields)
            core.after(seconds, _tg_drained, self, key, name="elbv2-drained")
        else:
            core.record("elbv2.target.unused", **fields)
            _connections_remain(self, registered)


def _tg_routing(tg: Any) -> dict[str, object]:
    if not hasattr(tg, "_world_routing"):
        tg._world_routing = {}
    return tg._world_routing


def _route_on(tg: Any, key: str, target: dict[str, Any]) -> None:
    """A Network Load Balancer's new target is ``initial`` (Elb.RegistrationInProgress) for
    ``elbv2.nlb_registration_seconds`` (default 180) before its health checks start ("It can
    take a few minutes for the registration process to complete and health checks to start").
    A Network Load Balancer goes on routing new connections to a deregistered target for
        ``elbv2.nlb_deregistration_seconds``, whatever its state shows; ``elbv2.target.routing_stopped``
        marks the end (not once it is registered again, nor deregistered again: the latest counts)."""
    token = object()
    _tg_routing(tg)[key] = token
    lag = core.scaled(float(core.CONFIG["elbv2"]["nlb_deregistration_seconds"]))

    def stopped() -> None:
        if _tg_routing(tg).get(key) is token:
            _tg_routing(tg).pop(key, None)
            core.record("elbv2.target.routing_stopped", target_group=tg.arn, id=target["Id"], port=target["Port"])

    core.after(lag, stopped, name="nlb-routing")


def _nlb_fields(tg: Any) -> dict[str, Any]:
    """For an NLB target group: whether connections are terminated at the end of the delay."""
    if (tg.protocol or "").upper() not in NLB_PROTOCOLS:
        return {}
    return {"connection_termination": str(tg.attributes.get(CONNECTION_TERMINATION, "false")).lower() == "true"}


def _connections_remain(tg: Any, target: dict[str, Any]) -> None:
    if _nlb_fields(tg).get("connection_termination") is False:
        core.record("elbv2.target.connections_remain", target_group=tg.arn, id=target["Id"], port=target["Port"])


def _tg_drained(tg: Any, key: str) -> None:
    entry = _tg_draining(tg).get(key)
    if entry is not None and entry[1] <= time.monotonic() + 0.001:
        _tg_draining(tg).pop(key, None)
        core.record("elbv2.target.unused", target_group=tg.arn, id=entry[0]["Id"], port=entry[0]["Port"])
        _connections_remain(tg, entry[0])


def _tg_deregister_terminated(self: Any, instance_ids: list[str]) -> None:
    with acting("termination"):
        self.deregister([dict(t) for t in self.targets.values() if t["Id"] in instance_ids])


_orig_tg_init = elbv2_models.FakeTargetGroup.__init__


def _tg_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """NLB target groups report the connection-termination attribute (default false)."""
    _orig_tg_init(self, *args, **kwargs)
    if (self.protocol or "").upper() in NLB_PROTOCOLS:
        self.attributes.setdefault(CONNECTION_TERMINATION, "false")


def _tg_health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
    status = elbv2_models.FakeHealthStatus
    key = _key(self, target)
    port = int(target.get("Port") or self.port or 0)
    registered = self.targets.get(key)
    if registered is not None:
        instance = ec2_backend.get_instance_by_id(target["Id"]) if target["Id"].startswith("i-") else None
        if instance is not None and instance.state != "running":
            return status(
                target["Id"],
                port,
                self.health_check_port,
                "unused",
                "Target.InvalidState",
                f"Target is in the {instance.state} state",
            )
        health = target_state(self, target)
        if health == "unused":  # no load balancer uses the target group, or not in the target's zone
            zone = zone_not_enabled(_health(self)[key])
            return status(
                target["Id"],
                port,
                self.health_check_port,
                "unused",
                "Target.NotInUse",
                "Target is in an Availability Zone that is not enabled for the load balancer"
                if zone is not None
                else "Target group is not configured to receive traffic from the load balancer",
            )
        if health == "healthy":
            return status(target["Id"], port, self.health_check_port, "healthy")
        if health == "unhealthy":
            return status(
                target["Id"],
                port,
                self.health_check_port,
                "unhealthy",
                "Target.FailedHealthChecks",
                "Health checks failed",
            )
        if _health(self)[key].registering_until > time.monotonic():
            return status(
                target["Id"],
                port,
                self.health_check_port,
                "initial",
                "Elb.RegistrationInProgress",
                "Target registration is in progress",
            )
        return status(
            target["Id"],
            port,
            self.health_check_port,
            "initial",
            "Elb.InitialHealthChecking",
            "Initial health checks in progress",
        )
    draining = _tg_draining(self).get(key)
    if draining is not None and draining[1] > time.monotonic():
        return status(
            target["Id"],
            port,
            self.health_check_port,
            "draining",
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        )
    return status(
        target["Id"],
        port,
        self.health_check_port,
        "unused",
        "Target.NotRegistered",
        "Target is not registered to the target group",
    )


def _check_targets_exist(tg: Any, ec2_backend: Any, targets: list[dict[str, Any]]) -> None:
    """InvalidTarget for a named instance target neither registered nor draining whose instance
    EC2 does not know, or knows as terminated."""
    from moto.elbv2.exceptions import InvalidTargetError

    for target in targets:
        key, instance_id = _key(tg, target), str(target.get("Id", ""))
        if not instance_id.startswith("i-") or key in tg.targets or key in _tg_draining(tg):
            continue
        instance = ec2_backend.get_instance_by_id(instance_id)
        if instance is None or instance.state == "terminated":
            raise InvalidTargetError()


def _describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
    from moto.elbv2.exceptions import TargetGroupNotFoundError

    tg = self.target_groups.get(target_group_arn)
    if tg is None:
        raise TargetGroupNotFoundError()
    _check_targets_exist(tg, self.ec2_backend, targets or [])
    if not targets:
        now = time.monotonic()
        targets = list(tg.targets.values()) + [t for t, deadline in _tg_draining(tg).values() if deadline > now]
    return [tg.health_for(t, self.ec2_backend) for t in targets]


def _deregister_targets(self: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> None:
    """DeregisterTargets: InvalidTarget for a target that does not exist (above)."""
    from moto.elbv2.exceptions import TargetGroupNotFoundError

    tg = self.target_groups.get(target_group_arn)
    if tg is None:
        raise TargetGroupNotFoundError()
    _check_targets_exist(tg, self.ec2_backend, instances)
    tg.deregister(instances)


_orig_modify_tg_attributes = elbv2_models.ELBv2Backend.modify_target_group_attributes
DELAY = "deregistration_delay.timeout_seconds"


def _modify_tg_attributes(self: Any, target_group_arn: str, attributes: dict[str, Any]) -> None:
    """ModifyTargetGroupAttributes: a deregistration delay of 3600 s is valid ("The range is 0-3600
    seconds", TargetGroupAttribute), which moto refuses (it allows 0-3599)."""
    if str(attributes.get(DELAY)) != "3600":
        return _orig_modify_tg_attributes(self, target_group_arn, attributes)
    _orig_modify_tg_attributes(self, target_group_arn, {**attributes, DELAY: "3599"})
    self.target_groups[target_group_arn].attributes[DELAY] = attributes[DELAY]
    return None


_orig_delete_lb = elbv2_models.ELBv2Backend.delete_load_balancer


def _delete_lb(self: Any, arn: str) -> Any:
    """Deleting a load balancer deletes its listeners: its target groups are no longer used by it
    (moto kept it in their LoadBalancerArns), and one no load balancer uses stops its health checks."""
    result = _orig_delete_lb(self, arn)
    for tg in self.target_groups.values():
        if arn in tg.load_balancer_arns:
            tg.load_balancer_arns.remove(arn)
            if not tg.load_balancer_arns:
                core.record("elbv2.target_group.out_of_use", target_group=tg.arn, load_balancer=arn)
            rearm(tg)
    _health_changed(self.account_id, self.region_name)
    return result


_orig_create_listener = elbv2_models.ELBv2Backend.create_listener


def _create_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
    """A listener that forwards to a target group puts it in use: its targets' checks start, those
    still registered while it was not in use (``unused``, Target.NotInUse) included."""
    idle = {arn for arn, tg in self.target_groups.items() if not_in_use(tg)}
    listener = _orig_create_listener(self, *args, **kwargs)
    for tg in self.target_groups.values():
        if tg.arn in idle and not not_in_use(tg):
            core.record("elbv2.target_group.in_use", target_group=tg.arn)
        rearm(tg)
    return listener


_orig_delete_tg = elbv2_models.ELBv2Backend.delete_target_group


def _delete_tg(self: Any, target_group_arn: str) -> Any:
    """Deleting a target group ends its registrations and any deregistration delay at once."""
    existed = target_group_arn in self.target_groups
    if existed:
        for key in list(_health(self.target_groups[target_group_arn])):
            _stop_health(self.target_groups[target_group_arn], key)
    result = _orig_delete_tg(self, target_group_arn)
    if existed and target_group_arn not in self.target_groups:
        core.record("elbv2.target_group.deleted", target_group=target_group_arn)
        _health_changed(self.account_id, self.region_name)
    return result
