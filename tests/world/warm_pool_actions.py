"""Scenario actions of the warm pool (tests/scenarios/README.md): an instance's return to the pool
and its reuse, a redrive around it, the pool's deletion. world.journey_actions starts them; the AWS
behaviours they set in motion are world.emulator.warm_pools'. Each is a world.run_actions.Action.
"""

from __future__ import annotations

import time
from typing import Any

from world.run_actions import Action, Context, sweep


class _FromWarmPool(Action):
    """What the warm-pool actions share: their phases, and taking the instance back from the pool."""

    phase = "first"

    @property
    def busy(self) -> bool:  # type: ignore[override]
        return self.phase != "done"

    def finish(self) -> None:
        if self.phase != "done":
            self.violation(f"{self.spec['type']} did not get past its {self.phase} phase")

    def _sweep_after(self, wait: dict[str, Any]) -> None:
        """``sweep_after_seconds`` (default 3) after ``wait`` (an ``asg.lifecycle.wait``) began, the
        sweeper runs, its report kept (a failure a violation): the phase becomes ``leaving``."""
        if time.time() < wait["t"] + float(self.spec.get("sweep_after_seconds", 3)):
            return
        report = sweep(self.ctx)
        if report is not None:
            self.ctx.result.sweeps.append(report)
            if isinstance(report, dict) and "error" in report:
                self.violation(f"the sweeper failed: {report}")
        self.phase = "leaving"

    def _in_pool(self, victim: str, left: list[dict[str, Any]]) -> bool:
        """Whether ``victim`` went back to the pool (``left``: its ``asg.instance.terminated``
        events); a violation (the phase ``done``) when it went elsewhere."""
        if left[0].get("destination") == "WarmPool":
            return True
        self.violation(f"{victim} did not go back to the warm pool (destination {left[0].get('destination')})")
        self.phase = "done"
        return False

    def _rejoined(self, victim: str) -> bool | None:
        """Whether ``victim``, taken back from the pool, rejoined the cluster: its container
        instance ACTIVE with its agent connected. It comes back DRAINING, as the scale-in left
        it, with its agent reconnected: then the sweeper runs once (as its schedule would), which
        sets it ACTIVE, and ``register_seconds`` (default 15) count again. None while it may still;
        False (a violation) once it did not in time."""
        ci = self.container_instance(victim) or {}
        if ci.get("status") == "ACTIVE" and ci.get("agentConnected"):
            return True
        if ci.get("status") == "DRAINING" and ci.get("agentConnected") and not getattr(self, "swept", False):
            self.swept = True
            report = sweep(self.ctx)
            self.ctx.result.sweeps.append(report)
            if isinstance(report, dict) and "error" in report:
                self.violation(f"the sweeper failed: {report}")
            self.reused_at = time.monotonic()
            return None
        if time.monotonic() <= self.reused_at + float(self.spec.get("register_seconds", 15)):
            return None
        status = f"{ci['status']}, agentConnected {ci['agentConnected']}" if ci else "not registered"
        self.violation(f"{victim} came back from the warm pool with its container instance {status}")
        return False

    def _reuse_when_due(self, victim: str, left: list[dict[str, Any]]) -> None:
        """Once ``victim`` went back to the pool, ``reuse_after_seconds`` (default 1) later the
        group scales out by one, which takes it from the pool first: the phase becomes
        ``reuse``."""
        if not self._in_pool(victim, left):
            return
        if time.time() >= left[0]["t"] + float(self.spec.get("reuse_after_seconds", 1)):
            scale_out(self.ctx, 1, "the warm pool first")
            self.reused_at = time.monotonic()
            self.phase = "reuse"


