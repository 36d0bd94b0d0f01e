"""Run the real product end to end in the local AWS world.

    PYTHONPATH=tests .venv/bin/python -m world.run [--scenario FILE] [--no-build]

Builds the Lambdas (``cargo build``, debug, into target/), starts the world
(world.server, whose Lambda invocations run those binaries, see
world.lambdas), deploys what infra deploys (the five functions with infra's
environment, the state machine from statemachine/drain.asl.json with infra's
substitutions, the EventBridge rule with infra's pattern), builds the
scenario's cluster (tests/scenarios/README.md), scales in, prints each
execution state by state and the world's events as they happen until the
instances have terminated, invokes the task scaler and prints its decision.

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
4. no execution is left RUNNING, and the scenario's expectations hold.

Everything started is stopped on exit, on failure and on Ctrl-C. The same
code is the library of tests/e2e (``World``, ``run_scenario``).
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
ASL = REPO / "statemachine" / "drain.asl.json"
REGION = "us-west-2"
ACCOUNT = "123456789012"
LAMBDAS = ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle", "task-scaler"]
SWEEPER = "sweeper"  # deployed only by the drop_event action
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
    "ecs": {"task_start_seconds": 1, "task_stop_seconds": 1},
    "hook": {"heartbeat_timeout": 300, "default_result": "ABANDON"},
    "drain": {"deadline_seconds": 3000, "deadline_result": "CONTINUE", "standalone_tasks": "wait",
              "standalone_task_grace_seconds": 300},
    "timescale": 1.0,
    "seed": 0,
    "faults": {},
    "scale_in": {"count": 1, "pick": "policy"},
    "actions": [],
    "scaler": {"min_task_count": 1, "n_count": 1},
    "expect": {},
    "timeout_seconds": 120,
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
    if isinstance(source, (str, Path)):
        data = json.loads(Path(source).read_text())
    else:
        data = source
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
    return _merge(DEFAULTS, data)


# --------------------------------------------------------------------------- processes


def build(out: Callable[[str], None] = print) -> None:
    """cargo build (debug) of the Lambda binaries; a no-op when they are up to date."""
    cmd = ["cargo", "build", "--bins"] + [arg for name in LAMBDAS + [SWEEPER] for arg in ("-p", name)]
    out(f"$ {' '.join(cmd)}")
    started = time.monotonic()
    subprocess.run(cmd, cwd=REPO, check=True)
    out(f"built in {time.monotonic() - started:.1f}s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class World:
    """A world server in its own process group; the Lambdas it starts live in that group too."""

    def __init__(self, port: int | None = None, log_dir: str | None = None):
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="world-run-"))
        self.proc: subprocess.Popen[str] | None = None
        self._clients: dict[str, Any] = {}

    def start(self) -> "World":
        env = dict(os.environ, PYTHONPATH=str(TESTS), AWS_DEFAULT_REGION=REGION,
                   WORLD_LAMBDA_LOG_DIR=str(self.log_dir / "lambdas"))
        self.server_log = open(self.log_dir / "world.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "world.server", "--port", str(self.port)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self.server_log, text=True, start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != f"world ready on {self.url}":
            self.stop()
            raise RuntimeError(f"world did not start: {line!r}; see {self.log_dir / 'world.log'}")
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc, 15)
        try:  # anything the world started and left behind (its group is ours)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "World":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if not hasattr(self, "_session"):
                self._session = boto3.session.Session()  # one per world: worlds may run in parallel threads
            self._clients[service] = self._session.client(
                service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 10, "mode": "standard"}, read_timeout=120),
            )
        return self._clients[service]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def configure(self, **config: Any) -> Any:
        return self.control("POST", "/_world/config", config)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return self.control("GET", f"/_world/events?since={since}")["events"]

    def reset(self) -> None:
        self.control("POST", "/_world/reset", {})


# --------------------------------------------------------------------------- deployment


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "")  # the world runs target/debug/<function name>
    return buf.getvalue()


@dataclass
class Deployment:
    prefix: str
    cluster: str
    asg: str
    hook: str
    service: str
    machine_arn: str
    rule: str
    functions: dict[str, str]
    classic: list[str]
    target_groups: dict[str, str]  # name -> arn


def _role(world: World, name: str, principal: str) -> str:
    iam = world.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def substitutions(functions: dict[str, str], drain: dict[str, Any]) -> dict[str, str]:
    """infra's definitionSubstitutions."""
    return {
        "DrainEcsFunctionArn": functions["drain-ecs"],
        "DeregisterLbFunctionArn": functions["deregister-lb"],
        "CheckDrainedFunctionArn": functions["check-drained"],
        "CompleteLifecycleFunctionArn": functions["complete-lifecycle"],
        "DrainDeadlineSeconds": str(int(drain["deadline_seconds"])),
        "DeadlineResult": str(drain["deadline_result"]),
        "StandaloneTasks": str(drain["standalone_tasks"]),
        "StandaloneTaskGraceSeconds": str(int(drain["standalone_task_grace_seconds"])),
    }


