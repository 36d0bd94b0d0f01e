"""Run every benchmark in one go in the local AWS world; write bench/RESULTS.md, bench/results.json and the charts.

    PYTHONPATH=tests:. .venv/bin/python -m bench.run [--smoke] [--out DIR]

Full: drains of 5, 30 and 120 s (10 concurrent drains each), the scaler at 100, 1,000 and
5,000 container instances, cold starts of every function, the predecessor's polling design
at the same three drain times. About 6 minutes.
--smoke: the smallest size of each (one 5 s round of 4 drains, the scaler at 100, 2 cold
starts each, one predecessor round): about 2 minutes, so that the benchmark cannot rot.

Charts (bench/charts.py), SVG beside RESULTS.md, which embeds them: event to completion by drain
time, ours against the predecessor; one drain's timeline (`ecs-sta show --svg`, so target/debug/ecs-sta
must be built).

Measurements, not tests: nothing here asserts a timing; the targets are only reported
next to the figures. The exit status is non-zero only if a benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from bench import charts, coldstart, drains, scaler
from bench.common import FUNCTIONS, REPO, bin_dir, start_world
from bench.predecessor import harness as predecessor
from bench.report import write_markdown

BENCH = Path(__file__).resolve().parent


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def lambda_sizes() -> dict[str, Any]:
    out = {}
    for name in FUNCTIONS:
        path = REPO / "target" / "lambda" / name / "bootstrap.zip"
        if path.exists():
            with zipfile.ZipFile(path) as zf:
                unzipped = sum(i.file_size for i in zf.infolist())
            out[name] = {
                "zip_bytes": path.stat().st_size,
                "unzipped_bytes": unzipped,
                "built": time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime)),
            }
    return out


def function_env(name: str) -> dict[str, str]:
    """Configuration each binary reads at cold start (what infra sets; values for the world)."""
    return {
        "drain-ecs": {"ECS_CLUSTER": "rss-cluster", "MANAGED_ASG_NAMES": "rss-asg"},
        "deregister-lb": {"ECS_CLUSTER": "rss-cluster"},
        "sweeper": {
            "STATE_MACHINE_ARN": "arn:aws:states:us-west-2:123456789012:stateMachine:rss-drain",
            "MANAGED_ASG_NAMES": "rss-asg",
            "LIFECYCLE_HOOK_NAME": "rss-drain",
            "ECS_CLUSTER": "rss-cluster",
        },
    }.get(name, {})


def cold_starts(world: Any, runs: int) -> dict[str, Any]:
    """Ours (x86-64 release binaries) and a Python/boto3 handler (the predecessor's module), same harness."""
    directory, profile = bin_dir()
    image = world.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    setup = scaler.make_cluster(world, "rss-cluster", 100, image)
    scaler_input = {"cluster_name": "rss-cluster", "service_name": scaler.SERVICE, "min_task_count": 1, "n_count": 1}
    out: dict[str, Any] = {
        "profile": profile,
        "binaries": str(directory),
        "runs": runs,
        "rss_cluster": {"container_instances": 100, "setup_seconds": round(setup, 1)},
        "rss_event": scaler_input,
        "ours": {},
    }
    for name in FUNCTIONS:
        binary = directory / name
        if not binary.exists():
            continue
        env_of = lambda api, n=name: coldstart.lambda_env(n, api, world.url, function_env(n))  # noqa: E731
        event = scaler_input if name == "task-scaler" else None
        out["ours"][name] = coldstart.measure([str(binary)], env_of, runs, event)
        log(
            f"cold start {name} ({profile}): {out['ours'][name]['cold_start_s']}"
            + (f", peak RSS {out['ours'][name].get('peak_rss_kib_after_one_invocation')} KiB" if event else "")
        )

    def py_env(api):
        return coldstart.lambda_env(
            "predecessor-scale-tasks",
            api,
            world.url,
            {
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": "",
            },
        )

    cmd = [sys.executable, str(BENCH / "predecessor" / "bootstrap.py"), "functions.scale_tasks"]
    import boto3

    out["python"] = {
        "handler": "predecessor functions.scale_tasks (4 boto3 clients at import)",
        "python": platform.python_version(),
        "boto3": boto3.__version__,
        **coldstart.measure(cmd, py_env, runs, scaler_input),
    }
    log(
        f"cold start python/boto3: {out['python']['cold_start_s']}, peak RSS "
        f"{out['python'].get('peak_rss_kib_after_one_invocation')} KiB"
    )
    return out


def fleet_figures() -> dict[str, Any] | None:
    """The fleet case of the reliability report (``make reliability`` writes reliability.json at the repository
    root): its per-second API calls against the limits; None when the file or its fleet series is missing."""
    path = REPO / "reliability.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    case = next((c for c in doc.get("cases", []) if c.get("calls_per_second")), None)
    if case is None:
        return None
    return {"source": f"reliability.json ({doc.get('size')}, generated {doc.get('generated')})", "case": case}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="smallest size of everything (about 2 minutes)")
    parser.add_argument("--out", default=str(BENCH), help="where RESULTS.md and results.json go (default bench/)")
    args = parser.parse_args(argv)
    smoke = args.smoke
    drain_times = [5] if smoke else [5, 30, 120]
    drains_per_round = 4 if smoke else 10
    scaler_sizes = [100] if smoke else [100, 1000, 5000]
    pred_timescale = 0.1
    out = Path(args.out)
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "lambda_binaries": dict(zip(("dir", "profile"), map(str, bin_dir()))),
    }
    results["lambda_sizes"] = lambda_sizes()
    world = start_world(log)
    try:
        rounds = []
        for d in drain_times:
            rounds.append(drains.run_round(world, d, drains_per_round, log))
        results["drains"] = rounds
        crates = {name: crate for crate, name in rounds[-1]["functions"].items()}
        results["sandbox_memory_after_drains"] = drains.sandbox_memory(world, crates)
        overheads = [x["overhead_s"] for r in rounds for x in r["per_drain"]]
        results["drain_overhead_median_s"] = round(statistics.median(overheads), 3)
        results["drain_overhead_max_s"] = round(max(overheads), 3)
        by_d = {r["drain_seconds"]: r for r in rounds}
        results["transitions_per_drain_120s"] = by_d[120]["transitions_per_drain"]["max"] if 120 in by_d else None
        results["transitions_per_drain"] = {str(d): r["transitions_per_drain"] for d, r in by_d.items()}
        # one drain of the last round (the world still holds its execution), drawn by `ecs-sta show --svg`
        out.mkdir(parents=True, exist_ok=True)
        last = rounds[-1]
        picture = charts.drain_timeline(world.url, last["typical_execution_arn"], out / charts.TIMELINE_FILE)
        results["drain_timeline"] = {
            "drain_seconds": last["drain_seconds"],
            "execution_arn": last["typical_execution_arn"],
            "text": picture,
        }
        log(f"drew the timeline of {last['typical_execution_arn']} into {out / charts.TIMELINE_FILE}")
        if not smoke:  # what a drain costs with a realistic health check (after the timeline: a round resets the world)
            results["drains_realistic_health"] = drains.run_round(
                world, 30, drains_per_round, log, health=drains.REALISTIC_HEALTH
            )

        results["scaler"] = scaler.run(world, scaler_sizes, 1 if smoke else 3, log)
        results["sandbox_memory_task_scaler"] = drains.sandbox_memory(world).get("task-scaler")
        results["cold_start"] = cold_starts(world, 2 if smoke else 5)

        results["predecessor"] = {
            "what": "re-implementation of the predecessor's polling design (bench/predecessor), for comparison only",
            "timescale": pred_timescale,
            "rounds": [predecessor.run_round(world, d, drains_per_round, pred_timescale, log) for d in drain_times],
            "idle_month": predecessor.idle_month(),
        }
    finally:
        world.stop()
    results["fleet"] = fleet_figures()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    results["charts"] = charts.write_charts(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "RESULTS.md").write_text(write_markdown(results))
    log(
        f"wrote {out / 'RESULTS.md'}, {out / 'results.json'} and the charts {', '.join(results['charts'].values())} "
        f"in {results['wall_seconds']}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
