"""Section 5 of bench/RESULTS.md: against the predecessor, its drains in the same world, its
invocations in an idle month, its cold start and memory against ours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report_format import _f, _kib


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
