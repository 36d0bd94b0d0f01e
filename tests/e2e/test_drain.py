"""The real Lambdas and state machine in the world: each test runs one scenario (tests/scenarios) and
asserts on the world's state (its event log and APIs), besides the runner's invariants."""

from __future__ import annotations

import itertools

import pytest


def _types(result, prefix):
    return [e for e in result.of_type(prefix)]


def _completions(result):
    return [e for e in result.events if e["type"] == "asg.lifecycle.completed"]


def test_scale_in_of_one(scenario):
    r = scenario("default")
    assert r.ok, r.violations
    [victim] = r.victims
    [done] = _completions(r)
    assert done["instance_id"] == victim and done["by"] == "CompleteLifecycleAction" and done["result"] == "CONTINUE"
    terminated = [e for e in r.events if e["type"] == "asg.instance.terminated"]
    assert [e["instance_id"] for e in terminated] == [victim] and terminated[0]["seq"] > done["seq"]
    assert any(e["type"] == "ecs.container_instance.draining" and e["instance_id"] == victim for e in r.events)
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"
    assert r.scaler["payload"]["new_desired_count"] == 1 and r.scaler["payload"]["changed"] is True


def test_three_at_once(scenario):
    r = scenario("three_at_once")
    assert r.ok, r.violations
    assert len(r.victims) == 3
    assert sorted(e["instance_id"] for e in _completions(r)) == r.victims
    assert all(e["by"] == "CompleteLifecycleAction" for e in _completions(r))
    assert len(r.by_status("SUCCEEDED")) == 3


def test_drain_longer_than_the_heartbeat_timeout(scenario):
    r = scenario("long_drain")
    assert r.ok, r.violations
    [victim] = r.victims
    wait = next(e for e in r.events if e["type"] == "asg.lifecycle.wait")
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"
    assert done["t"] - wait["t"] > 30  # longer than the heartbeat timeout...
    beats = [e for e in r.events if e["type"] == "asg.lifecycle.heartbeat" and e["instance_id"] == victim]
    assert beats  # ...kept alive by heartbeats, none more than 30 s apart
    times = [wait["t"]] + [b["t"] for b in beats] + [done["t"]]
    assert max(b - a for a, b in itertools.pairwise(times)) < 30


def test_classic_elb_and_two_target_groups_on_two_ports(scenario):
    r = scenario("classic_two_target_groups")
    assert r.ok, r.violations
    [victim] = r.victims
    unused = {
        (e["target_group"].split("/")[-2], e["port"])
        for e in r.events
        if e["type"] == "elbv2.target.unused" and e["id"] == victim
    }
    assert unused == {("multilb-web-a", 8080), ("multilb-web-b", 9090)}
    assert any(e["type"] == "elb.instance.out_of_service" and e["instance_id"] == victim for e in r.events)
    [done] = _completions(r)
    last_lb = max(
        e["seq"]
        for e in r.events
        if e.get("instance_id") == victim or e.get("id") == victim
        if e["type"] in ("elbv2.target.unused", "elb.instance.out_of_service")
    )
    assert done["seq"] > last_lb


def test_instance_not_registered_in_ecs(scenario):
    r = scenario("not_in_ecs")
    assert r.ok, r.violations
    [victim] = r.victims
    assert not any(e["type"].startswith("ecs.container_instance") and e["instance_id"] == victim for e in r.events)
    [done] = _completions(r)
    assert done["instance_id"] == victim and done["by"] == "CompleteLifecycleAction"


def test_an_instance_whose_agent_registers_mid_drain_is_drained_before_its_release(scenario):
    r = scenario("late_agent")
    assert r.ok, r.violations
    [victim] = r.victims
    mine = [e for e in r.events if e.get("instance_id") == victim]
    kinds = [e["type"] for e in mine]
    # the first step found it out of the cluster; the check found it joined, with the daemon's task
    joined, draining = kinds.index("ecs.container_instance.registered"), kinds.index("ecs.container_instance.draining")
    started = next(e for e in r.events if e["type"] == "asg.lifecycle.heartbeat" and e["instance_id"] == victim)
    assert started["seq"] < mine[joined]["seq"] < mine[draining]["seq"]
    assert kinds.index("ecs.task.pending") > joined
    assert kinds.index("ecs.task.stopped") < kinds.index("asg.lifecycle.completed")
    [done] = _completions(r)
    assert done["instance_id"] == victim and done["by"] == "CompleteLifecycleAction"


