"""Run THE PREDECESSOR'S polling design (functions.py, COMPARISON ONLY) in the local world.

Time-compressed, and said so everywhere it is reported: the world runs at timescale `s`
(every AWS duration it waits out lasts s times as long) and the predecessor's
"rate(1 minute)" schedules fire every 60*s real seconds. Latencies are measured in world
seconds and divided by s to give AWS seconds. (The time the functions' own API calls take
is not compressed, so it is inflated by 1/s in the AWS-seconds figures: a bias against the
predecessor of at most a few tenths of a second at s = 0.1.)

* The cluster is the one our drain benchmark uses, with only the Classic ELB (the
  predecessor knew one `elb_name`). Our EventBridge rule is disabled.
* Each function runs on its own rate(1 minute) schedule with an independent random phase
  (three schedules created at different moments), as a plain call in this process with
  boto3 clients pointed at the world. Invocations never overlap per function.
* The hook's SQS notification: the world emits the lifecycle event to EventBridge only, so
  a delivery thread here copies each `asg.lifecycle.wait` of the group into the lifecycle
  queue within ~0.05 s, in the shape Auto Scaling sends to SQS.
* The instances are terminated one by one at uniformly random moments over one period, so
  the lifecycle events fall at random phases of the schedules.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from world.deploy import Deployment, deploy
from world.harness import running_tasks
from world.scenario import load_scenario

from bench.common import World, last_seq, summary, wait_for

PERIOD_AWS_S = 60.0
SECONDS_PER_MONTH = 30 * 24 * 3600


def idle_month() -> dict[str, Any]:
    """Invocations in a 30-day month without a single scale-in: arithmetic from each schedule."""
    per_minute = SECONDS_PER_MONTH // 60
    predecessor = {
        "drain_instances (rate 1 min)": per_minute,
        "check_drained (rate 1 min)": per_minute,
        "scale_tasks (rate 1 min)": per_minute,
    }
    ours = {
        "task-scaler (rate 1 min)": per_minute,
        "sweeper (rate 5 min)": SECONDS_PER_MONTH // 300,
        "drain-ecs, deregister-lb, check-drained, complete-lifecycle (on events only)": 0,
    }
    p, o = sum(predecessor.values()), sum(ours.values())
    p_drain = predecessor["drain_instances (rate 1 min)"] + predecessor["check_drained (rate 1 min)"]
    o_drain = ours["sweeper (rate 5 min)"]
    return {
        "month": "30 days",
        "predecessor": predecessor,
        "predecessor_total": p,
        "ours": ours,
        "ours_total": o,
        "ratio_total": round(p / o, 2),
        "predecessor_drain_path": p_drain,
        "ours_drain_path": o_drain,
        "ratio_drain_path": round(p_drain / o_drain, 2),
        "step_functions_transitions_idle": 0,
    }


def _load_functions(world: World, env: dict[str, str]) -> Any:
    os.environ.update(env)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": world.url,
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    import bench.predecessor.functions as functions

    return importlib.reload(functions)  # clients for this world, created at import as the predecessor did


def _scenario(drain_seconds: int, count: int, timescale: float) -> dict[str, Any]:
    """The round's cluster: our drain benchmark's, with only the Classic ELB."""
    return load_scenario(
        {
            "name": f"pred{drain_seconds}",
            "instances": 2 * count,
            "service": {"name": "web", "desired": count},
            "load_balancers": {
                "classic": [{"name": "web-clb", "draining_seconds": drain_seconds, "attach": "service", "port": 8080}],
                "target_groups": [],
            },
            "ecs": {"task_start_seconds": 1, "task_stop_seconds": 1},
            "timescale": timescale,
            "hook": {"heartbeat_timeout": 300, "default_result": "ABANDON"},
        }
    )


@dataclass
class _Setup:
    """The predecessor deployed in a fresh world: its queues, its hook, its functions and the
    instances that run a task (the round's victims)."""

    dep: Deployment
    sqs: Any
    q_life: str
    fns: Any
    victims: list[str]


def _set_up(world: World, sc: dict[str, Any], count: int, timescale: float) -> _Setup:
    """A fresh world with the round's cluster, our rule disabled; the predecessor's two queues, its hook
    notifying the lifecycle queue, and its functions pointed at them."""
    world.reset()
    dep = deploy(world, sc, out=lambda _l: None)
    world.client("events").disable_rule(Name=dep.rule)
    wait_for(lambda: len(running_tasks(world, dep)) >= count, 60, f"{count} running tasks", every=0.5)
    sqs = world.client("sqs")
    q_life = sqs.create_queue(
        QueueName=f"{dep.prefix}-lifecycle", Attributes={"VisibilityTimeout": str(max(1, round(30 * timescale)))}
    )["QueueUrl"]
    q_drain = sqs.create_queue(
        QueueName=f"{dep.prefix}-draining", Attributes={"VisibilityTimeout": str(max(1, round(30 * timescale)))}
    )["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q_life, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.client("autoscaling").put_lifecycle_hook(
        LifecycleHookName=dep.hook,
        AutoScalingGroupName=dep.asg,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult="ABANDON",
        NotificationTargetARN=q_arn,
        RoleARN=f"arn:aws:iam::123456789012:role/{dep.prefix}-hook",
    )
    fns = _load_functions(
        world,
        {
            "ECS_CLUSTER": dep.cluster,
            "ELB_NAME": dep.classic[0],
            "LIFECYCLE_QUEUE_URL": q_life,
            "DRAINING_QUEUE_URL": q_drain,
        },
    )
    tasks = running_tasks(world, dep)
    ecs = world.client("ecs")
    cis = ecs.describe_container_instances(
        cluster=dep.cluster, containerInstances=sorted({t["containerInstanceArn"] for t in tasks})
    )["containerInstances"]
    victims = sorted(ci["ec2InstanceId"] for ci in cis)
    return _Setup(dep, sqs, q_life, fns, victims)


def _deliver(world: World, setup: _Setup, since: int, stop: threading.Event) -> None:
    """The hook's SQS notification: each ``asg.lifecycle.wait`` of the group copied into the lifecycle
    queue, in the shape Auto Scaling sends to SQS, until ``stop``."""
    dep = setup.dep
    seen = since
    while not stop.is_set():
        for e in world.control("GET", f"/_world/events?since={seen}&type=asg.lifecycle.wait")["events"]:
            seen = max(seen, e["seq"])
            if e.get("asg") != dep.asg:
                continue
            setup.sqs.send_message(
                QueueUrl=setup.q_life,
                MessageBody=json.dumps(
                    {
                        "Origin": "AutoScalingGroup",
                        "LifecycleHookName": e["hook"],
                        "Destination": "EC2",
                        "AccountId": "123456789012",
                        "RequestId": str(e["seq"]),
                        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                        "AutoScalingGroupName": e["asg"],
                        "Service": "AWS Auto Scaling",
                        "Time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["t"])),
                        "EC2InstanceId": e["instance_id"],
                        "LifecycleActionToken": e["token"],
                        "NotificationMetadata": json.dumps({"cluster": dep.cluster}),
                    }
                ),
            )
        stop.wait(0.05)


@dataclass
class _Schedules:
    """The three functions' rate(1 minute) schedules: one period (real seconds), what stops them, and
    what they did (invocations per function, errors)."""

    period: float
    stop: threading.Event = field(default_factory=threading.Event)
    invocations: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[Any, Any], Any], event: Any, phase: float) -> None:
        """One function on its schedule: every period from ``phase`` on, never overlapping, until stopped."""
        t0 = time.monotonic() + phase
        k = 0
        while not self.stop.is_set():
            due = t0 + k * self.period
            if self.stop.wait(max(0.0, due - time.monotonic())):
                return
            self.invocations[name] = self.invocations.get(name, 0) + 1
            try:
                fn(event, None)
            except Exception as err:
                self.errors.append(f"{name}: {type(err).__name__}: {err}"[:300])
            k += 1


