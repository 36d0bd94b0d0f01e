"""`make local KEEP=1`: `world.run --keep` runs the scenario, leaves the world running, prints the exports that point
`ecs-sta` at it, and stops everything on Ctrl-C (SIGINT). Run as an operator would: a subprocess, its printed
exports, `ecs-sta` against them, then SIGINT."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from world import harness

SCENARIO = harness.TESTS / "scenarios" / "failed_drain.json"
READY = "Ctrl-C stops the world and everything it started."


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's output, line by line, read on a thread (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str | None], marker: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = ""
        if line is None:
            raise AssertionError("world.run --keep ended before keeping the world:\n" + "\n".join(seen[-40:]))
        if line:
            seen.append(line)
        if line == marker:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} after {timeout:.0f}s:\n" + "\n".join(seen[-40:]))


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as stopped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _world_servers(parent: int) -> list[int]:
    """The running world.emulator.server processes that ``parent`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"world.emulator.server" in cmdline and ppid == parent and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.long
def test_keep_leaves_the_world_to_ecs_sta_until_ctrl_c(ecs_sta):
    cmd = [sys.executable, "-m", "world.run", "--keep", "--scenario", str(SCENARIO)]
    if os.environ.get("E2E_NO_BUILD"):
        cmd.append("--no-build")
    env = dict(os.environ, PYTHONPATH=str(harness.TESTS))
    proc = subprocess.Popen(cmd, cwd=harness.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        lines = _lines(proc)
        _read_until(lines, READY, 600, seen)
        print("\n".join(seen))
        exports = dict(shlex.split(line)[1].split("=", 1) for line in seen if line.startswith("export "))
        assert set(exports) == {
            "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "ECS_STA_STACK",
        }, seen
        assert "OK: invariants held" in "\n".join(seen)
        url = exports["AWS_ENDPOINT_URL"]
        sandboxes = json.loads(urllib.request.urlopen(f"{url}/_world/lambdas", timeout=10).read())["sandboxes"]
        pids = [box["pid"] for box in sandboxes if box["alive"]]
        assert pids, sandboxes
        servers = _world_servers(proc.pid)
        assert len(servers) == 1, servers

        # The exports are all ecs-sta needs: the failed drain, its message rather than the Lambda's JSON.
        listed = harness.ecs_sta(ecs_sta, exports, "executions")
        assert listed.returncode == 0, listed.stderr
        [row] = [line for line in listed.stdout.splitlines() if "FAILED" in line]
        assert "CompleteLifecycleAction" in row and "Retryable: CompleteLifecycleAction failed" in row, row
        assert "errorMessage" not in listed.stdout
        [execution] = json.loads(harness.ecs_sta(ecs_sta, exports, "executions", "--json").stdout)
        assert json.loads(execution["cause"])["errorType"] == "Retryable"
        shown = harness.ecs_sta(ecs_sta, exports, "show", execution["name"])
        assert shown.returncode == 0, shown.stderr
        assert "status      FAILED at CompleteLifecycleAction, after the instance drained" in shown.stdout
        assert "`ecs-sta replay` resumes at CompleteLifecycleAction" in shown.stdout

        # Still up until told otherwise; then SIGINT stops the world, its Lambda sandboxes and itself.
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "\n".join(seen)
        _read_until(lines, "SIGINT: stopping the world", 10, seen)
        try:
            urllib.request.urlopen(url, timeout=5)
            answered = True
        except urllib.error.HTTPError:
            answered = True
        except urllib.error.URLError:
            answered = False
        assert not answered, f"the world still answers on {url}"
        harness.wait_for(
            lambda: not any(_alive(pid) for pid in servers + pids),
            20,
            f"world.emulator.server {servers} and its Lambda sandboxes {pids} to end",
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