class WarmPoolReuse(_FromWarmPool):
    """``warm_pool_reuse`` (needs the scenario's ``warm_pool`` with ``reuse_on_scale_in``): the
    instance scaled in goes back to the pool; ``reuse_after_seconds`` (default 1) after it left,
    the group scales out by one and the same instance id must come back and rejoin the cluster
    (``_rejoined``: DRAINING as the scale-in left it, then ACTIVE once the sweeper ran); the service grows by
    one task (placed on it: the only instance with room); then ``spare`` (default 1) more
    instances launch (room for the next drain), the same instance is scaled in again (the
    others protected from scale-in) and, ``sweep_after_seconds`` (default 3) after it began to
    wait on the terminate hook (``Warmed:Pending:Wait``), the sweeper runs (for a lost second event: the scenario's
    ``eventbridge.drop``). The run goes on until it left the group again."""

    def _left(self, instance: str) -> list[dict[str, Any]]:
        return [e for e in self.events("asg.instance.terminated") if e["instance_id"] == instance]

    def tick(self) -> None:
        ctx = self.ctx
        victims = ctx.result.victims
        if not victims:
            return
        victim = victims[0]
        if self.phase == "first":
            left = self._left(victim)
            if left:
                self._reuse_when_due(victim, left)
        elif self.phase == "reuse":
            if self.instances().get(victim) != "InService":
                if time.monotonic() > self.reused_at + 10:
                    self.violation(f"{victim} did not come back from the warm pool on scale-out")
                    self.phase = "done"
                return
            rejoined = self._rejoined(victim)
            if rejoined is None:
                return
            if rejoined:
                arn = self.container_instance(victim)["containerInstanceArn"]
                ctx.out(f"{victim} back from the warm pool: container instance ACTIVE ({arn.rsplit('/', 1)[-1][:8]})")
            self._grow_service()
            self.phase = "placing"
        elif self.phase == "placing":
            if victim in self.with_task() or time.monotonic() > self.placing_since + 10:
                if victim not in self.with_task():
                    ctx.out(f"no task placed on {victim}")
                self.spare = set(self.instances())
                scale_out(self.ctx, int(self.spec.get("spare", 1)), "room for the next drain")
                self.spare_since = time.monotonic()
                self.phase = "spare"
        elif self.phase == "spare":
            new = [i for i, s in self.instances().items() if i not in self.spare and s == "InService"]
            ready = [i for i in new if (self.container_instance(i) or {}).get("status") == "ACTIVE"]
            if len(ready) >= int(self.spec.get("spare", 1)) or time.monotonic() > self.spare_since + 10:
                self._scale_in_again(victim)
        elif self.phase == "second":
            waits = [e for e in self.events("asg.lifecycle.wait") if e["instance_id"] == victim]
            if len(waits) >= 2:
                self._sweep_after(waits[-1])
        elif self.phase == "leaving" and len(self._left(victim)) >= 2:
            self.phase = "done"

    def _grow_service(self) -> None:
        ctx = self.ctx
        ecs = ctx.world.client("ecs")
        current = ecs.describe_services(cluster=ctx.dep.cluster, services=[ctx.dep.service])["services"][0][
            "desiredCount"
        ]
        desired = current + 1
        if desired != current:
            ecs.update_service(cluster=ctx.dep.cluster, service=ctx.dep.service, desiredCount=desired)
            ctx.out(f"service {ctx.dep.service}: desired {current} -> {desired}")
        self.placing_since = time.monotonic()

    def _scale_in_again(self, victim: str) -> None:
        ctx, asg = self.ctx, self.ctx.world.client("autoscaling")
        others = [i for i, s in self.instances().items() if s == "InService" and i != victim]
        if others:
            asg.set_instance_protection(AutoScalingGroupName=ctx.dep.asg, InstanceIds=others, ProtectedFromScaleIn=True)
        desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ctx.dep.asg])["AutoScalingGroups"][0][
            "DesiredCapacity"
        ]
        asg.set_desired_capacity(AutoScalingGroupName=ctx.dep.asg, DesiredCapacity=desired - 1)
        ctx.out(f"scale in again: {ctx.dep.asg} desired {desired} -> {desired - 1} ({victim}; the others protected)")
        self.phase = "second"


