"""Scale-in through the terminate hooks, and the group's load balancers (AWS docs: "Amazon EC2 Auto
Scaling lifecycle hooks", "Add an Elastic Load Balancing health check / connection draining", "Use
Elastic Load Balancing to distribute incoming application traffic in your Auto Scaling group").

* Scale-in (SetDesiredCapacity / UpdateAutoScalingGroup lower,
  TerminateInstanceInAutoScalingGroup) no longer terminates at once. The
  instance goes ``Terminating`` (``Warmed:Pending`` on its way back to a warm
  pool, world.emulator.warm_pools): Auto Scaling deregisters it from the Classic
  ELBs and target groups attached to the group and waits out their draining;
  then, for each ``autoscaling:EC2_INSTANCE_TERMINATING`` hook, a lifecycle
  action starts (world.emulator.autoscaling_hooks.actions).
* moto re-registers every group instance, terminating ones included, in the
  group's target groups whenever the capacity changes (and deregisters from
  its Classic ELBs whatever is not InService). Auto Scaling registers an
  instance when it enters service and deregisters it only when it leaves
  ("Use Elastic Load Balancing to distribute incoming application traffic in
  your Auto Scaling group"): the world registers InService instances not yet
  registered, and nothing else.
* Each termination is a scaling activity (world.emulator.scaling_activities).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling.exceptions import ValidationError
from world.emulator import core
from world.emulator.autoscaling_hooks.actions import _backend_of, _run_hooks


def begin_termination(group: Any, state: Any, cause: str, original_capacity: int | None = None) -> Any:
    """Take an instance out of service the way Auto Scaling does on scale-in; its scaling activity.

    ``cause``: ``scale-in`` (the group's desired capacity went down: the instance goes back to
    the warm pool when the pool reuses instances on scale-in), ``TerminateInstanceInAutoScalingGroup``,
    ``instance-refresh``, ``spot-interruption``."""
    from world.emulator import lb_drain, scaling_activities, warm_pools

    instance_id = state.instance.id
    state._world_destination = warm_pools.destination(group, cause)
    # back to the warm pool: Warmed:Pending, its terminate hooks wait in Warmed:Pending:Wait
    state.lifecycle_state = "Warmed:Pending" if state._world_destination == "WarmPool" else "Terminating"
    activity = scaling_activities.terminating(group, instance_id, cause, original_capacity)
    state._world_activity = activity
    core.record(
        "asg.instance.terminating",
        asg=group.name,
        instance_id=instance_id,
        cause=cause,
        destination=state._world_destination,
    )
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
        activity.status_code = "WaitingForELBConnectionDraining"
        core.after(core.scaled(wait), _run_hooks, group, state, name="asg-lb-drained")
    else:
        _run_hooks(group, state)
    return activity


def _choose_victims(group: Any, count: int) -> list[Any]:
    """Default termination policy, simplified: AZ with most instances first, then oldest."""
    candidates = [
        s for s in group.instance_states if s.lifecycle_state == "InService" and not s.protected_from_scale_in
    ]
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
    if excess < 0 and not mixed and not getattr(self, "_world_force", False):
        from world.emulator import warm_pools

        warm_pools.leave_pool(self, -excess)  # scale-out takes warm instances first
    # a mixed instances policy changes how moto launches, not how a scale-in goes: AWS's hooks
    # make no exception for it
    if excess <= 0 or getattr(self, "_world_force", False):
        _orig_group_set_desired(self, new_capacity)
        if excess < 0:
            from world.emulator import warm_pools

            warm_pools.refill(self)  # what the scale-out took from the pool, launched into it again
        return
    original = self.desired_capacity
    self.desired_capacity = desired
    for victim in _choose_victims(self, excess):
        begin_termination(self, victim, "scale-in", original)


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
    activity = begin_termination(group, state, "TerminateInstanceInAutoScalingGroup", original_size)
    if not should_decrement:  # a replacement is launched at once
        _orig_group_set_desired(group, group.desired_capacity)
    return activity


_orig_delete_group = asg_models.AutoScalingBackend.delete_auto_scaling_group


def _delete_auto_scaling_group(self: Any, group_name: str) -> None:
    group = self.autoscaling_groups.get(group_name)
    if group is not None:
        group._world_force = True  # ForceDelete semantics: no hooks, no draining
    _orig_delete_group(self, group_name)


def _update_attached_elbs(self: Any, group_name: str) -> None:
    """Register the group's InService instances that are not yet in its Classic ELBs; deregister
    nothing (Auto Scaling deregisters an instance only when it leaves: begin_termination)."""
    group = self.autoscaling_groups[group_name]
    for name in list(group.load_balancer_names or []):
        lb = self.elb_backend.load_balancers.get(name)
        if lb is None:
            continue  # deleted before its group
        new = [s.instance.id for s in group.active_instances() if s.instance.id not in lb.instance_ids]
        if new:
            self.elb_backend.register_instances(name, new, from_autoscaling=True)


def _update_attached_target_groups(self: Any, group_name: str) -> None:
    """The same for target groups (moto registers every group instance, terminating ones too)."""
    from world.emulator import lb_drain

    group = self.autoscaling_groups[group_name]
    for arn in list(group.target_group_arns or []):
        tg = self.elbv2_backend.target_groups.get(arn)
        if tg is None:
            continue
        new = [
            {"Id": s.instance.id, "Port": tg.port}
            for s in group.active_instances()
            if not lb_drain.is_registered(tg, {"Id": s.instance.id, "Port": tg.port})
        ]
        if new:
            self.elbv2_backend.register_targets(arn, new)
