"""Health checks of load-balancer registrations.

Health checks (AWS docs: "Health checks for Application Load Balancer target
groups", "Health checks for Network Load Balancer target groups", TargetHealth;
Classic ELB "Configure health checks for your Classic Load Balancer",
InstanceState; Amazon ECS Best Practices Guide "Load balancer health check
parameters"): a new registration is not in service. An ELBv2 target is
``initial`` (Elb.InitialHealthChecking) and becomes ``healthy`` after
HealthyThresholdCount x HealthCheckIntervalSeconds (the ALB guide says one
passing check; the ECS guide says threshold x interval, 150 s by default: the
world takes the longer). A Classic ELB instance is OutOfService, ReasonCode
ELB, "Instance registration is still in progress." until HealthyThreshold x
Interval have passed, then InService. Instances listed in the config's
``health.failing_instances`` fail their checks: after UnhealthyThreshold x
interval a target is ``unhealthy`` (Target.FailedHealthChecks), a Classic ELB
instance OutOfService, ReasonCode Instance, "Instance has failed at least the
UnhealthyThreshold number of health checks consecutively."; taken out of the
list they pass again after HealthyThreshold x interval. Every duration is
scaled by the world's timescale. A Classic ELB without ConfigureHealthCheck
uses AWS's defaults (interval 30 s, healthy 10, unhealthy 2); the world does
not enforce AWS's ranges (interval 5-300 s, thresholds 2-10), so scenarios at
timescale 1.0 can use short checks that the API reports as they are.

A Network Load Balancer's new target is ``initial`` (Elb.RegistrationInProgress,
"Target registration is in progress") for ``elbv2.nlb_registration_seconds``
(default 180) before its health checks start: "It can take a few minutes for the
registration process to complete and health checks to start" (NLB User Guide,
"Register targets for your Network Load Balancer").

A registration whose instance is in an Availability Zone its load balancer does
not enable gets no traffic and no health checks. TargetHealth: ``unused``,
Target.NotInUse, "the target is in an Availability Zone that is not enabled for
your load balancer" (the ALB and NLB guides: "If you register targets in an
Availability Zone but do not enable the Availability Zone, these registered
targets do not receive traffic"). DisableAvailabilityZonesForLoadBalancer (Classic
ELB API reference): "all instances registered with the load balancer that are in
the removed Availability Zone go into the OutOfService state" (the world's
wording: "Instance is in an Availability Zone for which LoadBalancer is not
configured to route traffic to."). Once the zone is enabled again (SetSubnets,
EnableAvailabilityZonesForLoadBalancer, AttachLoadBalancerToSubnets) the
registration starts over from ``initial`` / registration in progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from world.emulator import core

# A Classic ELB's health check before ConfigureHealthCheck (AWS's defaults).
CLASSIC_DEFAULT_CHECK = (30.0, 10, 2)


class Health:
    """One registration's health-check state: initial -> healthy or unhealthy; ``unused`` (ELBv2) or
    ``out_of_zone`` (Classic ELB) while no load balancer sends it traffic."""

    __slots__ = ("fields", "goal", "instance_id", "kind", "owner", "region", "registering_until", "state", "timer")

    def __init__(self, kind: str, owner: Any, instance_id: str, fields: dict[str, Any], region: str):
        self.state = "initial"
        self.timer: core.Timer | None = None
        self.goal: str | None = None  # where the armed timer leads
        self.registering_until = 0.0  # time.monotonic() until which its registration is in progress
        self.kind, self.owner, self.instance_id, self.fields, self.region = kind, owner, instance_id, fields, region

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.goal = None


# Called with (account id, region) after a registration's health changed or a load balancer was
# deleted (ECS re-evaluates its tasks).
HEALTH_LISTENERS: list[Callable[[str, str], None]] = []
_OWNERS: dict[int, Any] = {}  # load balancers and target groups with health state, until the reset


def _health(owner: Any) -> dict[str, Health]:
    if not hasattr(owner, "_world_health"):
        owner._world_health = {}
    _OWNERS.setdefault(id(owner), owner)
    return owner._world_health


def failing(instance_id: str) -> bool:
    return instance_id in (core.CONFIG.get("health", {}).get("failing_instances") or [])


def _check(health: Health) -> tuple[float, int, int]:
    """(interval s, healthy threshold, unhealthy threshold) of the registration's load balancer."""
    owner = health.owner
    if health.kind == "elbv2":
        return (
            float(owner.health_check_interval_seconds or 30),
            int(owner.healthy_threshold_count or 5),
            int(owner.unhealthy_threshold_count or 2),
        )
    check = owner.health_check
    if check is None:
        return CLASSIC_DEFAULT_CHECK
    return float(check.interval), int(check.healthy_threshold), int(check.unhealthy_threshold)