def _drain_on_schedules(
    world: World, setup: _Setup, count: int, schedules: _Schedules, rng: random.Random, wait_seconds: float
) -> int:
    """The delivery thread and the three schedules (each with its random phase) running, the victims
    terminated at random moments over one period; returns once every victim's action completed (the
    event log's seq before it all began)."""
    dep, victims, period = setup.dep, setup.victims, schedules.period
    since = last_seq(world)
    threads = [threading.Thread(target=_deliver, args=(world, setup, since, schedules.stop), daemon=True)]
    scaler_input = {"cluster_name": dep.cluster, "service_name": dep.service, "min_task_count": count, "n_count": 1}
    for name, fn, event in (
        ("drain_instances", setup.fns.drain_instances, {}),
        ("check_drained", setup.fns.check_drained, {}),
        ("scale_tasks", setup.fns.scale_tasks, scaler_input),
    ):
        threads.append(
            threading.Thread(target=schedules.run, args=(name, fn, event, rng.uniform(0, period)), daemon=True)
        )
    for t in threads:
        t.start()
    started = time.monotonic()
    try:
        offsets = sorted(rng.uniform(0, period) for _ in victims)
        autoscaling = world.client("autoscaling")
        for instance, offset in zip(victims, offsets):
            time.sleep(max(0.0, started + offset - time.monotonic()))
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=instance, ShouldDecrementDesiredCapacity=True
            )

        def settled() -> Any:
            evs = world.control("GET", f"/_world/events?since={since}")["events"]
            done = {e["instance_id"] for e in evs if e["type"] == "asg.lifecycle.completed"}
            return evs if set(victims) <= done else None

        wait_for(settled, wait_seconds, f"{len(victims)} predecessor drains", every=0.5)
    finally:
        schedules.stop.set()
        for t in threads:
            t.join(timeout=30)
    return since


