"""Shared helpers: the world (tests/world) with the release binaries, statistics, timing."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from world.harness import REPO, World, wait_for  # noqa: F401  (re-exported)

FUNCTIONS = ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle", "task-scaler", "sweeper"]
DRAIN_FUNCTIONS = ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle"]


def bin_dir() -> tuple[Path, str]:
    """The x86-64 release build when every binary is there, else the debug build (said so in the results)."""
    release = REPO / "target" / "release"
    if all((release / name).exists() for name in FUNCTIONS[:5]):
        return release, "release"
    return REPO / "target" / "debug", "debug"


def start_world(log: Callable[[str], None]) -> World:
    directory, profile = bin_dir()
    os.environ["WORLD_LAMBDA_BIN_DIR"] = str(directory)
    os.environ.setdefault("WORLD_LAMBDA_RUST_LOG", "warn")
    world = World().start()
    log(f"world on {world.url} (Lambda binaries: {directory}, {profile}; logs {world.log_dir})")
    return world


def summary(values: Iterable[float]) -> dict[str, Any]:
    xs = sorted(float(v) for v in values)
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "median": round(statistics.median(xs), 3),
        "min": round(xs[0], 3),
        "max": round(xs[-1], 3),
        "mean": round(statistics.fmean(xs), 3),
    }


def last_seq(world: World) -> int:
    found = world.control("GET", "/_world/events?since=0")["events"]
    return int(found[-1]["seq"]) if found else 0


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process in KiB."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out
