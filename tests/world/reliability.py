"""Reliability figures: the real drain under AWS faults, crashes, outside changes and load.

    PYTHONPATH=tests .venv/bin/python -m world.reliability [--small] [--no-build] [--only ID,...] [--jobs N] [--out FILE]
                                                           [--json FILE]

Runs each case below (a scenario of tests/scenarios, see its README) in local
worlds (``--jobs``, default 2, side by side: the cases mostly wait), through
world.run's runner, and writes RELIABILITY.md at the repo
root: one row per case with what happened and the figures, all taken from the
world's event log and APIs (never from the functions' logs):

* drains: lifecycle actions that started (``asg.lifecycle.wait``);
* completed: actions completed by our CompleteLifecycleAction (and, where the
  case deletes the hook, by DeleteLifecycleHook);
* failed, redriven: executions that FAILED and, after the runner cleared the
  fault and redrove them (RedriveExecution), SUCCEEDED;
* lost: instances scaled in but never terminated, actions that ended by a
  timeout, executions not SUCCEEDED at the end; must be 0;
* faults: throttling/5xx answers the world injected; calls/drain: the API calls
  the functions made (the world counts requests by the AWS SDK for Rust) per
  drain, retries included;
* invariants: those of world.run (tests/e2e holds them for every scenario).

A case passes when the invariants held, nothing was lost and every execution
SUCCEEDED (at once or after its redrive), or, in a teardown case, ended FAILED
with the error that names what vanished (``accept``: ResourceNotFound naming the
deleted group). The load and fleet cases also need their calls per drain within
2x of a single drain's (the ``baseline`` case). The fleet case
(``fleet_200_of_240``: 200 of 240 scaled in at once under the world's API rate
limits, world.emulator.rate_limits) has no redrive: one FAILED execution fails it. It runs
first, alone, so that its figures are not those of a machine shared with other
cases.

Beside the report, ``reliability.json`` (``--json``; see world.reliability_json):
one object per case with the figures above, the peak calls per second of each API
against its limit, the functions' peak concurrency, and for the fleet case the
calls per API in each second of the scale-in.

``--small`` (CI) runs the load case as 10 of 12 instances instead of 50 of 60 and
the fleet case as ``fleet_20_of_24`` (its scenario: 20 of 24 at a tenth of AWS's
rate limits). Exit status 0 when every case passed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import queue
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from world import deploy as deploy_mod
from world import harness, reliability_json, run
from world import scenario as scenario_mod
from world.observe import Result

SCENARIOS = harness.TESTS / "scenarios"
REPORT = harness.REPO / "RELIABILITY.md"
CALL_BUDGET = 2.0  # calls per drain under load, at most this times a single drain's


@dataclass
class Case:
    id: str
    title: str
    scenario: str
    small: dict[str, Any] | None = None  # overrides with --small
    load: bool = False
    small_scenario: str | None = None  # another scenario with --small (its name is the case's name then)
    accept: tuple[str, ...] = ()  # FAILED with these errors is the clear outcome the case expects
    fleet: bool = False  # runs first, alone; its calls per second go to reliability.json
    long: bool = False  # minutes by design: handed out first, so that the worlds finish together
    # the event's journey (late, lost, repeated; warm pools, Spot, instance refresh): at full size only,
    # since CI runs these same scenarios, at this same size, in the e2e suite (tests/e2e/test_journey.py)
    journey: bool = False

    def name(self, small: bool) -> str:
        return self.small_scenario.removesuffix(".json") if small and self.small_scenario else self.id


CASES = [
    Case("baseline", "one drain, no fault (reference for calls per drain)", "default.json"),
    Case("throttle-20", "20% throttling on every API the functions call", "faults_throttle_20.json"),
    Case("5xx-20", "20% HTTP 503 on every API the functions call", "faults_5xx_20.json"),
    Case("throttle-50", "50% throttling on every API the functions call", "faults_throttle_50.json"),
    Case("5xx-50", "50% HTTP 503 on every API the functions call", "faults_5xx_50.json"),
    Case(
        "killed",
        "function process killed mid-call (deregister-lb in DeregisterTargets, "
        "complete-lifecycle in CompleteLifecycleAction)",
        "lambda_killed.json",
    ),
    Case(
        "timeout", "function timing out (check-drained's DescribeTasks held 20 s, Timeout 5 s)", "lambda_timeout.json"
    ),
    Case(
        "ec2-terminated",
        "instance terminated through EC2 by someone else mid-drain",
        "instance_terminated_mid_drain.json",
    ),
    Case("deregistered", "container instance deregistered (force) mid-drain", "container_instance_deregistered.json"),
    Case("lb-deleted", "Classic ELB and target group deleted mid-drain", "load_balancers_deleted.json"),
    Case("hook-deleted", "lifecycle hook deleted mid-drain", "hook_deleted.json"),
    Case(
        "load",
        "scale-in of many instances at once",
        "scale_in_50_of_60.json",
        small={
            "instances": 12,
            "service": {"desired": 2},
            "scale_in": {"count": 10},
            "scaler": {"min_task_count": 2, "n_count": 1},
            "expect": {"executions": {"SUCCEEDED": 10}, "terminated": 10, "completed_by_us": 10},
            "timeout_seconds": 300,
        },
        load=True,
    ),
    Case(
        "asg-deleted",
        "Auto Scaling group force-deleted mid-drain (refused without ForceDelete)",
        "asg_deleted_mid_drain.json",
        accept=("ResourceNotFound",),
    ),
    Case(
        "cluster-deleted",
        "cluster deleted mid-drain (instances deregistered, service deleted)",
        "cluster_deleted_mid_drain.json",
    ),
    Case(
        "agent-disconnected",
        "ECS agent disconnected mid-drain (the instance lives on)",
        "agent_disconnected_mid_drain.json",
        long=True,  # the drain gives the cut-off tasks up after 120 s
    ),
    Case(
        "agent-hook-deleted",
        "ECS agent disconnected, then the hook deleted (the action gone)",
        "agent_disconnected_hook_deleted.json",
    ),
    Case(
        "late-event", "the lifecycle event delivered 0.7 x the heartbeat timeout late", "late_event.json", journey=True
    ),
    Case(
        "lost-event",
        "the lifecycle event lost, swept at 0.7 x the heartbeat timeout; the drain outlasts the timeout",
        "lost_event_late_sweep.json",
        journey=True,
    ),
    Case(
        "lost-event-scheduled",
        "the lifecycle event lost, found by the stack's own sweeper schedule (every minute, within the scheduler's "
        "minute) up to 120 s into the wait; the drain outlasts the 180 s heartbeat timeout",
        "lost_event_scheduled_sweep.json",
        journey=True,
        long=True,  # minutes: the sweeps and the drain run in real time
    ),
    Case(
        "duplicate-late",
        "the event delivered again after the first execution finished",
        "duplicate_after_finish.json",
        journey=True,
    ),
    Case(
        "warm-pool",
        "scale-in into a warm pool, reuse, then a second scale-in whose event is lost",
        "warm_pool_reuse.json",
        journey=True,
    ),
    Case("spot", "a Spot interruption warning", "spot_interruption.json", journey=True),
    Case("instance-refresh", "an instance refresh of three instances", "instance_refresh.json", journey=True),
    Case("scale-out", "scale-out during a drain", "scale_out_during_drain.json", journey=True),
    Case("second-hook", "a second terminate hook that ABANDONs", "second_hook_abandon.json", journey=True),
    Case(
        "fleet_200_of_240",
        "200 of 240 scaled in at once under AWS's API rate limits, no redrive",
        "fleet_200_of_240.json",
        small_scenario="fleet_20_of_24.json",
        load=True,
        fleet=True,
    ),
]


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


def run_case(world: harness.World, case: Case, small: bool, out: Any) -> Result:
    scenario = json.loads(
        (SCENARIOS / (case.small_scenario if small and case.small_scenario else case.scenario)).read_text()
    )
    if small and case.small:
        scenario = scenario_mod.merge(scenario, case.small)
        for key in ("expect",):
            if key in case.small:
                scenario[key] = case.small[key]
    return run.run_scenario(world, scenario, out=out)


def _binaries() -> str:
    """Which build of the functions the world ran (``WORLD_LAMBDA_BIN_DIR``)."""
    directory = deploy_mod.bin_dir()
    return "`cargo build --release`" if directory.name == "release" else "`cargo build`, debug"


def render(
    rows: list[tuple[Case, dict[str, Any], bool, str]], small: bool, wall: float, extra: list[str] | None = None
) -> str:
    retried = sorted(retried_errors())
    lines = [
        "# Reliability",
        "",
        "Generated by `"
        + ("WORLD_LAMBDA_BIN_DIR=target/release " if deploy_mod.bin_dir().name == "release" else "")
        + "PYTHONPATH=tests .venv/bin/python -m world.reliability"
        + (" --small" if small else "")
        + "` (`tests/world/reliability.py`) on "
        + datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        + f", {'small size (CI)' if small else 'full size'}, {wall:.0f} s of wall time.",
        "",
        "Each case runs the real state machine (`statemachine/drain.asl.json`) and the real function binaries",
        f"({_binaries()}) in the local AWS world (`tests/world`), from a scenario in `tests/scenarios`.",
        "Every figure comes from the world's event log and APIs, never from the functions' logs. An execution",
        "that FAILS is redriven by the runner (`RedriveExecution`) after it has cleared the fault; the case passes",
        "when every drain ends with its instance drained and terminated, nothing is lost and the invariants of",
        "the e2e suite hold (`tests/world/run.py`: nothing terminates with a task or a load-balancer registration",
        "left, every action completed exactly once, the service never below its minimum, nothing left running).",
        "The cases of the event's journey (late, lost and repeated events, warm pools, Spot, instance refresh)"
        + (
            " are not in this small run: CI runs the same scenarios in the e2e suite (tests/e2e/test_journey.py)."
            if small
            else " run at the size CI runs them in the e2e suite (tests/e2e/test_journey.py)."
        ),
        "",
        "| case | what | result | drains | completed | failed, redriven | lost | faults | calls/drain | time (s) | what happened |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case, fig, ok, note in rows:
        if case.load and not case.fleet:
            case = Case(case.id, f"scale-in of {fig['size']} instances at once", case.scenario, load=True)
        elif case.fleet:
            case = Case(
                case.name(small),
                f"{fig['size']} scaled in at once under the world's API rate limits, no redrive",
                case.scenario,
                fleet=True,
            )
        completed = str(fig["completed"]) + (
            f" (+{fig['completed_by_hook_deletion']} by hook deletion)" if fig["completed_by_hook_deletion"] else ""
        )
        lines.append(
            f"| {case.id} | {case.title} | {'pass' if ok else '**FAIL**'} | {fig['drains']} | {completed} | "
            f"{fig['failed_redriven']} | {fig['lost']} | {fig['faults']} | {fig['calls_per_drain']:.1f} | "
            f"{fig['wall_seconds']:.0f} | {note} |"
        )
    lines += [
        "",
        "Columns: *drains* lifecycle actions started; *completed* actions completed by our",
        "`CompleteLifecycleAction`; *failed, redriven* executions that FAILED and SUCCEEDED after their redrive;",
        "*lost* instances never terminated + actions ended by a timeout + executions not SUCCEEDED at the end",
        "(a teardown case's FAILED naming what vanished excepted); *faults* throttling/503 answers injected at",
        "random; *calls/drain* API calls made by the functions (retries included) per drain. In every case the",
        "world's API rate limits are on at AWS's published figures (token buckets per account, Region and API,",
        "shared by every caller: `tests/world/emulator/rate_limits/`, tests/world/README.md); `reliability.json` beside",
        "this file has each case's peak calls per second by API against its limit.",
        "",
        "The state machine retries these errors in every Task: " + ", ".join(f"`{n}`" for n in retried) + ".",
        "",
        "## API calls by the functions, per case",
        "",
        "| case | calls | by API |",
        "|---|---:|---|",
    ]
    for case, fig, _ok, _note in rows:
        by_api = ", ".join(f"{k} {v}" for k, v in sorted(fig["calls_by_api"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {case.id} | {fig['function_calls']} | {by_api} |")
    lines += extra or []
    lines.append("")
    return "\n".join(lines)


def _run_cases(
    cases: list[Case], args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, dict[str, Any]] | None:
    """Each case's figures, the fleet cases alone first, then the others on ``args.jobs`` worlds side by
    side; ``None`` when interrupted."""
    figs: dict[str, dict[str, Any]] = {}
    pending: queue.Queue[Case] = queue.Queue()
    # the long and load cases first (the fleet case runs before, alone)
    for case in sorted((c for c in cases if not c.fleet), key=lambda c: (not c.long, not c.load)):
        pending.put(case)
    fleet_cases = [c for c in cases if c.fleet]
    lock = threading.Lock()

    def run_one(world: harness.World, case: Case) -> None:
        out = (lambda line: say(f"[{world.port}] {line}")) if args.verbose else (lambda line: None)
        t0 = time.monotonic()
        try:
            fig = figures(run_case(world, case, args.small, out), case.accept)
        except Exception as err:  # a case that cannot even run is a failed case
            fig = figures(Result(scenario_mod.load_scenario({})))
            fig["invariants"] = [f"{type(err).__name__}: {err}"]
            fig["wall_seconds"] = round(time.monotonic() - t0, 1)
        with lock:
            figs[case.id] = fig
            say(
                f"{case.name(args.small):15} drains {fig['drains']} completed {fig['completed']} "
                f"redriven {fig['failed_redriven']} lost {fig['lost']} faults {fig['faults']} "
                f"calls/drain {fig['calls_per_drain']:.1f} "
                f"invariants {'held' if not fig['invariants'] else fig['invariants']}  {fig['wall_seconds']:.0f}s"
            )

    def worker(world: harness.World) -> None:
        while True:
            try:
                case = pending.get_nowait()
            except queue.Empty:
                return
            run_one(world, case)

    worlds = [harness.World() for _ in range(max(1, args.jobs))]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for world in worlds:
            world.start()
            say(f"world on {world.url} (logs: {world.log_dir})")
        for case in fleet_cases:  # alone: its figures are not those of a machine shared with other cases
            run_one(worlds[0], case)
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in worlds]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        say("interrupted")
        return None
    finally:
        for world in worlds:
            world.stop()
    return figs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: the load case as 10 of 12 instances")
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="use the binaries as they are (WORLD_LAMBDA_BIN_DIR, default target/debug)",
    )
    parser.add_argument("--only", help="comma-separated case ids (the baseline always runs with load and fleet cases)")
    parser.add_argument("--out", default=str(REPORT), help="the report (default RELIABILITY.md at the repo root)")
    parser.add_argument(
        "--json",
        help="the figures as JSON (default reliability.json beside the report, "
        "or <report name>.json when the report is not RELIABILITY.md)",
    )
    parser.add_argument("--verbose", action="store_true", help="print each run as world.run does")
    parser.add_argument("--jobs", type=int, default=2, help="worlds running cases side by side (default 2)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not (args.small and c.journey)]
    if args.only:
        wanted = set(args.only.split(","))
        if any(c.load and c.id in wanted for c in CASES):  # their calls per drain are judged against it
            wanted.add("baseline")
        unknown = wanted - {c.id for c in CASES}
        if unknown:
            parser.error(f"unknown case ids {sorted(unknown)}; known: {[c.id for c in CASES]}")
        cases = [c for c in CASES if c.id in wanted]
    say = lambda line: print(line, flush=True)  # noqa: E731
    if not args.no_build:
        harness.build(say)
    started = time.monotonic()
    figs = _run_cases(cases, args, say)
    if figs is None:
        return 130
    rows: list[tuple[Case, dict[str, Any], bool, str]] = []
    baseline = figs.get("baseline")
    objects = []
    for case in cases:
        if case.id in figs:
            ok, note = outcome(case, figs[case.id], baseline)
            rows.append((case, figs[case.id], ok, note))
            objects.append(reliability_json.case_object(case.name(args.small), figs[case.id], ok, note, case.fleet))
            say(f"{case.name(args.small):15} {'pass' if ok else 'FAIL'}  {note}")
    wall = time.monotonic() - started
    out_path = Path(args.out)
    Path(args.out).write_text(render(rows, args.small, wall, reliability_json.fleet_section(objects)))
    json_path = (
        Path(args.json)
        if args.json
        else out_path.with_name("reliability.json" if out_path.name == REPORT.name else out_path.stem + ".json")
    )
    reliability_json.write(json_path, objects, args.small)
    say(f"wrote {args.out} and {json_path} ({wall:.0f}s)")
    return 0 if all(ok for _c, _f, ok, _n in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
