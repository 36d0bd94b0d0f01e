"""Classic ELB: connection draining, registration and DescribeInstanceHealth.

Classic ELB (AWS docs: "Configure connection draining for your Classic Load
Balancer", DescribeInstanceHealth, InstanceState): DeregisterInstancesFromLoadBalancer
removes the instance from DescribeLoadBalancers at once; while connection
draining runs (attribute ConnectionDraining, Timeout 1-3600 s, default 300),
DescribeInstanceHealth reports it ``InService`` with Description "Instance
deregistration currently in progress.", then ``OutOfService`` ("Instance is
not currently registered with the LoadBalancer."). With draining disabled it
is OutOfService at once. Explicitly named instances are reported even when no
longer registered; terminated instances are not reported. A call that names an
instance neither registered nor draining whose EC2 instance does not exist, or is
terminated, fails with ``InvalidInstance`` (400, "The specified endpoint is not
valid."), an error DescribeInstanceHealth and DeregisterInstancesFromLoadBalancer
both document (the ELBv2 side answers ``InvalidTarget`` alike: EC2 forgets a
terminated instance after about an hour, and the world takes the harsher reading
from the termination on).

Connection draining and unhealthy instances (Classic ELB "Configure connection
draining": "If an instance becomes unhealthy, the load balancer reports the
instance state as OutOfService. If there are in-flight requests made to the
unhealthy instance, they are completed. The maximum timeout limit does not apply
to connections to unhealthy instances."): an unhealthy instance that is
deregistered is "not currently registered" in DescribeInstanceHealth at once, and
no API shows its in-flight requests, but they are still being completed. AWS sets
them no bound; the world lets them run for the connection draining timeout (as
long as the load balancer's owner lets a request run on a healthy instance), its
``elb.instance.draining`` says ``unhealthy``, and the ``elb.instance.out_of_service``
that ends it comes then: an instance released before has its requests cut. With
connection draining disabled nothing is completed ("If you disable connection
draining, any in-flight requests made to instances that are deregistering or
unhealthy are not completed"): out of service at once. ELBv2 targets drain for
the full delay whatever their health.

The same holds for an instance that becomes unhealthy while it drains: the page does
not say health checks stop at the deregistration, so the world takes the harsher
reading and keeps checking a draining instance. Once it fails them
(``health.failing_instances``: its task crashed, its container was stopped early) it
is OutOfService, "not currently registered" as for a finished drain (nothing tells the
two apart), its ``elb.instance.draining_unhealthy`` is recorded, and its in-flight
requests run on unseen until its draining would have ended.

An instance's state can also be ``Unknown`` ("Valid values: InService | OutOfService |
Unknown", InstanceState), with the description "A transient error occurred. Please try
again later.": with the fault rate ``unknown`` of ``elb:DescribeInstanceHealth``
(world.emulator.faults), each state answered is ``Unknown`` with that probability.
"""

from __future__ import annotations

import time
from typing import Any

from moto.elb import models as elb_models
from world.emulator import core, faults
from world.emulator.lb_drain.actor import _by
from world.emulator.lb_drain.health import _health, _health_changed, _start_health, _stop_health

DRAINING_DESCRIPTION = "Instance deregistration currently in progress."
NOT_REGISTERED = "Instance is not currently registered with the LoadBalancer."
REGISTERING = "Instance registration is still in progress."
ZONE_NOT_ENABLED = "Instance is in an Availability Zone for which LoadBalancer is not configured to route traffic to."
FAILED_CHECKS = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."
TRANSIENT = "A transient error occurred. Please try again later."


def classic_state(lb: Any, instance_id: str) -> str | None:
    """initial / healthy / unhealthy / out_of_zone of an instance registered in a Classic ELB, None when
    not registered."""
    health = _health(lb).get(instance_id)
    return health.state if health is not None and instance_id in lb.instance_ids else None


def classic_drain_seconds(lb: Any) -> float:
    """The connection draining timeout (AWS seconds), 0 when draining is disabled."""
    cd = lb.attributes.get("connection_draining") or {}
    enabled = cd.get("enabled", cd.get("Enabled", False))
    if str(enabled).lower() != "true":
        return 0.0
    # moto keeps the request's {"Enabled", "Timeout"} and adds its own default "timeout": 300
    return float(cd.get("Timeout", cd.get("timeout", 300)) or 0)


def _classic_draining(lb: Any) -> dict[str, float]:
    """Deregistered healthy instances still draining: when each draining ends (monotonic)."""
    if not hasattr(lb, "_world_draining"):
        lb._world_draining = {}
    return lb._world_draining


def _classic_unhealthy_in_flight(lb: Any) -> dict[str, float]:
    """Deregistered unhealthy instances whose in-flight requests are still being completed (no API
    shows them): when they end (monotonic)."""
    if not hasattr(lb, "_world_unhealthy_in_flight"):
        lb._world_unhealthy_in_flight = {}
    return lb._world_unhealthy_in_flight


_orig_deregister_instances = elb_models.ELBBackend.deregister_instances
_orig_register_instances = elb_models.ELBBackend.register_instances


