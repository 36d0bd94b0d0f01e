"""A reliability case's figures, from its run's result (the world's event log and APIs, never the
functions' logs), and its outcome: passed or not, and what happened (see world.reliability)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from world import harness, reliability_json
from world.observe import Result
from world.reliability_cases import Case

CALL_BUDGET = 2.0  # calls per drain under load, at most this times a single drain's


def retried_errors() -> set[str]:
    """Error names the state machine's Task states retry."""
    asl = json.loads(harness.ASL.read_text())
    names: set[str] = set()
    for state in asl["States"].values():
        for retrier in state.get("Retry", []):
            names.update(retrier["ErrorEquals"])
    return names


def figures(result: Result, accept: tuple[str, ...] = ()) -> dict[str, Any]:
    events, executions = result.events, result.executions
    waits = [e for e in events if e["type"] == "asg.lifecycle.wait"]
    done = [e for e in events if e["type"] == "asg.lifecycle.completed"]
    terminated = {e["instance_id"] for e in events if e["type"] == "asg.instance.terminated"}
    # terminated through EC2 by someone else: Auto Scaling drops it from the group without an event
    terminated |= {
        e["instance_id"]
        for e in events
        if e["type"] == "ecs.container_instance.inactive" and e.get("reason") == "instance terminated"
    }
    failed_redriven = [
        x
        for x in executions.values()
        if any(h["type"] == "ExecutionFailed" for h in x["history"]) and x["status"] == "SUCCEEDED"
    ]
    statuses = Counter(x["status"] for x in executions.values())
    timed_out = [e for e in done if e["by"] in ("heartbeat-timeout", "global-timeout")]
    # a FAILED execution whose error names what vanished (accept) ended with a clear outcome
    unclear = [
        x
        for x in executions.values()
        if x["status"] != "SUCCEEDED"
        and not (
            x["status"] == "FAILED"
            and x.get("error") in accept
            and result.deployment is not None
            and result.deployment.asg in (x.get("cause") or "")
        )
    ]
    # released back into a warm pool (stopped there, to be reused): released, not lost
    released = terminated | {e["instance_id"] for e in events if e["type"] == "asg.instance.warmed"}
    lost = len([v for v in result.victims if v not in released]) + len(timed_out) + len(unclear)
    task_errors: Counter[str] = Counter()
    execution_errors: Counter[str] = Counter()
    for x in executions.values():
        for h in x["history"]:
            if h["type"] == "TaskFailed":
                task_errors[h["taskFailedEventDetails"].get("error")] += 1
            elif h["type"] == "ExecutionFailed":
                execution_errors[h["executionFailedEventDetails"].get("error")] += 1
    drains = len(waits)
    calls = result.calls or {}
    return {
        "drains": drains,
        "executions": dict(statuses),
        "completed": len([e for e in done if e["by"] == "CompleteLifecycleAction"]),
        "completed_by_hook_deletion": len([e for e in done if e["by"] == "DeleteLifecycleHook"]),
        "failed_redriven": len(failed_redriven),
        "redrives": result.redrives,
        "lost": lost,
        "terminated": len(terminated & set(result.victims)),
        "faults": len([e for e in events if e["type"] == "fault.injected"]),
        "function_calls": calls.get("functions_total", 0),
        "calls_per_drain": (calls.get("functions_total", 0) / drains) if drains else 0.0,
        "calls_by_api": calls.get("functions", {}),
        "task_errors": dict(task_errors),
        "execution_errors": dict(execution_errors),
        "killed": len([e for e in events if e["type"] == "lambda.sandbox.killed"]),
        "held": len([e for e in events if e["type"] == "lambda.call.held"]),
        "invariants": list(result.violations),
        "wall_seconds": round(result.wall_seconds, 1),
        "size": f"{len(result.victims)} of {result.scenario['instances']}",
        "unclear": len(unclear),
        **reliability_json.extra_figures(result),
    }


def outcome(case: Case, fig: dict[str, Any], baseline: dict[str, Any] | None) -> tuple[bool, str]:
    """(passed, what happened) from the figures."""
    notes = []
    ok = not fig["invariants"] and fig["lost"] == 0 and fig["unclear"] == 0
    if case.accept and fig["failed"] and not fig["failed_redriven"]:
        notes.append(f"{fig['failed']} FAILED with {', '.join(sorted(fig['execution_errors']))} naming what vanished")
    if fig["failed_redriven"]:
        errors = ", ".join(f"{k} x{v}" for k, v in sorted(fig["execution_errors"].items()))
        notes.append(f"{fig['failed_redriven']} FAILED ({errors}), redriven, SUCCEEDED")
        not_retried = sorted(set(fig["execution_errors"]) - retried_errors())
        if not_retried:
            notes.append(
                f"{', '.join(not_retried)} is not in the state machine's Retry: the execution "
                "FAILED at once and waited for a redrive"
            )
    elif not (case.accept and fig["failed"]):
        notes.append("all SUCCEEDED without a redrive" if ok else "")
    retried = {k: v for k, v in fig["task_errors"].items() if k not in fig["execution_errors"]}
    if retried:
        notes.append("retried by the state machine: " + ", ".join(f"{k} x{v}" for k, v in sorted(retried.items())))
    if fig["completed_by_hook_deletion"]:
        notes.append(
            f"{fig['completed_by_hook_deletion']} action(s) completed by DeleteLifecycleHook, "
            "our CompleteLifecycleAction found it done"
        )
    if case.fleet:
        throttled = sum(p["throttled"] for p in fig["peak_calls_per_second"].values())
        notes.append(
            f"{throttled} calls throttled by the rate limits; "
            f"{fig['first_event_to_last_completion_seconds']} s from the first lifecycle action to the last "
            "completion"
        )
    if case.load and baseline and baseline["calls_per_drain"]:
        ratio = fig["calls_per_drain"] / baseline["calls_per_drain"]
        notes.append(f"calls/drain {ratio:.2f}x a single drain's (budget {CALL_BUDGET:.0f}x)")
        if ratio > CALL_BUDGET:
            ok = False
    if fig["invariants"]:
        notes.append("INVARIANTS BROKEN: " + "; ".join(fig["invariants"]))
    if fig["lost"]:
        notes.append(f"LOST {fig['lost']}")
    return ok, "; ".join(n for n in notes if n)
