"""Run the real product end to end in the local AWS world.

    PYTHONPATH=tests .venv/bin/python -m world.run [--scenario FILE] [--no-build]

Builds the Lambdas (``cargo build``, debug, into target/), starts the world
(world.server, whose Lambda invocations run those binaries, see
world.lambdas), builds the scenario's cluster (tests/scenarios/README.md) and
deploys infra's standalone template (``make template``) on it through the
world's CloudFormation, the scenario's settings as its parameters (world.stack:
the hook, the rules, the functions and their environments, the state machine,
the schedules and the alarms are the stack's), scales in, prints each
execution state by state and the world's events as they happen until the
instances have terminated, runs the task scaler as its schedule does and prints
its decision.

Exit status 0 only if the invariants held, judged from the world's event log
and APIs (never from the Lambdas' logs):

1. no instance terminates while a task on it is RUNNING (or stopping), or
   while it is registered or draining in any Classic ELB or target group
   (a deleted load balancer or target group ends its registrations; a task
   orphaned by a forced deregistration is judged by its registrations); an
   instance released by someone else (deleting the hook) or terminated
   through EC2 before its release is not ours to judge;
2. every lifecycle action is completed exactly once, by CompleteLifecycleAction,
   unless an execution for it visibly FAILED (then its expiry is the
   completion) or the hook was deleted (DeleteLifecycleHook completes it);
   nothing is completed for an event we cannot identify (an execution the
   sweeper started carries no token: it belongs to its instance's action);
3. the service never has fewer RUNNING tasks than its minimum;
4. no execution is left RUNNING, and the scenario's expectations hold;
5. serving capacity (world.capacity): in each load balancer of the service,
   the healthy serving registrations (healthy / InService, not registering,
   not draining) never drop below ceil(minimumHealthyPercent x desired count)
   because of a drain; a scenario may state a lower bound that applies only
   once a drain visibly reached its deadline (``expect.min_serving_after_deadline``).

An instance released at its drain deadline (its execution took the deadline
path) is not judged by 1. when the scenario expects it (``expect.drain_timed_out``);
what it still ran is reported as a note. The summary prints the fewest healthy
serving registrations per load balancer while the drains ran.

Everything started is stopped on exit, on failure and on Ctrl-C. The same
code is the library of tests/e2e (``World``, ``run_scenario``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from world import capacity, run_actions, teardown_actions
from world import stack as stack_mod
from world.deploy import Deployment, deploy
from world.invariants import check, check_expectations

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
ASL = REPO / "statemachine" / "drain.asl.json"
REGION = "us-west-2"
ACCOUNT = "123456789012"
LAMBDAS = ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle", "task-scaler"]
SWEEPER = "sweeper"
TERMINATE_DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"

DEFAULTS: dict[str, Any] = {
    "name": "default",
    "description": "",
    "instances": 3,
    "unregistered_instances": 0,
    "service": {
        "name": "web",
        "desired": 2,
        "container_port": 8080,
        "host_ports": [8080],
        "minimum_healthy_percent": 100,
        "maximum_percent": 200,
    },
    "load_balancers": {
        "classic": [{"name": "web-clb", "draining_seconds": 5, "attach": "service", "port": 8080}],
        "target_groups": [{"name": "web-tg", "port": 8080, "deregistration_delay": 5, "attach": "service"}],
    },
    # every load balancer's health check unless it has its own "health_check" (short: scenarios run at
    # timescale 1.0; AWS's minimums are 5 s and 2, tests/world/README.md)
    "health_check": {"interval_seconds": 2, "timeout_seconds": 1, "healthy_threshold": 2, "unhealthy_threshold": 2},
    "failing_instances": {"pick": "none", "count": 1},
    "standalone_tasks": {"count": 0, "run_seconds": None},
    "ecs": {"task_start_seconds": 1, "task_stop_seconds": 1},
    # infra's default heartbeat timeout (600 s: twice the sweeper's 5-minute period, which doctor checks)
    "hook": {"heartbeat_timeout": 600, "default_result": "ABANDON"},
    "drain": {
        "deadline_seconds": 3000,
        "deadline_result": "CONTINUE",
        "standalone_tasks": "wait",
        "standalone_task_grace_seconds": 300,
    },
    "timescale": 1.0,
    "seed": 0,
    "faults": {},
    # the world's EventBridge delivery: delay, duplicates, drops, failed attempts (tests/world/README.md)
    "eventbridge": {},
    # PutWarmPool of the group: {"min_size", "max_group_prepared_capacity", "pool_state", "reuse_on_scale_in"}
    "warm_pool": None,
    # infra's spotInterruptionHandling: the rule that starts a drain on a Spot interruption warning
    "spot_interruption_handling": False,
    "scale_in": {"count": 1, "pick": "policy"},
    "actions": [],
    "scaler": {"min_task_count": 1, "n_count": 1},
    "expect": {},
    "timeout_seconds": 120,
    # the world's API rate limits (world.rate_limits): {"enabled", "scale", "buckets"}; on, at AWS's figures, by default
    "limits": {},
    # the world's Lambda: {"concurrency"} (world.lambda_runtime; default 1000, Lambda's default quota)
    "lambda": {},
    # false: run by `make reliability` only, not by tests/e2e (a size CI cannot afford; tests/scenarios/README.md)
    "e2e": True,
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("faults", "expect"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_scenario(source: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    if source is None:
        source = TESTS / "scenarios" / "default.json"
    data = json.loads(Path(source).read_text()) if isinstance(source, (str, Path)) else source
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
    return _merge(DEFAULTS, data)


# --------------------------------------------------------------------------- processes


def build(out: Callable[[str], None] = print) -> None:
    """cargo build (debug) of the Lambda binaries; a no-op when they are up to date."""
    cmd = ["cargo", "build", "--bins"] + [arg for name in [*LAMBDAS, SWEEPER] for arg in ("-p", name)]
    out(f"$ {' '.join(cmd)}")
    started = time.monotonic()
    subprocess.run(cmd, cwd=REPO, check=True)
    out(f"built in {time.monotonic() - started:.1f}s")


class World:
    """A world server in its own process group; the Lambdas it starts live in that group too."""

    def __init__(self, port: int | None = None, log_dir: str | None = None):
        self.port = port or 0  # 0: the server binds a free port and reports it when ready
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="world-run-"))
        self.proc: subprocess.Popen[str] | None = None
        self._clients: dict[str, Any] = {}

    def start(self) -> World:
        env = dict(
            os.environ,
            PYTHONPATH=str(TESTS),
            AWS_DEFAULT_REGION=REGION,
            WORLD_LAMBDA_LOG_DIR=str(self.log_dir / "lambdas"),
        )
        self.server_log = open(self.log_dir / "world.log", "w")  # noqa: SIM115 (open while the world runs)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "world.server", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.server_log,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        ready = "world ready on "
        if not line.startswith(ready) or (self.port and line != ready + self.url):
            self.stop()
            raise RuntimeError(f"world did not start: {line!r}; see {self.log_dir / 'world.log'}")
        self.url = line.removeprefix(ready)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc, 15)
        # anything the world started and left behind (its group is ours)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def client(self, service: str, validate: bool = True) -> Any:
        """A boto3 client of the world; ``validate=False`` skips botocore's parameter checks (values below
        AWS's minimums, such as the scenarios' short health checks)."""
        key = service if validate else f"{service}/lax"
        if key not in self._clients:
            if not hasattr(self, "_session"):
                self._session = boto3.session.Session()  # one per world: worlds may run in parallel threads
            self._clients[key] = self._session.client(
                service,
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                # user_agent_extra: the world's harness observes without taking the account's API tokens
                config=Config(
                    retries={"max_attempts": 10, "mode": "standard"},
                    read_timeout=120,
                    parameter_validation=validate,
                    user_agent_extra="world-harness",
                ),
            )
        return self._clients[key]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def configure(self, **config: Any) -> Any:
        return self.control("POST", "/_world/config", config)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return self.control("GET", f"/_world/events?since={since}")["events"]

    def reset(self) -> None:
        self.control("POST", "/_world/reset", {})


# --------------------------------------------------------------------------- observing


@dataclass
class Result:
    scenario: dict[str, Any]
    deployment: Deployment | None = None
    victims: list[str] = field(default_factory=list)
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)  # arn -> describe + history
    events: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    scaler: Any = None
    min_running: int | None = None
    wall_seconds: float = 0.0
    calls: dict[str, Any] = field(default_factory=dict)  # /_world/calls from the scale-in to the settling
    redrives: int = 0
    sweeps: list[Any] = field(default_factory=list)  # the sweeper's reports (drop_event), in order
    serving: list[capacity.Serving] = field(default_factory=list)  # per load balancer of the service
    notes: list[str] = field(default_factory=list)  # what the scenario expected and the run did (not violations)
    limits: dict[str, Any] = field(
        default_factory=dict
    )  # GET /_world/limits: calls per API per second from the scale-in
    lambdas: dict[str, Any] = field(default_factory=dict)  # GET /_world/lambdas: peak concurrency, throttled invokes

    @property
    def ok(self) -> bool:
        return not self.violations

    def of_type(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == prefix or e["type"].startswith(prefix + ".")]

    def by_status(self, status: str) -> list[dict[str, Any]]:
        return [x for x in self.executions.values() if x["status"] == status]


RUNNING_PER_POLL = 10  # RUNNING executions whose history one poll reads (a fleet has hundreds)


class Observer:
    """Polls the world's event log and the executions' histories, printing as it goes."""

    def __init__(self, world: World, dep: Deployment, out: Callable[[str], None], since: int):
        self.world, self.dep, self.out = world, dep, out
        self.since = since
        self.events: list[dict[str, Any]] = []
        self.seen_history: dict[str, int] = {}
        self.executions: dict[str, dict[str, Any]] = {}
        self.t0 = time.monotonic()
        self.our_instances: set[str] = set()
        # lifecycle events of the group's other terminate hooks: not ours to judge (run_actions.SecondHook)
        self.other_hooks: list[dict[str, Any]] = []
        self._turn = 0  # where the next poll's turn of RUNNING executions starts

    def _t(self) -> str:
        return f"[{time.monotonic() - self.t0:6.1f}s]"

    def poll(self) -> None:
        new = self.world.events(self.since)
        if new:
            self.since = new[-1]["seq"]
        for event in new:
            if self._ours(event):
                self.events.append(event)
                self._print_event(event)
        sfn = self.world.client("stepfunctions")
        items = [
            i
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.dep.machine_arn)
            for i in page["executions"]
        ]
        # new and newly closed executions every time; of those known to be RUNNING, RUNNING_PER_POLL in turn:
        # the harness must not be the load that slows a fleet's drains down (moto serves one request at a time)
        running = [i for i in items if i["status"] == "RUNNING" and i["executionArn"] in self.executions]
        if len(running) > RUNNING_PER_POLL:
            start = self._turn % len(running)
            turn = {i["executionArn"] for i in (running + running)[start : start + RUNNING_PER_POLL]}
            self._turn = start + RUNNING_PER_POLL
            skipped = {i["executionArn"] for i in running} - turn
            items = [i for i in items if i["executionArn"] not in skipped]
        for item in items:
            arn = item["executionArn"]
            seen = self.executions.get(arn)
            stamp = (item["status"], item.get("stopDate"), item.get("redriveCount"))
            if seen is not None and item["status"] != "RUNNING" and seen.get("_stamp") == stamp:
                continue  # closed and unchanged since the last poll (a fleet has hundreds)
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            done = self.seen_history.get(arn, 0)
            name = arn.rsplit(":", 1)[-1][:8]
            for ev in history[done:]:
                self._print_history(name, ev)
            self.seen_history[arn] = len(history)
            desc = sfn.describe_execution(executionArn=arn)
            desc["history"] = history
            desc["_stamp"] = stamp
            self.executions[arn] = desc

    def _ours(self, event: dict[str, Any]) -> bool:
        d = self.dep
        if event["type"].startswith("asg.lifecycle.") and event.get("asg") == d.asg and event.get("hook") != d.hook:
            self.other_hooks.append(event)
            self._print_event(event)
            return False
        if event.get("asg") == d.asg or event.get("cluster") == d.cluster:
            if event.get("instance_id"):
                self.our_instances.add(event["instance_id"])
            return True
        if event.get("load_balancer") in d.classic or event.get("target_group") in d.target_groups.values():
            return True
        if event["type"].startswith(("eventbridge.", "stepfunctions.", "lambda.sandbox", "fault.")):
            return True
        return event.get("instance_id") in self.our_instances

    def _print_event(self, e: dict[str, Any]) -> None:
        t = e["type"]
        if t.startswith(("fault.", "lambda.")) or t == "eventbridge.event":
            return
        skip = {"seq", "t", "elapsed", "type", "cluster", "asg", "token", "detail", "container_instance", "source"}
        fields = " ".join(f"{k}={_short(v)}" for k, v in e.items() if k not in skip and v is not None)
        self.out(f"{self._t()} world  {t:34} {fields}")

    def _print_history(self, name: str, ev: dict[str, Any]) -> None:
        t = ev["type"]
        detail = ""
        if t.endswith("StateEntered"):
            detail = ev["stateEnteredEventDetails"]["name"]
        elif t in ("TaskFailed", "ExecutionFailed", "LambdaFunctionFailed"):
            d = ev.get("taskFailedEventDetails") or ev.get("executionFailedEventDetails") or {}
            detail = f"{d.get('error')}: {_short(d.get('cause'), 160)}"
        elif t == "TaskSucceeded":
            out = json.loads(ev["taskSucceededEventDetails"].get("output") or "{}").get("Payload", {})
            if isinstance(out, dict):
                keys = ("status", "wait_seconds", "completed", "outcome")
                detail = " ".join(f"{k}={_short(out[k])}" for k in keys if k in out)
        elif t == "ExecutionRedriven":
            detail = f"redriveCount={ev['executionRedrivenEventDetails']['redriveCount']}"
        elif t == "WaitStateEntered":
            detail = ev["stateEnteredEventDetails"]["name"]
        elif t not in ("ExecutionStarted", "ExecutionSucceeded"):
            return
        self.out(f"{self._t()} {name} {t:34} {detail}")


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("arn:aws:elasticloadbalancing:us-west-2:123456789012:", "").replace(
        "arn:aws:ecs:us-west-2:123456789012:", ""
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the run


def _running_tasks(world: World, dep: Deployment) -> list[dict[str, Any]]:
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=dep.cluster, serviceName=dep.service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=dep.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.25, tick: Callable[[], None] | None = None
) -> Any:
    """The first true value of ``predicate`` (asked every ``every`` s, after ``tick``);
    TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if tick:
            tick()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, ``grace`` s to exit, then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _asg_instances(world: World, dep: Deployment) -> dict[str, str]:
    found = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}


