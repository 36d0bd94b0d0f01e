"""Deploying infra's template into the world, as a CloudFormation-only user deploys it.

``make template`` writes the standalone template (infra/dist/...) generated from the
same construct the CDK app uses. Its README's way to deploy it is: upload each
function's package to ``s3://<CodeBucket>/<CodeKeyPrefix><function>.zip``, then
``aws cloudformation deploy`` (CreateStack) with the parameters. Here the packages are
launchers of the host builds (``world.emulator.lambda_runtime.launcher``: the template's
functions are arm64; the world runs the same crates built for this machine), and the
stack is created through the world's CloudFormation API, whose missing resource types
the world adds (world.emulator.stack_resources, world.emulator.cloudformation).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from world.emulator.lambda_runtime import launcher

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "dist" / "ecs-single-task-autoscaling.template.json"
FUNCTIONS = ("drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle", "task-scaler", "sweeper")
CODE_BUCKET = "ecs-sta-code"
CODE_PREFIX = "ecs-single-task-autoscaling/"


@dataclass
class Stack:
    name: str
    status: str
    resources: dict[str, dict[str, str]]  # logical id -> {"type", "id"}
    functions: dict[str, str]  # crate -> physical name of the function that runs it

    schedules: dict[str, list[str]]  # crate -> names of the schedules that run its function

    def of_type(self, kind: str) -> dict[str, str]:
        """Logical id -> physical id of the resources of one type."""
        return {k: r["id"] for k, r in self.resources.items() if r["type"] == kind}

    def one(self, kind: str, named: str = "") -> str:
        """The physical id of the one resource of ``kind`` whose logical id contains ``named``."""
        [physical] = [v for k, v in self.of_type(kind).items() if named in k]
        return physical

    @property
    def machine(self) -> str:
        return self.one("AWS::StepFunctions::StateMachine")

    @property
    def terminate_rule(self) -> str:
        return self.one("AWS::Events::Rule", "TerminateLifecycleActionRule")

    @property
    def hook(self) -> str:
        return self.one("AWS::AutoScaling::LifecycleHook")


def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        raise FileNotFoundError(f"{TEMPLATE} is missing: run 'make template' first")
    return json.loads(TEMPLATE.read_text())


def publish_code(world: Any, bin_dir: Path) -> None:
    """The functions' packages at the keys the template's ``Code`` names."""
    s3 = world.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for crate in FUNCTIONS:
        binary = bin_dir / crate
        if not binary.exists():
            raise FileNotFoundError(f"{binary} is missing: cargo build --bins first")
        s3.put_object(Bucket=CODE_BUCKET, Key=f"{CODE_PREFIX}{crate}.zip", Body=launcher(binary))


def parameters(**values: Any) -> list[dict[str, str]]:
    """CloudFormation parameters from keyword arguments (lists joined with commas)."""
    out = []
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        out.append({"ParameterKey": key, "ParameterValue": str(value)})
    return out


def deploy(world: Any, name: str, params: list[dict[str, str]], timeout: float = 120) -> Stack:
    """CreateStack with the template and the code bucket; the stack once it has settled.
    A stack that does not reach CREATE_COMPLETE raises with its failed events."""
    cfn = world.client("cloudformation")
    params = [*params, *parameters(CodeBucket=CODE_BUCKET, CodeKeyPrefix=CODE_PREFIX)]
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template()),
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + timeout
    while (status := cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]).endswith("IN_PROGRESS"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"stack {name} still {status} after {timeout:.0f}s")
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        failed = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
            if e["ResourceStatus"].endswith("FAILED")
        ]
        raise RuntimeError(f"stack {name} is {status}: {'; '.join(failed) or 'no failed resource named'}")
    return described(world, name)


def described(world: Any, name: str) -> Stack:
    cfn = world.client("cloudformation")
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    resources = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            resources[r["LogicalResourceId"]] = {"type": r["ResourceType"], "id": r["PhysicalResourceId"]}
    crates = _crates(template())
    functions = {crates[k]: r["id"] for k, r in resources.items() if k in crates}
    by_name = {physical: crate for crate, physical in functions.items()}
    scheduler = world.client("scheduler")
    schedules: dict[str, list[str]] = {}
    for r in resources.values():
        if r["type"] == "AWS::Scheduler::Schedule":
            target = scheduler.get_schedule(Name=r["id"])["Target"]["Arn"].rsplit(":", 1)[-1]
            schedules.setdefault(by_name[target], []).append(r["id"])
    return Stack(name, status, resources, functions, schedules)


def run_schedule(world: Any, name: str) -> tuple[str | None, Any]:
    """What EventBridge Scheduler does when the schedule ``name`` fires: invoke its target with its
    ``Input``, with the schedule's role (the world does not fire schedules on its own; the harness
    says when: world.emulator.scheduler). The function's error type and its answer; a role that may
    not invoke the function is an error of its own, ``AccessDenied``, with the reason."""
    answer = world.control("POST", "/_world/scheduler/run", {"name": name})
    if "refused" in answer:
        return "AccessDenied", answer["refused"]
    return answer["error"], answer["body"]


def run_schedule_told(
    world: Any, function: str, name: str, out: Callable[[str], None], width: int | None = None
) -> tuple[str | None, Any]:
    """``run_schedule``, with what the schedule's ``function`` answered told to ``out`` (its first
    ``width`` characters)."""
    error, body = run_schedule(world, name)
    text = json.dumps(body)
    out(f"{function} (schedule {name}) -> {'ERROR ' if error else ''}{text[:width] if width else text}")
    return error, body


def _crates(body: dict[str, Any]) -> dict[str, str]:
    """Logical id of each function -> the crate its ``Code.S3Key`` names (``<prefix><crate>.zip``)."""
    out = {}
    for logical, resource in body["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        key = json.dumps(resource["Properties"]["Code"]["S3Key"])
        [crate] = [c for c in FUNCTIONS if f'"{c}.zip"' in key]
        out[logical] = crate
    return out
