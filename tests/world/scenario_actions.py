"""Scenario actions of faults and outside changes (tests/scenarios/README.md): a function killed or
held mid-call, a role denied a call, a change made by someone else while the drain waits, the
stack's own schedules, and the runner's redrive of FAILED executions; those of the event
(repeated, lost, malformed, an action left to expire) are world.event_actions'. Each is
a world.run_actions.Action: world.run calls ``before_scale_in()``, ``scale_in()``, ``tick()`` on
every round of its loop (the run goes on while ``busy``), and ``finish()``.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from world import event_actions, journey_actions, teardown_actions
from world import stack as stack_mod
from world.deploy import delete_target_group, front
from world.run_actions import Action, Context

MID_DRAIN_ACTIONS = (
    "terminate_instance",
    "deregister_container_instance",
    "delete_load_balancers",
    "delete_hook",
    "scale_out",
    "delete_asg",
    "run_scaler",
    "delete_cluster",
    "disconnect_agent",
    "front_target_groups",
    "put_hook",
    "register_again",
    "fail_health_checks",
)


class Sabotage(Action):
    """kill_lambda / hang_lambda: the world fails the process of the stack's function of the crate
    ``function`` during its next call of ``api`` (or each of ``calls``)."""

    def before_scale_in(self) -> None:
        kind, ctx = self.spec["type"], self.ctx
        for call in self.spec.get("calls") or [
            {
                "function": self.spec.get("function", "deregister-lb"),
                "api": self.spec.get("api", "elbv2:DeregisterTargets"),
            }
        ]:
            function, api = ctx.dep.functions[call["function"]], call["api"]
            if kind == "hang_lambda" and self.spec.get("function_timeout"):
                ctx.world.client("lambda").update_function_configuration(
                    FunctionName=function, Timeout=int(self.spec["function_timeout"])
                )
                ctx.out(f"function {function}: Timeout {self.spec['function_timeout']}s")
            body = {
                "function": function,
                "api": api,
                "do": "kill" if kind == "kill_lambda" else "hang",
                "seconds": float(self.spec.get("seconds", 0)),
            }
            ctx.world.control("POST", "/_world/lambdas/sabotage", body)
            what = "killed (SIGKILL)" if kind == "kill_lambda" else f"held {body['seconds']:.0f}s"
            ctx.out(f"armed: {function} {what} on its next {api} during an invocation")


class DenyRole(Action):
    """deny_role: an explicit Deny of ``actions`` (default every action) in an inline policy of the
    stack's role ``role`` from before the scale-in, as an operator's edit of the role would leave
    it; lifted once every execution has settled, so that redrive_failed can redrive them."""

    ROLES: ClassVar[dict[str, str]] = {
        "state_machine": "DrainStateMachineRole",
        "events": "DrainStateMachineEventsRole",
    }
    POLICY: ClassVar[str] = "scenario-deny"

    def before_scale_in(self) -> None:
        iam = self.ctx.world.client("iam")
        self.role = self.ctx.dep.stack.one("AWS::IAM::Role", self.ROLES[self.spec["role"]])
        deny = {"Effect": "Deny", "Action": self.spec.get("actions", ["*"]), "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
        iam.put_role_policy(RoleName=self.role, PolicyName=self.POLICY, PolicyDocument=document)
        self.ctx.result.denied_roles.append(iam.get_role(RoleName=self.role)["Role"]["Arn"])
        self.busy = True
        self.ctx.out(f"role {self.role}: {', '.join(deny['Action'])} denied")

    def tick(self) -> None:
        executions = self.executions()
        if not self.busy or not executions or any(x["status"] == "RUNNING" for x in executions.values()):
            return
        self.ctx.world.client("iam").delete_role_policy(RoleName=self.role, PolicyName=self.POLICY)
        self.busy = False
        self.ctx.out(f"role {self.role}: the deny lifted")


class MidDrain(Action):
    """Something outside the drain changes the world while the drain waits (MID_DRAIN_ACTIONS):
    ``after_seconds`` (default 0.5) after the first execution entered its Wait state."""

    def __init__(self, ctx: Context, spec: dict[str, Any]):
        super().__init__(ctx, spec)
        self.done = False
        self.waiting_since: float | None = None

    @property
    def busy(self) -> bool:  # type: ignore[override]
        return not self.done

    def tick(self) -> None:
        if self.done:
            return
        if self.waiting_since is None and any(
            h["type"] == "WaitStateEntered" for x in self.executions().values() for h in x["history"]
        ):
            self.waiting_since = time.monotonic()
        if self.waiting_since is not None and time.monotonic() >= self.waiting_since + float(
            self.spec.get("after_seconds", 0.5)
        ):
            self.act()
            self.done = True

    def act(self) -> None:
        world, dep, out, action = self.ctx.world, self.ctx.dep, self.ctx.out, self.spec
        kind = action["type"]
        victims = self.ctx.result.victims[: int(action.get("count", len(self.ctx.result.victims)))]
        if action.get("of") == "serving":  # instances that stay, running a task (a disconnect_agent's)
            victims = [i for i in self.with_task() if i not in self.ctx.result.victims][: int(action.get("count", 1))]
        if kind in teardown_actions.KINDS:
            teardown_actions.act(world, dep, victims, action, out)
        elif kind == "terminate_instance":
            if action.get("agent_dead"):  # the instance dies with its agent cut off: ECS deregisters nothing
                teardown_actions.disconnect(world, victims, out)
            world.client("ec2").terminate_instances(InstanceIds=victims)
            out(f"mid-drain: EC2 TerminateInstances {victims} (someone else)")
        elif kind == "deregister_container_instance":
            ecs, force = world.client("ecs"), bool(action.get("force", True))
            for instance in victims:
                arns = ecs.list_container_instances(cluster=dep.cluster, filter=f"ec2InstanceId=={instance}")[
                    "containerInstanceArns"
                ]
                for arn in arns:
                    ecs.deregister_container_instance(cluster=dep.cluster, containerInstance=arn, force=force)
                    out(f"mid-drain: ECS DeregisterContainerInstance {instance} (force={force})")
        elif kind == "scale_out":
            asg = world.client("autoscaling")
            [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])["AutoScalingGroups"]
            desired, more = group["DesiredCapacity"], int(action.get("instances", 1))
            asg.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=desired + more)
            out(f"mid-drain: scale out {dep.asg} desired {desired} -> {desired + more}")
        elif kind == "delete_load_balancers":
            for name in dep.classic:
                world.client("elb").delete_load_balancer(LoadBalancerName=name)
                out(f"mid-drain: Classic ELB {name} deleted")
            for name, arn in dep.target_groups.items():
                delete_target_group(world, arn)
                out(f"mid-drain: target group {name} deleted (after its load balancer)")
        elif kind == "front_target_groups":
            for tg in self.ctx.sc["load_balancers"]["target_groups"]:
                if not tg.get("front", True):
                    name = f"{self.ctx.sc['name']}-{tg['name']}"[:32]
                    front(world, dep.target_groups[name], f"{name}-lb", tg.get("protocol", "HTTP"))
                    out(f"mid-drain: a listener forwards to target group {name}: it is in use")
        elif kind == "register_again":
            self._register_again(victims)
        elif kind == "fail_health_checks":
            world.configure(health={"failing_instances": victims})
            out(f"mid-drain: {victims} fail their health checks from now on (their task crashed)")
        elif kind == "put_hook":
            timeout = int(action["heartbeat_timeout"])
            world.client("autoscaling").put_lifecycle_hook(
                AutoScalingGroupName=dep.asg, LifecycleHookName=dep.hook, HeartbeatTimeout=timeout
            )
            out(f"mid-drain: PutLifecycleHook {dep.hook} HeartbeatTimeout {timeout} s (a stack update)")
        elif kind == "delete_hook":
            world.client("autoscaling").delete_lifecycle_hook(AutoScalingGroupName=dep.asg, LifecycleHookName=dep.hook)
            out(f"mid-drain: lifecycle hook {dep.hook} deleted")
        elif kind == "run_scaler":
            self._scale_mid_drain()

    def _register_again(self, victims: list[str]) -> None:
        """Someone registers the instances scaled in again, by hand, in the load balancers with
        ``attach: instances`` (a lost deregistration, a deploy script)."""
        world, dep, sc = self.ctx.world, self.ctx.dep, self.ctx.sc
        for name, clb in zip(dep.classic, sc["load_balancers"]["classic"]):
            if clb.get("attach") == "instances":
                world.client("elb").register_instances_with_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": i} for i in victims]
                )
                self.ctx.out(f"mid-drain: {victims} registered again in Classic ELB {name} (by hand)")
        for tg in sc["load_balancers"]["target_groups"]:
            name = f"{sc['name']}-{tg['name']}"[:32]
            if tg.get("attach") == "instances":
                world.client("elbv2").register_targets(
                    TargetGroupArn=dep.target_groups[name], Targets=[{"Id": i, "Port": tg["port"]} for i in victims]
                )
                self.ctx.out(f"mid-drain: {victims} registered again in target group {name} (by hand)")

    def _scale_mid_drain(self) -> None:
        """The task scaler's schedule runs while the drain waits: it must count the drain (its
        container instance DRAINING, its instance leaving) and never lower the desired count then."""
        [schedule] = self.ctx.dep.stack.schedules["task-scaler"]
        error, body = stack_mod.run_schedule_told(self.ctx.world, "task-scaler", schedule, self.ctx.out)
        if error or not isinstance(body, dict):
            self.violation(f"the task scaler failed mid-drain: {body}")
            return
        if body["instances"]["draining"] < 1:
            self.violation(f"the task scaler saw no drain in progress mid-drain: {body['instances']}")
        if body["new_desired_count"] < body["current_desired_count"]:
            self.violation(f"the task scaler lowered the desired count mid-drain: {body['reason']}")


class OwnSchedule(Action):
    """The stack's schedule of ``function`` (the task scaler's: ``scaler_schedule``; the sweeper's:
    ``sweeper_schedule``) fires on its own from the scale-in on (at its rate, within the scheduler's
    minute: world.emulator.scheduler), as it does in a deployment, so the function runs while the
    drains do; with ``first_after_seconds`` the harness also runs it as its schedule does that long
    after the scale-in (a moment a schedule that fires every minute reaches within any minute of a
    drain). Its answers are printed; one that failed is a violation."""

    def __init__(self, ctx: Context, spec: dict[str, Any], function: str, firing: list[str]):
        super().__init__(ctx, spec)
        self.function = function
        self.firing = firing  # the functions whose schedules fire in this run
        self.first_after = spec.get("first_after_seconds")
        self.scaled_in_at: float | None = None

    def before_scale_in(self) -> None:
        [self.name] = self.ctx.dep.stack.schedules[self.function]
        expression = self.ctx.world.client("scheduler").get_schedule(Name=self.name)["ScheduleExpression"]
        names = [name for function in self.firing for name in self.ctx.dep.stack.schedules[function]]
        self.ctx.world.configure(scheduler={"fire": names})
        self.ctx.out(f"schedule {self.name} ({expression}) fires the {self.function} on its own")

    def scale_in(self) -> list[str] | None:
        self.scaled_in_at = time.monotonic()
        return None

    def tick(self) -> None:
        if self.first_after is None or self.scaled_in_at is None:
            return
        if time.monotonic() - self.scaled_in_at < float(self.first_after):
            return
        self.first_after = None
        error, body = stack_mod.run_schedule_told(self.ctx.world, self.function, self.name, self.ctx.out)
        if error:
            self.violation(f"the {self.function} failed: {body}")

    def finish(self) -> None:
        self.ctx.world.configure(scheduler={"fire": False})
        answers = [e for e in self.ctx.obs.events if e["type"] == "scheduler.answered" and e["schedule"] == self.name]
        for answer in answers:
            self.ctx.out(f"scheduled {self.function} -> {json.dumps(answer.get('body'))}")
            if answer.get("error"):
                self.violation(f"the scheduled {self.function} failed: {answer.get('body')}")


# The actions that make a schedule of the stack fire on its own, and the function each schedule runs.
OWN_SCHEDULES = {"scaler_schedule": "task-scaler", "sweeper_schedule": "sweeper"}


class RedriveFailed(Action):
    """Once every execution has settled and no mid-drain change is pending, the FAILED ones (up to
    ``max_rounds`` each) are redriven after the faults are cleared. The drains' calls are those
    until the first redrive."""

    def __init__(self, ctx: Context, spec: dict[str, Any], mid_drain: list[MidDrain]):
        super().__init__(ctx, spec)
        self.mid_drain = mid_drain
        self.rounds: dict[str, int] = {}

    def tick(self) -> None:
        executions = self.executions()
        settled = executions and all(x["status"] != "RUNNING" for x in executions.values())
        if not settled or any(a.busy for a in self.mid_drain):
            return
        failed = [
            (arn, x)
            for arn, x in executions.items()
            if x["status"] == "FAILED"
            and x.get("error") not in ("InvalidEvent",)
            and self.rounds.get(arn, 0) < int(self.spec.get("max_rounds", 3))
        ]
        if not failed:
            return
        result = self.ctx.result
        result.calls = result.calls or self.ctx.world.control("GET", "/_world/calls")
        self.ctx.world.configure(faults={})
        for arn, x in failed:
            self.ctx.world.client("stepfunctions").redrive_execution(executionArn=arn)
            self.rounds[arn] = self.rounds.get(arn, 0) + 1
            result.redrives += 1
            x["status"] = "RUNNING"  # until the next poll says otherwise
            self.ctx.out(
                f"execution {arn.rsplit(':', 1)[-1][:8]} FAILED ({x.get('error')}): fault cleared, RedriveExecution"
            )


def start(ctx: Context) -> list[Action]:
    """The scenario's actions of this module, in the order they act within a round; then those of
    the event's journey (world.run_actions)."""
    specs = {a["type"]: a for a in ctx.sc["actions"]}
    actions: list[Action] = []
    if "expire_then_redrive" in specs:
        actions.append(event_actions.ExpireThenRedrive(ctx, specs["expire_then_redrive"]))
    if "drop_event" in specs:
        actions.append(event_actions.DropEvent(ctx, specs["drop_event"]))
    actions += [Sabotage(ctx, specs[kind]) for kind in ("kill_lambda", "hang_lambda") if kind in specs]
    if "deny_role" in specs:
        actions.append(DenyRole(ctx, specs["deny_role"]))
    if "malformed_event" in specs:
        actions.append(event_actions.MalformedEvent(ctx, specs["malformed_event"]))
    if "duplicate_event" in specs:
        actions.append(event_actions.DuplicateEvent(ctx, specs["duplicate_event"]))
    firing = [function for kind, function in OWN_SCHEDULES.items() if kind in specs]
    actions += [
        OwnSchedule(ctx, specs[kind], function, firing) for kind, function in OWN_SCHEDULES.items() if kind in specs
    ]
    mid_drain = [MidDrain(ctx, a) for a in ctx.sc["actions"] if a["type"] in MID_DRAIN_ACTIONS]
    actions += mid_drain
    if "redrive_failed" in specs:
        actions.append(RedriveFailed(ctx, specs["redrive_failed"], mid_drain))
    return actions + journey_actions.start(ctx)
