"""A scenario (tests/scenarios/README.md): its keys and their defaults, and how a scenario file is
read (merged key by key over the defaults; an unknown key is an error).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from world.harness import TESTS

DEFAULTS: dict[str, Any] = {
    "name": "default",
    "description": "",
    "instances": 3,
    "unregistered_instances": 0,
    # container instances of the cluster in no Auto Scaling group (launched from the group's launch
    # template with RunInstances: a Spot fleet's, say)
    "outside_group": 0,
    # seconds after their launch that the ECS agent of the unregistered instances registers
    # them (world ecs.agent_register_seconds); None: never
    "unregistered_agent_seconds": None,
    # ECS account settings (PutAccountSetting) put before the unregistered instances launch,
    # e.g. {"awsvpcTrunking": "enabled"}: those register REGISTERING (world ecs.trunk_provision_seconds)
    "account_settings": {},
    "service": {
        "name": "web",
        "desired": 2,
        "container_port": 8080,
        "host_ports": [8080],
        # "bridge": the container ports of host_ports get host ports from the ephemeral range (bridge
        # network mode, no hostPort), shown in DescribeTasks' networkBindings; "host": served on them
        "network_mode": "host",
        "minimum_healthy_percent": 100,
        "maximum_percent": 200,
    },
    # a DAEMON service beside it (one task on every instance, stopped last on a draining one):
    # {"name", "memory"}; the load balancers with "attach": "daemon" are its (host port = their port),
    # and it shares a target group of another kind on that group's "daemon_port"
    "daemon": None,
    "load_balancers": {
        "classic": [{"name": "web-clb", "draining_seconds": 5, "attach": "service", "port": 8080}],
        "target_groups": [{"name": "web-tg", "port": 8080, "deregistration_delay": 5, "attach": "service"}],
    },
    # every load balancer's health check unless it has its own "health_check" (short: scenarios run at
    # timescale 1.0; AWS's minimums are 5 s and 2, tests/world/README.md)
    "health_check": {"interval_seconds": 2, "timeout_seconds": 1, "healthy_threshold": 2, "unhealthy_threshold": 2},
    "failing_instances": {"pick": "none", "count": 1},
    "standalone_tasks": {"count": 0, "run_seconds": None},
    # true: just before the scale-in the service's desired count goes up by one, and the new task
    # serves on an instance that had none (scale_in.pick "with_late_task" names that instance)
    "late_service_task": False,
    "ecs": {"task_start_seconds": 1, "task_stop_seconds": 1},
    # infra's default heartbeat timeout (600 s: more than the sweeper's 5-minute period plus the
    # scheduler's minute and a minute of margin, which doctor checks)
    "hook": {"heartbeat_timeout": 600, "default_result": "ABANDON"},
    # the standalone template's SweepRateMinutes: how often the stack's sweeper is scheduled
    "sweep_rate_minutes": 5,
    "drain": {
        "deadline_seconds": 3000,
        "deadline_result": "CONTINUE",
        "standalone_tasks": "wait",
        "standalone_task_grace_seconds": 300,
        "nlb_deregistration_seconds": 300,
    },
    # the world's ELBv2: how long a Network Load Balancer still routes new connections to a target
    # after its deregistration, and how long a new target's registration is in progress before its
    # health checks start (world.emulator.lb_drain.elbv2)
    "elbv2": {"nlb_deregistration_seconds": 300, "nlb_registration_seconds": 300},
    # the world's Step Functions: how long (AWS seconds) before ListExecutions lists an execution just
    # started (world.emulator.sfn_listing)
    "stepfunctions": {"list_lag_seconds": 0},
    # the world's Auto Scaling: for how long (AWS seconds) after a lifecycle action began a heartbeat or a
    # completion of it is still answered "No active Lifecycle Action found" (world.emulator.autoscaling_hooks)
    "autoscaling": {"action_propagation_seconds": 0},
    # the world's EventBridge Scheduler: with duplicate_seconds, each firing of a schedule that fires
    # on its own is delivered twice, the copy that many seconds later (world.emulator.scheduler)
    "scheduler": {"duplicate_seconds": None},
    "timescale": 1.0,
    "seed": 0,
    "faults": {},
    # the world's EventBridge delivery: delay, duplicates, drops, failed attempts (tests/world/README.md)
    "eventbridge": {},
    # PutWarmPool of the group: {"min_size", "max_group_prepared_capacity", "pool_state", "reuse_on_scale_in"}
    "warm_pool": None,
    # the group's instance lifecycle policy, InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon:
    # "retain" keeps an instance whose terminate lifecycle action was abandoned (world.emulator.retention)
    "retention": None,
    # infra's spotInterruptionHandling: the rule that starts a drain on a Spot interruption warning
    "spot_interruption_handling": False,
    "scale_in": {"count": 1, "pick": "policy"},
    "actions": [],
    "scaler": {"min_task_count": 1, "n_count": 1},
    "expect": {},
    "timeout_seconds": 120,
    # the world's API rate limits (world.emulator.rate_limits): {"enabled", "scale", "buckets"}; on, at AWS's figures, by default
    "limits": {},
    # the world's Lambda: {"concurrency"} (world.emulator.lambda_runtime; default 1000, Lambda's default quota),
    # {"inactive": [crate, ...], "pending_seconds", "wake_fails": {crate: StateReasonCode}},
    # "setup_errors": {crate: {"error", "invocations"}} (world.emulator.lambdas: Inactive functions,
    # wakes that fail, VPC set-ups that fail), "vpc": true (the stack's functions in a VPC)
    "lambda": {},
    # false: run by `make reliability` only, not by tests/e2e (a size CI cannot afford; tests/scenarios/README.md)
    "e2e": True,
}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("faults", "expect"):
            out[key] = merge(out[key], value)
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
    return merge(DEFAULTS, data)