def _put_malformed_event(world: World, dep: Deployment) -> None:
    """An event our rule matches but without the instance id (what a broken or foreign sender sends)."""
    detail = {
        "AutoScalingGroupName": dep.asg,
        "LifecycleHookName": dep.hook,
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "LifecycleActionToken": "00000000-0000-0000-0000-000000000000",
    }
    world.client("events").put_events(
        Entries=[
            {
                "Source": "aws.autoscaling",
                "DetailType": TERMINATE_DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "Resources": [
                    f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:x:autoScalingGroupName/{dep.asg}"
                ],
            }
        ]
    )


def _lb_health(world: World, dep: Deployment) -> dict[str, dict[str, str]]:
    """instance id -> {load balancer (target group:port): initial / healthy / unhealthy / draining}."""
    found: dict[str, dict[str, str]] = {}
    for name in dep.classic:
        for h in world.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"]:
            state = (
                "healthy" if h["State"] == "InService" else "unhealthy" if h["ReasonCode"] == "Instance" else "initial"
            )
            found.setdefault(h["InstanceId"], {})[name] = state
    for name, arn in dep.target_groups.items():
        for h in world.client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
            found.setdefault(h["Target"]["Id"], {})[f"{name}:{h['Target']['Port']}"] = h["TargetHealth"]["State"]
    return found


