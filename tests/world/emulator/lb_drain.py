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

Connection draining and unhealthy instances (Classic ELB "Configure connection
draining"): the draining timeout does not apply to unhealthy instances, so an
unhealthy instance that is deregistered is "not currently registered" at once.
ELBv2 targets drain for the full delay whatever their health.

NLB target groups (TCP, TLS, UDP, TCP_UDP; "Edit target group attributes for
your Network Load Balancer": deregistration delay, connection termination)
report ``deregistration_delay.connection_termination.enabled`` (default false).
While it is false, established connections outlive ``unused``: the world
records ``elbv2.target.connections_remain`` when such a target becomes unused.

Every deregistration event says ``by`` whom: ``ecs`` (the service scheduler),
``autoscaling`` (Auto Scaling for its attached load balancers),
``termination`` (the instance terminated), ``functions`` (an API call with the
AWS SDK for Rust's User-Agent: the project's Lambdas) or ``client`` (any other
API caller).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from moto.elb import models as elb_models
from moto.elb import responses as elb_responses
from moto.elbv2 import models as elbv2_models
from world.emulator import core

DRAINING_DESCRIPTION = "Instance deregistration currently in progress."
NOT_REGISTERED = "Instance is not currently registered with the LoadBalancer."
REGISTERING = "Instance registration is still in progress."
FAILED_CHECKS = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."
NLB_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")
CONNECTION_TERMINATION = "deregistration_delay.connection_termination.enabled"
# A Classic ELB's health check before ConfigureHealthCheck (AWS's defaults).
CLASSIC_DEFAULT_CHECK = (30.0, 10, 2)


# --------------------------------------------------------------------------- who deregisters

_actor = threading.local()


@contextlib.contextmanager
def acting(who: str) -> Iterator[None]:
    """Deregistrations inside this block are recorded with ``by=who`` (ecs, autoscaling...)."""
    previous = getattr(_actor, "who", None)
    _actor.who = who
    try:
        yield
    finally:
        _actor.who = previous


def _remember_caller(api: Any) -> None:
    """Request hook: the API call this request thread serves (for ``by``)."""
    _actor.api = api
    _actor.who = None
    return None


def _by() -> str:
    who = getattr(_actor, "who", None)
    if who:
        return who
    api = getattr(_actor, "api", None)
    if api is None:
        return "world"
    if api.service == "autoscaling":
        return "autoscaling"
    return "functions" if "aws-sdk-rust" in (getattr(api, "agent", "") or "") else "client"


# --------------------------------------------------------------------------- health checks


class Health:
    """One registration's health-check state: initial -> healthy or unhealthy."""

    __slots__ = ("fields", "goal", "instance_id", "kind", "owner", "region", "state", "timer")

    def __init__(self, kind: str, owner: Any, instance_id: str, fields: dict[str, Any], region: str):
        self.state = "initial"
        self.timer: core.Timer | None = None
        self.goal: str | None = None  # where the armed timer leads
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


def _schedule_health(health: Health) -> None:
    """Arm the next transition the health checks will make, if any (a timer already on its way
    there keeps running: checks that keep passing or failing do not start over)."""
    goal = "unhealthy" if failing(health.instance_id) else "healthy"
    if health.timer is not None and health.goal == goal:
        return
    health.cancel()
    if health.state == goal:
        return
    interval, healthy, unhealthy = _check(health)
    checks = unhealthy if goal == "unhealthy" else healthy
    health.goal = goal
    health.timer = core.after(core.scaled(checks * interval), _health_changes, health, goal, name="lb-health")


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


def _start_health(kind: str, owner: Any, key: str, instance_id: str, fields: dict[str, Any], region: str) -> None:
    previous = _health(owner).pop(key, None)
    if previous is not None:
        previous.cancel()
    health = Health(kind, owner, instance_id, fields, region)
    _health(owner)[key] = health
    _schedule_health(health)


def _stop_health(owner: Any, key: str) -> str | None:
    """Forget a registration's health; its last state (None when unknown)."""
    health = _health(owner).pop(key, None)
    if health is None:
        return None
    health.cancel()
    return health.state


def target_state(tg: Any, target: dict[str, Any]) -> str | None:
    """initial / healthy / unhealthy of a registered ELBv2 target, None when not registered."""
    health = _health(tg).get(_key(tg, target))
    return health.state if health is not None and _key(tg, target) in tg.targets else None


def classic_state(lb: Any, instance_id: str) -> str | None:
    """initial / healthy / unhealthy of an instance registered in a Classic ELB, None when not registered."""
    health = _health(lb).get(instance_id)
    return health.state if health is not None and instance_id in lb.instance_ids else None


def _on_config() -> None:
    """The failing instances may have changed: re-arm every registration's health checks."""
    with core.LOCK:
        for owner in list(_OWNERS.values()):
            for health in list(getattr(owner, "_world_health", {}).values()):
                _schedule_health(health)


def _on_reset() -> None:
    """The timers are gone: forget the armed ones (a registration kept by ``{"moto": false}`` re-arms
    at the next config post)."""
    for owner in _OWNERS.values():
        for health in getattr(owner, "_world_health", {}).values():
            health.cancel()
    _OWNERS.clear()


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
        # the draining timeout does not apply to connections to unhealthy instances
        unhealthy = _stop_health(lb, instance_id) == "unhealthy"
        if seconds > 0 and not unhealthy:
            _classic_draining(lb)[instance_id] = time.monotonic() + seconds
            core.record("elb.instance.draining", load_balancer=lb.name, instance_id=instance_id, by=_by())
            core.after(seconds, _classic_drained, lb, instance_id, name="elb-drained")
        else:
            core.record(
                "elb.instance.out_of_service",
                load_balancer=lb.name,
                instance_id=instance_id,
                by=_by(),
                **({"unhealthy": True} if unhealthy else {}),
            )
    return result


def _classic_drained(lb: Any, instance_id: str) -> None:
    deadline = _classic_draining(lb).get(instance_id)
    if deadline is not None and deadline <= time.monotonic() + 0.001:
        _classic_draining(lb).pop(instance_id, None)
        core.record("elb.instance.out_of_service", load_balancer=lb.name, instance_id=instance_id)


def _register_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False) -> Any:
    instance_ids = list(instance_ids)
    lb = self.get_load_balancer(load_balancer_name)
    registered = set(lb.instance_ids) if lb is not None else set()
    if lb is not None:
        for instance_id in instance_ids:
            _classic_draining(lb).pop(instance_id, None)
    result = _orig_register_instances(self, load_balancer_name, instance_ids, from_autoscaling)
    for instance_id in dict.fromkeys(instance_ids) if lb is not None else ():
        if instance_id in registered:
            continue  # already registered: its health checks go on
        fields = {"load_balancer": lb.name, "instance_id": instance_id}
        core.record("elb.instance.registered", **fields)
        _start_health("elb", lb, instance_id, instance_id, fields, self.region_name)
    return result


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
            health = classic_state(lb, instance_id)
            if instance.state != "running":
                state = {
                    "InstanceId": instance_id,
                    "State": "OutOfService",
                    "ReasonCode": "Instance",
                    "Description": f"Instance is in {instance.state} state.",
                }
            elif health == "healthy":
                state = {"InstanceId": instance_id, "State": "InService", "ReasonCode": "N/A", "Description": "N/A"}
            elif health == "unhealthy":
                state = {
                    "InstanceId": instance_id,
                    "State": "OutOfService",
                    "ReasonCode": "Instance",
                    "Description": FAILED_CHECKS,
                }
            else:
                state = {
                    "InstanceId": instance_id,
                    "State": "OutOfService",
                    "ReasonCode": "ELB",
                    "Description": REGISTERING,
                }
        elif deadline is not None and deadline > now:
            state = {
                "InstanceId": instance_id,
                "State": "InService",
                "ReasonCode": "N/A",
                "Description": DRAINING_DESCRIPTION,
            }
        else:
            state = {
                "InstanceId": instance_id,
                "State": "OutOfService",
                "ReasonCode": "ELB",
                "Description": NOT_REGISTERED,
            }
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
        if key in self.targets:
            continue  # already registered: its health checks go on
        self.targets[key] = {"Id": target["Id"], "Port": port}
        _tg_draining(self).pop(key, None)
        fields = {"target_group": self.arn, "id": target["Id"], "port": port}
        core.record("elbv2.target.registered", **fields)
        _start_health("elbv2", self, key, target["Id"], fields, self.region_name)


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
        if seconds > 0:
            _tg_draining(self)[key] = (registered, time.monotonic() + seconds)
            core.record("elbv2.target.draining", **fields)
            core.after(seconds, _tg_drained, self, key, name="elbv2-drained")
        else:
            core.record("elbv2.target.unused", **fields)
            _connections_remain(self, registered)


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
    if existed:
        for key in list(_health(self.load_balancers[load_balancer_name])):
            _stop_health(self.load_balancers[load_balancer_name], key)
    _orig_delete_classic(self, load_balancer_name)
    if existed:
        core.record("elb.load_balancer.deleted", load_balancer=load_balancer_name)
        _health_changed(self.account_id, self.region_name)


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


def install() -> None:
    core.request_hook(_remember_caller)
    core.on_config(_on_config)
    core.on_reset(_on_reset)
    elbv2_models.FakeTargetGroup.__init__ = _tg_init
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
