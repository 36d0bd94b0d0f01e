"""What a run saw: the world's event log and the executions' histories, polled and printed as they
happen (``Observer``), and the run's ``Result`` that the invariants (world.invariants) judge.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from world import capacity

if TYPE_CHECKING:
    from world.deploy import Deployment
    from world.harness import World


@dataclass
class Result:
    scenario: dict[str, Any]
    deployment: Deployment | None = None
    victims: list[str] = field(default_factory=list)
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn -> describe + history
    events: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    scaler: Any = None
    min_running: int | None = None
    wall_seconds: float = 0.0
    calls: dict[str, Any] = field(default_factory=dict)  # /_world/calls from the scale-in to the settling
    redrives: int = 0
    sweeps: list[Any] = field(default_factory=list)  # the sweeper's reports (drop_event), in order
    serving: list[capacity.Serving] = field(default_factory=list)  # per load balancer of the service
    notes: list[str] = field(default_factory=list)  # what the scenario expected and the run did (not violations)
    limits: dict[str, Any] = field(
        default_factory=dict
    )  # GET /_world/limits: calls per API per second from the scale-in
    lambdas: dict[str, Any] = field(default_factory=dict)  # GET /_world/lambdas: peak concurrency, throttled invokes
    denied_roles: list[str] = field(default_factory=list)  # role ARNs a deny_role action denied on purpose

    @property
    def ok(self) -> bool:
        return not self.violations

    def of_type(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == prefix or e["type"].startswith(prefix + ".")]

    def by_status(self, status: str) -> list[dict[str, Any]]:
        return [x for x in self.executions.values() if x["status"] == status]


HISTORY_PAGE = 20  # a poll finds a few new events: a small page costs the world less to serialize
RUNNING_PER_POLL = 10  # RUNNING executions whose history one poll reads (a fleet has hundreds)


class Observer:
    """Polls the world's event log and the executions' histories, printing as it goes."""

    def __init__(self, world: World, dep: Deployment, out: Callable[[str], None], since: int):
        self.world, self.dep, self.out = world, dep, out
        self.since = since
        self.events: list[dict[str, Any]] = []
        self.seen_history: dict[str, int] = {}
        self.executions: dict[str, dict[str, Any]] = {}
        self.t0 = time.monotonic()
        self.our_instances: set[str] = set()
        # lifecycle events of the group's other terminate hooks: not ours to judge (journey_actions.SecondHook)
        self.other_hooks: list[dict[str, Any]] = []
        self._turn = 0  # where the next poll's turn of RUNNING executions starts

    def _t(self) -> str:
        return f"[{time.monotonic() - self.t0:6.1f}s]"

    def poll(self) -> None:
        new = self.world.events(self.since)
        if new:
            self.since = new[-1]["seq"]
        for event in new:
            if self._ours(event):
                self.events.append(event)
                self._print_event(event)
        sfn = self.world.client("stepfunctions")
        items = [
            i
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.dep.machine_arn)
            for i in page["executions"]
        ]
        # new and newly closed executions every time; of those known to be RUNNING, RUNNING_PER_POLL in turn:
        # the harness must not be the load that slows a fleet's drains down (moto serves one request at a time)
        running = [i for i in items if i["status"] == "RUNNING" and i["executionArn"] in self.executions]
        if len(running) > RUNNING_PER_POLL:
            start = self._turn % len(running)
            turn = {i["executionArn"] for i in (running + running)[start : start + RUNNING_PER_POLL]}
            self._turn = start + RUNNING_PER_POLL
            skipped = {i["executionArn"] for i in running} - turn
            items = [i for i in items if i["executionArn"] not in skipped]
        for item in items:
            arn = item["executionArn"]
            seen = self.executions.get(arn)
            stamp = (item["status"], item.get("stopDate"), item.get("redriveCount"))
            if seen is not None and item["status"] != "RUNNING" and seen.get("_stamp") == stamp:
                continue  # closed and unchanged since the last poll (a fleet has hundreds)
            history = _newer_history(sfn, arn, seen["history"] if seen else [])
            done = self.seen_history.get(arn, 0)
            name = arn.rsplit(":", 1)[-1][:8]
            for ev in history[done:]:
                self._print_history(name, ev)
            self.seen_history[arn] = len(history)
            desc = sfn.describe_execution(executionArn=arn)
            desc["history"] = history
            desc["_stamp"] = stamp
            self.executions[arn] = desc

    def _ours(self, event: dict[str, Any]) -> bool:
        d = self.dep
        if event["type"].startswith("asg.lifecycle.") and event.get("asg") == d.asg and event.get("hook") != d.hook:
            self.other_hooks.append(event)
            self._print_event(event)
            return False
        if event.get("asg") == d.asg or event.get("cluster") == d.cluster:
            if event.get("instance_id"):
                self.our_instances.add(event["instance_id"])
            return True
        if event.get("load_balancer") in d.classic or event.get("target_group") in d.target_groups.values():
            return True
        if event.get("function") in d.functions.values():
            return True
        if event["type"].startswith(
            ("eventbridge.", "scheduler.", "stepfunctions.", "lambda.sandbox", "fault.", "iam.")
        ):
            return True
        return event.get("instance_id") in self.our_instances

    def _print_event(self, e: dict[str, Any]) -> None:
        t = e["type"]
        if t.startswith(("fault.", "lambda.")) or t == "eventbridge.event":
            return
        skip = {"seq", "t", "elapsed", "type", "cluster", "asg", "token", "detail", "container_instance", "source"}
        fields = " ".join(f"{k}={short(v)}" for k, v in e.items() if k not in skip and v is not None)
        self.out(f"{self._t()} world  {t:34} {fields}")

    def _print_history(self, name: str, ev: dict[str, Any]) -> None:
        t = ev["type"]
        detail = ""
        if t.endswith("StateEntered"):
            detail = ev["stateEnteredEventDetails"]["name"]
        elif t in ("TaskFailed", "ExecutionFailed", "LambdaFunctionFailed"):
            d = ev.get("taskFailedEventDetails") or ev.get("executionFailedEventDetails") or {}
            detail = f"{d.get('error')}: {short(d.get('cause'), 160)}"
        elif t == "TaskSucceeded":
            out = json.loads(ev["taskSucceededEventDetails"].get("output") or "{}").get("Payload", {})
            if isinstance(out, dict):
                keys = ("status", "wait_seconds", "completed", "outcome")
                detail = " ".join(f"{k}={short(out[k])}" for k in keys if k in out)
        elif t == "ExecutionRedriven":
            detail = f"redriveCount={ev['executionRedrivenEventDetails']['redriveCount']}"
        elif t == "WaitStateEntered":
            detail = ev["stateEnteredEventDetails"]["name"]
        elif t not in ("ExecutionStarted", "ExecutionSucceeded"):
            return
        self.out(f"{self._t()} {name} {t:34} {detail}")


def _newer_history(sfn: Any, arn: str, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The execution's history: the events already read and, newest first page by page until a page
    reaches them, those added since (a running drain's history grows by a few events a poll, and reading
    all of it every poll would make the harness the load that slows the world down)."""
    last = known[-1]["id"] if known else 0
    newer: list[dict[str, Any]] = []
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": HISTORY_PAGE}
    )
    for page in pages:
        newer += [e for e in page["events"] if e["id"] > last]
        if any(e["id"] <= last for e in page["events"]):
            break
    return known + sorted(newer, key=lambda e: e["id"])


def short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("arn:aws:elasticloadbalancing:us-west-2:123456789012:", "").replace(
        "arn:aws:ecs:us-west-2:123456789012:", ""
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
