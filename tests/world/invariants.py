"""The invariants a run is judged by, from the world's event log and APIs (never from the
Lambdas' logs; world.run's docstring lists them), and the scenario's expectations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from world import capacity

if TYPE_CHECKING:
    from world.observe import Result

TEARDOWN_EVENTS = ("asg.deleted", "ecs.service.deleted", "ecs.cluster.deleted")  # world.emulator.teardown


def check(result: Result, classic_regs: set[tuple[str, str]]) -> None:
    """Appends to ``result.violations`` what breaks an invariant (world.run lists them); what a
    scenario expects to happen (a release at the drain deadline) goes to ``result.notes``."""
    assert result.deployment is not None
    _nothing_released_early(result, classic_regs)
    _retained_drained(result, classic_regs)
    _each_action_completed_once(result)
    served = _served(result)
    _running_never_below_minimum(result, served)
    for arn, x in result.executions.items():  # 4. nothing left running
        if x["status"] == "RUNNING":
            result.violations.append(f"execution {arn.rsplit(':', 1)[-1]} still RUNNING")
    _serving_capacity(result, served)
    _least_privilege(result)


def _served(result: Result) -> list[dict[str, Any]]:
    """The events while the service is up: until the scenario tears the group, the service or the
    cluster down."""
    teardown = min((e["seq"] for e in result.events if e["type"] in TEARDOWN_EVENTS), default=None)
    return [e for e in result.events if teardown is None or e["seq"] < teardown]


def _nothing_released_early(result: Result, classic_regs: set[tuple[str, str]]) -> None:
    """1. nothing terminates while running a task or registered/draining in a load balancer; an
    instance released at its drain deadline, where the scenario expects that
    (expect.drain_timed_out), is reported, not judged: the deadline is the configured way to stop
    waiting"""
    events, dep, v = result.events, result.deployment, result.violations
    assert dep is not None
    service_classic = [
        n for n, c in zip(dep.classic, result.scenario["load_balancers"]["classic"]) if c.get("attach") == "service"
    ]
    at_deadline = capacity.timed_out(result.executions) if result.scenario["expect"].get("drain_timed_out") else {}
    for e in events:
        if e["type"] == "asg.instance.terminated":
            x, seq = e["instance_id"], e["seq"]
            sink = result.notes if x in at_deadline else v
            released_by = [
                c for c in events if c["type"] == "asg.lifecycle.completed" and c["instance_id"] == x and c["seq"] < seq
            ]
            release = max((c["seq"] for c in released_by), default=seq)
            if released_by and released_by[-1]["by"] in ("DeleteLifecycleHook", "ForceDelete"):
                continue  # released by whoever deleted the hook or the group, not by us
            if any(
                b["type"] in ("ecs.container_instance.inactive", "ec2.instance.terminated")
                and b["instance_id"] == x
                and b["seq"] < release
                for b in events
            ):
                continue  # terminated through EC2 by someone else before the release
            before = [b for b in events if b["seq"] < release]
            _released_with(result, x, release, before, classic_regs, service_classic, sink)


def _retained_drained(result: Result, classic_regs: set[tuple[str, str]]) -> None:
    """1b. where the scenario expects instances retained (expect.retained: an instance lifecycle
    policy kept them after their action was abandoned), they are retained, and drained by the end
    of the run (its redriven drain finished what the FAILED one had not): no task on them still
    running, no registration not ended, as if they were released at the last event."""
    expect = result.scenario["expect"]
    if "retained" not in expect:
        return
    dep = result.deployment
    assert dep is not None
    retained = [e["instance_id"] for e in result.events if e["type"] == "asg.instance.retained"]
    if len(retained) != expect["retained"]:
        result.violations.append(f"expected {expect['retained']} instances retained, got {len(retained)}")
    service_classic = [
        n for n, c in zip(dep.classic, result.scenario["load_balancers"]["classic"]) if c.get("attach") == "service"
    ]
    end = max((e["seq"] for e in result.events), default=0) + 1
    for x in retained:
        _released_with(result, x, end, result.events, classic_regs, service_classic, result.violations)


def _tg_registrations(before: list[dict[str, Any]], x: str) -> list[tuple[str, int]]:
    """The target groups (and ports) ``x`` is still registered or draining in after ``before``, but
    those not in use at that moment: a target ``unused`` as Target.NotInUse is still registered,
    and serves again once a listener forwards to its group (``elbv2.target.initial``)."""
    live: dict[tuple[str, int], bool] = {}
    deleted = _deleted_tgs(before)
    for b in before:
        if not b["type"].startswith("elbv2.target.") or b.get("id") != x:
            continue
        key = (b["target_group"], b["port"])
        if b["type"] in ("elbv2.target.registered", "elbv2.target.initial"):
            live[key] = True
        elif b["type"] == "elbv2.target.unused":
            live[key] = False
    return sorted(key for key, registered in live.items() if registered and key[0] not in deleted)


def _nlb_still_routing(before: list[dict[str, Any]], x: str) -> list[tuple[str, int]]:
    """The Network Load Balancer target groups (and ports) the drain's functions, or Auto Scaling
    before the lifecycle hook, deregistered ``x`` from whose routing to it had not stopped after
    ``before`` (``elbv2.target.routing_stopped``), but those deleted or not in use."""
    routing: dict[tuple[str, int], bool] = {}
    for b in before:
        if b.get("id") != x or not b["type"].startswith("elbv2.target."):
            continue
        key = (b["target_group"], b["port"])
        if b["type"] in ("elbv2.target.draining", "elbv2.target.unused") and "connection_termination" in b:
            # the drain's deregistration, or Auto Scaling's on the way to its lifecycle hook
            routing[key] = b.get("by") in ("functions", "autoscaling")
        elif b["type"] in ("elbv2.target.routing_stopped", "elbv2.target.registered"):
            routing[key] = False  # registered again: judged as a registration
    deleted = _deleted_tgs(before)
    return sorted(key for key, on in routing.items() if on and key[0] not in deleted)


def _classic_registrations(
    before: list[dict[str, Any]], x: str, classic_regs: set[tuple[str, str]], service_classic: list[str]
) -> list[str]:
    """The Classic ELBs ``x`` is still registered or draining in after ``before``, in order: registered
    (at the start, by hand, or by ECS for a service's task) until ``elb.instance.out_of_service``, and
    again when registered again; a deleted one serves nobody."""
    live = {n: True for n, i in classic_regs if i == x}
    for b in before:
        if b["type"] == "elb.load_balancer.deleted":
            live[b["load_balancer"]] = False
        elif b.get("instance_id") != x:
            continue
        elif b["type"] == "elb.instance.registered":
            live[b["load_balancer"]] = True
        elif b["type"] == "ecs.task.running":
            live.update((n, True) for n in service_classic)
        elif b["type"] == "elb.instance.out_of_service":
            live[b["load_balancer"]] = False
    return sorted(name for name, registered in live.items() if registered)


def _deleted_tgs(before: list[dict[str, Any]]) -> set[str]:
    """The target groups deleted, or used by no load balancer (serving nobody) unless a listener
    forwards to them again."""
    deleted: set[str] = set()
    for b in before:
        if b["type"] in ("elbv2.target_group.deleted", "elbv2.target_group.out_of_use"):
            deleted.add(b["target_group"])
        elif b["type"] == "elbv2.target_group.in_use":
            deleted.discard(b["target_group"])
    return deleted


def _released_with(
    result: Result,
    x: str,
    release: int,
    before: list[dict[str, Any]],
    classic_regs: set[tuple[str, str]],
    service_classic: list[str],
    sink: list[str],
) -> None:
    """What instance ``x`` still had when it was released (event ``release``): tasks not STOPPED,
    target-group and Classic ELB registrations not ended, into ``sink``."""
    placed = {
        b["task_arn"]
        for b in before
        if b["type"] in ("ecs.task.pending", "ecs.task.running") and b.get("instance_id") == x
    }
    stopped = {b["task_arn"] for b in before if b["type"] == "ecs.task.stopped"}
    # orphaned by someone's forced deregistration: ECS no longer manages it and took it
    # out of its load balancers (their registrations are judged below)
    stopped |= {b["task_arn"] for b in before if b["type"] == "ecs.task.orphaned"}
    # its agent disconnected: ECS can no longer stop its tasks nor report them stopped; a drain
    # that gave them up is reported, not judged (their registrations are)
    cut_off = any(b["type"] == "ecs.container_instance.disconnected" and b["instance_id"] == x for b in before)
    for task in sorted(placed - stopped):
        (result.notes if cut_off else sink).append(
            f"{x} released (event {release}) while task {task.rsplit('/', 1)[-1]} on it was not STOPPED"
            + (" (its agent disconnected: ECS still reports it RUNNING)" if cut_off else "")
        )
    for tg, port in _tg_registrations(before, x):
        sink.append(f"{x} released while registered or draining in target group {tg.rsplit('/', 2)[-2]} port {port}")
    for tg, port in _nlb_still_routing(before, x):
        sink.append(
            f"{x} released while the Network Load Balancer of target group {tg.rsplit('/', 2)[-2]} could still "
            f"route new connections to it on port {port} (deregistered by the drain or by Auto Scaling; "
            "elbv2.nlb_deregistration_seconds)"
        )
    for name in _classic_registrations(before, x, classic_regs, service_classic):
        sink.append(f"{x} released while registered or draining in Classic ELB {name}")


def _each_action_completed_once(result: Result) -> None:
    """2. each lifecycle action completed exactly once (by us), or its execution visibly FAILED"""
    events, v = result.events, result.violations
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
    # actions the scenario lets expire before any drain began (its event lost, the sweep later than
    # the hook's heartbeat timeout: doctor's hook-heartbeat check fails such a deployment)
    expected_expiries = int((result.scenario.get("expect") or {}).get("expired_before_a_drain", 0))
    expired_before_a_drain = []
    for token, wait in tokens.items():
        done = [e for e in events if e["type"] == "asg.lifecycle.completed" and e["token"] == token]
        ours = [e for e in done if e["by"] == "CompleteLifecycleAction"]
        if len(done) > 1 or (not done and token not in failed_tokens):
            v.append(f"lifecycle action of {wait['instance_id']} completed {len(done)} times")
        elif not ours and token not in failed_tokens and done[0]["by"] not in ("DeleteLifecycleHook", "ForceDelete"):
            started = [x["startDate"].timestamp() for x in executions_of.get(token, [])]
            if done[0]["by"] == "heartbeat-timeout" and not any(t < done[0]["t"] for t in started):
                expired_before_a_drain.append(wait["instance_id"])
                continue
            v.append(f"lifecycle action of {wait['instance_id']} ended by {done[0]['by']} without a FAILED execution")
    if len(expired_before_a_drain) != expected_expiries:
        v.append(
            f"{len(expired_before_a_drain)} lifecycle action(s) expired before any drain began "
            f"({', '.join(expired_before_a_drain) or 'none'}), {expected_expiries} expected"
        )
        if not executions_of.get(token) and token not in failed_tokens:
            v.append(f"no execution for the lifecycle action of {wait['instance_id']}")
    unknown = [e for e in events if e["type"] == "asg.lifecycle.completed" and e["token"] not in tokens]
    v.extend(f"completed an unknown lifecycle action {e['token']}" for e in unknown)


def _running_never_below_minimum(result: Result, served: list[dict[str, Any]]) -> None:
    """3. the service's RUNNING tasks never below its minimum (from the moment it was up), until the
    scenario tears the group, the service or the cluster down"""
    dep, v = result.deployment, result.violations
    assert dep is not None
    running: set[str] = set()
    up = False
    minimum = result.min_running or 0
    for e in served:
        if e.get("service") != dep.service or e.get("cluster") != dep.cluster:
            continue
        if e["type"] == "ecs.task.running":
            running.add(e["task_arn"])
        elif e["type"] in ("ecs.task.stopping", "ecs.task.stopped"):
            running.discard(e["task_arn"])
        if len(running) >= minimum:
            up = True
        elif up:
            v.append(
                f"service {dep.service} down to {len(running)} healthy RUNNING tasks (minimum {minimum}) at event {e['seq']}"
            )
            up = False


def _serving_capacity(result: Result, served: list[dict[str, Any]]) -> None:
    """5. serving capacity: the service's healthy serving registrations in each of its load
    balancers never below ceil(minimum healthy % x desired) because of a drain (world.capacity)"""
    events, dep, v = result.events, result.deployment, result.violations
    assert dep is not None
    timed = capacity.timed_out(result.executions)
    deadline_seqs = [e["seq"] for e in events if e["type"] == "asg.lifecycle.completed" and e["instance_id"] in timed]
    broken, result.serving = capacity.judge(
        served,
        dep.service,
        dep.cluster,
        result.scenario["expect"].get("min_serving_after_deadline"),
        min(deadline_seqs, default=None),
    )
    v.extend(f"serving capacity: {message}" for message in broken)


def _least_privilege(result: Result) -> None:
    """6. least privilege that works: no call of a function refused by its execution role
    (world.emulator.iam), none of a service refused by the role the stack gives it
    (world.emulator.service_roles), but those a ``deny_role`` action caused on purpose"""
    events, dep, v = result.events, result.deployment, result.violations
    assert dep is not None
    for e in events:
        if e["type"] != "iam.access_denied" or e["role"] in result.denied_roles:
            continue
        if "service" in e:
            v.append(
                f"{e['service']} may not {e['action']} on {', '.join(e['resources'])}"
                f"{' with the role ' + e['role'] if e['role'] else ''}: {e['why']} (AccessDenied on AWS)"
            )
        else:
            v.append(
                f"{dep.crate_of(e['function'])}'s role does not allow {e['action']}: AccessDenied on AWS ({e['role']})"
            )


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
    if "drain_seconds_max" in expect:  # from Terminating:Wait to the completion, per lifecycle action
        waits = {e["token"]: e for e in result.events if e["type"] == "asg.lifecycle.wait"}
        for done in (e for e in result.events if e["type"] == "asg.lifecycle.completed" and e["token"] in waits):
            took = done["t"] - waits[done["token"]]["t"]
            if took > float(expect["drain_seconds_max"]):
                v.append(
                    f"the drain of {done['instance_id']} took {took:.1f}s (expected at most {expect['drain_seconds_max']}s)"
                )
    if "drain_timed_out" in expect:
        got = len(capacity.timed_out(result.executions))
        if got != expect["drain_timed_out"]:
            v.append(
                f"expected {expect['drain_timed_out']} drains ended by their deadline (status deadline_passed), got {got}"
            )
    if "completed_by_us" in expect:
        got = len(
            [
                e
                for e in result.events
                if e["type"] == "asg.lifecycle.completed" and e["by"] == "CompleteLifecycleAction"
            ]
        )
        if got != expect["completed_by_us"]:
            v.append(f"expected {expect['completed_by_us']} CompleteLifecycleAction, got {got}")
    if "dead_lettered" in expect:
        lettered = len(result.of_type("eventbridge.dead_lettered"))
        if lettered != expect["dead_lettered"]:
            v.append(f"expected {expect['dead_lettered']} events in the dead-letter queue, got {lettered}")
