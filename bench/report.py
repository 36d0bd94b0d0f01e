"""bench/RESULTS.md from the results dictionary of bench.run: its sections in order, each a
function of (results, add a line, smoke run?, charts); those of our drains in bench.report_drains,
the functions' in bench.report_lambdas, the predecessor's in bench.report_predecessor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_drains import _cost, _overhead, _timeline
from bench.report_lambdas import _lambdas, _scaler
from bench.report_predecessor import _predecessor, _predecessor_costs


def _intro(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """The title, how to run it, the machine and where the figures come from."""
    add("# Benchmarks")
    add("")
    add("```sh")
    add("PYTHONPATH=tests:. .venv/bin/python -m bench.run            # full, about 6 minutes")
    add("PYTHONPATH=tests:. .venv/bin/python -m bench.run --smoke    # smallest sizes, about 2 minutes (CI)")
    add("```")
    add("")
    add(
        f"Mode **{r['mode']}**, {r['date']}, commit {r['commit']}, {r['wall_seconds']} s wall. Machine: "
        f"{r['machine']['cpus']} CPUs (shared; load average at start {', '.join(f'{x:.1f}' for x in r['machine']['loadavg_at_start'])}), "
        f"{r['machine']['platform']}. Lambda binaries run by the world: `{r['lambda_binaries']['dir']}` "
        f"({r['lambda_binaries']['profile']}, x86-64)."
    )
    if smoke:
        add("")
        add("**Smoke run: the smallest size of each benchmark only; the figures are not the full benchmark.**")
    add("")
    add(
        "Everything runs in the local AWS world (`tests/world`: moto 5.2.1 plus the world's extensions) with our real "
        "state machine (`statemachine/drain.asl.json`, executed by moto's Step Functions) and our real Lambda binaries. "
        "Every figure comes from the world's event log (`/_world/events`), its call counts (`/_world/calls`) and "
        "Step Functions' execution histories, never from the Lambdas' own logs. These are measurements, not tests: "
        "no test asserts a timing."
    )
    add("")


def _fleet(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """7. A fleet scale-in under the rate limits."""
    fleet = r.get("fleet")
    if fleet:
        from world.reliability_json import fleet_section

        add("## 7. A fleet scale-in under the rate limits")
        add("")
        add(
            f"From {fleet['source']} (`make reliability`, `tests/world/reliability.py`): the world's calls per API "
            "in each second of the scale-in (`GET /_world/limits`), against the sustained rate of the API's tightest "
            "token bucket (dashed), and the peaks per API."
        )
        if charts.get("fleet_api_calls_per_second"):
            add("")
            add(f"![API calls per second during the fleet scale-in]({charts['fleet_api_calls_per_second']})")
        for line in fleet_section([fleet["case"]]):
            add(line.replace("## ", "### ", 1) if line.startswith("## ") else line)
        add("")


def _not_measured(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """What these figures do not say."""
    add("## Not measured here")
    add("")
    add(
        "- Real AWS latencies: every API call here is answered by moto on this machine; EventBridge delivery and "
        "Step Functions' own scheduling latency on AWS are not modelled beyond what the world does."
    )
    add(
        "- Cold starts on Lambda's arm64 (Graviton) hardware and its Firecracker sandbox: measured here on the x86-64 "
        "build, as a relative figure (ours against Python/boto3 on the same machine)."
    )
    add("")


SECTIONS = (
    _intro,
    _overhead,
    _cost,
    _scaler,
    _lambdas,
    _predecessor,
    _predecessor_costs,
    _timeline,
    _fleet,
    _not_measured,
)


def write_markdown(r: dict[str, Any]) -> str:
    L: list[str] = []
    add = L.append
    smoke = r["mode"] == "smoke"
    charts = r.get("charts") or {}
    for section in SECTIONS:
        section(r, add, smoke, charts)
    return "\n".join(L) + "\n"