def test_a_task_the_joined_instance_counts_but_no_listing_shows_yet_is_waited_for(scenario):
    r = scenario("late_agent_listed_late")
    assert r.ok, r.violations
    [victim] = r.victims
    mine = {e["type"]: e for e in r.events if e.get("instance_id") == victim}
    # the daemon's task ran on it before the check set it DRAINING, hidden from ListTasks then
    assert mine["ecs.task.running"]["seq"] < mine["ecs.container_instance.draining"]["seq"]
    assert mine["ecs.task.running"]["t"] + 60 > mine["ecs.container_instance.draining"]["t"]
    # the drain listed again until it showed, and released the instance only after the task stopped
    assert mine["ecs.task.stopped"]["seq"] < mine["asg.lifecycle.completed"]["seq"]
    assert mine["asg.lifecycle.completed"]["t"] >= mine["ecs.task.running"]["t"] + 60


def test_an_instance_scaled_in_while_registering_is_drained_once_active(scenario):
    r = scenario("registering_instance")
    assert r.ok, r.violations
    [victim] = r.victims
    mine = {e["type"]: e for e in r.events if e.get("instance_id") == victim}
    [started] = [e for e in r.events if e["type"] == "asg.lifecycle.wait" and e["instance_id"] == victim]
    # REGISTERING when scaled in; set DRAINING only once ACTIVE, after the daemon's task came
    assert mine["ecs.container_instance.registering"]["seq"] < started["seq"]
    assert started["seq"] < mine["ecs.container_instance.active"]["seq"] < mine["ecs.task.running"]["seq"]
    assert mine["ecs.task.running"]["seq"] < mine["ecs.container_instance.draining"]["seq"]
    assert mine["ecs.task.stopped"]["seq"] < mine["asg.lifecycle.completed"]["seq"]


def test_duplicated_event(scenario):
    r = scenario("duplicate_event")
    assert r.ok, r.violations
    executions = list(r.executions.values())
    assert len(executions) == 2 and all(x["status"] == "SUCCEEDED" for x in executions)
    assert executions[0]["input"] == executions[1]["input"]
    [done] = _completions(r)  # completed once; the other execution found it done
    assert done["by"] == "CompleteLifecycleAction"


@pytest.mark.long
def test_action_expired_then_execution_redriven(scenario):
    r = scenario("expire_then_redrive")
    assert r.ok, r.violations
    [done] = _completions(r)
    assert done["by"] == "heartbeat-timeout" and done["result"] == "CONTINUE"
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED" and execution["redriveCount"] == 1
    types = [h["type"] for h in execution["history"]]
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven") < types.index("ExecutionSucceeded")
    assert types.count("ExecutionStarted") == 1
    failed = next(h for h in execution["history"] if h["type"] == "ExecutionFailed")
    assert failed["executionFailedEventDetails"]["error"] == "Retryable"
    # the drain was not redone: one DrainContainerInstance, the redrive resumed at CompleteLifecycleAction
    entered = [
        h["stateEnteredEventDetails"]["name"] for h in execution["history"] if h["type"].endswith("StateEntered")
    ]
    assert entered.count("DrainContainerInstance") == 1
    assert entered[entered.index("CompleteLifecycleAction") + 1 :].count("CompleteLifecycleAction") == 1


def test_malformed_event(scenario):
    r = scenario("malformed_event")
    assert r.ok, r.violations
    [execution] = r.executions.values()
    assert execution["status"] == "FAILED" and execution["error"] == "InvalidEvent"
    assert "EC2InstanceId" in execution["cause"]
    assert _completions(r) == []
    assert not any(
        e["type"] in ("ecs.container_instance.draining", "elbv2.target.draining", "elb.instance.draining")
        for e in r.events
    )


def test_throttling_on_ecs_and_elb(scenario):
    r = scenario("throttling")
    assert r.ok, r.violations
    faults = [e for e in r.events if e["type"] == "fault.injected"]
    assert faults and {f["api"].split(":")[0] for f in faults} <= {"ecs", "elb", "elbv2"}
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


def test_function_killed_mid_call_is_retried(scenario):
    r = scenario("lambda_killed")
    assert r.ok, r.violations
    killed = [e for e in r.events if e["type"] == "lambda.sandbox.killed"]
    assert {r.deployment.crate_of(e["function"]) for e in killed} == {"deregister-lb", "complete-lifecycle"}
    [execution] = r.executions.values()
    # The state machine retries Runtime.ExitError itself: no redrive is needed.
    assert execution["status"] == "SUCCEEDED"
    [done] = _completions(r)  # the killed call completed it; the retry found it done
    assert done["by"] == "CompleteLifecycleAction"