class RedriveAfterReuse(_FromWarmPool):
    """``redrive_after_reuse`` (needs ``warm_pool`` with ``reuse_on_scale_in`` and ``faults`` that
    make the drain FAIL): once the execution FAILED and its lifecycle action ended (heartbeat
    timeout, default result) with the instance back in the warm pool, the faults are cleared and
    the FAILED execution is redriven, as an operator replays the day's failures, and the group
    scales out by one, which takes the same instance id back from the pool. With ``"redrive":
    "after_reuse"`` (the default) the scale-out comes ``reuse_after_seconds`` (default 1) after the
    instance left and the redrive once it is InService and healthy in the group's target groups
    (at most ``register_seconds``, default 15): a violation for each change the redrive makes to
    the instance, which no drain holds any more (a deregistration from a load balancer, its
    container instance deregistered, set ACTIVE, marked or unmarked). With ``"redrive":
    "in_pool"`` the redrive comes while the instance is stopped in the pool and the scale-out once
    it ended: a violation unless the instance rejoins the cluster (``_rejoined``: the redriven
    drain marked its container instance, which the sweeper sets ACTIVE)."""

    CHANGES = (
        "ecs.attribute.put",
        "ecs.attribute.deleted",
        "ecs.container_instance.active",
        "elbv2.target.draining",
        "elbv2.target.unused",
        "elb.instance.draining",
        "elb.instance.out_of_service",
        "ecs.container_instance.deregistered",
        "ecs.container_instance.inactive",
    )

    def tick(self) -> None:
        ctx = self.ctx
        if not ctx.result.victims:
            return
        victim = ctx.result.victims[0]
        in_pool = self.spec.get("redrive") == "in_pool"
        if self.phase == "first":
            failed = [arn for arn, x in ctx.obs.executions.items() if x["status"] == "FAILED"]
            left = [e for e in self.events("asg.instance.terminated") if e["instance_id"] == victim]
            if not (failed and left):
                return
            self.failed = failed[0]
            if in_pool:
                if self._in_pool(victim, left):
                    self._redrive(victim, "stopped in the warm pool")
            else:
                self._reuse_when_due(victim, left)
        elif self.phase == "reuse" and not in_pool:
            serving = self.instances().get(victim) == "InService" and self._healthy(victim)
            if serving or time.monotonic() >= self.reused_at + float(self.spec.get("register_seconds", 15)):
                if not serving:
                    self.violation(f"{victim} did not serve again from the warm pool on scale-out")
                self._redrive(victim, "back from the warm pool")
        elif self.phase == "reuse":
            rejoined = self._rejoined(victim)
            if rejoined:
                ctx.out(f"{victim} back from the warm pool with its container instance ACTIVE")
            if rejoined is not None:
                self.phase = "done"
        elif self.phase == "redriven":
            x = ctx.obs.executions[self.failed]
            if x.get("redriveCount", 0) >= 1 and x["status"] != "RUNNING":
                if in_pool:
                    scale_out(ctx, 1, "the warm pool first")
                    self.reused_at = time.monotonic()
                    self.phase = "reuse"
                else:
                    self.phase = "done"

    def _redrive(self, victim: str, where: str) -> None:
        ctx = self.ctx
        self.since = ctx.world.events()[-1]["seq"]
        ctx.world.configure(faults={})
        ctx.world.client("stepfunctions").redrive_execution(executionArn=self.failed)
        ci = self.container_instance(victim) or {}
        ctx.out(
            f"{victim} {where} (container instance {ci.get('status')}, agent connected "
            f"{ci.get('agentConnected')}): faults cleared, RedriveExecution {self.failed.rsplit(':', 1)[-1][:8]}"
        )
        self.phase = "redriven"

    def _healthy(self, instance: str) -> bool:
        elbv2 = self.ctx.world.client("elbv2")
        for arn in self.ctx.dep.target_groups.values():
            health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            if not any(h["Target"]["Id"] == instance and h["TargetHealth"]["State"] == "healthy" for h in health):
                return False
        return True

    def finish(self) -> None:
        super().finish()
        if self.phase != "done" or self.spec.get("redrive") == "in_pool":
            return
        victim = self.ctx.result.victims[0]
        for e in self.ctx.obs.events:
            if e["seq"] > self.since and e["type"] in self.CHANGES and victim in (e.get("id"), e.get("instance_id")):
                self.violation(f"the redrive, its lifecycle action long ended, changed {victim} serving again: {e}")


def scale_out(ctx: Context, more: int, why: str) -> None:
    """The group's desired capacity up by ``more``."""
    asg, dep = ctx.world.client("autoscaling"), ctx.dep
    desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])["AutoScalingGroups"][0][
        "DesiredCapacity"
    ]
    asg.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=desired + more)
    ctx.out(f"scale out: {dep.asg} desired {desired} -> {desired + more} ({why})")


