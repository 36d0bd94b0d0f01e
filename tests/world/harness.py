"""The harness's side of the local AWS world: the world server as a process (``World``), its
clients and control endpoint, the build of the functions, and the few questions every run asks
(the service's RUNNING tasks, the group's instances, the load balancers' health). world.run and
tests/e2e use it; the world's own behaviour lives in the modules the server installs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from world.deploy import Deployment

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
ASL = REPO / "statemachine" / "drain.asl.json"
REGION = "us-west-2"
ACCOUNT = "123456789012"
LAMBDAS = ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle", "task-scaler"]
SWEEPER = "sweeper"


def build(out: Callable[[str], None] = print) -> None:
    """cargo build (debug) of the Lambda binaries and ecs-sta, the Makefile's BINS (the same package
    set, so the same build); a no-op when they are up to date."""
    cmd = ["cargo", "build", "--bins"] + [arg for name in [*LAMBDAS, SWEEPER, "ecs-sta"] for arg in ("-p", name)]
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
            [sys.executable, "-m", "world.emulator.server", "--port", str(self.port)],
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

    def exports(self) -> dict[str, str]:
        """The environment that points an AWS SDK (ecs-sta, the AWS CLI) at this world."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }


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


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """An execution's whole history, oldest first: every page of GetExecutionHistory (the world
    pages it as AWS does, at most 1000 events a page)."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 1000})
    return [event for page in pages for event in page["events"]]


def running_tasks(world: World, dep: Deployment) -> list[dict[str, Any]]:
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=dep.cluster, serviceName=dep.service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=dep.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def asg_instances(world: World, dep: Deployment) -> dict[str, str]:
    found = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}


def lb_health(world: World, dep: Deployment) -> dict[str, dict[str, str]]:
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


def wait_steady(world: World, dep: Deployment, timeout: float = 90) -> None:
    """Until no load-balancer registration is still in its initial health checks: a steady service,
    as a fleet is before a scale-in (a task not yet healthy does not count for minimumHealthyPercent,
    so ECS would stop it at once without waiting for its replacement)."""
    wait_for(
        lambda: all(state != "initial" for lbs in lb_health(world, dep).values() for state in lbs.values()),
        timeout,
        "every load-balancer registration through its initial health checks",
        every=0.5,
    )


def ecs_sta(
    binary: Path, exports: dict[str, str], *args: str, timeout: float = 120, out: Callable[[str], None] = print
) -> subprocess.CompletedProcess[str]:
    """Runs ecs-sta as an operator's shell would, with ``exports`` as its only AWS_ and ECS_STA_
    environment; prints the command, its output and its exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECS_STA_"))}
    env.update(exports)
    out(f"$ ecs-sta {' '.join(args)}")
    proc = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=timeout)
    for line in (proc.stdout + proc.stderr).rstrip().splitlines():
        out(line)
    out(f"(exit code {proc.returncode})")
    return proc
