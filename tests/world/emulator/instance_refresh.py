"""Instance refresh: StartInstanceRefresh replaces the group's instances, each through the terminate hooks.

moto has no instance refresh. This follows the AWS docs ("Use an instance
refresh to update instances in an Auto Scaling group", "Understand the default
values for an instance refresh", the API reference of StartInstanceRefresh,
DescribeInstanceRefreshes and CancelInstanceRefresh, and the lifecycle hooks'
availability table: an instance refresh's terminations go through the
terminate hooks):

* Strategy ``Rolling`` (the only one modelled). Preferences:
  ``MinHealthyPercentage`` (default 90), ``MaxHealthyPercentage`` (default
  100: terminate, then launch; above 100: launch first), ``InstanceWarmup``
  (default: the group's DefaultInstanceWarmup, else its health check grace
  period), ``SkipMatching`` (default false: every instance is replaced).
* Instances are replaced in batches: with MaxHealthyPercentage 100 a batch is
  desired - ceil(desired x MinHealthyPercentage / 100) instances, at least one;
  above 100 it is what fits between the two percentages, at least one. Each
  batch: the old instances leave through the terminate hooks exactly as on
  scale-in (their lifecycle events, Origin AutoScalingGroup, Destination
  EC2), replacements are launched, and the next batch waits out
  InstanceWarmup after they are InService. Which instances go first is not
  documented: the world takes the oldest.
* "An instance refresh first replaces InService instances. Then it replaces instances in the warm
  pool" ("Warm pools for Amazon EC2 Auto Scaling", updating the instances in a warm pool): once
  the group's own are replaced, the pool's instances of the refresh's start terminate from the
  pool through the terminate hooks (``Warmed:Terminating:Wait``, ``Origin`` WarmPool,
  world.emulator.warm_pools), all at once (AWS documents no batch for them: the harsher
  reading), and new ones are launched into the pool once they are gone.
* One refresh at a time per group (``InstanceRefreshInProgress``). Status
  Pending, InProgress, then Successful or Cancelled; PercentageComplete and
  InstancesToUpdate follow the replacements.

Event log: ``asg.instance_refresh.started`` / ``.batch`` (instances) /
``.successful`` / ``.cancelled`` (asg, instance_refresh_id).
"""

from __future__ import annotations

import datetime
import math
import time
import uuid
from typing import Any

from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.core.responses import ActionResult
from world.emulator import core

TICK = 0.1  # world seconds between two looks at a refresh in progress


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _refreshes(group: Any) -> list[Refresh]:
    if not hasattr(group, "_world_refreshes"):
        group._world_refreshes = []
    return group._world_refreshes


