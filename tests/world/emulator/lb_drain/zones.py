"""The Availability Zones a load balancer enables, as its registrations' health follows them.

An ELBv2 load balancer's zones are its subnets' (SetSubnets); a Classic ELB's are its
``AvailabilityZones`` (EnableAvailabilityZonesForLoadBalancer, DisableAvailabilityZonesForLoadBalancer)
or, in a VPC, its subnets' (AttachLoadBalancerToSubnets, DetachLoadBalancerFromSubnets: "Adds one or
more subnets to the set of configured subnets for the specified load balancer"; DescribeLoadBalancers
reports their zones, which moto left empty). A change re-arms every registration's health
(world.emulator.lb_drain.health: a registration in a zone no longer enabled gets no traffic, one in a
zone enabled again starts over) and tells ECS. Events: ``elbv2.load_balancer.zones`` (load_balancer,
zones), ``elb.load_balancer.zones`` (load_balancer, zones).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends
from moto.elb import models as elb_models
from moto.elbv2 import models as elbv2_models
from world.emulator import core
from world.emulator.lb_drain.health import _health_changed, rearm

_orig_set_subnets = elbv2_models.ELBv2Backend.set_subnets
_orig_create_classic = elb_models.ELBBackend.create_load_balancer
_orig_enable = elb_models.ELBBackend.enable_availability_zones_for_load_balancer
_orig_disable = elb_models.ELBBackend.disable_availability_zones_for_load_balancer
_orig_attach = elb_models.ELBBackend.attach_load_balancer_to_subnets
_orig_detach = elb_models.ELBBackend.detach_load_balancer_from_subnets


def _set_subnets(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
    zones = _orig_set_subnets(self, arn, *args, **kwargs)
    core.record("elbv2.load_balancer.zones", load_balancer=arn, zones=sorted(az.zone_name for az in zones))
    for tg in self.target_groups.values():
        if arn in tg.load_balancer_arns:
            rearm(tg)
    _health_changed(self.account_id, self.region_name)
    return zones


def _subnet_zones(backend: Any, subnets: list[str]) -> list[str]:
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    return sorted({ec2.get_subnet(subnet).availability_zone for subnet in subnets})


def _create_classic(self: Any, *args: Any, **kwargs: Any) -> Any:
    lb = _orig_create_classic(self, *args, **kwargs)
    if not lb.availability_zones and lb.subnets:
        lb.availability_zones = _subnet_zones(self, lb.subnets)
    return lb


def _classic_zones_changed(backend: Any, name: str) -> None:
    lb = backend.get_load_balancer(name)
    core.record("elb.load_balancer.zones", load_balancer=name, zones=list(lb.availability_zones))
    rearm(lb)
    _health_changed(backend.account_id, backend.region_name)


def _changing_zones(orig: Any, from_subnets: bool) -> Any:
    """A Classic ELB call that changes its zones (``from_subnets``: through its subnets, whose
    zones it then reports), followed by its registrations' health."""

    def changed(self: Any, load_balancer_name: str, *args: Any, **kwargs: Any) -> Any:
        result = orig(self, load_balancer_name, *args, **kwargs)
        if from_subnets:
            self.get_load_balancer(load_balancer_name).availability_zones = _subnet_zones(self, result)
        _classic_zones_changed(self, load_balancer_name)
        return result

    return changed


def install() -> None:
    elbv2_models.ELBv2Backend.set_subnets = _set_subnets
    backend = elb_models.ELBBackend
    backend.create_load_balancer = _create_classic
    backend.enable_availability_zones_for_load_balancer = _changing_zones(_orig_enable, from_subnets=False)
    backend.disable_availability_zones_for_load_balancer = _changing_zones(_orig_disable, from_subnets=False)
    backend.attach_load_balancer_to_subnets = _changing_zones(_orig_attach, from_subnets=True)
    backend.detach_load_balancer_from_subnets = _changing_zones(_orig_detach, from_subnets=True)
