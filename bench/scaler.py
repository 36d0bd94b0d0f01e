"""Figure 3: the task scaler at scale (100, 1,000, 5,000 container instances).

Setup: one cluster, grown in place. Instances are launched with EC2 RunInstances (500 per
call) with user data ECS_CLUSTER=<cluster>; the world's ECS agent registers each one as a
container instance, as the agent does at boot. That is the world's own registration path
and the fastest honest one here; its time is measured and reported.

Tick: an Invoke of the task-scaler function in the world (the real binary), input
{"cluster_name", "service_name", "min_task_count": 1, "n_count": 1, "max_task_count": 1}:
the service already has its desired count of 1, so the tick reads everything and changes
nothing (the steady state; a change adds one ecs:UpdateService). The world's call counts
are reset before each tick; wall time is the Invoke round trip seen by the caller (it
includes moto answering every call, which dominates at 5,000).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from world import aws_setup
from world.deploy import bin_dir
from world.emulator.lambda_runtime import launcher

from bench.common import World, summary

CLUSTER, SERVICE = "scale-cluster", "web"


def _user_data(cluster: str) -> str:
    return f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"  # boto3 base64-encodes it


def launch(world: World, cluster: str, count: int, image: str) -> None:
    ec2 = world.client("ec2")
    left = count
    while left > 0:
        n = min(500, left)
        ec2.run_instances(ImageId=image, MinCount=n, MaxCount=n, InstanceType="t3.micro", UserData=_user_data(cluster))
        left -= n


def create_function(world: World, name: str, timeout: int = 300) -> str:
    """The crate ``name`` as a function of its own (its package runs the build the benchmark measures)."""
    lam = world.client("lambda")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=name)
    return lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=aws_setup.lambda_role(world, "bench-lambda"),
        Handler="bootstrap",
        Code={"ZipFile": launcher(bin_dir() / name)},
        Timeout=timeout,
        MemorySize=128,
    )["FunctionArn"]


def make_cluster(world: World, cluster: str, instances: int, image: str) -> float:
    """A cluster with a service of one task (host port 8080) on `instances` instances; returns the setup seconds."""
    ecs = world.client("ecs")
    started = time.monotonic()
    ecs.create_cluster(clusterName=cluster)
    aws_setup.web_task_definition(world, f"{cluster}-web")
    launch(world, cluster, instances, image)
    ecs.create_service(
        cluster=cluster, serviceName=SERVICE, taskDefinition=f"{cluster}-web", desiredCount=1, launchType="EC2"
    )
    return time.monotonic() - started


def tick(world: World, payload: dict[str, Any]) -> dict[str, Any]:
    lam = world.client("lambda")
    world.control("POST", "/_world/calls/reset")
    started = time.monotonic()
    resp = lam.invoke(FunctionName="task-scaler", Payload=json.dumps(payload).encode())
    wall = time.monotonic() - started
    body = json.loads(resp["Payload"].read() or b"null")
    calls = world.control("GET", "/_world/calls")["calls"]
    calls.pop("lambda:Invoke", None)  # the tick itself
    return {
        "wall_s": round(wall, 3),
        "error": resp.get("FunctionError"),
        "output": body,
        "calls": calls,
        "calls_total": sum(calls.values()),
    }


def run(
    world: World, sizes: list[int], ticks: int, log: Callable[[str], None], between: Callable[[int], None] | None = None
) -> dict[str, Any]:
    world.reset()
    world.configure(timescale=1.0, ecs={"task_start_seconds": 0, "task_stop_seconds": 0})
    image = world.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    create_function(world, "task-scaler")
    payload = {"cluster_name": CLUSTER, "service_name": SERVICE, "min_task_count": 1, "n_count": 1, "max_task_count": 1}
    results: list[dict[str, Any]] = []
    have = 0
    setup_total = 0.0
    for size in sizes:
        started = time.monotonic()
        if have == 0:
            make_cluster(world, CLUSTER, size, image)
        else:
            launch(world, CLUSTER, size - have, image)
        setup = time.monotonic() - started
        setup_total += setup
        have = size
        ecs = world.client("ecs")
        registered = sum(
            len(page["containerInstanceArns"])
            for page in ecs.get_paginator("list_container_instances").paginate(cluster=CLUSTER)
        )
        if registered != size:
            raise RuntimeError(f"{registered} container instances registered, expected {size}")
        runs = [tick(world, payload) for _ in range(ticks + (1 if not results else 0))]
        cold = runs.pop(0) if not results else None
        for r in runs:
            if r["error"]:
                raise RuntimeError(f"task-scaler failed at {size}: {r['output']}")
        entry = {
            "container_instances": size,
            "setup_seconds": round(setup, 1),
            "setup_per_instance_ms": round(
                setup / (size - (sizes[sizes.index(size) - 1] if sizes.index(size) else 0)) * 1000, 2
            ),
            "ticks": len(runs),
            "wall_s": summary(r["wall_s"] for r in runs),
            "calls_per_tick": runs[-1]["calls"],
            "calls_per_tick_total": runs[-1]["calls_total"],
            "decision": runs[-1]["output"],
        }
        if cold:
            entry["first_tick_cold_wall_s"] = cold["wall_s"]
        results.append(entry)
        log(
            f"scaler at {size}: setup {setup:.1f}s, tick {entry['wall_s']['median']}s, "
            f"{entry['calls_per_tick_total']} calls {entry['calls_per_tick']}"
        )
        if between:
            between(size)
    return {
        "sizes": results,
        "setup_total_seconds": round(setup_total, 1),
        "setup_method": "EC2 RunInstances (500 per call) with ECS_CLUSTER user data; the world's agent registers each",
        "input": payload,
    }
