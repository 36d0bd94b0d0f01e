"""The machine-readable side of world.reliability: ``reliability.json`` beside RELIABILITY.md, and
the fleet section of RELIABILITY.md.

``reliability.json``: ``{"generated", "size", "limits_source", "cases": [...]}``, one object per
case with ``name``, ``drains``, ``succeeded``, ``failed`` (executions that FAILED at some point),
``redriven`` (RedriveExecution calls), ``lost``, ``released_while_serving`` (instances released
while a task on them was not STOPPED or while registered or draining in a load balancer: the
runner's invariant 1), ``peak_calls_per_second`` by API (``peak``, ``at_second``,
``peak_accepted``: the most let through in a second, ``calls``, ``throttled``, ``limit``: the tightest token bucket the API takes from, ``bucket``, ``burst``,
``rate_per_second``; null for an API with no bucket, such as Lambda's Invoke), ``lambda``
(the most invocations of each function at once, the account's concurrency, throttled invokes),
``first_event_to_last_completion_seconds`` (from the first lifecycle action's
``Terminating:Wait`` to the last completion), ``failed_at`` (per state, error and message, how
many executions FAILED there), ``passed``, ``what_happened``. A fleet case also has
``calls_per_second``: per API, its limit and ``series`` ``[[second, calls, throttled], ...]``,
seconds from the scale-in (bench/charts.py ``fleet_api_calls_per_second`` draws it).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from world.emulator import rate_limits


def extra_figures(result: Any) -> dict[str, Any]:
    """What reliability.json adds to world.reliability's figures, from a run's result."""
    events = result.events
    waits = [e["t"] for e in events if e["type"] == "asg.lifecycle.wait"]
    done = [e["t"] for e in events if e["type"] == "asg.lifecycle.completed"]
    failed = [x for x in result.executions.values() if any(h["type"] == "ExecutionFailed" for h in x["history"])]
    limits = result.limits or {}
    failed_at: dict[str, int] = {}
    for x in failed:  # where each FAILED execution failed, and why: "State: error: message"
        state, why = "?", ""
        for h in x["history"]:
            if h["type"].endswith("StateEntered"):
                state = h["stateEnteredEventDetails"]["name"]
            elif h["type"] == "ExecutionFailed":
                details = h.get("executionFailedEventDetails") or {}
                try:
                    why = json.loads(details.get("cause") or "{}").get("errorMessage") or details.get("cause") or ""
                except ValueError:
                    why = details.get("cause") or ""
                key = f"{state}: {details.get('error')}: {why[:160]}"
                failed_at[key] = failed_at.get(key, 0) + 1
    return {
        "failed_at": failed_at,
        "succeeded": len([x for x in result.executions.values() if x["status"] == "SUCCEEDED"]),
        "failed": len(failed),
        "released_while_serving": len([v for v in result.violations if " released " in f" {v} "]),
        "peak_calls_per_second": rate_limits.peak_table(limits),
        "calls_per_second": {
            "since": limits.get("since"),
            "timescale": limits.get("timescale"),
            "apis": {
                api: {"limit": peak["limit"], "series": limits.get("series", {}).get(api, [])}
                for api, peak in rate_limits.peak_table(limits).items()
            },
        },
        "lambda": {k: (result.lambdas or {}).get(k) for k in ("peak_concurrency", "concurrency", "throttled")},
        "first_event_to_last_completion_seconds": round(max(done) - min(waits), 1) if waits and done else None,
    }


def case_object(name: str, fig: dict[str, Any], passed: bool, note: str, series: bool) -> dict[str, Any]:
    out = {
        "name": name,
        "size": fig.get("size"),
        "drains": fig["drains"],
        "succeeded": fig.get("succeeded", 0),
        "failed": fig.get("failed", 0),
        "redriven": fig.get("redrives", 0),
        "lost": fig["lost"],
        "released_while_serving": fig.get("released_while_serving", 0),
        "peak_calls_per_second": fig.get("peak_calls_per_second", {}),
        "lambda": fig.get("lambda", {}),
        "first_event_to_last_completion_seconds": fig.get("first_event_to_last_completion_seconds"),
        "calls_per_drain": round(fig.get("calls_per_drain", 0.0), 1),
        "executions": fig.get("executions", {}),
        "execution_errors": fig.get("execution_errors", {}),
        "failed_at": fig.get("failed_at", {}),
        "invariants": fig.get("invariants", []),
        "wall_seconds": fig.get("wall_seconds"),
        "passed": passed,
        "what_happened": note,
    }
    if series:
        out["calls_per_second"] = fig.get("calls_per_second")
    return out


def write(path: Path, objects: list[dict[str, Any]], small: bool) -> None:
    doc = {
        "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "size": "small (CI)" if small else "full",
        "limits_source": "tests/world/emulator/rate_limits/buckets.py (AWS's published figures; Auto Scaling's assumed)",
        "cases": objects,
    }
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")


def fleet_section(objects: list[dict[str, Any]]) -> list[str]:
    """RELIABILITY.md's section on the fleet case(s): peaks per API against their limits."""
    lines: list[str] = []
    for obj in objects:
        if "calls_per_second" not in obj:
            continue
        took = obj["first_event_to_last_completion_seconds"]
        lam = obj.get("lambda") or {}
        lines += [
            "",
            f"## {obj['name']}: {obj['size']} scaled in at once under the world's rate limits",
            "",
            f"{obj['drains']} drains, {obj['succeeded']} SUCCEEDED, {obj['failed']} FAILED, {obj['redriven']} redriven, "
            f"{obj['lost']} lost, {obj['released_while_serving']} released while serving; "
            f"{f'{took:.0f} s' if took is not None else '-'} from the first lifecycle action to the last completion; "
            f"{obj['calls_per_drain']} API calls per drain.",
            "",
            "| API | calls | peak calls/s | at second | peak let through/s | throttled | limit (bucket: burst, refill/s) |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for api, peak in sorted(obj["peak_calls_per_second"].items(), key=lambda kv: -kv[1]["calls"]):
            limit = peak["limit"]
            shown = f"{limit['bucket']}: {limit['burst']:g}, {limit['rate_per_second']:g}" if limit else "no bucket"
            lines.append(
                f"| {api} | {peak['calls']} | {peak['peak']} | {peak['at_second']} | {peak['peak_accepted']} | "
                f"{peak['throttled']} | {shown} |"
            )
        peaks = ", ".join(f"{fn} {n}" for fn, n in sorted((lam.get("peak_concurrency") or {}).items()))
        lines += [
            "",
            f"Lambda: most invocations at once per function: {peaks or '-'} (account concurrency "
            f"{lam.get('concurrency')}); throttled invokes: {lam.get('throttled') or 0}.",
        ]
    return lines