class WarmPoolDeleted(_FromWarmPool):
    """``warm_pool_deleted`` (needs ``warm_pool`` with ``reuse_on_scale_in`` and a pool larger than
    the group): once the instance scaled in is back in the pool, ``delete_after_seconds`` (default
    1) later DeleteWarmPool (no ForceDelete) terminates every pool instance through the terminate
    hooks (``Warmed:Terminating:Wait``, ``Origin`` WarmPool); ``sweep_after_seconds`` (default 3)
    after the last of them began to wait, the sweeper runs (for lost events: the scenario's
    ``eventbridge.drop``). The run goes on until every one of them was terminated."""

    def tick(self) -> None:
        ctx = self.ctx
        if not ctx.result.victims:
            return
        victim = ctx.result.victims[0]
        if self.phase == "first":
            left = [e for e in self.events("asg.instance.terminated") if e["instance_id"] == victim]
            if not left or not self._in_pool(victim, left):
                return
            if time.time() >= left[0]["t"] + float(self.spec.get("delete_after_seconds", 1)):
                asg = ctx.world.client("autoscaling")
                self.pool = [
                    i["InstanceId"] for i in asg.describe_warm_pool(AutoScalingGroupName=ctx.dep.asg)["Instances"]
                ]
                asg.delete_warm_pool(AutoScalingGroupName=ctx.dep.asg)
                ctx.out(f"DeleteWarmPool {ctx.dep.asg}: {self.pool} terminate through the terminate hooks")
                self.phase = "deleting"
        elif self.phase == "deleting":
            waits = [e for e in self.events("asg.lifecycle.wait") if e.get("origin") == "WarmPool"]
            if len(waits) >= len(self.pool):
                self._sweep_after(waits[-1])
        elif self.phase == "leaving":
            gone = {e["instance_id"] for e in self.events("asg.instance.terminated") if e["destination"] == "EC2"}
            if set(self.pool) <= gone:
                self.phase = "done"


class LaunchIntoPool(_FromWarmPool):
    """``launch_into_pool`` (needs ``warm_pool`` larger than the group; with ``warm_pools_check``
    false its instances register while they warm): a launch hook of someone else's on the group
    (heartbeat ``heartbeat_timeout``, default 120 s), then the group scales out by one, which
    takes a warmed instance from the pool and launches one into it, waiting on the launch hook in
    ``Warmed:Pending:Wait``, the very state where an instance going back to the pool waits on the
    terminate hook. ``sweep_after_seconds`` (default 3) after that wait began the sweeper runs: a
    violation if it counts the warming instance as waiting (or unidentified), starts a drain, or
    the warming instance's container instance is DRAINING.
    Then the hook's owner completes the action with CONTINUE, and the run goes on until the
    instance is stopped in the pool."""

    def scale_in(self) -> list[str] | None:
        ctx = self.ctx
        self.hook = f"{ctx.dep.prefix}-warming"
        ctx.world.client("autoscaling").put_lifecycle_hook(
            LifecycleHookName=self.hook,
            AutoScalingGroupName=ctx.dep.asg,
            LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
            HeartbeatTimeout=int(self.spec.get("heartbeat_timeout", 120)),
            DefaultResult="CONTINUE",
        )
        ctx.out(f"launch hook {self.hook} (not ours) on {ctx.dep.asg}")
        scale_out(ctx, 1, "a warmed instance from the pool, a new one launched into it")
        return []

    def tick(self) -> None:
        ctx = self.ctx
        waits = self.events("asg.launch.wait")
        if self.phase == "first" and waits:
            self.warming = waits[0]["instance_id"]
            self._sweep_after(waits[0])
        elif self.phase == "leaving":
            for report in [r for r in ctx.result.sweeps if isinstance(r, dict)]:
                seen = [w["instance_id"] for w in report.get("waiting", [])] + report.get("unidentified", [])
                if report.get("started") or self.warming in seen:
                    self.violation(f"the sweeper took an instance warming on a launch hook for a leaving one: {report}")
            ci = self.container_instance(self.warming) or {}
            if ci.get("status") == "DRAINING":
                self.violation(f"{self.warming}, warming in the pool, was set DRAINING")
            ctx.world.client("autoscaling").complete_lifecycle_action(
                AutoScalingGroupName=ctx.dep.asg,
                LifecycleHookName=self.hook,
                InstanceId=self.warming,
                LifecycleActionResult="CONTINUE",
            )
            ctx.out(f"launch hook {self.hook}: CONTINUE for {self.warming} ({ci.get('status', 'not registered')})")
            self.phase = "warmed"
        elif self.phase == "warmed":
            pool = ctx.world.client("autoscaling").describe_warm_pool(AutoScalingGroupName=ctx.dep.asg)["Instances"]
            if any(i["InstanceId"] == self.warming and i["LifecycleState"] == "Warmed:Stopped" for i in pool):
                self.phase = "done"


ACTIONS: dict[str, type[Action]] = {
    "warm_pool_reuse": WarmPoolReuse,
    "redrive_after_reuse": RedriveAfterReuse,
    "warm_pool_deleted": WarmPoolDeleted,
    "launch_into_pool": LaunchIntoPool,
}
