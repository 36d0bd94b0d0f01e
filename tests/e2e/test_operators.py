"""What operators rely on, with the real drain (the ASL and the Lambda binaries) in the world: the
sweeper recovers a lost lifecycle event, `ecs-sta` finds and redrives a really failed drain, and the
lifecycle token never reaches the functions' logs. Asserted on the world's state (its event log and
APIs)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from world import harness, stack


def _completions(events, instance=None):
    return [
        e
        for e in events
        if e["type"] == "asg.lifecycle.completed" and (instance is None or e["instance_id"] == instance)
    ]


def _sweep(world, dep):
    """The stack's sweeper, run as its schedule runs it."""
    [schedule] = dep.stack.schedules["sweeper"]
    error, body = stack.run_schedule(world, schedule)
    assert not error, body
    return body


def test_sweeper_recovers_a_dropped_event(scenario, world):
    r = scenario("drop_event")
    assert r.ok, r.violations
    [victim] = r.victims
    dep = r.deployment

    # the lifecycle event was lost: nothing delivered to the state machine by the rule
    assert any(e["type"] == "asg.lifecycle.wait" and e["instance_id"] == victim for e in r.events)
    assert not [e for e in r.events if e["type"] == "eventbridge.delivered"]

    # the first sweep found the instance waiting and started its drain; the second, while that
    # drain ran, started nothing
    first, second = r.sweeps
    assert [w["instance_id"] for w in first["waiting"]] == [victim], first
    [started] = first["started"]
    # named from the instance and the start of its termination activity (the action)
    assert started["instance_id"] == victim and re.search(f":{victim}-\\d{{8}}T\\d{{6}}Z$", started["execution_arn"]), (
        first
    )
    assert second["started"] == [], second
    assert [f["instance_id"] for f in second["in_hand"]] + second["already_started"] == [victim], second

    # one execution, named from the instance, its event without a token; SUCCEEDED
    [(arn, execution)] = r.executions.items()
    assert arn == started["execution_arn"]
    assert execution["status"] == "SUCCEEDED"
    event = json.loads(execution["input"])
    assert event["detail"]["EC2InstanceId"] == victim and event["detail"]["AutoScalingGroupName"] == dep.asg
    assert not event["detail"].get("LifecycleActionToken")

    # drained, completed exactly once by CompleteLifecycleAction (by instance id), then terminated
    assert any(e["type"] == "ecs.container_instance.draining" and e["instance_id"] == victim for e in r.events)
    [done] = _completions(world.events(), victim)
    assert done["by"] == "CompleteLifecycleAction" and done["result"] == "CONTINUE"
    [terminated] = [e for e in r.events if e["type"] == "asg.instance.terminated"]
    assert terminated["instance_id"] == victim and terminated["seq"] > done["seq"]

    # a sweep now: nothing waits, nothing is started
    after = _sweep(world, dep)
    assert after["waiting"] == [] and after["started"] == [], after
    assert len(world.client("stepfunctions").list_executions(stateMachineArn=dep.machine_arn)["executions"]) == 1


def _ecs_sta(binary: Path, world, *args: str) -> subprocess.CompletedProcess[str]:
    return harness.ecs_sta(binary, world.exports(), *args)


