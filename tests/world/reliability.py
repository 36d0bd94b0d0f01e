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
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from world import harness, reliability_json, run
from world import scenario as scenario_mod
from world.observe import Result
from world.reliability_cases import CASES, Case
from world.reliability_figures import figures, outcome
from world.reliability_report import render

SCENARIOS = harness.TESTS / "scenarios"
REPORT = harness.REPO / "RELIABILITY.md"


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
