"""Scenario actions of the lifecycle event's faults (tests/scenarios/README.md): an action left to
expire and then redriven, a lost event (left to the sweeper), a malformed event, a repeated one.
world.scenario_actions starts them, with the other actions of faults and outside changes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from world import run_actions
from world.emulator.scheduler import PRECISION_SECONDS, rate_seconds
from world.harness import ACCOUNT, REGION, asg_instances, wait_for
from world.run_actions import Action, Context


class ExpireThenRedrive(Action):
    """A call the drain needs fails from the scale-in on (``api``, default
    autoscaling:CompleteLifecycleAction; ``fault``, default unavailable): once the action expired
    and the execution FAILED, the fault is cleared and the execution redriven."""

    def __init__(self, ctx: Context, spec: dict[str, Any]):
        super().__init__(ctx, spec)
        self.redriven: set[str] = set()

    def before_scale_in(self) -> None:
        api, fault = self.spec.get("api", "autoscaling:CompleteLifecycleAction"), self.spec.get("fault", "unavailable")
        self.ctx.world.configure(faults={**self.ctx.sc["faults"], api: {fault: 1.0}})
        self.ctx.out(f"fault on: {api} always {fault} (the action will expire first)")

    @property
    def busy(self) -> bool:  # type: ignore[override]
        return not self.redriven

    def tick(self) -> None:
        expired = [e for e in self.events("asg.lifecycle.completed") if e["by"] != "CompleteLifecycleAction"]
        for arn, x in self.executions().items():
            if arn not in self.redriven and x["status"] == "FAILED" and expired:
                self.ctx.world.configure(faults=self.ctx.sc["faults"])
                self.ctx.world.client("stepfunctions").redrive_execution(executionArn=arn)
                self.redriven.add(arn)
                x["status"] = "RUNNING"  # until the next poll says otherwise
                self.ctx.out(
                    f"action expired and execution FAILED: fault cleared, RedriveExecution {arn.rsplit(':', 1)[-1][:8]}"
                )


class DropEvent(Action):
    """The rule is disabled before the scale-in, so the lifecycle events are lost; when the sweep is
    due (see ``due``) the rule is enabled again and the stack's sweeper runs ``sweeps`` times. With
    ``"sweep": "schedule"`` the harness does not run the sweeper: the stack's schedule fires it on
    its own (world.emulator.scheduler), and ``scale_in_after_sweep`` starts the scale-in right after one of
    its runs, so the lost events are found a whole period (plus the schedule's precision) late."""

    def __init__(self, ctx: Context, spec: dict[str, Any]):
        super().__init__(ctx, spec)
        self.swept = False
        self.scaled_at = time.monotonic()
        self.on_schedule = spec.get("sweep") == "schedule"
        self.seen = 0  # the scheduled sweeper's answers (in the run's observed events) already reported
        self.rule_back = False

    def before_scale_in(self) -> None:
        self.ctx.world.client("events").disable_rule(Name=self.ctx.dep.rule)
        self.ctx.out(f"rule {self.ctx.dep.rule} disabled: the lifecycle events are lost")
        if self.on_schedule:
            self._fire_schedule()

    def _fire_schedule(self) -> None:
        [name] = self.ctx.dep.stack.schedules["sweeper"]
        expression = self.ctx.world.client("scheduler").get_schedule(Name=name)["ScheduleExpression"]
        self.ctx.world.configure(scheduler={"fire": [name]})
        self.ctx.out(f"schedule {name} ({expression}) fires the sweeper on its own")
        if not self.spec.get("scale_in_after_sweep"):
            return
        period = (rate_seconds(expression) or 0) + PRECISION_SECONDS
        since = self.ctx.world.events()[-1]["seq"]
        wait_for(
            lambda: self._answers(self.ctx.world.events(since)),
            float(period) * float(self.ctx.sc["timescale"]) + 30,
            "a run of the scheduled sweeper before the scale-in",
            every=0.2,
        )
        self.ctx.out("the scheduled sweeper has just run: the scale-in starts now")

    def _answers(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        [name] = self.ctx.dep.stack.schedules["sweeper"]
        return [e for e in events if e["type"] == "scheduler.answered" and e["schedule"] == name]

    def scale_in(self) -> list[str] | None:
        self.scaled_at = time.monotonic()
        return None

    @property
    def busy(self) -> bool:  # type: ignore[override]
        return not self.swept

    def due(self) -> bool:
        """``sweep_lag_seconds`` (AWS seconds, scaled) or ``sweep_lag_heartbeat_fraction`` (of the
        hook's heartbeat timeout) after the last victim's Terminating:Wait began, as a scheduled
        sweeper finds it that late; else ``after_seconds`` (default 3) after the scale-in, once the
        victims wait (at most 15 s more)."""
        sc, victims = self.ctx.sc, self.ctx.result.victims
        lag = self.spec.get("sweep_lag_seconds")
        if self.spec.get("sweep_lag_heartbeat_fraction") is not None:
            lag = float(self.spec["sweep_lag_heartbeat_fraction"]) * float(sc["hook"]["heartbeat_timeout"])
        if lag is not None:
            waits = {e["instance_id"]: e["t"] for e in self.events("asg.lifecycle.wait")}
            if not victims or not all(v in waits for v in victims):
                return False
            return time.time() >= max(waits[v] for v in victims) + float(lag) * float(sc["timescale"])
        after = float(self.spec.get("after_seconds", 3))
        if time.monotonic() <= self.scaled_at + after:
            return False
        states = asg_instances(self.ctx.world, self.ctx.dep)
        waiting = all(states.get(i) == "Terminating:Wait" for i in victims)
        return waiting or time.monotonic() > self.scaled_at + after + 15

    def tick(self) -> None:
        if self.on_schedule:
            self._tick_on_schedule()
            return
        if self.swept or not self.due():
            return
        self.ctx.world.client("events").enable_rule(Name=self.ctx.dep.rule)
        self.ctx.out(f"rule {self.ctx.dep.rule} enabled again")
        for _ in range(int(self.spec.get("sweeps", 1))):
            self._report(run_actions.sweep(self.ctx))
        self.swept = True

    def _tick_on_schedule(self) -> None:
        """The rule comes back once every victim waits (their events are lost by then); the action
        is over once the scheduled sweeper has started a drain for each of them."""
        victims = self.ctx.result.victims
        waits = {e["instance_id"]: e["t"] for e in self.events("asg.lifecycle.wait")}
        if not self.rule_back and victims and all(v in waits for v in victims):
            self.ctx.world.client("events").enable_rule(Name=self.ctx.dep.rule)
            self.ctx.out(f"rule {self.ctx.dep.rule} enabled again")
            self.rule_back = True
        answers = self._answers(self.ctx.obs.events)
        for answer in answers[self.seen :]:
            self._report({"error": answer["error"], "payload": answer["body"]} if answer["error"] else answer["body"])
            body = answer["body"] if isinstance(answer["body"], dict) else {}
            found = {s.get("instance_id") for s in body.get("started") or []} & set(victims)
            for victim in sorted(found):
                lag = (answer["t"] - waits[victim]) / float(self.ctx.sc["timescale"])
                self.ctx.out(f"the scheduled sweeper found {victim} {lag:.0f} s into its wait")
        self.seen = len(answers)
        started = {
            s.get("instance_id") for r in self.ctx.result.sweeps if isinstance(r, dict) for s in r.get("started", [])
        }
        self.swept = bool(victims) and set(victims) <= started

    def _report(self, report: Any) -> None:
        if report is None:
            return
        self.ctx.result.sweeps.append(report)
        if isinstance(report, dict) and "error" in report:
            self.ctx.result.violations.append(f"the sweeper failed: {report}")

    def finish(self) -> None:
        if self.on_schedule:
            self.ctx.world.configure(scheduler={"fire": False})


class MalformedEvent(Action):
    """After the scale-in, an event our rule matches but without the instance id (what a broken or
    foreign sender sends); its execution may settle after the others: the run waits for it."""

    def scale_in(self) -> list[str] | None:
        dep = self.ctx.dep
        detail = {
            "AutoScalingGroupName": dep.asg,
            "LifecycleHookName": dep.hook,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "LifecycleActionToken": "00000000-0000-0000-0000-000000000000",
        }
        resource = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:x:autoScalingGroupName/{dep.asg}"
        self.ctx.world.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.autoscaling",
                    "DetailType": run_actions.TERMINATE_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "Resources": [resource],
                }
            ]
        )
        self.ctx.out("sent a malformed lifecycle event (no EC2InstanceId)")
        return None

    def finish(self) -> None:
        wait_for(
            lambda: (
                len(self.executions()) >= 1 + len(self.ctx.result.victims)
                and all(x["status"] != "RUNNING" for x in self.executions().values())
            ),
            20,
            "the malformed event's execution",
            tick=self.ctx.obs.poll,
        )


class DuplicateEvent(Action):
    """The first lifecycle event is delivered again (EventBridge delivers at least once)."""

    def __init__(self, ctx: Context, spec: dict[str, Any]):
        super().__init__(ctx, spec)
        self.done = False

    def tick(self) -> None:
        if self.done:
            return
        first = [x for x in self.executions().values() if run_actions.TERMINATE_DETAIL_TYPE in x["input"]]
        if first:
            self.ctx.world.client("stepfunctions").start_execution(
                stateMachineArn=self.ctx.dep.machine_arn,
                name=f"duplicate-{int(time.time() * 1000)}",
                input=first[0]["input"],
            )
            self.done = True
            self.ctx.out("delivered the same event again (EventBridge delivers at least once)")
