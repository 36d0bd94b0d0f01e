"""world.run from its scale-in on: the watch until every execution settled and the instances
scaled in are at rest, then the task scaler's run as its schedule makes it and the service
settling after it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from world import run_actions
from world import stack as stack_mod
from world.deploy import Deployment
from world.harness import World
from world.observe import RUNNING_PER_POLL, Observer, Result

# lifecycle states an instance leaves on its own (every other one it leaves only by a timeout or a call)
MOVING_STATES = (
    "Pending",
    "Pending:Proceed",
    "Terminating",
    "Terminating:Proceed",
    "Warmed:Pending",
    "Warmed:Pending:Proceed",
    "Warmed:Terminating",
    "Warmed:Terminating:Proceed",
    "Detaching",
    "EnteringStandby",
)


# how long the run waits, everything settled, for instances still moving
SETTLE_BOUND_SECONDS = 30


def at_rest(world: World, victims: list[str], terminated: set[str]) -> bool:
    """Nothing more happens to the instances scaled in without a timeout or someone's call: each one
    terminated, gone from the group (or the group gone), or in a state it does not leave on its own
    (``Terminating:Wait`` or ``Warmed:Pending:Wait`` with no drain running: a FAILED drain's action
    waits for its heartbeat timeout; back in the warm pool; in service). DescribeAutoScalingInstances
    tells the state of a warm pool instance too (DescribeAutoScalingGroups lists the group's own)."""
    if not victims:
        return True
    found = world.client("autoscaling").describe_auto_scaling_instances(InstanceIds=victims)
    states = {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingInstances"]}
    return all(v in terminated or states.get(v) not in MOVING_STATES for v in victims)


def watch(
    world: World,
    dep: Deployment,
    sc: dict[str, Any],
    result: Result,
    obs: Observer,
    actions: list[run_actions.Action],
) -> None:
    """Polls until every execution settled with no action still busy and the instances scaled in are
    at rest (terminated, or waiting on a timeout: see ``at_rest``; at most SETTLE_BOUND_SECONDS once
    the rest settled), or the scenario's ``timeout_seconds`` pass (a violation)."""
    settled_since: float | None = None
    deadline = time.monotonic() + float(sc["timeout_seconds"])
    while True:
        obs.poll()
        for action in actions:
            action.tick()
        # no execution yet settles nothing, unless nothing was scaled in (no drain is due)
        started = bool(obs.executions) or not result.victims
        settled = started and all(x["status"] != "RUNNING" for x in obs.executions.values())
        terminated = {e["instance_id"] for e in obs.events if e["type"] == "asg.instance.terminated"}
        busy = any(a.busy for a in actions) or run_actions.deliveries_pending(obs.events) > 0
        if settled and not busy:
            settled_since = settled_since or time.monotonic()
            if at_rest(world, result.victims, terminated):
                return
            if time.monotonic() - settled_since > SETTLE_BOUND_SECONDS:
                result.notes.append(
                    f"instances still moving {SETTLE_BOUND_SECONDS} s after every execution settled: "
                    f"{sorted(set(result.victims) - terminated)}"
                )
                return
        else:
            settled_since = None
        if time.monotonic() > deadline:
            result.violations.append(
                f"timed out after {sc['timeout_seconds']}s: terminated {sorted(terminated)} of "
                f"{result.victims}; executions {[x['status'] for x in obs.executions.values()]}"
            )
            return
        # a fleet's drains take minutes: the harness polls less often rather than slow the world down
        time.sleep(0.3 if len(obs.executions) <= RUNNING_PER_POLL else 2.0)


def run_scaler(world: World, dep: Deployment, result: Result, out: Callable[[str], None]) -> None:
    """The task scaler, as its schedule runs it (not when the scenario deleted the cluster: nothing is
    left to scale); with the group deleted, its run must fail naming the group."""
    actions = {a["type"] for a in result.scenario["actions"]}
    if "delete_cluster" in actions:
        out(f"task-scaler not invoked: cluster {dep.cluster} deleted")
        return
    [schedule] = dep.stack.schedules["task-scaler"]
    error, body = stack_mod.run_schedule_told(world, "task-scaler", schedule, out)
    result.scaler = {"error": error, "payload": body}
    if "delete_asg" in actions:  # the schedule's input names the group: its run fails, naming it
        named = isinstance(body, dict) and body.get("errorType") == "ResourceNotFound" and dep.asg in str(body)
        if not named:
            result.violations.append(f"task-scaler with its group {dep.asg} deleted: {body}, not ResourceNotFound")
    elif error:
        result.violations.append(f"task-scaler failed: {body}")


def settle_service(world: World, dep: Deployment, obs: Observer) -> None:
    """After the scaler's run: polls the world until the service runs its desired count with nothing
    pending (at most 10 s; a service that cannot get there is judged by the invariants as it is), so
    that what the scaler's decision set in motion is in the event log the invariants read."""

    def steady() -> bool:
        obs.poll()
        try:
            found = world.client("ecs").describe_services(cluster=dep.cluster, services=[dep.service])["services"]
        except ClientError:  # the scenario deleted the cluster
            return True
        return not found or (found[0]["runningCount"] == found[0]["desiredCount"] and found[0]["pendingCount"] == 0)

    deadline = time.monotonic() + 10
    while not steady() and time.monotonic() < deadline:
        time.sleep(0.25)