def zone_not_enabled(health: Health) -> str | None:
    """The Availability Zone of the registration's instance when its load balancer does not enable
    it (None when it does, or when either is unknown). A target group's zones are those of the load
    balancers that use it; a Classic ELB's its ``AvailabilityZones``."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    account = health.owner.account_id
    instance = ec2_backends[account][health.region].get_instance_by_id(health.instance_id)
    zone = getattr(getattr(instance, "_placement", None), "zone", None)
    if zone is None:
        return None
    if health.kind == "elbv2":
        balancers = elbv2_backends[account][health.region].load_balancers
        lbs = [balancers[arn] for arn in health.owner.load_balancer_arns if arn in balancers]
        zones = {az.zone_name for lb in lbs for az in lb.availability_zones}
    else:
        zones = set(health.owner.availability_zones or [])
    return zone if zones and zone not in zones else None


def not_in_use(owner: Any) -> bool:
    """An ELBv2 target group that no load balancer uses: no health checks, its targets ``unused``
    (Target.NotInUse)."""
    return hasattr(owner, "load_balancer_arns") and not owner.load_balancer_arns


def _schedule_health(health: Health) -> None:
    """Arm the next transition the health checks will make, if any (a timer already on its way
    there keeps running: checks that keep passing or failing do not start over). A target group no
    load balancer uses runs no health checks: its targets are ``unused``; once one uses it again,
    they start over from ``initial``."""
    zone = zone_not_enabled(health)
    if health.kind == "elbv2" and (zone is not None or not_in_use(health.owner)):
        health.cancel()
        if health.state != "unused":
            health.state = "unused"
            core.record("elbv2.target.unused", **health.fields, reason="Target.NotInUse", **_zone(zone))
        return
    if zone is not None:  # a Classic ELB's instance in a zone it does not enable
        health.cancel()
        if health.state != "out_of_zone":
            health.state = "out_of_zone"
            core.record("elb.instance.out_of_zone", **health.fields, zone=zone)
        return
    if health.state == "unused":
        health.state = "initial"  # in use again: registered all along, its checks start over
        core.record("elbv2.target.initial", **health.fields, reason="Elb.InitialHealthChecking")
    elif health.state == "out_of_zone":
        health.state = "initial"
        core.record("elb.instance.initial", **health.fields)
    goal = "unhealthy" if failing(health.instance_id) else "healthy"
    if health.timer is not None and health.goal == goal:
        return
    health.cancel()
    if health.state == goal:
        return
    interval, healthy, unhealthy = _check(health)
    checks = unhealthy if goal == "unhealthy" else healthy
    health.goal = goal
    registering = max(0.0, health.registering_until - time.monotonic())  # no checks before it ends
    delay = registering + core.scaled(checks * interval)
    health.timer = core.after(delay, _health_changes, health, goal, name="lb-health")


def _zone(zone: str | None) -> dict[str, str]:
    return {"zone": zone} if zone is not None else {}


def _health_changes(health: Health, goal: str) -> None:
    if _health(health.owner).get(_health_key(health)) is not health:
        return  # deregistered since
    health.timer, health.goal = None, None
    if goal != ("unhealthy" if failing(health.instance_id) else "healthy"):
        _schedule_health(health)
        return
    health.state = goal
    if health.kind == "elbv2":
        extra = {"reason": "Target.FailedHealthChecks"} if goal == "unhealthy" else {}
        core.record(f"elbv2.target.{goal}", **health.fields, **extra)
    else:
        extra = {"reason_code": "Instance"} if goal == "unhealthy" else {}
        core.record(
            "elb.instance.in_service" if goal == "healthy" else "elb.instance.unhealthy", **health.fields, **extra
        )
    _health_changed(health.owner.account_id, health.region)


def _health_changed(account_id: str, region: str) -> None:
    """Tell the listeners (ECS) that what counts as healthy may have changed."""
    for listener in list(HEALTH_LISTENERS):
        listener(account_id, region)


def _health_key(health: Health) -> str:
    if health.kind == "elbv2":
        return f"{health.fields['id']}|{health.fields['port']}"
    return health.instance_id


def _start_health(
    kind: str, owner: Any, key: str, instance_id: str, fields: dict[str, Any], region: str, registering: float = 0.0
) -> None:
    """A new registration's health checks, which start once its registration has been in progress
    for ``registering`` (wall) seconds."""
    previous = _health(owner).pop(key, None)
    if previous is not None:
        previous.cancel()
    health = Health(kind, owner, instance_id, fields, region)
    health.registering_until = time.monotonic() + registering
    _health(owner)[key] = health
    _schedule_health(health)


def _stop_health(owner: Any, key: str) -> str | None:
    """Forget a registration's health; its last state (None when unknown)."""
    health = _health(owner).pop(key, None)
    if health is None:
        return None
    health.cancel()
    return health.state


def _on_config() -> None:
    """The failing instances may have changed: re-arm every registration's health checks."""
    with core.LOCK:
        for owner in list(_OWNERS.values()):
            rearm(owner)


def rearm(owner: Any) -> None:
    """Re-arm the health checks of a load balancer's or target group's registrations."""
    for health in list(getattr(owner, "_world_health", {}).values()):
        _schedule_health(health)


def _on_reset() -> None:
    """The timers are gone: forget the armed ones (a registration kept by ``{"moto": false}`` re-arms
    at the next config post)."""
    for owner in _OWNERS.values():
        for health in getattr(owner, "_world_health", {}).values():
            health.cancel()
    _OWNERS.clear()