class Refresh:
    def __init__(self, group: Any, preferences: dict[str, Any]):
        self.id = str(uuid.uuid4())
        self.group = group
        self.min_healthy = int(preferences.get("MinHealthyPercentage", 90))
        self.max_healthy = int(preferences.get("MaxHealthyPercentage", 100))
        warmup = preferences.get("InstanceWarmup")
        if warmup is None:
            warmup = (
                getattr(group, "default_instance_warmup", None)
                or getattr(group, "health_check_grace_period", None)
                or 0
            )
        self.warmup = float(warmup)
        self.preferences = {
            "MinHealthyPercentage": self.min_healthy,
            "MaxHealthyPercentage": self.max_healthy,
            "InstanceWarmup": int(self.warmup),
            "SkipMatching": False,
        }
        self.status = "Pending"
        self.status_reason = ""
        self.start_time = _now()
        self.end_time: datetime.datetime | None = None
        from world.emulator import warm_pools

        self.old = [s.instance.id for s in group.instance_states if s.lifecycle_state == "InService"]
        self.old_pool = [s.instance.id for s in warm_pools.warm_instances(group)]
        self.total = len(self.old)
        self.batch: list[str] = []
        self.phase = "next"
        self.warm_until = 0.0

    def batch_size(self) -> int:
        desired = int(self.group.desired_capacity or 0)
        if self.max_healthy > 100:
            return max(1, math.floor(desired * self.max_healthy / 100) - math.ceil(desired * self.min_healthy / 100))
        return max(1, desired - math.ceil(desired * self.min_healthy / 100))

    def remaining(self) -> list[Any]:
        return [s for s in self.group.instance_states if s.instance.id in self.old and s.lifecycle_state == "InService"]

    def shape(self) -> dict[str, Any]:
        done = self.total - len(self.remaining()) - len([i for i in self.batch if self._present(i)])
        shape = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group.name,
            "Status": self.status,
            "StatusReason": self.status_reason,
            "StartTime": self.start_time,
            "PercentageComplete": 100 if self.status == "Successful" else int(100 * max(0, done) / max(1, self.total)),
            "InstancesToUpdate": 0 if self.status == "Successful" else self.total - max(0, done),
            "Preferences": self.preferences,
            "Strategy": "Rolling",
        }
        if self.end_time is not None:
            shape["EndTime"] = self.end_time
        return shape

    def _present(self, instance_id: str) -> bool:
        return any(s.instance.id == instance_id for s in self.group.instance_states)

    def tick(self) -> None:
        if self.status not in ("Pending", "InProgress"):
            return
        self.status = "InProgress"
        if self.phase == "next":
            self._next_batch()
        elif self.phase == "terminating" and not any(self._present(i) for i in self.batch):
            if self.max_healthy > 100:
                self.phase = "next"
            else:
                self._launch(len(self.batch))
        elif self.phase == "pool" and not self._pool_left():
            from world.emulator import warm_pools

            warm_pools.refill(self.group)
            self._succeed()
        elif self.phase == "warming" and time.monotonic() >= self.warm_until:
            if self.max_healthy > 100:
                self._terminate_batch()
            else:
                self.phase = "next"
        if self.status == "InProgress":
            core.after(TICK, self.tick, name="instance-refresh")

    def _pool_left(self) -> list[Any]:
        """The pool's instances of the refresh's start that are still in it."""
        from world.emulator import warm_pools

        return [s for s in warm_pools.pool_instances(self.group) if s.instance.id in self.old_pool]

    def _succeed(self) -> None:
        self.status, self.end_time = "Successful", _now()
        core.record("asg.instance_refresh.successful", asg=self.group.name, instance_refresh_id=self.id)

    def _next_batch(self) -> None:
        remaining = self.remaining()
        if not remaining and self._pool_left():
            from world.emulator import warm_pools

            for state in self._pool_left():
                warm_pools.terminate_from_pool(self.group, state, "instance-refresh")
            self.phase = "pool"
            return
        if not remaining:
            self._succeed()
            return
        from world.emulator.autoscaling_hooks import _choose_victims

        batch = [s for s in _choose_victims(self.group, len(self.group.instance_states)) if s in remaining]
        self.batch = [s.instance.id for s in batch[: self.batch_size()]]
        core.record(
            "asg.instance_refresh.batch", asg=self.group.name, instance_refresh_id=self.id, instances=self.batch
        )
        if self.max_healthy > 100:
            self._launch(len(self.batch))
        else:
            self._terminate_batch()

    def _terminate_batch(self) -> None:
        from world.emulator.autoscaling_hooks import begin_termination

        for state in [s for s in self.group.instance_states if s.instance.id in self.batch]:
            if state.lifecycle_state == "InService":
                begin_termination(self.group, state, "instance-refresh")
        self.phase = "terminating"

    def _launch(self, count: int) -> None:
        group = self.group
        in_service = len([s for s in group.instance_states if s.lifecycle_state == "InService"])
        missing = int(group.desired_capacity or 0) + (count if self.max_healthy > 100 else 0) - in_service
        if missing > 0:
            group.replace_autoscaling_group_instances(missing, group.get_propagated_tags())
            group.autoscaling_backend.update_attached_elbs(group.name)
            group.autoscaling_backend.update_attached_target_groups(group.name)
        self.warm_until = time.monotonic() + core.scaled(self.warmup)
        self.phase = "warming"

    def cancel(self) -> None:
        self.status, self.end_time = "Cancelled", _now()
        core.record("asg.instance_refresh.cancelled", asg=self.group.name, instance_refresh_id=self.id)


def _group(self: Any) -> Any:
    name = self._get_param("AutoScalingGroupName")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


def start_instance_refresh(self: Any) -> ActionResult:
    group = _group(self)
    if any(r.status in ("Pending", "InProgress", "Cancelling") for r in _refreshes(group)):
        raise AutoscalingClientError(
            "InstanceRefreshInProgress",
            f"An Instance Refresh is already in progress and blocks the execution of this "
            f"Instance Refresh for {group.name}.",
        )
    strategy = self._get_param("Strategy") or "Rolling"
    if strategy != "Rolling":
        raise ValidationError(f"Strategy {strategy} is not supported by the world")
    params = self._get_params()
    preferences = params.get("Preferences") or {}
    if preferences.get("SkipMatching") in (True, "true"):
        raise ValidationError("SkipMatching is not modelled by the world")
    refresh = Refresh(group, preferences)
    _refreshes(group).insert(0, refresh)
    core.record(
        "asg.instance_refresh.started", asg=group.name, instance_refresh_id=refresh.id, instances=list(refresh.old)
    )
    core.after(0, refresh.tick, name="instance-refresh")
    return ActionResult({"InstanceRefreshId": refresh.id})


def describe_instance_refreshes(self: Any) -> ActionResult:
    group = _group(self)
    ids = self._get_param("InstanceRefreshIds", []) or []
    found = [r.shape() for r in _refreshes(group) if not ids or r.id in ids]
    return ActionResult({"InstanceRefreshes": found})


def cancel_instance_refresh(self: Any) -> ActionResult:
    group = _group(self)
    active = [r for r in _refreshes(group) if r.status in ("Pending", "InProgress")]
    if not active:
        raise AutoscalingClientError(
            "ActiveInstanceRefreshNotFound",
            f"No in progress or pending Instance Refresh found for Auto Scaling group {group.name}",
        )
    active[0].cancel()
    return ActionResult({"InstanceRefreshId": active[0].id})


def install() -> None:
    resp = asg_responses.AutoScalingResponse
    resp.start_instance_refresh = start_instance_refresh
    resp.describe_instance_refreshes = describe_instance_refreshes
    resp.cancel_instance_refresh = cancel_instance_refresh