def render_definition(subs: dict[str, str]) -> str:
    text = ASL.read_text()
    for key, value in subs.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        raise ValueError("unsubstituted placeholder left in the definition")
    return text


def event_pattern(asg_names: list[str], hook: str) -> dict[str, Any]:
    """infra's TerminateLifecycleActionRule pattern."""
    return {
        "source": ["aws.autoscaling"],
        "detail-type": [TERMINATE_DETAIL_TYPE],
        "detail": {"AutoScalingGroupName": asg_names, "LifecycleHookName": [hook]},
    }


def deploy(world: World, sc: dict[str, Any], out: Callable[[str], None] = print) -> Deployment:
    p = sc["name"]
    cluster, asg_name, hook, svc = f"{p}-cluster", f"{p}-asg", f"{p}-drain", sc["service"]["name"]
    ec2, ecs, elb, elbv2 = (world.client(s) for s in ("ec2", "ecs", "elb", "elbv2"))
    world.configure(timescale=sc["timescale"], seed=sc["seed"], ecs=sc["ecs"], faults={})

    # load balancers
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets()["Subnets"][0]
    classic_names, tgs = [], {}
    for clb in sc["load_balancers"]["classic"]:
        name = f"{p}-{clb['name']}"[:32]
        elb.create_load_balancer(LoadBalancerName=name, AvailabilityZones=[subnet["AvailabilityZone"]],
                                 Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": clb.get("port", 80)}])
        elb.modify_load_balancer_attributes(LoadBalancerName=name, LoadBalancerAttributes={
            "ConnectionDraining": {"Enabled": clb["draining_seconds"] > 0, "Timeout": max(1, int(clb["draining_seconds"]))}})
        classic_names.append(name)
    for tg in sc["load_balancers"]["target_groups"]:
        name = f"{p}-{tg['name']}"[:32]
        arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=tg["port"], VpcId=vpc,
                                        TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(int(tg["deregistration_delay"]))}])
        tgs[name] = arn

    # functions, with infra's environment
    role = _role(world, "drain-lambda", "lambda.amazonaws.com")
    envs = {
        "drain-ecs": {"ECS_CLUSTER": cluster, "MANAGED_ASG_NAMES": asg_name},
        "deregister-lb": {"ECS_CLUSTER": cluster, **({"CLASSIC_ELB_NAMES": ",".join(classic_names)} if classic_names else {}),
                          **({"TARGET_GROUP_ARNS": ",".join(tgs.values())} if tgs else {})},
        "check-drained": {}, "complete-lifecycle": {}, "task-scaler": {},
    }
    lam = world.client("lambda")
    functions = {}
    for name in LAMBDAS:
        fn_name = name if not p or p == "default" else name  # function name = binary name
        try:
            lam.delete_function(FunctionName=fn_name)
        except lam.exceptions.ResourceNotFoundException:
            pass
        kwargs = {"Environment": {"Variables": envs[name]}} if envs[name] else {}
        functions[name] = lam.create_function(
            FunctionName=fn_name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
            Code={"ZipFile": _zip()}, Timeout=60 if name != "task-scaler" else 50, MemorySize=128, **kwargs,
        )["FunctionArn"]

    # the state machine and the rule
    sfn = world.client("stepfunctions")
    definition = render_definition(substitutions(functions, sc["drain"]))
    machine = sfn.create_state_machine(name=f"{p}-drain", definition=definition, type="STANDARD",
                                       roleArn=_role(world, "drain-states", "states.amazonaws.com"))["stateMachineArn"]
    events = world.client("events")
    rule = f"{p}-terminate"
    events.put_rule(Name=rule, EventPattern=json.dumps(event_pattern([asg_name], hook)), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "drain", "Arn": machine,
                                            "RoleArn": _role(world, "drain-events", "events.amazonaws.com")}])

    # the cluster: ASG (instances register from their user data), hook, service
    ecs.create_cluster(clusterName=cluster)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
    ec2.create_launch_template(LaunchTemplateName=f"{p}-lt", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro", "UserData": base64.b64encode(user_data.encode()).decode()})
    asg_kwargs: dict[str, Any] = {}
    asg_clbs = [n for n, c in zip(classic_names, sc["load_balancers"]["classic"]) if c.get("attach") == "asg"]
    asg_tgs = [tgs[f"{p}-{t['name']}"[:32]] for t in sc["load_balancers"]["target_groups"] if t.get("attach") == "asg"]
    if asg_clbs:
        asg_kwargs["LoadBalancerNames"] = asg_clbs
    if asg_tgs:
        asg_kwargs["TargetGroupARNs"] = asg_tgs
    autoscaling = world.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=asg_name, LaunchTemplate={"LaunchTemplateName": f"{p}-lt", "Version": "$Latest"},
        MinSize=0, MaxSize=max(10, sc["instances"] + sc["unregistered_instances"]),
        DesiredCapacity=sc["instances"], VPCZoneIdentifier=subnet["SubnetId"], **asg_kwargs)
    autoscaling.put_lifecycle_hook(
        LifecycleHookName=hook, AutoScalingGroupName=asg_name, LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=int(sc["hook"]["heartbeat_timeout"]), DefaultResult=sc["hook"]["default_result"],
        NotificationMetadata=json.dumps({"cluster": cluster}, separators=(",", ":")))
    if sc["unregistered_instances"]:
        world.configure(ecs={"agent_autoregister": False})
        autoscaling.set_desired_capacity(AutoScalingGroupName=asg_name,
                                         DesiredCapacity=sc["instances"] + sc["unregistered_instances"])
        world.configure(ecs={"agent_autoregister": True})

    s = sc["service"]
    mappings = [{"containerPort": port, "hostPort": port} for port in s["host_ports"]]
    ecs.register_task_definition(family=f"{p}-{svc}", networkMode="host", containerDefinitions=[
        {"name": svc, "image": "nginx", "memory": 256, "portMappings": mappings}])
    service_lbs = []
    for name, clb in zip(classic_names, sc["load_balancers"]["classic"]):
        if clb.get("attach") == "service":
            service_lbs.append({"loadBalancerName": name, "containerName": svc, "containerPort": clb.get("port", s["host_ports"][0])})
    for tg in sc["load_balancers"]["target_groups"]:
        if tg.get("attach") == "service":
            service_lbs.append({"targetGroupArn": tgs[f"{p}-{tg['name']}"[:32]], "containerName": svc, "containerPort": tg["port"]})
    ecs.create_service(cluster=cluster, serviceName=svc, taskDefinition=f"{p}-{svc}", desiredCount=s["desired"],
                       launchType="EC2", loadBalancers=service_lbs, deploymentConfiguration={
                           "maximumPercent": s["maximum_percent"], "minimumHealthyPercent": s["minimum_healthy_percent"]})
    out(f"deployed {p}: cluster {cluster}, ASG {asg_name} ({sc['instances']} instances"
        + (f" + {sc['unregistered_instances']} not in ECS" if sc["unregistered_instances"] else "")
        + f"), hook {hook} (heartbeat {sc['hook']['heartbeat_timeout']}s), service {svc} x{s['desired']}, "
        f"Classic ELBs {classic_names or '-'}, target groups {list(tgs) or '-'}")
    return Deployment(p, cluster, asg_name, hook, svc, machine, rule, functions, classic_names, tgs)


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

    @property
    def ok(self) -> bool:
        return not self.violations

    def of_type(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == prefix or e["type"].startswith(prefix + ".")]

    def by_status(self, status: str) -> list[dict[str, Any]]:
        return [x for x in self.executions.values() if x["status"] == status]


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
        for item in sfn.list_executions(stateMachineArn=self.dep.machine_arn)["executions"]:
            arn = item["executionArn"]
            history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            done = self.seen_history.get(arn, 0)
            name = arn.rsplit(":", 1)[-1][:8]
            for ev in history[done:]:
                self._print_history(name, ev)
            self.seen_history[arn] = len(history)
            desc = sfn.describe_execution(executionArn=arn)
            desc["history"] = history
            self.executions[arn] = desc

    def _ours(self, event: dict[str, Any]) -> bool:
        d = self.dep
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
                keys = ("status", "wait_seconds", "drain_timed_out", "completed", "outcome")
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
        "arn:aws:ecs:us-west-2:123456789012:", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the run