def _prepare(world: World, dep: Deployment, sc: dict[str, Any], out: Callable[[str], None]) -> dict[str, list[str]]:
    """Before the scale-in: no registration still in its initial health checks (a steady service), then
    the scenario's failing instances (unhealthy in every load balancer they are in) and standalone
    tasks. The instances ``scale_in.pick`` can name: {"failing": [...], "with_standalone": [...]}."""
    wait_for(
        lambda: all(state != "initial" for lbs in _lb_health(world, dep).values() for state in lbs.values()),
        90,
        "every load-balancer registration through its initial health checks",
        every=0.5,
    )
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=dep.cluster)["containerInstanceArns"]
    cis = (
        ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"]
        if arns
        else []
    )
    ec2_of = {ci["containerInstanceArn"]: ci["ec2InstanceId"] for ci in cis}
    hosts = list(dict.fromkeys(t["containerInstanceArn"] for t in _running_tasks(world, dep)))
    busy = [ec2_of[arn] for arn in hosts if arn in ec2_of]
    picked: dict[str, list[str]] = {"failing": [], "with_standalone": []}

    failing = sc["failing_instances"]
    if failing["pick"] != "none":
        pool = {"spare": [i for i in ec2_of.values() if i not in busy], "with_task": busy}[failing["pick"]]
        ids = sorted(pool)[: int(failing["count"])]
        world.configure(health={"failing_instances": ids})
        out(f"health checks fail from now on for {ids} ({failing['pick']})")
        wait_for(
            lambda: all(state == "unhealthy" for i in ids for state in _lb_health(world, dep).get(i, {}).values()),
            60,
            "the failing instances unhealthy",
            every=0.5,
        )
        picked["failing"] = ids

    standalone = sc["standalone_tasks"]
    if int(standalone["count"]):
        world.configure(ecs={"standalone_task_seconds": standalone["run_seconds"]})
        family = f"{dep.prefix}-batch"
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "batch", "image": "busybox", "memory": 64}]
        )
        for arn in hosts[: int(standalone["count"])]:
            ecs.start_task(cluster=dep.cluster, taskDefinition=family, containerInstances=[arn], startedBy="scenario")
            picked["with_standalone"].append(ec2_of[arn])
        ends = (
            f"exits after {standalone['run_seconds']}s"
            if standalone["run_seconds"] is not None
            else "runs until stopped"
        )
        out(f"standalone task {family} on {picked['with_standalone']} ({ends})")
    return picked


