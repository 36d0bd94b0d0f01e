"""bench/RESULTS.md from the results dictionary of bench.run."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _kib(x: Any) -> str:
    """KiB (as /proc reports them) -> MiB."""
    return "-" if not x else f"{x / 1024:.1f} MiB"


def _bytes(x: Any) -> str:
    return "-" if not x else f"{x / 1048576:.2f} MiB"


def _growth(points: list[tuple[float, float]]) -> str:
    """Extra per doubling between consecutive points."""
    parts = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        doublings = math.log2(x1 / x0)
        parts.append(f"{x0:g}->{x1:g}: {(y1 - y0) / doublings:+.1f} per doubling")
    return "; ".join(parts) or "-"


def _chart_part(text: str) -> str:
    """The chart of `ecs-sta show`'s text: between the summary and the table of visits (blank lines apart)."""
    parts = text.strip("\n").split("\n\n")
    return parts[1] if len(parts) > 2 else text.strip("\n")


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


def _predecessor(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """5. Against the predecessor: its drains, in the same world."""
    p = r.get("predecessor")
    if p:
        add("## 5. Against the predecessor (re-implemented, `bench/predecessor/`)")
        add("")
        add(
            "The predecessor's design (three Python/boto3 functions polling two SQS queues every minute; force "
            'deregistration; "gone from DescribeLoadBalancers" taken as drained; no heartbeat) is re-implemented in '
            "`bench/predecessor/functions.py` from its description, for comparison only, and run in the same world in "
            f"the same run. **Time-compressed**: the world runs at timescale {p['timescale']} and the three "
            f"`rate(1 minute)` schedules fire every {60 * p['timescale']:g} real seconds, each with its own random "
            "phase; its latencies are converted back to AWS seconds (divided by the timescale). The hook's SQS "
            "notification is copied from the world's `asg.lifecycle.wait` into the queue by the harness (~0.05 s). "
            "The instances are terminated at random moments over one period. Same cluster shape as in 1, with only the "
            "Classic ELB."
        )
        add("")
        add(
            "| D (s) | drains | predecessor event to completion median / max (AWS s) | released before the ELB drained | released before the task stopped | ours event to completion median / max (s) | ratio of medians (predecessor / ours) |"
        )
        add("|---|---|---|---|---|---|---|")
        ours = {d["drain_seconds"]: d for d in r.get("drains", [])}
        for q in p["rounds"]:
            o = ours.get(q["drain_seconds"])
            pe = q["event_to_completion_aws_s"]
            oe = o["event_to_completion_s"] if o else {}
            ratio = f"{pe['median'] / oe['median']:.2f}" if o else "-"
            add(
                f"| {q['drain_seconds']} | {q['drains']} | {_f(pe['median'], 1)} / {_f(pe['max'], 1)} | "
                f"{q['released_before_elb_drained']} of {q['drains']} | {q['released_before_task_stopped']} of {q['drains']} | "
                f"{_f(oe.get('median'), 1)} / {_f(oe.get('max'), 1)} | {ratio} |"
            )
        add("")
        if charts.get("completion_by_drain_time"):
            add(
                f"![Lifecycle event to completion by drain time, ours against the predecessor]"
                f"({charts['completion_by_drain_time']})"
            )
            add("")
        add(
            "How to read it: the predecessor's latency does not depend on the drain time at all. By its schedule it is "
            "(the wait for the next `drain_instances` run, uniform over 0-60 s) + (the fixed offset from that run to "
            "the next `check_drained` run, uniform over 0-60 s across deployments): 60 s on average, up to 120 s, "
            "for a 5 s drain as for a 120 s one. A short drain waits for nothing; a long one is cut: the instance is "
            "released while the Classic ELB is still draining (its check cannot see draining) and while its task, "
            "orphaned by the forced deregistration, is still running (its task only stops when the instance "
            "terminates). Ours completes about a second after the drain really ends, and never before."
        )
        add("")


def _predecessor_costs(r: dict[str, Any], add: Callable[[str], None], smoke: bool, charts: dict[str, Any]) -> None:
    """5 (cont.). The predecessor's invocations in an idle month, its cold start and memory against ours."""
    p = r.get("predecessor")
    if not p:
        return
    cs = r.get("cold_start", {})
    im = p["idle_month"]
    add("Invocations in an idle 30-day month (no scale-in): **arithmetic from each schedule, not measured**:")
    add("")
    add("| design | functions | invocations |")
    add("|---|---|---|")
    add(
        f"| predecessor | {', '.join(f'{k}: {v:,}' for k, v in im['predecessor'].items())} | {im['predecessor_total']:,} |"
    )
    add(f"| ours | {', '.join(f'{k}: {v:,}' for k, v in im['ours'].items())} | {im['ours_total']:,} |")
    add("")
    add(
        f"Ratio {im['ratio_total']}x overall; on the drain path alone {im['predecessor_drain_path']:,} vs "
        f"{im['ours_drain_path']:,} (the sweeper): {im['ratio_drain_path']}x. Our state machine makes no transition "
        "while idle; each of the predecessor's idle polls also makes an SQS ReceiveMessage call."
    )
    add("")
    py = cs.get("python")
    ts = cs.get("ours", {}).get("task-scaler")
    if py and ts:
        pc, oc = py["cold_start_s"], ts["cold_start_s"]
        pr, orr = py.get("peak_rss_kib_after_one_invocation"), ts.get("peak_rss_kib_after_one_invocation")
        add(
            f"Cold start and memory, same harness, same input (the scaler input on a 100-instance cluster, one "
            f"real invocation against the world): the predecessor's module (`{py['handler']}`, Python {py['python']}, "
            f"boto3 {py['boto3']}, behind a minimal runtime loop `bench/predecessor/bootstrap.py`, smaller than "
            f"AWS's own Python runtime) vs our `task-scaler` ({cs.get('profile')} x86-64):"
        )
        add("")
        add("| | cold start median / max (ms) | peak RSS after one invocation | invocation result |")
        add("|---|---|---|---|")
        add(
            f"| predecessor (Python/boto3) | {_f(pc['median'] * 1000, 1)} / {_f(pc['max'] * 1000, 1)} | {_kib(pr)} | {py.get('invocation_result')} |"
        )
        add(
            f"| ours (`task-scaler`) | {_f(oc['median'] * 1000, 1)} / {_f(oc['max'] * 1000, 1)} | {_kib(orr)} | {ts.get('invocation_result')} |"
        )
        if oc["median"] and orr:
            add(f"| **ratio** (predecessor / ours) | **{pc['median'] / oc['median']:.1f}x** | **{pr / orr:.1f}x** | |")
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