@pytest.mark.long
def test_inactive_functions_are_retried_until_active(scenario):
    r = scenario("inactive_functions")
    assert r.ok, r.violations
    woken = [r.deployment.crate_of(e["function"]) for e in r.events if e["type"] == "lambda.inactive.invoked"]
    assert woken == ["drain-ecs", "deregister-lb", "check-drained", "complete-lifecycle"]
    assert any(e["type"] == "lambda.pending.refused" for e in r.events)
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"  # retried by the state machine: no redrive needed
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


@pytest.mark.long
def test_a_wake_longer_than_the_heartbeat_timeout_is_outlived_through_the_sweeper(scenario):
    r = scenario("slow_wake")
    assert r.ok, r.violations
    runs = [(e["type"], r.deployment.crate_of(e.get("function", ""))) for e in r.events]
    first_drain_run = runs.index(("lambda.invoked", "drain-ecs"))  # drain-ecs Active at last
    before = r.events[:first_drain_run]
    # No function of the drain ran yet: the action's heartbeats meanwhile are the sweeper's.
    assert ("lambda.invoked", "sweeper") in runs[:first_drain_run]
    assert [e for e in before if e["type"] == "asg.lifecycle.heartbeat"], "nothing kept the action alive"
    assert not [e for e in before if e["type"] == "lambda.invoked" and e["errored"]]
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


def test_hook_deleted_mid_drain(scenario):
    r = scenario("hook_deleted")
    assert r.ok, r.violations
    [done] = _completions(r)
    assert done["by"] == "DeleteLifecycleHook" and done["result"] == "CONTINUE"
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"


def test_load_balancers_deleted_mid_drain(scenario):
    r = scenario("load_balancers_deleted")
    assert r.ok, r.violations
    assert _types(r, "elbv2.target_group.deleted") and _types(r, "elb.load_balancer.deleted")
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


def test_a_redrive_drains_an_instance_the_group_retained(scenario):
    r = scenario("retained_after_failed_drain")
    assert r.ok, r.violations  # retained, and drained by the end: no task on it, no registration left
    [retained] = _types(r, "asg.instance.retained")
    assert retained["state"] == "Terminating:Retained"
    [ended] = _completions(r)
    assert (ended["result"], ended["by"]) == ("ABANDON", "heartbeat-timeout")
    # the FAILED run changed nothing; the redrive, after the action had ended, drained it
    draining = [e for e in _types(r, "ecs.container_instance.draining") if e["instance_id"] == retained["instance_id"]]
    assert draining and draining[0]["seq"] > retained["seq"], draining
    assert not _types(r, "asg.instance.terminated")
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"


@pytest.mark.long
def test_a_state_machine_role_that_may_not_invoke_fails_the_drain_and_a_redrive_finishes_it(scenario):
    r = scenario("state_machine_role_denied")
    assert r.ok, r.violations  # the deny was the scenario's own (deny_role); no other refusal
    denied = _types(r, "iam.access_denied")
    assert denied and all(e.get("service") == "states.amazonaws.com" for e in denied)
    assert {(e["action"], e["resources"][0].split(":function:")[0]) for e in denied} == {
        ("lambda:InvokeFunction", "arn:aws:lambda:us-west-2:123456789012")
    }
    [execution] = r.executions.values()
    # retried as Lambda.AWSLambdaException (the name a denial comes under) until the attempts ran
    # out: those of the long retrier (16), as a Pending function's error may come under that name
    failures = [e["taskFailedEventDetails"] for e in execution["history"] if e["type"] == "TaskFailed"]
    assert len(failures) == 1 + 16 and {f["error"] for f in failures} == {"Lambda.AWSLambdaException"}
    assert all("Error Code: AccessDeniedException" in f["cause"] for f in failures)
    # nothing changed before the redrive: the first drain of the instance came after it
    [redriven] = _types(r, "stepfunctions.execution.redriven")
    draining = _types(r, "ecs.container_instance.draining")
    assert draining and all(d["seq"] > redriven["seq"] for d in draining)
    assert execution["status"] == "SUCCEEDED" and r.redrives == 1