def run_scenario(world: World, source: Any = None, out: Callable[[str], None] = print) -> Result:
    """Deploy, scale in, watch, check. The world must be running (and is reset first)."""
    sc = load_scenario(source)
    result = Result(sc)
    started = time.monotonic()
    world.reset()
    dep = deploy(world, sc, out)
    result.deployment = dep
    actions = {a["type"]: a for a in sc["actions"]}
    desired = sc["service"]["desired"]

    ready = wait_for(
        lambda: (lambda r: r if len(r) >= min(desired, sc["instances"]) else None)(_running_tasks(world, dep)),
        30,
        f"{desired} running tasks of {dep.service}",
    )
    out(f"service {dep.service}: {len(ready)} tasks RUNNING")
    prepared = _prepare(world, dep, sc, out)
    obs = Observer(world, dep, out, 0)
    obs.poll()  # everything so far (registrations, placements), printed
    result.min_running = int(sc["scaler"]["min_task_count"])

    # load-balancer registrations before the scale-in (Classic ELB registrations have no event)
    classic_regs: set[tuple[str, str]] = set()
    for name in dep.classic:
        for h in world.client("elb").describe_instance_health(LoadBalancerName=name)["InstanceStates"]:
            classic_regs.add((name, h["InstanceId"]))

    if sc["faults"]:
        world.configure(faults=sc["faults"], seed=sc["seed"])
        out(f"faults on: {json.dumps(sc['faults'])}")
    expire = actions.get("expire_then_redrive")
    if expire:
        world.configure(faults={**sc["faults"], "autoscaling:CompleteLifecycleAction": {"unavailable": 1.0}})
        out("fault on: autoscaling:CompleteLifecycleAction always unavailable (the action will expire first)")
    if "drop_event" in actions:
        world.client("events").disable_rule(Name=dep.rule)
        out(f"rule {dep.rule} disabled: the lifecycle events are lost")
    for kind in ("kill_lambda", "hang_lambda"):
        if kind in actions:
            _arm_sabotage(world, dep, kind, actions[kind], out)
    journey = run_actions.start(run_actions.Context(world, dep, sc, result, obs, out, lambda: _sweep(world, dep, out)))
    for action_ in journey:
        action_.before_scale_in()
    world.control("POST", "/_world/calls/reset", {})

    # scale in
    autoscaling = world.client("autoscaling")
    count = int(sc["scale_in"]["count"])
    pick = sc["scale_in"].get("pick", "policy")
    before = _asg_instances(world, dep)
    if count == 0:
        out("no scale-in")
    elif pick == "policy":
        autoscaling.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=len(before) - count)
        out(f"scale in: {dep.asg} desired {len(before)} -> {len(before) - count}")
    else:
        ecs = world.client("ecs")
        arns = ecs.list_container_instances(cluster=dep.cluster)["containerInstanceArns"]
        cis = (
            ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"]
            if arns
            else []
        )
        in_ecs = {ci["ec2InstanceId"] for ci in cis}
        with_task = {ci["ec2InstanceId"] for ci in cis if ci["runningTasksCount"]}
        pool = {
            "unregistered": [i for i in before if i not in in_ecs],
            "with_task": [i for i in before if i in with_task],
            **prepared,
        }[pick]
        for instance in pool[:count]:
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=instance, ShouldDecrementDesiredCapacity=True
            )
            out(f"scale in: TerminateInstanceInAutoScalingGroup {instance} ({pick})")
    if count:
        victims = wait_for(
            lambda: (
                [i for i, s in _asg_instances(world, dep).items() if s.startswith("Terminating")]
                or [i for i in before if i not in _asg_instances(world, dep)]
            ),
            10,
            "victims",
        )
        result.victims = sorted(victims)
    for action_ in journey:  # Spot warnings, instance refresh: they take instances out themselves
        result.victims = sorted(set(result.victims) | set(action_.scale_in() or []))

    if "malformed_event" in actions:
        _put_malformed_event(world, dep)
        out("sent a malformed lifecycle event (no EC2InstanceId)")

    scaled_at = time.monotonic()
    drop = actions.get("drop_event")
    swept = False
    duplicated = False
    quiet_since: float | None = None
    redriven: set[str] = set()
    mid_drain = [a for a in sc["actions"] if a["type"] in MID_DRAIN_ACTIONS]
    waiting_since: float | None = None
    redrive_failed = actions.get("redrive_failed")
    redrive_rounds: dict[str, int] = {}
    deadline = time.monotonic() + float(sc["timeout_seconds"])
    try:
        while True:
            obs.poll()
            # actions that react to what happens
            if "duplicate_event" in actions and not duplicated:
                first = [x for x in obs.executions.values() if TERMINATE_DETAIL_TYPE in x["input"]]
                if first:
                    world.client("stepfunctions").start_execution(
                        stateMachineArn=dep.machine_arn,
                        name=f"duplicate-{int(time.time() * 1000)}",
                        input=first[0]["input"],
                    )
                    duplicated = True
                    out("delivered the same event again (EventBridge delivers at least once)")
            if drop and not swept and _sweep_due(world, dep, sc, drop, obs, result, scaled_at):
                world.client("events").enable_rule(Name=dep.rule)
                out(f"rule {dep.rule} enabled again")
                for _ in range(int(drop.get("sweeps", 1))):
                    report_ = _sweep(world, dep, out)
                    if report_ is not None:
                        result.sweeps.append(report_)
                        if isinstance(report_, dict) and "error" in report_:
                            result.violations.append(f"the sweeper failed: {report_}")
                swept = True
            if expire:
                expired = [
                    e
                    for e in obs.events
                    if e["type"] == "asg.lifecycle.completed" and e["by"] != "CompleteLifecycleAction"
                ]
                for arn, x in obs.executions.items():
                    if arn not in redriven and x["status"] == "FAILED" and expired:
                        world.configure(faults=sc["faults"])
                        world.client("stepfunctions").redrive_execution(executionArn=arn)
                        redriven.add(arn)
                        out(
                            f"action expired and execution FAILED: fault cleared, RedriveExecution {arn.rsplit(':', 1)[-1][:8]}"
                        )
            if mid_drain:
                if waiting_since is None and any(
                    h["type"] == "WaitStateEntered" for x in obs.executions.values() for h in x["history"]
                ):
                    waiting_since = time.monotonic()
                for action in list(mid_drain):
                    if waiting_since is not None and time.monotonic() >= waiting_since + float(
                        action.get("after_seconds", 0.5)
                    ):
                        _mid_drain(world, dep, result, action, out)
                        mid_drain.remove(action)
            settled = obs.executions and all(x["status"] != "RUNNING" for x in obs.executions.values())
            if redrive_failed and settled and not mid_drain:
                failed = [
                    (arn, x)
                    for arn, x in obs.executions.items()
                    if x["status"] == "FAILED"
                    and x.get("error") not in ("InvalidEvent",)
                    and redrive_rounds.get(arn, 0) < int(redrive_failed.get("max_rounds", 3))
                ]
                if failed:
                    result.calls = result.calls or world.control("GET", "/_world/calls")
                    world.configure(faults={})
                    for arn, x in failed:
                        world.client("stepfunctions").redrive_execution(executionArn=arn)
                        redrive_rounds[arn] = redrive_rounds.get(arn, 0) + 1
                        result.redrives += 1
                        x["status"] = "RUNNING"  # until the next poll says otherwise
                        out(
                            f"execution {arn.rsplit(':', 1)[-1][:8]} FAILED ({x.get('error')}): fault cleared, RedriveExecution"
                        )
                    settled = False
            for action_ in journey:
                action_.tick()
            terminated = {e["instance_id"] for e in obs.events if e["type"] == "asg.instance.terminated"}
            waiting_redrive = (
                (expire and not redriven)
                or bool(mid_drain)
                or any(a.busy for a in journey)
                or run_actions.deliveries_pending(obs.events) > 0
                or bool(drop and not swept)
            )
            if set(result.victims) <= terminated and settled and not waiting_redrive:
                break
            if settled and not waiting_redrive:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 5:  # e.g. a FAILED drain: its action waits for its timeout
                    break
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                result.violations.append(
                    f"timed out after {sc['timeout_seconds']}s: terminated {sorted(terminated)} of "
                    f"{result.victims}; executions {[x['status'] for x in obs.executions.values()]}"
                )
                break
            # a fleet's drains take minutes: the harness polls less often rather than slow the world down
            time.sleep(0.3 if len(obs.executions) <= RUNNING_PER_POLL else 2.0)
        if "malformed_event" in actions:  # its execution may settle after the others
            wait_for(
                lambda: (
                    len(obs.executions) >= 1 + len(result.victims)
                    and all(x["status"] != "RUNNING" for x in obs.executions.values())
                ),
                20,
                "the malformed event's execution",
                tick=obs.poll,
            )
        for action_ in journey:
            action_.finish()
    finally:
        if (sc["faults"] or expire) and "keep_faults" not in actions:
            world.configure(faults={})
    # the drains' API calls (those until the first redrive, when a redrive cleared the faults)
    result.calls = result.calls or world.control("GET", "/_world/calls")
    # calls per API per second against the world's rate limits, and the functions' concurrency
    result.limits = world.control("GET", "/_world/limits")
    result.lambdas = {k: v for k, v in world.control("GET", "/_world/lambdas").items() if k != "sandboxes"}

    # the scaler, as its schedule runs it (not when the scenario deleted the cluster: nothing is left to scale)
    if "delete_cluster" in actions:
        out(f"task-scaler not invoked: cluster {dep.cluster} deleted")
    else:
        [schedule] = dep.stack.schedules["task-scaler"]
        error, body = stack_mod.run_schedule(world, schedule)
        result.scaler = {"error": error, "payload": body}
        out(f"task-scaler (schedule {schedule}) -> {'ERROR ' if error else ''}{json.dumps(body)}")
        if "delete_asg" in actions:  # the schedule's input names the group: its run fails, naming it
            named = isinstance(body, dict) and body.get("errorType") == "ResourceNotFound" and dep.asg in str(body)
            if not named:
                result.violations.append(f"task-scaler with its group {dep.asg} deleted: {body}, not ResourceNotFound")
        elif error:
            result.violations.append(f"task-scaler failed: {body}")
    time.sleep(0.5)
    obs.poll()

    result.events = obs.events
    result.executions = obs.executions
    check(result, classic_regs)
    check_expectations(result)
    result.wall_seconds = time.monotonic() - started
    return result