def _running_tasks(world: World, dep: Deployment) -> list[dict[str, Any]]:
    ecs = world.client("ecs")
    arns = ecs.list_tasks(cluster=dep.cluster, serviceName=dep.service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=dep.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.25,
             tick: Callable[[], None] | None = None) -> Any:
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
    detail = {"AutoScalingGroupName": dep.asg, "LifecycleHookName": dep.hook,
              "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
              "LifecycleActionToken": "00000000-0000-0000-0000-000000000000"}
    world.client("events").put_events(Entries=[{
        "Source": "aws.autoscaling", "DetailType": TERMINATE_DETAIL_TYPE, "Detail": json.dumps(detail),
        "Resources": [f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:x:autoScalingGroupName/{dep.asg}"]}])


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

    ready = wait_for(lambda: (lambda r: r if len(r) >= min(desired, sc["instances"]) else None)(_running_tasks(world, dep)), 30,
                     f"{desired} running tasks of {dep.service}")
    out(f"service {dep.service}: {len(ready)} tasks RUNNING")
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
            _arm_sabotage(world, kind, actions[kind], out)
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
        cis = ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"] if arns else []
        in_ecs = {ci["ec2InstanceId"] for ci in cis}
        with_task = {ci["ec2InstanceId"] for ci in cis if ci["runningTasksCount"]}
        pool = {"unregistered": [i for i in before if i not in in_ecs],
                "with_task": [i for i in before if i in with_task]}[pick]
        for instance in pool[:count]:
            autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=True)
            out(f"scale in: TerminateInstanceInAutoScalingGroup {instance} ({pick})")
    if count:
        victims = wait_for(lambda: [i for i, s in _asg_instances(world, dep).items() if s.startswith("Terminating")]
                           or [i for i in before if i not in _asg_instances(world, dep)], 10, "victims")
        result.victims = sorted(victims)

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
                        stateMachineArn=dep.machine_arn, name=f"duplicate-{int(time.time() * 1000)}", input=first[0]["input"])
                    duplicated = True
                    out("delivered the same event again (EventBridge delivers at least once)")
            if drop and not swept and time.monotonic() > scaled_at + float(drop.get("after_seconds", 3)):
                states = _asg_instances(world, dep)
                if all(states.get(i) == "Terminating:Wait" for i in result.victims) \
                        or time.monotonic() > scaled_at + float(drop.get("after_seconds", 3)) + 15:
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
                expired = [e for e in obs.events if e["type"] == "asg.lifecycle.completed" and e["by"] != "CompleteLifecycleAction"]
                for arn, x in obs.executions.items():
                    if arn not in redriven and x["status"] == "FAILED" and expired:
                        world.configure(faults=sc["faults"])
                        world.client("stepfunctions").redrive_execution(executionArn=arn)
                        redriven.add(arn)
                        out(f"action expired and execution FAILED: fault cleared, RedriveExecution {arn.rsplit(':', 1)[-1][:8]}")
            if mid_drain:
                if waiting_since is None and any(h["type"] == "WaitStateEntered" for x in obs.executions.values()
                                                 for h in x["history"]):
                    waiting_since = time.monotonic()
                for action in list(mid_drain):
                    if waiting_since is not None and time.monotonic() >= waiting_since + float(action.get("after_seconds", 0.5)):
                        _mid_drain(world, dep, result, action, out)
                        mid_drain.remove(action)
            settled = obs.executions and all(x["status"] != "RUNNING" for x in obs.executions.values())
            if redrive_failed and settled and not mid_drain:
                failed = [(arn, x) for arn, x in obs.executions.items() if x["status"] == "FAILED"
                          and x.get("error") not in ("InvalidEvent",)
                          and redrive_rounds.get(arn, 0) < int(redrive_failed.get("max_rounds", 3))]
                if failed:
                    result.calls = result.calls or world.control("GET", "/_world/calls")
                    world.configure(faults={})
                    for arn, x in failed:
                        world.client("stepfunctions").redrive_execution(executionArn=arn)
                        redrive_rounds[arn] = redrive_rounds.get(arn, 0) + 1
                        result.redrives += 1
                        x["status"] = "RUNNING"  # until the next poll says otherwise
                        out(f"execution {arn.rsplit(':', 1)[-1][:8]} FAILED ({x.get('error')}): fault cleared, RedriveExecution")
                    settled = False
            terminated = {e["instance_id"] for e in obs.events if e["type"] == "asg.instance.terminated"}
            waiting_redrive = (expire and not redriven) or bool(mid_drain)
            if set(result.victims) <= terminated and settled and not waiting_redrive:
                break
            if settled and not waiting_redrive:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 5:  # e.g. a FAILED drain: its action waits for its timeout
                    break
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                result.violations.append(f"timed out after {sc['timeout_seconds']}s: terminated {sorted(terminated)} of "
                                         f"{result.victims}; executions {[x['status'] for x in obs.executions.values()]}")
                break
            time.sleep(0.3)
        if "malformed_event" in actions:  # its execution may settle after the others
            wait_for(lambda: len(obs.executions) >= 1 + len(result.victims) and all(
                x["status"] != "RUNNING" for x in obs.executions.values()), 20, "the malformed event's execution",
                tick=obs.poll)
    finally:
        if (sc["faults"] or expire) and "keep_faults" not in actions:
            world.configure(faults={})
    # the drains' API calls (those until the first redrive, when a redrive cleared the faults)
    result.calls = result.calls or world.control("GET", "/_world/calls")

    # the scaler
    payload = {"cluster_name": dep.cluster, "service_name": dep.service,
               "min_task_count": sc["scaler"]["min_task_count"], "n_count": sc["scaler"]["n_count"]}
    resp = world.client("lambda").invoke(FunctionName="task-scaler", Payload=json.dumps(payload))
    body = json.loads(resp["Payload"].read() or b"null")
    result.scaler = {"error": resp.get("FunctionError"), "payload": body}
    out(f"task-scaler {json.dumps(payload)} -> {'ERROR ' if resp.get('FunctionError') else ''}{json.dumps(body)}")
    if resp.get("FunctionError"):
        result.violations.append(f"task-scaler failed: {body}")
    time.sleep(0.5)
    obs.poll()

    result.events = obs.events
    result.executions = obs.executions
    check(result, classic_regs)
    check_expectations(result)
    result.wall_seconds = time.monotonic() - started
    return result


MID_DRAIN_ACTIONS = ("terminate_instance", "deregister_container_instance", "delete_load_balancers", "delete_hook")


def _arm_sabotage(world: World, kind: str, action: dict[str, Any], out: Callable[[str], None]) -> None:
    """kill_lambda / hang_lambda: the world fails the function's process during its next call of ``api``."""
    for call in action.get("calls") or [{"function": action.get("function", "deregister-lb"),
                                         "api": action.get("api", "elbv2:DeregisterTargets")}]:
        function, api = call["function"], call["api"]
        if kind == "hang_lambda" and action.get("function_timeout"):
            world.client("lambda").update_function_configuration(FunctionName=function, Timeout=int(action["function_timeout"]))
            out(f"function {function}: Timeout {action['function_timeout']}s")
        body = {"function": function, "api": api, "do": "kill" if kind == "kill_lambda" else "hang",
                "seconds": float(action.get("seconds", 0))}
        world.control("POST", "/_world/lambdas/sabotage", body)
        what = "killed (SIGKILL)" if kind == "kill_lambda" else f"held {body['seconds']:.0f}s"
        out(f"armed: {function} {what} on its next {api} during an invocation")


def _mid_drain(world: World, dep: Deployment, result: Result, action: dict[str, Any], out: Callable[[str], None]) -> None:
    """Something outside the drain changes the world while the drain waits (MID_DRAIN_ACTIONS)."""
    kind = action["type"]
    victims = result.victims[: int(action.get("count", len(result.victims)))]
    if kind == "terminate_instance":
        world.client("ec2").terminate_instances(InstanceIds=victims)
        out(f"mid-drain: EC2 TerminateInstances {victims} (someone else)")
    elif kind == "deregister_container_instance":
        ecs = world.client("ecs")
        for instance in victims:
            arns = ecs.list_container_instances(cluster=dep.cluster, filter=f"ec2InstanceId=={instance}")["containerInstanceArns"]
            for arn in arns:
                ecs.deregister_container_instance(cluster=dep.cluster, containerInstance=arn, force=bool(action.get("force", True)))
                out(f"mid-drain: ECS DeregisterContainerInstance {instance} (force={bool(action.get('force', True))})")
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


def sweeper_environment(dep: Deployment) -> dict[str, str]:
    """infra's environment of the sweeper."""
    return {"STATE_MACHINE_ARN": dep.machine_arn, "MANAGED_ASG_NAMES": dep.asg,
            "LIFECYCLE_HOOK_NAME": dep.hook, "ECS_CLUSTER": dep.cluster}


def _sweep(world: World, dep: Deployment, out: Callable[[str], None]) -> Any:
    """Invoke the sweeper (if the workspace has it), which starts drains for lost events; its report,
    or {"error": ..., "payload": ...} when the invocation failed."""
    binary = REPO / "target" / "debug" / SWEEPER
    if not binary.exists():
        out("no sweeper binary: the lost event stays lost")
        return None
    lam = world.client("lambda")
    env = sweeper_environment(dep)
    try:
        current = lam.get_function_configuration(FunctionName=SWEEPER).get("Environment", {}).get("Variables", {})
        if current != env:
            lam.update_function_configuration(FunctionName=SWEEPER, Environment={"Variables": env})
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(FunctionName=SWEEPER, Runtime="provided.al2023", Role=_role(world, "drain-lambda", "lambda.amazonaws.com"),
                            Handler="bootstrap", Code={"ZipFile": _zip()}, Timeout=60, Environment={"Variables": env})
    resp = lam.invoke(FunctionName=SWEEPER, Payload=b"{}")
    text = resp["Payload"].read().decode()
    out(f"sweeper -> {resp.get('FunctionError') or ''}{text[:300]}")
    try:
        body = json.loads(text or "null")
    except ValueError:
        body = text
    return {"error": resp["FunctionError"], "payload": body} if resp.get("FunctionError") else body


# --------------------------------------------------------------------------- invariants


def check(result: Result, classic_regs: set[tuple[str, str]]) -> None:
    events, dep, v = result.events, result.deployment, result.violations
    assert dep is not None
    service_lbs = [c for c in result.scenario["load_balancers"]["classic"] if c.get("attach") == "service"]
    service_classic = [n for n, c in zip(dep.classic, result.scenario["load_balancers"]["classic"]) if c.get("attach") == "service"]
    del service_lbs

    # 1. nothing terminates while running a task or registered/draining in a load balancer
    task_instance: dict[str, str] = {}
    for e in events:
        if e["type"] == "asg.instance.terminated":
            x, seq = e["instance_id"], e["seq"]
            released_by = [c for c in events if c["type"] == "asg.lifecycle.completed" and c["instance_id"] == x and c["seq"] < seq]
            release = max((c["seq"] for c in released_by), default=seq)
            if released_by and released_by[-1]["by"] == "DeleteLifecycleHook":
                continue  # released by whoever deleted the hook, not by us
            if any(b["type"] == "ecs.container_instance.inactive" and b["instance_id"] == x and b["seq"] < release for b in events):
                continue  # terminated through EC2 by someone else before the release
            before = [b for b in events if b["seq"] < release]
            deleted_tgs = {b["target_group"] for b in before if b["type"] == "elbv2.target_group.deleted"}
            deleted_clbs = {b["load_balancer"] for b in before if b["type"] == "elb.load_balancer.deleted"}
            placed = {b["task_arn"] for b in before if b["type"] in ("ecs.task.pending", "ecs.task.running")
                      and b.get("instance_id") == x}
            stopped = {b["task_arn"] for b in before if b["type"] == "ecs.task.stopped"}
            # orphaned by someone's forced deregistration: ECS no longer manages it and took it
            # out of its load balancers (their registrations are judged below)
            stopped |= {b["task_arn"] for b in before if b["type"] == "ecs.task.orphaned"}
            for task in sorted(placed - stopped):
                v.append(f"{x} released (event {release}) while task {task.rsplit('/', 1)[-1]} on it was not STOPPED")
            tg_regs = {(b["target_group"], b["id"], b["port"]) for b in before if b["type"] == "elbv2.target.registered" and b["id"] == x}
            tg_unused = {(b["target_group"], b["id"], b["port"]) for b in before if b["type"] == "elbv2.target.unused" and b["id"] == x}
            for tg, _, port in sorted(r for r in tg_regs - tg_unused if r[0] not in deleted_tgs):
                v.append(f"{x} released while registered or draining in target group {tg.rsplit('/', 2)[-2]} port {port}")
            clb_regs = {n for n, i in classic_regs if i == x}
            clb_regs |= {n for b in before if b["type"] == "ecs.task.running" and b.get("instance_id") == x for n in service_classic}
            clb_out = {b["load_balancer"] for b in before if b["type"] == "elb.instance.out_of_service" and b["instance_id"] == x}
            clb_out |= deleted_clbs
            for name in sorted(clb_regs - clb_out):
                v.append(f"{x} released while registered or draining in Classic ELB {name}")
        if e["type"] in ("ecs.task.pending", "ecs.task.running"):
            task_instance[e["task_arn"]] = e.get("instance_id")

    # 2. each lifecycle action completed exactly once (by us), or its execution visibly FAILED
    tokens = {e["token"]: e for e in events if e["type"] == "asg.lifecycle.wait"}
    failed_tokens: set[str] = set()
    executions_of: dict[str, list[dict[str, Any]]] = {}
    # the sweeper's executions carry no token (no API returns it): they belong to the action their
    # instance is waiting on
    waiting_token = {e["instance_id"]: e["token"] for e in events if e["type"] == "asg.lifecycle.wait"}
    for x in result.executions.values():
        try:
            detail = json.loads(x["input"]).get("detail", {})
            token = detail.get("LifecycleActionToken") or waiting_token.get(detail.get("EC2InstanceId"))
        except (ValueError, AttributeError):
            token = None
        executions_of.setdefault(token, []).append(x)
        if any(h["type"] == "ExecutionFailed" for h in x["history"]):
            failed_tokens.add(token)
    for token, wait in tokens.items():
        done = [e for e in events if e["type"] == "asg.lifecycle.completed" and e["token"] == token]
        ours = [e for e in done if e["by"] == "CompleteLifecycleAction"]
        if len(done) > 1 or (not done and token not in failed_tokens):
            v.append(f"lifecycle action of {wait['instance_id']} completed {len(done)} times")
        elif not ours and token not in failed_tokens and done[0]["by"] != "DeleteLifecycleHook":
            v.append(f"lifecycle action of {wait['instance_id']} ended by {done[0]['by']} without a FAILED execution")
        if not executions_of.get(token) and token not in failed_tokens:
            v.append(f"no execution for the lifecycle action of {wait['instance_id']}")
    unknown = [e for e in events if e["type"] == "asg.lifecycle.completed" and e["token"] not in tokens]
    v.extend(f"completed an unknown lifecycle action {e['token']}" for e in unknown)

    # 3. the service's RUNNING tasks never below its minimum (from the moment it was up)
    running: set[str] = set()
    up = False
    minimum = result.min_running or 0
    for e in events:
        if e.get("service") != dep.service or e.get("cluster") != dep.cluster:
            continue
        if e["type"] == "ecs.task.running":
            running.add(e["task_arn"])
        elif e["type"] in ("ecs.task.stopping", "ecs.task.stopped"):
            running.discard(e["task_arn"])
        if len(running) >= minimum:
            up = True
        elif up:
            v.append(f"service {dep.service} down to {len(running)} healthy RUNNING tasks (minimum {minimum}) at event {e['seq']}")
            up = False

    # 4. nothing left running
    for arn, x in result.executions.items():
        if x["status"] == "RUNNING":
            v.append(f"execution {arn.rsplit(':', 1)[-1]} still RUNNING")


def check_expectations(result: Result) -> None:
    """The scenario's "expect": {"executions": {"SUCCEEDED": 2}, "failed_errors": ["InvalidEvent"], ...}."""
    expect = result.scenario.get("expect") or {}
    v = result.violations
    for status, count in (expect.get("executions") or {}).items():
        got = len(result.by_status(status))
        if got != count:
            v.append(f"expected {count} {status} executions, got {got}")
    if "failed_errors" in expect:
        got = sorted(x.get("error") for x in result.by_status("FAILED"))
        if got != sorted(expect["failed_errors"]):
            v.append(f"expected FAILED errors {expect['failed_errors']}, got {got}")
    if "terminated" in expect:
        got = len({e["instance_id"] for e in result.events if e["type"] == "asg.instance.terminated"})
        if got != expect["terminated"]:
            v.append(f"expected {expect['terminated']} instances terminated, got {got}")
    if "completed_by_us" in expect:
        got = len([e for e in result.events if e["type"] == "asg.lifecycle.completed" and e["by"] == "CompleteLifecycleAction"])
        if got != expect["completed_by_us"]:
            v.append(f"expected {expect['completed_by_us']} CompleteLifecycleAction, got {got}")


def report(result: Result, out: Callable[[str], None] = print) -> None:
    out("")
    for arn, x in result.executions.items():
        extra = f" redriveCount={x.get('redriveCount')}" if x.get("redriveCount") else ""
        err = f" {x.get('error')}" if x.get("error") else ""
        out(f"execution {arn.rsplit(':', 1)[-1]}: {x['status']}{err}{extra}")
    if result.ok:
        out(f"OK: invariants held ({result.wall_seconds:.1f}s)")
    else:
        out(f"FAILED: {len(result.violations)} invariant(s) broken ({result.wall_seconds:.1f}s)")
        for violation in result.violations:
            out(f"  - {violation}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", help="scenario JSON (default tests/scenarios/default.json)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries in target/debug as they are")
    parser.add_argument("--port", type=int, help="the world's port (default: a free one)")
    args = parser.parse_args(argv)
    out = lambda line: print(line, flush=True)  # noqa: E731
    scenario = load_scenario(args.scenario)
    if not args.no_build:
        build(out)
    world = World(args.port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        world.start()
        out(f"world on {world.url} (logs: {world.log_dir})")
        result = run_scenario(world, scenario, out)
        report(result, out)
        return 0 if result.ok else 1
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
