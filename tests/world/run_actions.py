"""What every scenario action of world.run shares (tests/scenarios/README.md): its context, the
``Action`` base, the stack's sweeper run as its schedule runs it, and what the world's event log
says: what still served on an instance at a given event, and the EventBridge deliveries still on
their way (the run waits for them; world.emulator.eventbridge). The actions themselves:
world.journey_actions (the event's journey), world.scenario_actions (faults and outside changes),
world.event_actions (the event's faults),
world.teardown_actions.

Each action: ``before_scale_in()`` (set-up), ``scale_in()`` (actions that replace the scenario's
scale-in return the instances they take out), ``tick()`` on every round of the run loop, ``busy``
(the run goes on while it is true), ``finish()`` (judgements of its own, as violations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from world import stack as stack_mod

TERMINATE_DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"


@dataclass
class Context:
    world: Any
    dep: Any
    sc: dict[str, Any]
    result: Any
    obs: Any
    out: Callable[[str], None]


def sweep(ctx: Context) -> Any:
    """Run the stack's sweeper as its schedule does, which starts drains for lost events; its report,
    or {"error": ..., "payload": ...} when the invocation failed."""
    [schedule] = ctx.dep.stack.schedules["sweeper"]
    error, body = stack_mod.run_schedule_told(ctx.world, "sweeper", schedule, ctx.out, width=300)
    return {"error": error, "payload": body} if error else body


class Action:
    busy = False

    def __init__(self, ctx: Context, spec: dict[str, Any]):
        self.ctx, self.spec = ctx, spec

    def before_scale_in(self) -> None:
        pass

    def scale_in(self) -> list[str] | None:
        return None

    def tick(self) -> None:
        pass

    def finish(self) -> None:
        pass

    # helpers
    def executions(self) -> dict[str, dict[str, Any]]:
        """The executions observed so far, by ARN (world.observe)."""
        executions: dict[str, dict[str, Any]] = self.ctx.obs.executions
        return executions

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.ctx.obs.events if e["type"] == kind]

    def violation(self, text: str) -> None:
        self.ctx.result.violations.append(text)
        self.ctx.out(f"VIOLATION: {text}")

    def instances(self) -> dict[str, str]:
        found = self.ctx.world.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.ctx.dep.asg]
        )
        return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}

    def container_instance(self, instance_id: str) -> dict[str, Any] | None:
        ecs = self.ctx.world.client("ecs")
        arns = ecs.list_container_instances(cluster=self.ctx.dep.cluster, filter=f"ec2InstanceId=={instance_id}")[
            "containerInstanceArns"
        ]
        if not arns:
            return None
        return ecs.describe_container_instances(cluster=self.ctx.dep.cluster, containerInstances=arns)[
            "containerInstances"
        ][0]

    def with_task(self) -> list[str]:
        ecs = self.ctx.world.client("ecs")
        arns = ecs.list_container_instances(cluster=self.ctx.dep.cluster)["containerInstanceArns"]
        cis = (
            ecs.describe_container_instances(cluster=self.ctx.dep.cluster, containerInstances=arns)[
                "containerInstances"
            ]
            if arns
            else []
        )
        return sorted(ci["ec2InstanceId"] for ci in cis if ci["runningTasksCount"])


def not_drained_before(
    events: list[dict[str, Any]], instance_id: str, seq: int, service_classic: list[str]
) -> list[str]:
    """What still served on ``instance_id`` at event ``seq``: tasks not STOPPED, target-group and
    Classic ELB registrations not yet over (from the world's event log)."""
    before = [e for e in events if e["seq"] < seq]
    placed = {
        e["task_arn"]
        for e in before
        if e["type"] in ("ecs.task.pending", "ecs.task.running") and e.get("instance_id") == instance_id
    }
    stopped = {e["task_arn"] for e in before if e["type"] in ("ecs.task.stopped", "ecs.task.orphaned")}
    found = [f"task {t.rsplit('/', 1)[-1]} not STOPPED" for t in sorted(placed - stopped)]
    state: dict[tuple[str, int], str] = {}
    for e in before:
        if e["type"] in ("elbv2.target.registered", "elbv2.target.unused") and e.get("id") == instance_id:
            state[(e["target_group"], e["port"])] = e["type"]
    found += [
        f"registered or draining in target group {tg.rsplit('/', 2)[-2]} port {port}"
        for (tg, port), last in sorted(state.items())
        if last == "elbv2.target.registered"
    ]
    running = {e["task_arn"] for e in before if e["type"] == "ecs.task.running" and e.get("instance_id") == instance_id}
    out_of_service = {
        e["load_balancer"]
        for e in before
        if e["type"] == "elb.instance.out_of_service" and e.get("instance_id") == instance_id
    }
    if running:
        found += [
            f"registered or draining in Classic ELB {name}" for name in service_classic if name not in out_of_service
        ]
    return found


def deliveries_pending(events: list[dict[str, Any]]) -> int:
    """Deliveries the world's EventBridge still has to attempt (scheduled or retrying)."""
    open_: set[tuple[str, str, int]] = set()
    for e in events:
        key = (e.get("event_id"), e.get("target"), e.get("copy"))
        if e["type"] == "eventbridge.scheduled" or (
            e["type"] == "eventbridge.failed" and e.get("retry_in") is not None
        ):
            open_.add(key)
        elif e["type"] in ("eventbridge.attempt", "eventbridge.delivered", "eventbridge.dropped"):
            open_.discard(key)
    return len(open_)
