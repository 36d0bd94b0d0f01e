"""Serving capacity through a drain, judged from the world's event log (an invariant of world.run).

For every load balancer of the service (its target groups and Classic ELBs, from the
``ecs.service.created`` / ``.updated`` events), the service's healthy serving registrations (a
target ``healthy``, a Classic ELB instance InService; never one that is registering, unhealthy or
draining) must not drop below ceil(minimumHealthyPercent / 100 x desired count) because of a
drain. Only the service's own count: the registrations of its tasks (where ``ecs.task.pending``
placed them, on their host ports), never another service's or one made by hand in a shared
group. That is the floor ECS keeps: "Service tasks on the container instance that are in the
RUNNING state are stopped and replaced according to the service's deployment configuration
parameters, minimumHealthyPercent and maximumPercent" (UpdateContainerInstancesState). The count is taken whenever a healthy registration leaves: deregistered by anyone
(``by`` on the world's events), or its instance terminated once its lifecycle action ended
(completed or expired). Drops that are someone else's doing are not judged: a load balancer
deleted, the hook deleted (it releases the instance), the instance terminated through EC2
before its release, a forced deregistration that orphaned the task.

A scenario whose own configuration makes the floor impossible (no room for a replacement, a
replacement that never becomes healthy) states ``expect.min_serving_after_deadline``: that
lower bound replaces the floor once a drain has visibly reached its deadline (its execution
took the deadline path), never before.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

DEADLINE_STATE = "CompleteLifecycleActionAfterDeadline"
# how a lifecycle action ended that makes the instance's termination the drain's doing
RELEASED_BY_THE_DRAIN = ("CompleteLifecycleAction", "heartbeat-timeout", "global-timeout")


@dataclass
class Serving:
    """One load balancer of the service: the fewest healthy serving registrations while the drains
    ran (from the first scale-in to the service's next update, e.g. the task scaler's), its floor."""

    label: str
    floor: int
    fewest: int | None = None
    bound: int | None = None

    def __str__(self) -> str:
        bound = f", {self.bound} after a deadline" if self.bound is not None else ""
        fewest = "-" if self.fewest is None else str(self.fewest)
        return f"{self.label} {fewest} (floor {self.floor}{bound})"


def timed_out(executions: dict[str, dict[str, Any]]) -> dict[str, str]:
    """instance id -> execution ARN of every execution that took the deadline path."""
    found: dict[str, str] = {}
    for arn, x in executions.items():
        entered = {
            h["stateEnteredEventDetails"]["name"] for h in x.get("history", []) if h["type"].endswith("StateEntered")
        }
        try:
            output = json.loads(x.get("output") or "null")
        except ValueError:
            output = None
        if DEADLINE_STATE in entered or (isinstance(output, dict) and output.get("status") == "deadline_passed"):
            try:
                instance = json.loads(x["input"]).get("detail", {}).get("EC2InstanceId")
            except (ValueError, AttributeError, KeyError):
                instance = None
            if instance:
                found[instance] = arn
    return found


def _label(lb: str) -> str:
    """A target group's name from its ARN (``...:targetgroup/NAME/ID``); a Classic ELB's name as is."""
    return lb.split("/")[-2] if ":targetgroup/" in lb else lb


class _Judge:
    def __init__(self, service: str, cluster: str, bound: int | None, deadline_seq: int | None):
        self.service, self.cluster, self.bound, self.deadline_seq = service, cluster, bound, deadline_seq
        self.state: dict[str, dict[Any, str]] = {}  # load balancer -> registration -> initial/healthy/unhealthy
        self.own: dict[str, set[tuple[str, Any]]] = {}  # task -> its (load balancer, registration)s
        self.gone: set[str] = set()
        self.desired: int | None = None
        self.percent = 100
        self.released: dict[str, str] = {}  # instance -> how its lifecycle action ended
        self.orphaned: set[str] = set()
        self.below: set[str] = set()
        self.violations: list[str] = []
        self.fewest: dict[str, int] = {}
        self.window = "before"  # before -> open (scale-in) -> closed (the service's next update)
        self.window_floor: int | None = None

    def floor(self) -> int:
        return math.ceil(self.percent * (self.desired or 0) / 100)

    def serving(self, lb: str) -> int:
        return sum(1 for state in self.state[lb].values() if state == "healthy")

    def feed(self, e: dict[str, Any]) -> None:
        kind = e["type"]
        if kind in ("ecs.service.created", "ecs.service.updated"):
            if e.get("service") == self.service and e.get("cluster") == self.cluster:
                self._service(e)
            return
        if kind == "ecs.task.pending" and e.get("service") == self.service and e.get("cluster") == self.cluster:
            own = {(arn, (e["instance_id"], port)) for arn, port in e.get("targets") or []}
            self.own[e["task_arn"]] = own | {(name, e["instance_id"]) for name in e.get("load_balancers") or []}
        elif kind == "ecs.task.stopped":
            self.own.pop(e.get("task_arn"), None)  # a registration made there since is someone else's
        if kind == "asg.instance.terminating" and self.window == "before":
            self.window = "open"
        elif kind == "asg.lifecycle.completed":
            self.released[e["instance_id"]] = e["by"]
        elif kind == "ecs.task.orphaned" or (kind == "ecs.container_instance.deregistered" and e.get("force")):
            self.orphaned.add(e.get("instance_id"))  # ECS takes a forced deregistration's tasks out
        lb = e.get("target_group") or e.get("load_balancer")
        if kind in ("elbv2.target_group.deleted", "elbv2.target_group.out_of_use", "elb.load_balancer.deleted"):
            self.gone.add(lb)  # deleted, or no load balancer uses it any more: it serves nobody
        elif kind == "elbv2.target_group.in_use":
            self.gone.discard(lb)  # a listener forwards to it again: its targets start over from initial
        elif lb in self.state and lb not in self.gone:
            self._registration(e, kind, lb)
        elif kind == "asg.instance.terminated":
            self._terminated(e, e["instance_id"], "termination")
        elif kind == "ecs.container_instance.inactive" and e.get("reason") == "instance terminated":
            released = self.released.get(e["instance_id"]) in RELEASED_BY_THE_DRAIN
            self._terminated(e, e["instance_id"], "termination" if released else "ec2")
        self._recover()
        if self.window == "open":
            for name in self.state:
                if name not in self.gone:
                    self.fewest[name] = min(self.fewest.get(name, self.serving(name)), self.serving(name))

    def _service(self, e: dict[str, Any]) -> None:
        if e["type"] == "ecs.service.updated" and self.window == "open":
            self.window, self.window_floor = "closed", self.floor()
        self.desired, self.percent = int(e["desired"]), int(e["minimum_healthy_percent"])
        for lb in list(e.get("target_groups") or []) + list(e.get("load_balancers") or []):
            self.state.setdefault(lb, {})

    def _registration(self, e: dict[str, Any], kind: str, lb: str) -> None:
        key: Any = (e["id"], e["port"]) if kind.startswith("elbv2.") else e.get("instance_id")
        if kind in (
            "elbv2.target.registered",
            "elbv2.target.initial",
            "elb.instance.registered",
            "elb.instance.initial",
        ):
            if any((lb, key) in own for own in self.own.values()):  # not another service's, nor by hand
                self.state[lb][key] = "initial"
        elif kind in ("elbv2.target.healthy", "elb.instance.in_service") and key in self.state[lb]:
            self.state[lb][key] = "healthy"
        elif (
            kind in ("elbv2.target.unhealthy", "elb.instance.unhealthy", "elb.instance.out_of_zone")
            and key in self.state[lb]
        ):
            self.state[lb][key] = "unhealthy"
        elif kind in (
            "elbv2.target.draining",
            "elbv2.target.unused",
            "elb.instance.draining",
            "elb.instance.out_of_service",
        ):
            what = f"{key[0]}:{key[1]}" if isinstance(key, tuple) else key
            self._leaves(e, lb, key, f"{what} deregistered by {e.get('by', 'world')}", e.get("by", "world"))

    def _terminated(self, e: dict[str, Any], instance: str, by: str) -> None:
        for lb in self.state:
            if lb in self.gone:
                continue
            for key in [k for k in self.state[lb] if (k[0] if isinstance(k, tuple) else k) == instance]:
                self._leaves(e, lb, key, f"{instance} terminated ({self.released.get(instance, 'not released')})", by)

    def _leaves(self, e: dict[str, Any], lb: str, key: Any, what: str, by: str) -> None:
        if self.state[lb].pop(key, None) != "healthy":
            return  # it was not serving: nothing is lost
        instance = key[0] if isinstance(key, tuple) else key
        if by == "ec2" or (by == "ecs" and instance in self.orphaned):
            return  # someone else's doing
        if by == "termination" and self.released.get(instance) not in RELEASED_BY_THE_DRAIN:
            return  # released by whoever deleted the hook
        limit = self.floor()
        after_deadline = self.deadline_seq is not None and e["seq"] > self.deadline_seq
        if self.bound is not None and after_deadline:
            limit = min(limit, self.bound)
        count = self.serving(lb)
        if count < limit and lb not in self.below:
            self.below.add(lb)
            self.violations.append(
                f"{_label(lb)}: {count} healthy serving left (floor {limit}: {self.percent}% of {self.desired}"
                f"{', after the deadline' if after_deadline and self.bound is not None else ''}) "
                f"when {what} at event {e['seq']}"
            )

    def _recover(self) -> None:
        for lb in list(self.below):
            if lb in self.gone or self.serving(lb) >= self.floor():
                self.below.discard(lb)


def judge(
    events: list[dict[str, Any]], service: str, cluster: str, bound: int | None = None, deadline_seq: int | None = None
) -> tuple[list[str], list[Serving]]:
    """The violations of the serving floor and, per load balancer of the service, its fewest
    healthy serving registrations while the drains ran."""
    j = _Judge(service, cluster, bound, deadline_seq)
    for e in events:
        j.feed(e)
    floor = j.window_floor if j.window_floor is not None else j.floor()
    summary = [Serving(_label(lb), floor, j.fewest.get(lb), bound) for lb in j.state]
    return j.violations, summary