MID_DRAIN_ACTIONS = (
    "terminate_instance",
    "deregister_container_instance",
    "delete_load_balancers",
    "delete_hook",
    "scale_out",
    "delete_asg",
    "delete_cluster",
    "disconnect_agent",
)


def _arm_sabotage(world: World, dep: Deployment, kind: str, action: dict[str, Any], out: Callable[[str], None]) -> None:
    """kill_lambda / hang_lambda: the world fails the process of the stack's function of the crate
    ``function`` during its next call of ``api``."""
    for call in action.get("calls") or [
        {"function": action.get("function", "deregister-lb"), "api": action.get("api", "elbv2:DeregisterTargets")}
    ]:
        function, api = dep.functions[call["function"]], call["api"]
        if kind == "hang_lambda" and action.get("function_timeout"):
            world.client("lambda").update_function_configuration(
                FunctionName=function, Timeout=int(action["function_timeout"])
            )
            out(f"function {function}: Timeout {action['function_timeout']}s")
        body = {
            "function": function,
            "api": api,
            "do": "kill" if kind == "kill_lambda" else "hang",
            "seconds": float(action.get("seconds", 0)),
        }
        world.control("POST", "/_world/lambdas/sabotage", body)
        what = "killed (SIGKILL)" if kind == "kill_lambda" else f"held {body['seconds']:.0f}s"
        out(f"armed: {function} {what} on its next {api} during an invocation")


