"""Serving capacity through a drain, with the real drain in the world's load balancers with health checks:
each test runs one scenario (tests/scenarios) and asserts on the world's event log, besides the runner's
invariants (the serving floor among them)."""

from __future__ import annotations

import json

import pytest


def _of(result, kind, **match):
    return [e for e in result.events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def _wait_and_done(result, instance):
    [wait] = _of(result, "asg.lifecycle.wait", instance_id=instance)
    [done] = _of(result, "asg.lifecycle.completed", instance_id=instance)
    return wait, done


# AWS stamps the lifecycle event's `time` to the whole second, and the drain counts its deadline
# from that stamp (the earliest the wait can have begun): the release comes up to 1 s before
# deadline_seconds after the world's own record of the wait.
EVENT_TIME_RESOLUTION = 1


def _fewest(result):
    return {s.label.split("-", 1)[1]: s.fewest for s in result.serving}


def _replacement(result, victim):
    """The service task started on another instance once the victim was DRAINING."""
    [draining] = _of(result, "ecs.container_instance.draining", instance_id=victim)
    return next(
        e
        for e in _of(result, "ecs.task.running", service="web")
        if e["seq"] > draining["seq"] and e["instance_id"] != victim
    )


def test_a_one_task_service_keeps_serving(scenario):
    r = scenario("one_task_service")
    assert r.ok, r.violations
    [victim] = r.victims
    new = _replacement(r, victim)["instance_id"]
    [old] = [e for e in _of(r, "ecs.task.stopping", service="web") if e["seq"] < _wait_and_done(r, victim)[1]["seq"]]
    healthy = [_of(r, "elbv2.target.healthy", id=new)[0], _of(r, "elb.instance.in_service", instance_id=new)[0]]
    assert all(old["seq"] > h["seq"] for h in healthy)  # the replacement serves in both before the old task goes
    assert _fewest(r) == {"web-tg": 1, "web-clb": 1}


def test_slow_health_checks_are_waited_for(scenario):
    r = scenario("slow_health_checks")
    assert r.ok, r.violations
    [victim] = r.victims
    wait, done = _wait_and_done(r, victim)
    assert done["t"] - wait["t"] >= 20  # the replacement's 10 s x 2 health checks, then the draining
    assert set(_fewest(r).values()) == {3}


def test_a_replacement_that_never_becomes_healthy_ends_at_the_deadline(scenario):
    r = scenario("replacement_never_healthy")
    assert r.ok, r.violations
    [victim] = r.victims
    [execution] = r.executions.values()
    entered = [
        h["stateEnteredEventDetails"]["name"] for h in execution["history"] if h["type"].endswith("StateEntered")
    ]
    assert "CompleteLifecycleActionAfterDeadline" in entered and entered[-1] == "InstanceReleasedAfterDeadline"
    assert json.loads(execution["output"])["status"] == "deadline_passed"
    wait, done = _wait_and_done(r, victim)
    assert done["by"] == "CompleteLifecycleAction" and done["result"] == "CONTINUE"
    assert done["t"] - wait["t"] >= 20 - EVENT_TIME_RESOLUTION
    # the old task kept serving until the deadline: ECS never stopped it
    assert not [e for e in _of(r, "ecs.task.stopping", service="web") if e["seq"] < done["seq"]]
    assert not [
        e
        for e in r.events
        if e["type"] in ("elbv2.target.draining", "elb.instance.draining") and e["seq"] < done["seq"]
    ]
    assert _fewest(r) == {"web-tg": 1, "web-clb": 1}


def test_no_room_for_the_replacement_ends_at_the_deadline(scenario):
    r = scenario("no_room")
    assert r.ok, r.violations
    [victim] = r.victims
    assert _of(r, "ecs.service.no_room")
    [execution] = r.executions.values()
    assert json.loads(execution["output"])["status"] == "deadline_passed"
    wait, done = _wait_and_done(r, victim)
    assert done["t"] - wait["t"] >= 15 - EVENT_TIME_RESOLUTION
    assert any("not STOPPED" in note for note in r.notes)  # released with its task: the configured trade
    assert _fewest(r) == {"web-tg": 2, "web-clb": 2}


def test_an_unhealthy_instance_is_released_once_its_unseen_requests_are_done(scenario):
    r = scenario("unhealthy_instance")
    assert r.ok, r.violations
    [victim] = r.victims
    # deregistered while unhealthy: "not registered" at once, its in-flight requests still completed
    [draining] = _of(r, "elb.instance.draining", instance_id=victim)
    assert draining["unhealthy"] is True and draining["by"] == "functions"
    [out] = _of(r, "elb.instance.out_of_service", instance_id=victim)
    wait, done = _wait_and_done(r, victim)
    assert out["seq"] < done["seq"]  # the 30 s of connection draining were waited out
    assert done["t"] - wait["t"] < 45  # and not much more


def test_an_instance_unhealthy_while_it_drains_is_released_once_its_draining_would_have_ended(scenario):
    r = scenario("classic_unhealthy_while_draining")
    assert r.ok, r.violations
    [victim] = r.victims
    [draining] = _of(r, "elb.instance.draining", instance_id=victim)
    assert "unhealthy" not in draining and draining["by"] == "functions"
    # out of service long before its 60 s were over, its in-flight requests going on unseen
    [sick] = _of(r, "elb.instance.draining_unhealthy", instance_id=victim)
    assert sick["t"] - draining["t"] < 30
    [out] = _of(r, "elb.instance.out_of_service", instance_id=victim)
    wait, done = _wait_and_done(r, victim)
    assert done["t"] - wait["t"] >= 60  # the draining, from the deregistration just after the wait
    assert out["seq"] < done["seq"] and done["t"] - out["t"] < 15  # waited out, and not much more


def test_nlb_connections_may_outlive_the_delay(scenario):
    r = scenario("nlb_connections_remain")
    assert r.ok, r.violations
    [victim] = r.victims
    [remain] = _of(r, "elbv2.target.connections_remain", id=victim)
    [unused] = _of(r, "elbv2.target.unused", id=victim)
    _wait, done = _wait_and_done(r, victim)
    assert unused["seq"] < done["seq"]  # the delay was waited out
    assert remain["target_group"].split("/")[-2] == "nlb-web-nlb"


def test_an_orphans_nlb_registration_is_taken_over_once_its_replacement_serves(scenario):
    r = scenario("nlb_orphaned_task")
    assert r.ok, r.violations
    [victim] = r.victims
    [orphaned] = _of(r, "ecs.task.orphaned", instance_id=victim)
    # ECS left the orphan's NLB registration; the drain deregistered it, once the replacement was healthy
    [taken] = _of(r, "elbv2.target.draining", id=victim, by="functions")
    new = _replacement(r, victim)["instance_id"]
    [healthy] = _of(r, "elbv2.target.healthy", id=new)
    _wait, done = _wait_and_done(r, victim)
    assert orphaned["seq"] < healthy["seq"] < taken["seq"] < done["seq"]
    assert _fewest(r) == {"web-nlb": 2}


def _shared_group_taken_over(scenario, name):
    """Runs ``name``: the orphan's registrations in an NLB group it shares with the agent (port 9100)
    were taken over, both at once, only after the web task's replacement was healthy there: the
    agent's targets elsewhere serve in the group, but not as the web service's. The run, the victim
    and the web task's port taken over."""
    r = scenario(name)
    assert r.ok, r.violations
    [victim] = r.victims
    taken = _of(r, "elbv2.target.draining", id=victim, by="functions")
    [web] = [e["port"] for e in taken if e["port"] != 9100]
    assert len(taken) == 2, taken
    new = _replacement(r, victim)["instance_id"]
    [healthy] = [e for e in _of(r, "elbv2.target.healthy", id=new) if e["port"] != 9100]
    assert healthy["seq"] < min(e["seq"] for e in taken)
    assert _fewest(r) == {"shared-nlb": 2}
    return r, victim, web


def test_a_shared_nlb_group_is_taken_over_once_the_services_own_replacement_serves(scenario):
    r, victim, web = _shared_group_taken_over(scenario, "nlb_shared_orphan")
    assert {e["service"] for e in _of(r, "ecs.task.orphaned", instance_id=victim)} == {"web", "agent"}
    assert web == 8080


def test_in_bridge_mode_the_services_own_targets_are_found_on_their_ephemeral_host_ports(scenario):
    _r, _victim, web = _shared_group_taken_over(scenario, "nlb_shared_orphan_bridge")
    assert 32768 <= web <= 60999  # the web task's host port, from the ephemeral range


def test_an_orphans_registration_is_taken_over_soon_after_a_late_replacement_serves(scenario):
    r = scenario("nlb_orphan_replaced_late")
    assert r.ok, r.violations
    [victim] = r.victims
    [taken] = _of(r, "elbv2.target.draining", id=victim, by="functions")
    new = _replacement(r, victim)["instance_id"]
    [healthy] = _of(r, "elbv2.target.healthy", id=new)
    # long past the end the drain expected, it still looked again within its recheck interval
    assert healthy["seq"] < taken["seq"] and taken["t"] - healthy["t"] < 20
    assert _fewest(r) == {"web-nlb": 2}


def _standalone(result, victim):
    [running] = [e for e in _of(result, "ecs.task.running", instance_id=victim) if e.get("service") is None]
    return running["task_arn"]


def _exited_before_the_release(scenario, name):
    """Runs scenario ``name``: its standalone task exited on its own (nobody stopped it) before
    the action was completed. Its ARN and the run."""
    r = scenario(name)
    assert r.ok, r.violations
    [victim] = r.victims
    task = _standalone(r, victim)
    assert not _of(r, "ecs.task.stopping", task_arn=task)  # nobody stopped it
    [stopped] = _of(r, "ecs.task.stopped", task_arn=task)
    _wait, done = _wait_and_done(r, victim)
    assert stopped["reason"] == "Essential container in task exited" and stopped["seq"] < done["seq"]
    return task, r


def test_a_standalone_task_is_waited_for(scenario):
    _exited_before_the_release(scenario, "standalone_wait")


def test_a_task_the_first_listing_did_not_show_is_waited_for(scenario):
    task, r = _exited_before_the_release(scenario, "standalone_listed_late")
    [execution] = r.executions.values()
    first = next(e for e in execution["history"] if e["type"] == "TaskSucceeded")
    # the first step's listing did not show it: it was found afterwards
    assert task.rsplit("/", 1)[-1] not in first["taskSucceededEventDetails"]["output"]


def test_a_task_describe_tasks_does_not_know_yet_is_waited_for(scenario):
    task, r = _exited_before_the_release(scenario, "standalone_described_late")
    # the drain met it MISSING at least once, and waited for it all the same
    assert _of(r, "ecs.task.described_missing", task_arn=task)


@pytest.mark.long  # six minutes: the first check comes more than five minutes after the first step
def test_a_task_the_first_listing_did_not_show_is_found_however_late_the_check(scenario):
    r = scenario("standalone_listed_late_long")
    assert r.ok, r.violations
    [victim] = r.victims
    task = _standalone(r, victim)
    [execution] = r.executions.values()
    first = next(e for e in execution["history"] if e["type"] == "TaskSucceeded")
    assert task.rsplit("/", 1)[-1] not in first["taskSucceededEventDetails"]["output"]
    [stopping] = _of(r, "ecs.task.stopping", task_arn=task)
    [stopped] = _of(r, "ecs.task.stopped", task_arn=task)
    wait, done = _wait_and_done(r, victim)
    # found by the first check, more than five minutes in, and stopped at once (past its grace)
    assert stopping["t"] - wait["t"] > 300
    assert stopping["seq"] < stopped["seq"] < done["seq"]


def test_a_standalone_task_is_stopped_after_its_grace(scenario):
    r = scenario("standalone_stop")
    assert r.ok, r.violations
    [victim] = r.victims
    task = _standalone(r, victim)
    [stopping] = _of(r, "ecs.task.stopping", task_arn=task)
    [stopped] = _of(r, "ecs.task.stopped", task_arn=task)
    wait, done = _wait_and_done(r, victim)
    assert stopping["t"] - wait["t"] >= 5  # the grace, counted from the drain's start (after the wait began)
    assert stopping["seq"] < stopped["seq"] < done["seq"]


def test_a_daemons_task_stops_last_and_is_waited_for(scenario):
    r = scenario("daemon_service")
    assert r.ok, r.violations
    [victim] = r.victims
    on_victim = {e["service"]: e["task_arn"] for e in _of(r, "ecs.task.running", instance_id=victim)}
    [web_stopped] = _of(r, "ecs.task.stopped", task_arn=on_victim["web"])
    [agent_stopping] = _of(r, "ecs.task.stopping", task_arn=on_victim["agent"])
    [agent_stopped] = _of(r, "ecs.task.stopped", task_arn=on_victim["agent"])
    [agent_unused] = [e for e in _of(r, "elbv2.target.unused", id=victim) if "agent-tg" in e["target_group"]]
    _wait, done = _wait_and_done(r, victim)
    # ECS stops the daemon's task once the web task stopped; the drain waits for both and for the
    # daemon's target to drain before it completes the action
    assert web_stopped["seq"] < agent_stopping["seq"] < agent_stopped["seq"] < done["seq"]
    assert agent_unused["seq"] < done["seq"]
