"""Scenario actions of the event's journey (tests/scenarios/README.md): a Spot warning, an
instance refresh, a second terminate hook, and the warm pool's (world.warm_pool_actions). world.run calls them; the
AWS behaviours they set in motion are the world's (world.emulator.spot, world.emulator.instance_refresh,
world.emulator.warm_pools, world.emulator.autoscaling_hooks). Each is a world.run_actions.Action.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError
from world import stack as stack_mod
from world import warm_pool_actions
from world.run_actions import Action, Context, not_drained_before


class SecondHook(Action):
    """``second_hook``: another terminate hook on the group (``name``, default ``other``; not
    ours: our rule does not match it) whose owner completes each of its actions with ``result``
    (default ABANDON) ``after_seconds`` (default 20, real seconds) after the wait began."""

    def before_scale_in(self) -> None:
        self.name = f"{self.ctx.dep.prefix}-{self.spec.get('name', 'other')}"
        self.result = self.spec.get("result", "ABANDON")
        self.after = float(self.spec.get("after_seconds", 20))
        self.done: set[str] = set()
        self.ctx.world.client("autoscaling").put_lifecycle_hook(
            LifecycleHookName=self.name,
            AutoScalingGroupName=self.ctx.dep.asg,
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=int(self.spec.get("heartbeat_timeout", 300)),
            DefaultResult=self.spec.get("default_result", "CONTINUE"),
        )
        self.ctx.out(f"second terminate hook {self.name}: {self.result} {self.after:.0f}s after each wait")

    @property
    def busy(self) -> bool:  # type: ignore[override]
        waits = [e for e in self.ctx.obs.other_hooks if e["type"] == "asg.lifecycle.wait"]
        return not waits or any(w["token"] not in self.done for w in waits)

    def tick(self) -> None:
        ended = {e["token"] for e in self.ctx.obs.other_hooks if e["type"] == "asg.lifecycle.completed"}
        for wait in [e for e in self.ctx.obs.other_hooks if e["type"] == "asg.lifecycle.wait"]:
            if wait["token"] in self.done:
                continue
            if wait["token"] in ended:
                self.done.add(wait["token"])
                continue
            if time.time() < wait["t"] + self.after:
                continue
            try:
                self.ctx.world.client("autoscaling").complete_lifecycle_action(
                    AutoScalingGroupName=self.ctx.dep.asg,
                    LifecycleHookName=self.name,
                    LifecycleActionToken=wait["token"],
                    LifecycleActionResult=self.result,
                )
                self.ctx.out(f"hook {self.name}: {self.result} for {wait['instance_id']}")
            except ClientError as err:
                self.ctx.out(f"hook {self.name}: {err.response['Error']['Message']}")
            self.done.add(wait["token"])


class SpotInterruption(Action):
    """``spot_interruption``: EC2 warns (``count`` instances, default 1, that run a task; with
    ``"outside_group": true`` the cluster's instances of no group instead) and interrupts them two
    minutes later (scaled); each must be drained by then. ``action`` (default ``terminate``):
    ``stop`` or ``hibernate`` stop them instead, and with ``restart_after_seconds`` EC2 starts them
    again: then, once their agents are back, a sweep runs, and each container instance must be
    ACTIVE again (nothing would ever be placed on a DRAINING one)."""

    def scale_in(self) -> list[str] | None:
        pool = self.outside_group() if self.spec.get("outside_group") else self.with_task()
        victims = pool[: int(self.spec.get("count", 1))]
        action, restart = self.spec.get("action", "terminate"), self.spec.get("restart_after_seconds")
        for instance in victims:
            body = {"instance_id": instance, "action": action, "restart_after_seconds": restart}
            answer = self.ctx.world.control("POST", "/_world/ec2/spot-interruption", body)
            self.ctx.out(
                f"Spot interruption warning for {instance} ({action}): interrupted in {answer['interrupt_in']:.1f}s"
            )
        self.victims = victims
        return victims

    def outside_group(self) -> list[str]:
        """The cluster's instances in no Auto Scaling group."""
        in_group = set(self.instances())
        ecs = self.ctx.world.client("ecs")
        arns = ecs.list_container_instances(cluster=self.ctx.dep.cluster)["containerInstanceArns"]
        cis = ecs.describe_container_instances(cluster=self.ctx.dep.cluster, containerInstances=arns)
        return sorted(ci["ec2InstanceId"] for ci in cis["containerInstances"] if ci["ec2InstanceId"] not in in_group)

    @property
    def busy(self) -> bool:  # type: ignore[override]
        gone = {e["instance_id"] for e in self.events("ec2.instance.interrupted")}
        if self.spec.get("restart_after_seconds") is not None:
            gone &= {e["instance_id"] for e in self.events("ecs.container_instance.reconnected")}
        return not set(self.victims) <= gone

    def _back_active(self) -> None:
        """After the restart: a sweep, then each victim's container instance must be ACTIVE."""
        [name] = self.ctx.dep.stack.schedules["sweeper"]
        stack_mod.run_schedule_told(self.ctx.world, "sweeper", name, self.ctx.out)
        for instance in self.victims:
            ci = self.container_instance(instance)
            status = ci["status"] if ci else "not registered"
            if status != "ACTIVE":
                self.violation(f"{instance} started again after its Spot interruption, its container instance {status}")

    def finish(self) -> None:
        dep, sc = self.ctx.dep, self.ctx.sc
        service_classic = [
            n for n, c in zip(dep.classic, sc["load_balancers"]["classic"]) if c.get("attach") == "service"
        ]
        for instance in self.victims:
            hit = [e for e in self.events("ec2.instance.interrupted") if e["instance_id"] == instance]
            if not hit:
                self.violation(f"{instance} was never interrupted")
                continue
            for what in not_drained_before(self.ctx.obs.events, instance, hit[0]["seq"], service_classic):
                self.violation(f"{instance} interrupted (Spot) while {what}")
        if self.spec.get("restart_after_seconds") is not None:
            self._back_active()


class InstanceRefresh(Action):
    """``instance_refresh``: StartInstanceRefresh with ``preferences`` (default
    {"MinHealthyPercentage": 90, "InstanceWarmup": 5}); the run goes on until it ends."""

    def scale_in(self) -> list[str] | None:
        preferences = self.spec.get("preferences") or {"MinHealthyPercentage": 90, "InstanceWarmup": 5}
        asg = self.ctx.world.client("autoscaling")
        victims = sorted(i for i, s in self.instances().items() if s == "InService")
        self.id = asg.start_instance_refresh(AutoScalingGroupName=self.ctx.dep.asg, Preferences=preferences)[
            "InstanceRefreshId"
        ]
        self.status = "Pending"
        self.ctx.out(f"instance refresh {self.id[:8]} of {victims} ({preferences})")
        return victims

    def tick(self) -> None:
        found = self.ctx.world.client("autoscaling").describe_instance_refreshes(
            AutoScalingGroupName=self.ctx.dep.asg, InstanceRefreshIds=[self.id]
        )["InstanceRefreshes"]
        status = found[0]["Status"] if found else "missing"
        if status != self.status:
            self.ctx.out(
                f"instance refresh {self.id[:8]}: {status} ({found[0].get('PercentageComplete', 0) if found else 0}%)"
            )
        self.status = status

    @property
    def busy(self) -> bool:  # type: ignore[override]
        return self.status in ("Pending", "InProgress")

    def finish(self) -> None:
        if self.status != "Successful":
            self.violation(f"instance refresh ended {self.status}")


ACTIONS: dict[str, type[Action]] = {
    "second_hook": SecondHook,
    "spot_interruption": SpotInterruption,
    "instance_refresh": InstanceRefresh,
    **warm_pool_actions.ACTIONS,
}


def start(ctx: Context) -> list[Action]:
    return [ACTIONS[a["type"]](ctx, a) for a in ctx.sc["actions"] if a["type"] in ACTIONS]