def _mid_drain(
    world: World, dep: Deployment, result: Result, action: dict[str, Any], out: Callable[[str], None]
) -> None:
    """Something outside the drain changes the world while the drain waits (MID_DRAIN_ACTIONS)."""
    kind = action["type"]
    victims = result.victims[: int(action.get("count", len(result.victims)))]
    if kind in teardown_actions.KINDS:
        teardown_actions.act(world, dep, victims, action, out)
    elif kind == "terminate_instance":
        if action.get("agent_dead"):  # the instance dies with its agent cut off: ECS deregisters nothing
            teardown_actions.disconnect(world, victims, out)
        world.client("ec2").terminate_instances(InstanceIds=victims)
        out(f"mid-drain: EC2 TerminateInstances {victims} (someone else)")
    elif kind == "deregister_container_instance":
        ecs = world.client("ecs")
        for instance in victims:
            arns = ecs.list_container_instances(cluster=dep.cluster, filter=f"ec2InstanceId=={instance}")[
                "containerInstanceArns"
            ]
            for arn in arns:
                ecs.deregister_container_instance(
                    cluster=dep.cluster, containerInstance=arn, force=bool(action.get("force", True))
                )
                out(f"mid-drain: ECS DeregisterContainerInstance {instance} (force={bool(action.get('force', True))})")
    elif kind == "scale_out":
        asg = world.client("autoscaling")
        desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])["AutoScalingGroups"][0][
            "DesiredCapacity"
        ]
        more = int(action.get("instances", 1))
        asg.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=desired + more)
        out(f"mid-drain: scale out {dep.asg} desired {desired} -> {desired + more}")
    elif kind == "delete_load_balancers":
        for name in dep.classic:
            world.client("elb").delete_load_balancer(LoadBalancerName=name)
            out(f"mid-drain: Classic ELB {name} deleted")
        for name, arn in dep.target_groups.items():
            world.client("elbv2").delete_target_group(TargetGroupArn=arn)
            out(f"mid-drain: target group {name} deleted")
    elif kind == "delete_hook":
        world.client("autoscaling").delete_lifecycle_hook(AutoScalingGroupName=dep.asg, LifecycleHookName=dep.hook)
        out(f"mid-drain: lifecycle hook {dep.hook} deleted")


