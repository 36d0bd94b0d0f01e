"""Figures 1 and 2: drain overhead and cost per drain of OUR workflow, in the local world.

One round per drain time: a cluster of 2*N instances whose service runs N tasks (one per
instance, host port 8080) behind a Classic ELB (connection draining D s) and a target
group (deregistration delay D s), both attached to the service. The N instances that run
a task are terminated at once (TerminateInstanceInAutoScalingGroup, decrementing the
desired capacity), so N drains run concurrently and each one has a task to move and two
load balancers to drain. timescale 1.0: every duration is real.

Per drain, from the world's event log (never from the Lambdas' logs):
  event      = asg.lifecycle.wait of the instance (the lifecycle event is emitted)
  completion = asg.lifecycle.completed by CompleteLifecycleAction
  floor      = the later of the last ecs.task.stopped on the instance and the last
               elb.instance.out_of_service / elbv2.target.unused of the instance
  overhead   = completion - floor
Cost: StateEntered events in GetExecutionHistory, Lambda invocations (TaskScheduled in
the history; the world's lambda.invoked count as a cross-check), and the world's API call
counts (/_world/calls, reset just before the scale-in, read once every drain has
completed; the harness makes no AWS call in between except its own terminate calls,
which are subtracted).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from world.deploy import Deployment, deploy
from world.harness import history, running_tasks, wait_steady
from world.invariants import check
from world.observe import Result
from world.scenario import load_scenario

from bench.common import World, last_seq, summary, wait_for

OURS = ("drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle")


# a replacement healthy after 30 s (interval 10 s x healthy threshold 3): a realistic health check
REALISTIC_HEALTH = {"interval_seconds": 10, "timeout_seconds": 5, "healthy_threshold": 3, "unhealthy_threshold": 2}


def scenario(drain_seconds: int, count: int, health: dict[str, Any] | None = None) -> dict[str, Any]:
    """The round's scenario; ``health`` the load balancers' health check (default: the scenarios' short one)."""
    return load_scenario(
        {
            **({"health_check": health} if health else {}),
            "name": f"bench{drain_seconds}",
            "instances": 2 * count,
            "service": {"name": "web", "desired": count},
            "load_balancers": {
                "classic": [{"name": "web-clb", "draining_seconds": drain_seconds, "attach": "service", "port": 8080}],
                "target_groups": [
                    {"name": "web-tg", "port": 8080, "deregistration_delay": drain_seconds, "attach": "service"}
                ],
            },
            "ecs": {"task_start_seconds": 1, "task_stop_seconds": 1},
            "hook": {"heartbeat_timeout": 300, "default_result": "ABANDON"},
            "scaler": {"min_task_count": count, "n_count": 1},
        }
    )


def _set_up(
    world: World, sc: dict[str, Any], count: int, log: Callable[[str], None], label: str
) -> tuple[Deployment, list[str], set[tuple[str, str]]]:
    """A fresh world with the round's cluster, once its service is steady: the deployment, the
    instances that run a task (the round's victims) and their Classic ELB registrations."""
    world.reset()
    setup_started = time.monotonic()
    dep = deploy(world, sc, out=log)
    tasks = wait_for(
        lambda: (lambda r: r if len(r) >= count else None)(running_tasks(world, dep)),
        60,
        f"{count} running tasks",
        every=0.5,
    )
    wait_steady(world, dep)  # a steady service: its tasks healthy in the load balancers
    ecs = world.client("ecs")
    ci_arns = sorted({t["containerInstanceArn"] for t in tasks})
    cis = ecs.describe_container_instances(cluster=dep.cluster, containerInstances=ci_arns)["containerInstances"]
    victims = sorted(ci["ec2InstanceId"] for ci in cis)
    classic_regs = {
        (name, h["InstanceId"])
        for name in dep.classic
        for h in world.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"]
    }
    log(f"{label}: {len(victims)} instances with a task, set up in {time.monotonic() - setup_started:.1f}s")
    return dep, victims, classic_regs


def _described(sfn: Any, arn: str) -> dict[str, Any]:
    """An execution as DescribeExecution has it, with its history."""
    desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    desc["history"] = history(sfn, arn)
    return desc


def _one_drain(instance_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One drain from the world's event log: event to completion, to its floor (the last of its task
    stopped and its registrations drained), and the overhead between the two."""
    mine = [e for e in events if e.get("instance_id") == instance_id or e.get("id") == instance_id]
    wait_ev = next(e for e in mine if e["type"] == "asg.lifecycle.wait")
    done_ev = next(e for e in mine if e["type"] == "asg.lifecycle.completed")
    floor_evs = [
        e for e in mine if e["type"] in ("ecs.task.stopped", "elb.instance.out_of_service", "elbv2.target.unused")
    ]
    floor = max(e["t"] for e in floor_evs)
    return {
        "instance_id": instance_id,
        "by": done_ev["by"],
        "event_to_completion_s": round(done_ev["t"] - wait_ev["t"], 3),
        "event_to_floor_s": round(floor - wait_ev["t"], 3),
        "overhead_s": round(done_ev["t"] - floor, 3),
        "floor_is": next(e["type"] for e in floor_evs if e["t"] == floor),
    }


def _typical_execution(executions: dict[str, dict[str, Any]], per_drain: list[dict[str, Any]]) -> str | None:
    """The execution of the median drain (event to completion), whose timeline the report draws."""
    arn_of = {}
    for arn, x in executions.items():
        detail = json.loads(x["input"]).get("detail", {})
        arn_of[detail.get("EC2InstanceId")] = arn
    typical = sorted(per_drain, key=lambda d: d["event_to_completion_s"])[len(per_drain) // 2]
    return arn_of.get(typical["instance_id"])


def _drain_all(world: World, dep: Deployment, victims: list[str], drain_seconds: int) -> tuple[int, float, list[Any]]:
    """The victims terminated at once (the world's call counts reset just before), then the wait until
    every drain completed and every execution closed: (the event log's seq before, when the
    terminations began, the executions as ListExecutions has them)."""
    since = last_seq(world)
    world.control("POST", "/_world/calls/reset")
    autoscaling = world.client("autoscaling")
    started = time.monotonic()
    for instance in victims:
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=True)

    def settled() -> list[dict[str, Any]] | None:
        evs = world.control("GET", f"/_world/events?since={since}")["events"]
        done = {e["instance_id"] for e in evs if e["type"] == "asg.lifecycle.completed"}
        finished = [
            e for e in evs if e["type"] == "lambda.invoked" and dep.crate_of(e["function"]) == "complete-lifecycle"
        ]
        return evs if set(victims) <= done and len(finished) >= len(victims) else None

    wait_for(settled, drain_seconds * 3 + 180, f"{len(victims)} drains of {drain_seconds}s", every=1.0)
    sfn = world.client("stepfunctions")

    def closed() -> list[dict[str, Any]] | None:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=dep.machine_arn)
        items = [i for page in pages for i in page["executions"]]
        return items if len(items) >= len(victims) and all(i["status"] != "RUNNING" for i in items) else None

    # the executions' last transition (Succeed) comes after complete-lifecycle returned
    items = wait_for(closed, 60, "every execution closed", every=0.25)
    return since, started, items


def _cost(
    dep: Deployment,
    executions: dict[str, dict[str, Any]],
    events: list[dict[str, Any]],
    calls: dict[str, Any],
    victims: list[str],
) -> dict[str, Any]:
    """Per drain: state transitions, history events and Lambda invocations (from the histories; the
    world's count per function as a cross-check), and the world's API calls by API (the harness's own
    terminate calls subtracted)."""
    transitions, invocations, histories = [], [], Counter()
    for x in executions.values():
        types = [h["type"] for h in x["history"]]
        transitions.append(sum(1 for t in types if t.endswith("StateEntered")))
        invocations.append(sum(1 for t in types if t in ("TaskScheduled", "LambdaFunctionScheduled")))
        histories[len(types)] += 1
    by_function = Counter(dep.crate_of(e["function"]) for e in events if e["type"] == "lambda.invoked")
    api = Counter(calls["calls"])
    api["autoscaling:TerminateInstanceInAutoScalingGroup"] -= len(victims)  # ours, not the drain's
    api = Counter({k: v for k, v in api.items() if v > 0})
    n = len(victims)
    return {
        "transitions_per_drain": summary(transitions),
        "history_events_per_drain": summary(len(x["history"]) for x in executions.values()),
        "lambda_invocations_per_drain": summary(invocations),
        "lambda_invocations_per_drain_world": {f: round(c / n, 2) for f, c in sorted(by_function.items())},
        "api_calls_per_drain": {k: round(v / n, 2) for k, v in sorted(api.items())},
        "api_calls_per_drain_total": round(sum(api.values()) / n, 2),
        "faults": calls.get("faults", {}),
    }


def run_round(
    world: World, drain_seconds: int, count: int, log: Callable[[str], None], health: dict[str, Any] | None = None
) -> dict[str, Any]:
    sc = scenario(drain_seconds, count, health)
    dep, victims, classic_regs = _set_up(world, sc, count, log, f"D={drain_seconds}s")
    since, started, items = _drain_all(world, dep, victims, drain_seconds)
    calls = world.control("GET", "/_world/calls")
    wall = time.monotonic() - started
    events = world.control("GET", f"/_world/events?since={since}")["events"]

    sfn = world.client("stepfunctions")
    executions = {item["executionArn"]: _described(sfn, item["executionArn"]) for item in items}

    # invariants of world.run (nothing released early, each action completed once, ...), as a sanity check
    result = Result(sc, deployment=dep, victims=victims, executions=executions, events=world.events(0), min_running=0)
    check(result, classic_regs)

    per_drain = [_one_drain(x, events) for x in victims]
    statuses = Counter(x["status"] for x in executions.values())
    n = len(victims)
    round_result = {
        "drain_seconds": drain_seconds,
        "healthy_after_s": sc["health_check"]["interval_seconds"] * sc["health_check"]["healthy_threshold"],
        "drains": n,
        "wall_seconds": round(wall, 1),
        "executions": dict(statuses),
        "invariant_violations": result.violations,
        "not_completed_by_us": [d["instance_id"] for d in per_drain if d["by"] != "CompleteLifecycleAction"],
        "overhead_s": summary(d["overhead_s"] for d in per_drain),
        "event_to_completion_s": summary(d["event_to_completion_s"] for d in per_drain),
        "event_to_floor_s": summary(d["event_to_floor_s"] for d in per_drain),
        **_cost(dep, executions, events, calls, victims),
        "per_drain": per_drain,
        "typical_execution_arn": _typical_execution(executions, per_drain),
        "functions": dep.functions,  # crate -> the stack's function
    }
    log(
        f"D={drain_seconds}s: {n} drains in {wall:.1f}s; overhead {round_result['overhead_s']}; "
        f"transitions {round_result['transitions_per_drain']}; {dict(statuses)}; violations {len(result.violations)}"
    )
    return round_result


def sandbox_memory(world: World, crates: dict[str, str] | None = None) -> dict[str, Any]:
    """Peak RSS (VmHWM) of each of the world's Lambda sandboxes (one process per function) and how many
    invocations it handled, by function name or, given ``crates`` (function -> crate), by crate."""
    from bench.common import proc_status

    out = {}
    for box in world.control("GET", "/_world/lambdas")["sandboxes"]:
        if box["alive"]:
            st = proc_status(box["pid"])
            out[(crates or {}).get(box["function"], box["function"])] = {
                "vmhwm_kib": st.get("VmHWM"),
                "vmrss_kib": st.get("VmRSS"),
                "invocations": box["invocations"],
            }
    return out


if __name__ == "__main__":  # one round, for trying it out
    import sys

    from bench.common import start_world

    w = start_world(print)
    try:
        print(
            json.dumps(
                run_round(
                    w, int(sys.argv[1]) if len(sys.argv) > 1 else 5, int(sys.argv[2]) if len(sys.argv) > 2 else 3, print
                ),
                indent=1,
            )[:3000]
        )
        print(sandbox_memory(w))
    finally:
        w.stop()
