"""The sections of bench/RESULTS.md about the functions: 3. the task scaler at scale, 4. the
Lambdas' sizes, cold starts and memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_format import _bytes, _f, _kib


def _scaler(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """3. The task scaler at scale."""
    s = r.get("scaler")
    if s:
        add("## 3. The task scaler at scale")
        add("")
        add(
            f"Setup: {s['setup_method']}; the cluster grows in place. One tick = one Invoke of the real `task-scaler` "
            f"through the world with input `{s['input']}` (the service already has desired count 1, so a tick reads "
            "everything and changes nothing: the steady state; a change adds one `ecs:UpdateService`). Calls per tick "
            "from the world's counts, reset before each tick; wall time = the Invoke round trip, which includes moto "
            "answering every call (moto, not the scaler, dominates at 5,000)."
        )
        add("")
        add(
            "| container instances | setup (s) | setup per instance (ms) | ticks | wall per tick median / max (s) | API calls per tick | by API |"
        )
        add("|---|---|---|---|---|---|---|")
        for e in s["sizes"]:
            calls = ", ".join(f"`{k}` {v}" for k, v in sorted(e["calls_per_tick"].items()))
            add(
                f"| {e['container_instances']:,} | {_f(e['setup_seconds'], 1)} | {_f(e['setup_per_instance_ms'], 1)} | "
                f"{e['ticks']} | {_f(e['wall_s']['median'])} / {_f(e['wall_s']['max'])} | {e['calls_per_tick_total']} | {calls} |"
            )
        add("")
        if s["sizes"] and "first_tick_cold_wall_s" in s["sizes"][0]:
            add(
                f"First tick (cold sandbox) at {s['sizes'][0]['container_instances']}: "
                f"{_f(s['sizes'][0]['first_tick_cold_wall_s'])} s. Setup in total: {s['setup_total_seconds']} s."
            )
            add("")
        if len(s["sizes"]) > 1:
            first, last = s["sizes"][0], s["sizes"][-1]
            k = last["container_instances"] / first["container_instances"]
            add(
                f"Growth from {first['container_instances']:,} to {last['container_instances']:,} ({k:g}x instances): "
                f"API calls x{last['calls_per_tick_total'] / first['calls_per_tick_total']:.1f} "
                f"(1 ListContainerInstances page and 1 DescribeContainerInstances batch per 100 instances), wall time "
                f"x{last['wall_s']['median'] / first['wall_s']['median']:.1f}."
            )
            add("")
        add(f"Last decision: `{s['sizes'][-1]['decision']}`")
        add("")


def _lambdas(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """4. The Lambdas' cold starts, durations and memory."""
    add("## 4. The Lambdas")
    add("")
    cs = r.get("cold_start", {})
    mem = r.get("sandbox_memory_after_drains", {}) or {}
    if r.get("sandbox_memory_task_scaler"):
        mem = {**mem, "task-scaler": r["sandbox_memory_task_scaler"]}
    add(
        "- **Size**: `target/lambda/<name>/bootstrap.zip` from `make build` (arm64, `cargo lambda build --release "
        "--arm64 --output-format zip`), as found on disk"
        + (" (reported only if present in smoke mode)" if smoke else "")
        + "."
    )
    add(
        f"- **Cold start**: x86-64 {cs.get('profile', '?')} build, started with `AWS_LAMBDA_RUNTIME_API` pointing at a "
        "tiny Runtime API served by the benchmark (`bench/coldstart.py`); from just before the process is spawned to "
        "its first `GET /2018-06-01/runtime/invocation/next` (loading, configuration, AWS clients). "
        f"{cs.get('runs', '?')} starts each, median / max."
    )
    add(
        "- **Peak RSS**: VmHWM from `/proc/<pid>/status` of the world's sandbox of each function (the same x86-64 build) "
        "after the drains above (so after several real invocations, a conservative figure; for `task-scaler`, after "
        "the ticks of section 3, up to 5,000 container instances); for `task-scaler` also "
        "after exactly one real invocation through the same Runtime API harness (input: the predecessor's scaler input "
        "on a 100-instance cluster, against the world)."
    )
    add("")
    add(
        "| function | zip (arm64) | unzipped | cold start median / max (ms) | peak RSS (sandbox) | invocations handled |"
    )
    add("|---|---|---|---|---|---|")
    sizes = r.get("lambda_sizes", {})
    names = sorted(set(sizes) | set(cs.get("ours", {})))
    for name in names:
        z = sizes.get(name, {})
        c = cs.get("ours", {}).get(name, {}).get("cold_start_s", {})
        m = mem.get(name, {})
        add(
            f"| {name} | {_bytes(z.get('zip_bytes'))} | {_bytes(z.get('unzipped_bytes'))} | "
            f"{_f(c.get('median') and c['median'] * 1000, 1)} / {_f(c.get('max') and c['max'] * 1000, 1)} | "
            f"{_kib(m.get('vmhwm_kib'))} | {m.get('invocations', '-')} |"
        )
    add("")