def _sweep_due(
    world: World,
    dep: Deployment,
    sc: dict[str, Any],
    drop: dict[str, Any],
    obs: Observer,
    result: Result,
    scaled_at: float,
) -> bool:
    """When drop_event sweeps: ``sweep_lag_seconds`` (AWS seconds, scaled) or
    ``sweep_lag_heartbeat_fraction`` (of the hook's heartbeat timeout) after the last victim's
    Terminating:Wait began, as a scheduled sweeper finds it that late; else ``after_seconds``
    (default 3) after the scale-in, once the victims wait (at most 15 s more)."""
    lag = drop.get("sweep_lag_seconds")
    if drop.get("sweep_lag_heartbeat_fraction") is not None:
        lag = float(drop["sweep_lag_heartbeat_fraction"]) * float(sc["hook"]["heartbeat_timeout"])
    if lag is not None:
        waits = {e["instance_id"]: e["t"] for e in obs.events if e["type"] == "asg.lifecycle.wait"}
        if not result.victims or not all(v in waits for v in result.victims):
            return False
        return time.time() >= max(waits[v] for v in result.victims) + float(lag) * float(sc["timescale"])
    after = float(drop.get("after_seconds", 3))
    if time.monotonic() <= scaled_at + after:
        return False
    states = _asg_instances(world, dep)
    return all(states.get(i) == "Terminating:Wait" for i in result.victims) or time.monotonic() > scaled_at + after + 15


