"""Load-balancer draining: Classic ELB connection draining and ELBv2 deregistration delay.

Each part in its module, with the AWS documentation it follows:

* ``classic``: Classic ELB connection draining, visible only in DescribeInstanceHealth, and
  the unseen in-flight requests of an instance unhealthy when deregistered or while draining;
* ``elbv2``: ELBv2 targets keyed by (Id, Port), ``draining`` for the deregistration delay
  then ``unused``, NLB connection termination;
* ``health``: the health checks of every registration, from each load balancer's own
  settings, scaled by the world's timescale;
* ``zones``: the Availability Zones each load balancer enables, which its registrations' health
  follows;
* ``actor``: who each deregistration event says did it (``by``).
"""

from __future__ import annotations

from moto.elb import models as elb_models
from moto.elb import responses as elb_responses
from moto.elbv2 import models as elbv2_models
from world.emulator import core
from world.emulator.lb_drain.actor import _remember_caller, acting
from world.emulator.lb_drain.classic import (
    _delete_classic,
    _deregister_instances,
    _register_instances,
    classic_drain_seconds,
    classic_state,
    describe_instance_health,
    unhealthy_while_draining,
)
from world.emulator.lb_drain.elbv2 import (
    _create_listener,
    _delete_lb,
    _delete_tg,
    _deregister_targets,
    _describe_target_health,
    _modify_tg_attributes,
    _tg_deregister,
    _tg_deregister_terminated,
    _tg_health_for,
    _tg_init,
    _tg_register,
    is_registered,
    target_state,
    tg_drain_seconds,
)
from world.emulator.lb_drain.health import HEALTH_LISTENERS, _on_config, _on_reset
from world.emulator.lb_drain.zones import install as install_zones

# what the other extensions use (world.emulator.ecs_drain, world.emulator.autoscaling_hooks)
__all__ = [
    "HEALTH_LISTENERS",
    "acting",
    "classic_drain_seconds",
    "classic_state",
    "install",
    "is_registered",
    "target_state",
    "tg_drain_seconds",
]


def install() -> None:
    core.request_hook(_remember_caller)
    core.on_config(_on_config)
    core.on_reset(_on_reset)
    HEALTH_LISTENERS.append(unhealthy_while_draining)
    elbv2_models.FakeTargetGroup.__init__ = _tg_init
    elb_models.ELBBackend.delete_load_balancer = _delete_classic
    elbv2_models.ELBv2Backend.delete_target_group = _delete_tg
    elbv2_models.ELBv2Backend.delete_load_balancer = _delete_lb
    elbv2_models.ELBv2Backend.create_listener = _create_listener
    elb_models.ELBBackend.deregister_instances = _deregister_instances
    elb_models.ELBBackend.register_instances = _register_instances
    elb_responses.ELBResponse.describe_instance_health = describe_instance_health
    tg = elbv2_models.FakeTargetGroup
    tg.register = _tg_register
    tg.deregister = _tg_deregister
    tg.deregister_terminated_instances = _tg_deregister_terminated
    tg.health_for = _tg_health_for
    elbv2_models.ELBv2Backend.describe_target_health = _describe_target_health
    elbv2_models.ELBv2Backend.deregister_targets = _deregister_targets
    elbv2_models.ELBv2Backend.modify_target_group_attributes = _modify_tg_attributes
    install_zones()