def _check_instances_exist(lb: Any, account: str, region: str, instance_ids: list[str]) -> None:
    """InvalidInstance for a named instance neither registered nor draining whose EC2 instance
    does not exist, or is terminated."""
    from moto.ec2.models import ec2_backends
    from moto.elb.exceptions import ELBClientError

    ec2 = ec2_backends[account][region]
    for instance_id in instance_ids:
        if instance_id in lb.instance_ids or instance_id in _classic_draining(lb):
            continue
        instance = ec2.get_instance_by_id(instance_id)
        if instance is None or instance.state == "terminated":
            raise ELBClientError("InvalidInstance", "The specified endpoint is not valid.")


def _deregister_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False) -> Any:
    lb = self.get_load_balancer(load_balancer_name)
    instance_ids = list(instance_ids)
    if lb is not None and not from_autoscaling:
        _check_instances_exist(lb, self.account_id, self.region_name, instance_ids)
    registered = set(lb.instance_ids) if lb is not None else set()
    result = _orig_deregister_instances(self, load_balancer_name, instance_ids, from_autoscaling)
    if lb is None:
        return result
    # one registration set per load balancer (moto keeps Auto Scaling's apart): whoever registered
    # it, a deregistration ends it
    _orig_deregister_instances(self, load_balancer_name, instance_ids, not from_autoscaling)
    still = set(lb.instance_ids)
    seconds = core.scaled(classic_drain_seconds(lb))
    for instance_id in instance_ids:
        if instance_id not in registered or instance_id in still:
            continue
        unhealthy = classic_health(lb, instance_id) == "unhealthy"
        flag = {"unhealthy": True} if unhealthy else {}
        if seconds <= 0 or unhealthy:
            _stop_health(lb, instance_id)  # a healthy draining instance is still checked (module doc)
        if seconds <= 0:
            core.record("elb.instance.out_of_service", load_balancer=lb.name, instance_id=instance_id, by=_by(), **flag)
            continue
        # an unhealthy instance's in-flight requests are completed too, unseen (module doc)
        table = _classic_unhealthy_in_flight(lb) if unhealthy else _classic_draining(lb)
        deadline = time.monotonic() + seconds
        table[instance_id] = deadline
        core.record("elb.instance.draining", load_balancer=lb.name, instance_id=instance_id, by=_by(), **flag)
        core.after(seconds, _classic_drained, lb, instance_id, deadline, name="elb-drained")
    return result


def classic_health(lb: Any, instance_id: str) -> str | None:
    """The last state of an instance's health checks in a Classic ELB, registered or draining."""
    health = _health(lb).get(instance_id)
    return health.state if health is not None else None


def _classic_drained(lb: Any, instance_id: str, deadline: float) -> None:
    """The draining that ends at ``deadline`` is over, healthy or unseen (unless the instance was
    registered again since, which ended it)."""
    for table in (_classic_draining(lb), _classic_unhealthy_in_flight(lb)):
        if table.get(instance_id) == deadline:
            del table[instance_id]
            if instance_id not in lb.instance_ids:
                _stop_health(lb, instance_id)
            core.record("elb.instance.out_of_service", load_balancer=lb.name, instance_id=instance_id)


def unhealthy_while_draining(account_id: str, region: str) -> None:
    """A health listener: a draining instance that failed its checks is OutOfService; its
    in-flight requests go on, unseen, until its draining would have ended (module doc)."""
    from moto.elb.models import elb_backends

    for lb in list(elb_backends[account_id][region].load_balancers.values()):
        draining = _classic_draining(lb)
        for instance_id in [i for i in draining if classic_health(lb, i) == "unhealthy"]:
            _classic_unhealthy_in_flight(lb)[instance_id] = draining.pop(instance_id)
            core.record("elb.instance.draining_unhealthy", load_balancer=lb.name, instance_id=instance_id)


def _register_instances(self: Any, load_balancer_name: str, instance_ids: Any, from_autoscaling: bool = False) -> Any:
    instance_ids = list(instance_ids)
    lb = self.get_load_balancer(load_balancer_name)
    registered = set(lb.instance_ids) if lb is not None else set()
    if lb is not None:
        for instance_id in instance_ids:
            _classic_draining(lb).pop(instance_id, None)
            _classic_unhealthy_in_flight(lb).pop(instance_id, None)
    # registering a registered instance changes nothing (moto would list it twice)
    new = [i for i in dict.fromkeys(instance_ids) if i not in registered]
    result = _orig_register_instances(self, load_balancer_name, new, from_autoscaling)
    for instance_id in new if lb is not None else ():
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
    _check_instances_exist(lb, self.current_account, self.region, asked)
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
            elif health == "out_of_zone":
                state = {
                    "InstanceId": instance_id,
                    "State": "OutOfService",
                    "ReasonCode": "ELB",
                    "Description": ZONE_NOT_ENABLED,
                }
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
        if faults.answers_unknown("elb", "DescribeInstanceHealth"):
            state = {"InstanceId": instance_id, "State": "Unknown", "ReasonCode": "ELB", "Description": TRANSIENT}
        states.append(state)
    return ActionResult({"InstanceStates": states})


_orig_delete_classic = elb_models.ELBBackend.delete_load_balancer


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