def _json(proc: subprocess.CompletedProcess[str]):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.long
def test_operator_redrives_a_really_failed_drain_with_ecs_sta(scenario, world, ecs_sta):
    fault = {"autoscaling:CompleteLifecycleAction": {"unavailable": 1.0}}
    try:
        r = scenario("failed_drain")
        assert r.ok, r.violations
        assert world.control("GET", "/_world/config")["faults"] == fault  # still unavailable
        [victim] = r.victims
        machine = r.deployment.machine_arn
        sfn = world.client("stepfunctions")
        [arn] = r.executions
        assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
        assert _completions(world.events(), victim) == []

        # executions: FAILED at CompleteLifecycleAction, with its error
        rows = _json(_ecs_sta(ecs_sta, world, "executions", "--state-machine", machine, "--json"))
        [row] = rows
        assert row["execution_arn"] == arn and row["instance_id"] == victim and row["asg_name"] == r.deployment.asg
        assert row["status"] == "FAILED" and row["state"] == "CompleteLifecycleAction", row
        assert row["error"] == "Retryable" and row["redrive_count"] == 0, row

        # replay --dry-run: would redrive it, and does not (the world counts every RedriveExecution call)
        world.control("POST", "/_world/calls/reset", {})
        dry = _json(_ecs_sta(ecs_sta, world, "replay", "--state-machine", machine, "--dry-run", "--json"))
        assert dry["dry_run"] is True
        [item] = dry["items"]
        assert item["execution_arn"] == arn and item["action"] == "would_redrive", item
        calls = world.control("GET", "/_world/calls")["calls"]
        assert "stepfunctions:RedriveExecution" not in calls, calls
        still = sfn.describe_execution(executionArn=arn)
        assert still["status"] == "FAILED" and not still.get("redriveCount"), still
        assert not [h for h in harness.history(sfn, arn) if h["type"] == "ExecutionRedriven"]

        # the fault is gone; replay redrives it and it ends well
        world.configure(faults={})
        since = world.events()[-1]["seq"]
        replay = _ecs_sta(ecs_sta, world, "replay", "--state-machine", machine)
        assert replay.returncode == 0, replay.stderr
        assert victim in replay.stdout and "redriven" in replay.stdout, replay.stdout

        def settled() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            desc = sfn.describe_execution(executionArn=arn)
            terminated = [
                e for e in world.events(since) if e["type"] == "asg.instance.terminated" and e["instance_id"] == victim
            ]
            return (desc, terminated) if desc["status"] != "RUNNING" and terminated else None

        desc, terminated = harness.wait_for(settled, 60, "the redriven drain settled and its instance terminated")
        assert desc["status"] == "SUCCEEDED" and desc["redriveCount"] == 1, desc
        events = world.events()
        [done] = _completions(events, victim)  # exactly one completion, by the redriven drain
        assert done["by"] == "CompleteLifecycleAction" and done["result"] == "CONTINUE" and done["seq"] > since
        assert terminated[0]["seq"] > done["seq"]

        # show: the retried CompleteLifecycleAction attempts and the redrive
        timeline = _json(_ecs_sta(ecs_sta, world, "show", arn, "--json"))
        assert timeline["status"] == "SUCCEEDED" and timeline["redrives"] == 1, timeline
        asl = json.loads(harness.ASL.read_text())
        [retry] = [r for r in asl["States"]["CompleteLifecycleAction"]["Retry"] if "Retryable" in r["ErrorEquals"]]
        assert timeline["retries"] == retry["MaxAttempts"], timeline  # every retry of the Task's Retry
        entries = timeline["entries"]
        kinds = [(e["kind"], e.get("name", "")) for e in entries]
        redrive = kinds.index(("redriven", ""))
        assert kinds[redrive + 1 :] == [("state", "CompleteLifecycleAction"), ("state", "InstanceReleased")], kinds
        failed_visit = entries[redrive - 1]
        # the first attempt and every retry of the Task's Retry
        assert failed_visit["name"] == "CompleteLifecycleAction", failed_visit
        assert failed_visit["attempts"] == retry["MaxAttempts"] + 1, failed_visit
        assert set(failed_visit["retried_errors"]) == {"Retryable"}, failed_visit
        assert failed_visit["failed"]["error"] == "Retryable", failed_visit
        assert entries[redrive + 1]["attempts"] == 1 and entries[redrive + 1]["completion"]["outcome"] == "completed"
        assert timeline["completion"]["outcome"] == "completed", timeline
        assert [e["name"] for e in entries if e["kind"] == "state"].count("DrainContainerInstance") == 1

        # the failures and retries logged no token either
        [wait] = [e for e in events if e["type"] == "asg.lifecycle.wait" and e["instance_id"] == victim]
        _assert_token_not_logged(world, r.deployment, wait["token"], victim)
    finally:
        world.configure(faults={})


def test_no_lifecycle_token_in_the_functions_logs(scenario, world):
    r = scenario("default")
    assert r.ok, r.violations
    [victim] = r.victims
    [wait] = [e for e in r.events if e["type"] == "asg.lifecycle.wait"]
    token = wait["token"]
    assert token and len(token) >= 32
    [execution] = r.executions.values()
    assert json.loads(execution["input"])["detail"]["LifecycleActionToken"] == token  # the functions got it
    [done] = _completions(r.events)
    assert done["token"] == token and done["by"] == "CompleteLifecycleAction"

    _assert_token_not_logged(world, r.deployment, token, victim)


DRAIN_FUNCTIONS = {"drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle"}


def _assert_token_not_logged(world, dep, token: str, instance: str) -> None:
    """The token is in none of the functions' logs (each sandbox's stdout/stderr, tests/world/emulator/lambdas.py)."""
    lambdas = world.control("GET", "/_world/lambdas")
    sandboxes = {dep.crate_of(s["function"]): Path(s["log"]) for s in lambdas["sandboxes"]}
    assert set(sandboxes) >= DRAIN_FUNCTIONS, sandboxes
    log_dir = Path(lambdas["log_dir"])
    logs = sorted(set(sandboxes.values()) | {p for p in log_dir.glob("*.log") if p.name != "cargo-lambda.log"})
    for path in logs:
        text = path.read_text(errors="replace")
        assert token not in text, (
            f"the lifecycle token is in {path}: " + next(line for line in text.splitlines() if token in line)[:500]
        )
    # the logs are not empty: they name the instance the drain was about
    assert any(instance in sandboxes[name].read_text(errors="replace") for name in DRAIN_FUNCTIONS)