def _per_drain(events: list[dict[str, Any]], victims: list[str], timescale: float) -> list[dict[str, Any]]:
    """Each drain from the world's event log, in AWS seconds: event to completion, and whether the
    instance was released before its Classic ELB drained and before its task stopped."""
    per_drain = []
    for x in victims:
        mine = [e for e in events if e.get("instance_id") == x]
        wait_ev = next(e for e in mine if e["type"] == "asg.lifecycle.wait")
        done_ev = next(e for e in mine if e["type"] == "asg.lifecycle.completed")
        lb_out = [e["t"] for e in mine if e["type"] == "elb.instance.out_of_service"]
        stopped = [e["t"] for e in mine if e["type"] == "ecs.task.stopped"]
        floor = max(lb_out + stopped) if lb_out + stopped else None
        per_drain.append(
            {
                "instance_id": x,
                "by": done_ev["by"],
                "event_to_completion_aws_s": round((done_ev["t"] - wait_ev["t"]) / timescale, 2),
                "elb_drained_before_completion": bool(lb_out) and min(lb_out) <= done_ev["t"],
                "task_stopped_before_completion": bool(stopped) and min(stopped) <= done_ev["t"],
                "completion_minus_floor_aws_s": round((done_ev["t"] - floor) / timescale, 2) if floor else None,
            }
        )
    return per_drain


def run_round(
    world: World, drain_seconds: int, count: int, timescale: float, log: Callable[[str], None], seed: int = 1
) -> dict[str, Any]:
    rng = random.Random(seed + drain_seconds)
    period = PERIOD_AWS_S * timescale
    setup = _set_up(world, _scenario(drain_seconds, count, timescale), count, timescale)
    schedules = _Schedules(period)
    since = _drain_on_schedules(world, setup, count, schedules, rng, 6 * period + drain_seconds * timescale + 60)
    events = world.control("GET", f"/_world/events?since={since}")["events"]
    per_drain = _per_drain(events, setup.victims, timescale)
    n = len(per_drain)
    invocations, errors = schedules.invocations, schedules.errors
    out = {
        "drain_seconds": drain_seconds,
        "drains": n,
        "timescale": timescale,
        "poll_period_real_s": round(period, 3),
        "poll_period_aws_s": PERIOD_AWS_S,
        "event_to_completion_aws_s": summary(d["event_to_completion_aws_s"] for d in per_drain),
        "completed_by": {b: sum(1 for d in per_drain if d["by"] == b) for b in {d["by"] for d in per_drain}},
        "released_before_elb_drained": sum(1 for d in per_drain if not d["elb_drained_before_completion"]),
        "released_before_task_stopped": sum(1 for d in per_drain if not d["task_stopped_before_completion"]),
        "invocations": invocations,
        "errors": errors[:10],
        "errors_total": len(errors),
        "per_drain": per_drain,
    }
    log(
        f"predecessor D={drain_seconds}s (timescale {timescale}): event->completion {out['event_to_completion_aws_s']} "
        f"AWS s; released before the ELB drained: {out['released_before_elb_drained']}/{n}; "
        f"before the task stopped: {out['released_before_task_stopped']}/{n}; errors {len(errors)}"
    )
    return out


if __name__ == "__main__":
    import sys

    from bench.common import start_world

    w = start_world(print)
    try:
        r = run_round(
            w, int(sys.argv[1]) if len(sys.argv) > 1 else 5, int(sys.argv[2]) if len(sys.argv) > 2 else 3, 0.1, print
        )
        print(json.dumps({k: v for k, v in r.items() if k != "per_drain"}, indent=1))
        print(json.dumps(r["per_drain"], indent=1))
    finally:
        w.stop()
