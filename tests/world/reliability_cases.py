"""The cases of world.reliability: each a scenario of tests/scenarios (see its README), with what
``--small`` changes, what the case expects, and when it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Case:
    id: str
    title: str
    scenario: str
    small: dict[str, Any] | None = None  # overrides with --small
    load: bool = False
    small_scenario: str | None = None  # another scenario with --small (its name is the case's name then)
    accept: tuple[str, ...] = ()  # FAILED with these errors is the clear outcome the case expects
    fleet: bool = False  # runs first, alone; its calls per second go to reliability.json
    long: bool = False  # minutes by design: handed out first, so that the worlds finish together
    # the event's journey (late, lost, repeated; warm pools, Spot, instance refresh): at full size only,
    # since CI runs these same scenarios, at this same size, in the e2e suite (tests/e2e/test_journey.py)
    journey: bool = False

    def name(self, small: bool) -> str:
        return self.small_scenario.removesuffix(".json") if small and self.small_scenario else self.id


CASES = [
    Case("baseline", "one drain, no fault (reference for calls per drain)", "default.json"),
    Case("throttle-20", "20% throttling on every API the functions call", "faults_throttle_20.json"),
    Case("5xx-20", "20% HTTP 503 on every API the functions call", "faults_5xx_20.json"),
    Case("throttle-50", "50% throttling on every API the functions call", "faults_throttle_50.json"),
    Case("5xx-50", "50% HTTP 503 on every API the functions call", "faults_5xx_50.json"),
    Case(
        "killed",
        "function process killed mid-call (deregister-lb in DeregisterTargets, "
        "complete-lifecycle in CompleteLifecycleAction)",
        "lambda_killed.json",
    ),
    Case(
        "timeout", "function timing out (check-drained's DescribeTasks held 20 s, Timeout 5 s)", "lambda_timeout.json"
    ),
    Case(
        "ec2-terminated",
        "instance terminated through EC2 by someone else mid-drain",
        "instance_terminated_mid_drain.json",
    ),
    Case("deregistered", "container instance deregistered (force) mid-drain", "container_instance_deregistered.json"),
    Case("lb-deleted", "Classic ELB and target group deleted mid-drain", "load_balancers_deleted.json"),
    Case("hook-deleted", "lifecycle hook deleted mid-drain", "hook_deleted.json"),
    Case(
        "load",
        "scale-in of many instances at once",
        "scale_in_50_of_60.json",
        small={
            "instances": 12,
            "service": {"desired": 2},
            "scale_in": {"count": 10},
            "scaler": {"min_task_count": 2, "n_count": 1},
            "expect": {"executions": {"SUCCEEDED": 10}, "terminated": 10, "completed_by_us": 10},
            "timeout_seconds": 300,
        },
        load=True,
    ),
    Case(
        "asg-deleted",
        "Auto Scaling group force-deleted mid-drain (refused without ForceDelete)",
        "asg_deleted_mid_drain.json",
        accept=("ResourceNotFound",),
    ),
    Case(
        "cluster-deleted",
        "cluster deleted mid-drain (instances deregistered, service deleted)",
        "cluster_deleted_mid_drain.json",
    ),
    Case(
        "agent-disconnected",
        "ECS agent disconnected mid-drain (the instance lives on)",
        "agent_disconnected_mid_drain.json",
        long=True,  # the drain gives the cut-off tasks up after 120 s
    ),
    Case(
        "agent-hook-deleted",
        "ECS agent disconnected, then the hook deleted (the action gone)",
        "agent_disconnected_hook_deleted.json",
    ),
    Case(
        "late-event", "the lifecycle event delivered 0.7 x the heartbeat timeout late", "late_event.json", journey=True
    ),
    Case(
        "lost-event",
        "the lifecycle event lost, swept at 0.7 x the heartbeat timeout; the drain outlasts the timeout",
        "lost_event_late_sweep.json",
        journey=True,
    ),
    Case(
        "lost-event-scheduled",
        "the lifecycle event lost, found by the stack's own sweeper schedule (every minute, within the scheduler's "
        "minute) up to 120 s into the wait; the drain outlasts the 180 s heartbeat timeout",
        "lost_event_scheduled_sweep.json",
        journey=True,
        long=True,  # minutes: the sweeps and the drain run in real time
    ),
    Case(
        "duplicate-late",
        "the event delivered again after the first execution finished",
        "duplicate_after_finish.json",
        journey=True,
    ),
    Case(
        "warm-pool",
        "scale-in into a warm pool, reuse, then a second scale-in whose event is lost",
        "warm_pool_reuse.json",
        journey=True,
    ),
    Case("spot", "a Spot interruption warning", "spot_interruption.json", journey=True),
    Case("instance-refresh", "an instance refresh of three instances", "instance_refresh.json", journey=True),
    Case("scale-out", "scale-out during a drain", "scale_out_during_drain.json", journey=True),
    Case("second-hook", "a second terminate hook that ABANDONs", "second_hook_abandon.json", journey=True),
    Case(
        "fleet_200_of_240",
        "200 of 240 scaled in at once under AWS's API rate limits, no redrive",
        "fleet_200_of_240.json",
        small_scenario="fleet_20_of_24.json",
        load=True,
        fleet=True,
    ),
]
