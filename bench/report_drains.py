"""The sections of bench/RESULTS.md about our drains: 1. their overhead, 2. their cost, 6. one
drain's timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_format import _chart_part, _f, _growth


def _overhead(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """1. How long a drain takes beyond its real end."""
    add("## 1. Drain overhead")
    add("")
    add(
        "Per round: a cluster of 2N instances, a service of N tasks (one per instance, host port 8080) attached to a "
        "Classic ELB (connection draining D s) and a target group (deregistration delay D s); the N instances that run "
        "a task are terminated at once (TerminateInstanceInAutoScalingGroup) once the service is steady (every "
        "registration through its initial health checks: a task not yet healthy does not count for minimum healthy, so "
        "ECS would stop it without waiting for its replacement), so N drains run concurrently, each with a "
        "task to move and two load balancers to drain. Timescale 1.0: D is real seconds. Per drain: "
        "**event** = `asg.lifecycle.wait`, **completion** = `asg.lifecycle.completed` by CompleteLifecycleAction, "
        "**floor** = the later of the instance's last `ecs.task.stopped` and its last `elb.instance.out_of_service` / "
        "`elbv2.target.unused`; **overhead = completion - floor**."
    )
    add("")
    add(
        "| D (s) | drains | overhead median (s) | overhead max (s) | event to completion median / max (s) | event to floor median (s) | executions | invariants of world.run |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for d in r.get("drains", []):
        o, e, fl = d["overhead_s"], d["event_to_completion_s"], d["event_to_floor_s"]
        inv = "held" if not d["invariant_violations"] else f"{len(d['invariant_violations'])} broken"
        add(
            f"| {d['drain_seconds']} | {d['drains']} | {_f(o['median'])} | {_f(o['max'])} | {_f(e['median'])} / {_f(e['max'])} "
            f"| {_f(fl['median'])} | {', '.join(f'{k} {v}' for k, v in d['executions'].items())} | {inv} |"
        )
    add("")
    add(
        f"**All drain times: overhead median {_f(r.get('drain_overhead_median_s'))} s, max {_f(r.get('drain_overhead_max_s'))} s** "
        "(target: median under 2 s, max under 5 s)."
    )
    add("")
    add(
        "Each round's load balancers use the scenarios' short health check (a replacement healthy after "
        f"{_f(r['drains'][0].get('healthy_after_s'))} s). The world runs concurrent invocations of a function in "
        "parallel sandboxes, as Lambda does (`tests/world/emulator/lambda_runtime/`); moto's Step Functions runs each "
        "execution on its own thread of one Python process, and the world serves one request at a time per "
        "service: with many drains, they queue there, not at Lambda."
    )
    add("")
    real = r.get("drains_realistic_health")
    if real:
        add("### With a realistic health check")
        add("")
        healthy, d = real["healthy_after_s"], real["drain_seconds"]
        add(
            f"The same round with D = {d} s and a health check that makes a replacement healthy after {healthy} s "
            "(interval 10 s x healthy threshold 3; AWS's minimums are 5 s and 2): "
            f"**event to completion median {_f(real['event_to_completion_s']['median'])} s, max "
            f"{_f(real['event_to_completion_s']['max'])} s** ({real['drains']} drains, executions "
            f"{', '.join(f'{k} {v}' for k, v in real['executions'].items())}, invariants "
            f"{'held' if not real['invariant_violations'] else 'BROKEN'}); floor median "
            f"{_f(real['event_to_floor_s']['median'])} s, overhead median {_f(real['overhead_s']['median'])} s. "
            "ECS stops the old task only once its replacement is healthy in every load balancer of the service "
            "(minimum healthy 100 %), then waits out the draining: a drain costs about the health-check time plus "
            f"the draining time ({healthy} + {d} s here). With a target group's default health check (30 s x 5 = "
            f"150 s) the same drain takes about {150 + d} s."
        )
        add("")


def _cost(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """2. What a drain costs in API calls, state transitions and Lambda time."""
    add("## 2. Cost per drain")
    add("")
    add(
        "State transitions = `*StateEntered` events in GetExecutionHistory; Lambda invocations = `TaskScheduled` events "
        "(cross-checked with the world's `lambda.invoked` per function); API calls = the world's per-API counts, reset "
        "just before the scale-in and read once every drain completed, divided by the number of drains (the harness's "
        "own TerminateInstanceInAutoScalingGroup calls subtracted; `lambda:Invoke` is Step Functions invoking our "
        "functions)."
    )
    add("")
    add(
        "| D (s) | transitions median / max | history events median | Lambda invocations median / max | by function (world) | API calls per drain |"
    )
    add("|---|---|---|---|---|---|")
    for d in r.get("drains", []):
        t, h, li = d["transitions_per_drain"], d["history_events_per_drain"], d["lambda_invocations_per_drain"]
        byf = ", ".join(f"{k} {_f(v, 1)}" for k, v in d["lambda_invocations_per_drain_world"].items())
        add(
            f"| {d['drain_seconds']} | {_f(t['median'], 0)} / {_f(t['max'], 0)} | {_f(h['median'], 0)} | "
            f"{_f(li['median'], 0)} / {_f(li['max'], 0)} | {byf} | {_f(d['api_calls_per_drain_total'], 1)} |"
        )
    add("")
    ds = r.get("drains", [])
    if len(ds) > 1:
        add(
            "Growth of the transitions (max) with the drain time: "
            + _growth([(d["drain_seconds"], d["transitions_per_drain"]["max"]) for d in ds])
            + ". Target: at most 15 for a 120 s drain"
            + (
                f" (measured: {r['transitions_per_drain_120s']})"
                if r.get("transitions_per_drain_120s") is not None
                else ""
            )
            + ", no more than 5 extra per doubling."
        )
        add("")
    apis = sorted({k for d in ds for k in d["api_calls_per_drain"]})
    if apis:
        add("API calls per drain, by API:")
        add("")
        add("| API | " + " | ".join(f"D={d['drain_seconds']} s" for d in ds) + " |")
        add("|---|" + "---|" * len(ds))
        for api in apis:
            add(f"| `{api}` | " + " | ".join(_f(d["api_calls_per_drain"].get(api, 0), 2) for d in ds) + " |")
        add("| **total** | " + " | ".join(f"**{_f(d['api_calls_per_drain_total'], 1)}**" for d in ds) + " |")
        add("")


def _timeline(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """6. A drain's timeline."""
    timeline = r.get("drain_timeline")
    if timeline and charts.get("drain_timeline"):
        add("## 6. A drain's timeline")
        add("")
        add(
            f"The drain with the median event-to-completion time of the D={timeline['drain_seconds']} s round, as "
            "`ecs-sta show EXECUTION --svg FILE` draws it from the execution's history: each step, the task "
            "replacement, each load balancer's draining (from its timeout), the waits, the checks, the heartbeats "
            "and the completion, to scale."
        )
        add("")
        add(f"![The timeline of one drain]({charts['drain_timeline']})")
        add("")
        add("In the terminal (`ecs-sta show`, the chart part):")
        add("")
        add("```")
        add(_chart_part(timeline["text"]))
        add("```")
        add("")