def _sweep(world: World, dep: Deployment, out: Callable[[str], None]) -> Any:
    """Run the stack's sweeper as its schedule does, which starts drains for lost events; its report,
    or {"error": ..., "payload": ...} when the invocation failed."""
    [schedule] = dep.stack.schedules["sweeper"]
    error, body = stack_mod.run_schedule(world, schedule)
    out(f"sweeper (schedule {schedule}) -> {error or ''}{json.dumps(body)[:300]}")
    return {"error": error, "payload": body} if error else body


def report(result: Result, out: Callable[[str], None] = print) -> None:
    out("")
    for arn, x in result.executions.items():
        extra = f" redriveCount={x.get('redriveCount')}" if x.get("redriveCount") else ""
        err = f" {x.get('error')}" if x.get("error") else ""
        out(f"execution {arn.rsplit(':', 1)[-1]}: {x['status']}{err}{extra}")
    if result.serving:
        out("fewest healthy serving registrations during the drains: " + ", ".join(str(s) for s in result.serving))
    remain = {e["target_group"] for e in result.events if e["type"] == "elbv2.target.connections_remain"}
    for arn in sorted(remain):
        out(
            f"NLB target group {arn.split('/')[-2]}: connection termination off, connections may outlive the deregistration delay"
        )
    for note in result.notes:
        out(f"note: {note}")
    if result.ok:
        out(f"OK: invariants held ({result.wall_seconds:.1f}s)")
    else:
        out(f"FAILED: {len(result.violations)} invariant(s) broken ({result.wall_seconds:.1f}s)")
        for violation in result.violations:
            out(f"  - {violation}")


def doctor_command(dep: Deployment) -> list[str]:
    """The `ecs-sta doctor` arguments for the deployment the scenario built: its stack, whose
    sweeper schedule gives the sweep period."""
    return [
        "doctor",
        "--cluster",
        dep.cluster,
        "--asg",
        dep.asg,
        "--service",
        dep.service,
        "--stack",
        dep.stack.name,
    ]


def run_doctor(world: World, result: Result, out: Callable[[str], None]) -> bool:
    """`ecs-sta doctor` against the world after the scale-in, printed. Its verdict is judged only when the
    scenario says what to expect (``expect.doctor``: ``"ok"`` or ``"fail"``); false when that did not hold."""
    if result.deployment is None:
        return True
    binary = REPO / "target" / "debug" / "ecs-sta"
    args = doctor_command(result.deployment)
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=world.url,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    env.pop("ECS_STA_STACK", None)
    env.pop("ECS_STA_STATE_MACHINE_ARN", None)
    out("")
    out(f"$ ecs-sta {' '.join(args)}")
    if not binary.exists():
        out(f"(not run: {binary} is not built)")
        return True
    proc = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120)
    for line in (proc.stdout + proc.stderr).rstrip().splitlines():
        out(line)
    expected = result.scenario.get("expect", {}).get("doctor")
    if expected is None:
        return True
    held = (proc.returncode == 0) == (expected == "ok")
    out(f"doctor: expected {expected}, exit code {proc.returncode}" + ("" if held else ": NOT AS EXPECTED"))
    return held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", help="scenario JSON (default tests/scenarios/default.json)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries in target/debug as they are")
    parser.add_argument("--port", type=int, help="the world's port (default: a free one)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the scenario, leave the world running, print the exports that point ecs-sta at "
        "it, and stop everything on Ctrl-C (SIGINT or SIGTERM)",
    )
    args = parser.parse_args(argv)
    out = lambda line: print(line, flush=True)  # noqa: E731
    scenario = load_scenario(args.scenario)
    if not args.no_build:
        build(out)
        subprocess.run(["cargo", "build", "-p", "ecs-sta"], cwd=REPO, check=True)  # for the doctor run
    world = World(args.port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        world.start()
        out(f"world on {world.url} (logs: {world.log_dir})")
        result = run_scenario(world, scenario, out)
        report(result, out)
        doctor_held = run_doctor(world, result, out)
        if args.keep and result.deployment is not None:
            import shlex

            # Block the two stop signals first, so that one arriving after the exports are printed is the one
            # sigwait returns (no handler runs, no sleep loop polls).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            exports = {
                "AWS_ENDPOINT_URL": world.url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "ECS_STA_STACK": result.deployment.stack.name,
            }
            out("")
            out("The world keeps running. Point ecs-sta at it (in another shell):")
            out("")
            for name, value in exports.items():
                out(f"export {name}={shlex.quote(value)}")
            out("")
            out("then: target/debug/ecs-sta executions; target/debug/ecs-sta show NAME; target/debug/ecs-sta replay")
            out("Ctrl-C stops the world and everything it started.")
            received = signal.sigwait({signal.SIGINT, signal.SIGTERM})
            out(f"{signal.Signals(received).name}: stopping the world")
        return 0 if result.ok and doctor_held else 1
    except KeyboardInterrupt:
        out("interrupted")
        return 130
    except Exception as err:
        out(f"FAILED: {type(err).__name__}: {err} (logs: {world.log_dir})")
        return 1
    finally:
        world.stop()


if __name__ == "__main__":
    sys.exit(main())
