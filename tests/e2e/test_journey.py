"""The event's journey, end to end: late, lost and repeated events, a warm pool, a Spot warning, an
instance refresh, a scale-out mid-drain and a second terminate hook (tests/scenarios)."""

from __future__ import annotations

import itertools
import json

import pytest


def _completions(result):
    return [e for e in result.events if e["type"] == "asg.lifecycle.completed"]


def _waits(result):
    return [e for e in result.events if e["type"] == "asg.lifecycle.wait"]


def test_late_event(scenario):
    r = scenario("late_event")
    assert r.ok, r.violations
    [wait] = _waits(r)
    [delivered] = [e for e in r.events if e["type"] == "eventbridge.delivered"]
    assert delivered["t"] - wait["t"] >= 20  # 0.7 x the heartbeat timeout
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction" and done["t"] - wait["t"] > 30
    beats = [e["t"] for e in r.events if e["type"] == "asg.lifecycle.heartbeat"]
    assert beats and beats[0] - wait["t"] < 30  # the first heartbeat before the timeout


@pytest.mark.long
def test_lost_event_swept_late_with_a_drain_longer_than_the_timeout(scenario):
    r = scenario("lost_event_late_sweep")
    assert r.ok, r.violations
    [wait] = _waits(r)
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction" and done["t"] - wait["t"] > 30 + 21
    times = [wait["t"]] + [e["t"] for e in r.events if e["type"] == "asg.lifecycle.heartbeat"] + [done["t"]]
    assert max(b - a for a, b in itertools.pairwise(times)) < 30
    assert r.sweeps and r.sweeps[0]["started"]


@pytest.mark.long
def test_lost_event_found_by_the_sweepers_own_schedule(scenario):
    r = scenario("lost_event_scheduled_sweep")
    assert r.ok, r.violations
    [wait] = _waits(r)
    fired = [e for e in r.events if e["type"] == "scheduler.fired"]
    # armed within the minute after each due time, and fired then (later only by the timer's delay)
    assert fired and all(0 <= f["armed"] < 60 and -1 <= f["late"] - f["armed"] < 5 for f in fired), fired
    found = [
        a
        for a in r.events
        if a["type"] == "scheduler.answered"
        and wait["instance_id"] in {s["instance_id"] for s in (a["body"] or {}).get("started", [])}
    ]
    # one firing starts the drain, delivered twice at once: both sweeps may ask StartExecution for it (the
    # same name and input answer with the one execution), and the later firings find it in hand
    assert found and {a["firing"] for a in found} == {found[0]["firing"]}, found
    first = found[0]
    # a period (60 s) and the scheduler's minute at most after the wait began, and the sweeper's run
    assert 0 < first["t"] - wait["t"] < 60 + 60 + 10
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction" and done["t"] - wait["t"] > 180  # past the heartbeat timeout
    times = [wait["t"]] + [e["t"] for e in r.events if e["type"] == "asg.lifecycle.heartbeat"] + [done["t"]]
    assert max(b - a for a, b in itertools.pairwise(times)) < 180


@pytest.mark.long
def test_an_event_eventbridge_may_not_deliver_goes_to_the_dead_letter_queue_and_the_sweeper_drains(scenario):
    r = scenario("events_role_denied")
    assert r.ok, r.violations  # no refusal but the scenario's own: the queue's policy let the rule send
    [wait] = _waits(r)
    [denied] = [e for e in r.events if e["type"] == "iam.access_denied"]
    assert (denied["service"], denied["action"]) == ("events.amazonaws.com", "states:StartExecution")
    [dropped] = [e for e in r.events if e["type"] == "eventbridge.dropped"]
    assert dropped["attempts"] == 1 and dropped["reason"].startswith("not retried: AccessDenied")
    [lettered] = [e for e in r.events if e["type"] == "eventbridge.dead_lettered"]
    assert lettered["queue"].split(":")[5].startswith("eventsdenied-")  # the stack's own queue
    started = [
        a
        for a in r.events
        if a["type"] == "scheduler.answered"
        and wait["instance_id"] in {s["instance_id"] for s in (a["body"] or {}).get("started", [])}
    ]
    assert len(started) == 1 and started[0]["seq"] > lettered["seq"]
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


@pytest.mark.long
def test_the_sweeper_drains_an_instance_retained_after_its_event_was_lost(scenario):
    r = scenario("retained_after_lost_event")
    assert r.ok, r.violations  # retained, and drained by the end
    [retained] = [e for e in r.events if e["type"] == "asg.instance.retained"]
    started = [a for s in r.sweeps for a in (s or {}).get("started", []) if a["instance_id"] == retained["instance_id"]]
    assert len(started) == 1, r.sweeps
    [execution] = r.executions.values()
    assert execution["status"] == "SUCCEEDED"
    # no heartbeat after the action ended: the sweeper keeps no retained instance's action alive
    assert not [e for e in r.events if e["type"] == "asg.lifecycle.heartbeat" and e["seq"] > retained["seq"]]


def test_duplicate_delivered_after_the_first_execution_finished(scenario):
    r = scenario("duplicate_after_finish")
    assert r.ok, r.violations
    first, second = sorted(r.executions.values(), key=lambda x: x["startDate"])
    assert first["input"] == second["input"]
    assert second["startDate"] > first["stopDate"]
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"
    terminated = next(e for e in r.events if e["type"] == "asg.instance.terminated")
    assert terminated["t"] < second["startDate"].timestamp()


@pytest.mark.long
def test_a_duplicate_meeting_another_hooks_wait_ends_once_the_instance_stops_waiting(scenario):
    r = scenario("second_hook_duplicate_event")
    assert r.ok, r.violations
    first, second = sorted(r.executions.values(), key=lambda x: x["startDate"])
    assert first["input"] == second["input"] and second["startDate"] > first["stopDate"]
    [ours] = _completions(r)  # the other hook's are its owner's (run apart)
    assert ours["by"] == "CompleteLifecycleAction" and ours["t"] < first["stopDate"].timestamp()
    # the duplicate could not tell "no active action" from an action not shown yet while the
    # instance waited under the other hook (240 s): it checked on, then ended once it stopped
    # waiting, terminated
    [gone] = [e for e in r.events if e["type"] == "asg.instance.terminated"]
    assert gone["t"] - ours["t"] > 200
    assert gone["t"] <= second["stopDate"].timestamp() < gone["t"] + 30
    assert not [h for h in second["history"] if h["type"] in ("TaskFailed", "ExecutionFailed")]


def test_a_sweep_that_misses_a_drain_just_started_starts_a_harmless_second_one(scenario):
    r = scenario("sweep_meets_event")
    assert r.ok, r.violations
    by_event, by_sweep = sorted(r.executions.values(), key=lambda x: x["startDate"])
    assert json.loads(by_event["input"])["source"] == "aws.autoscaling"
    assert json.loads(by_sweep["input"])["source"] == "ecs-single-task-autoscaling.sweeper"
    # the sweep came while ListExecutions (30 s of lag) did not list the event's drain yet
    assert (by_sweep["startDate"] - by_event["startDate"]).total_seconds() < 30
    [done] = _completions(r)
    assert done["by"] == "CompleteLifecycleAction"


def test_the_scaler_counts_a_drain_on_the_way_back_to_the_warm_pool(scenario):
    r = scenario("warm_pool_scaler_mid_drain")
    assert r.ok, r.violations
    [wait] = _waits(r)
    assert wait["destination"] == "WarmPool"
    [left] = [e for e in r.events if e["type"] == "asg.instance.terminated"]
    assert left["destination"] == "WarmPool"


def test_warm_pool_return_reuse_and_a_lost_second_event(scenario):
    r = scenario("warm_pool_reuse")
    assert r.ok, r.violations
    [victim] = r.victims
    waits = [e for e in _waits(r) if e["instance_id"] == victim]
    assert [w["destination"] for w in waits] == ["WarmPool", "WarmPool"]
    assert any(e["type"] == "asg.instance.reused" and e["instance_id"] == victim for e in r.events)
    left = [e for e in r.events if e["type"] == "asg.instance.terminated" and e["instance_id"] == victim]
    assert [e["destination"] for e in left] == ["WarmPool", "WarmPool"]
    done = [e for e in _completions(r) if e["instance_id"] == victim]
    assert [d["token"] for d in done] == [w["token"] for w in waits]
    assert all(d["by"] == "CompleteLifecycleAction" for d in done)
    assert any(sweep["started"] for sweep in r.sweeps)
    # back with its container instance: marked by the drain, set ACTIVE and unmarked by a sweep
    assert [sweep["reactivated"] for sweep in r.sweeps if sweep["reactivated"]] == [[victim]]
    registered = [
        e for e in r.events if e["type"] == "ecs.container_instance.registered" and e["instance_id"] == victim
    ]
    assert len(registered) <= 1  # at launch (if the warm pools check let it), never again
    marks = [e["type"] for e in r.events if e["type"].startswith("ecs.attribute.") and e["instance_id"] == victim]
    assert marks == ["ecs.attribute.put", "ecs.attribute.deleted", "ecs.attribute.put"]


def test_a_deleted_warm_pool_terminates_its_instances_through_our_drains(scenario):
    r = scenario("warm_pool_deleted")
    assert r.ok, r.violations
    [victim] = r.victims
    from_pool = [w for w in _waits(r) if w["origin"] == "WarmPool"]
    assert len(from_pool) == 2 and victim in {w["instance_id"] for w in from_pool}
    assert all(w["destination"] == "EC2" for w in from_pool)
    done = {d["token"]: d for d in _completions(r)}
    assert all(done[w["token"]]["by"] == "CompleteLifecycleAction" for w in from_pool)
    found = {w["instance_id"] for w in r.sweeps[0]["waiting"] if w["from_warm_pool"]}
    assert found == {w["instance_id"] for w in from_pool}  # both events were lost: the sweeper found them
    gone = {e["instance_id"] for e in r.events if e["type"] == "asg.instance.terminated" and e["destination"] == "EC2"}
    assert gone == found


def test_a_redrive_after_the_action_ended_leaves_a_reused_instance_alone(scenario):
    r = scenario("redrive_after_reuse")
    assert r.ok, r.violations
    [victim] = r.victims
    [expired] = [e for e in _completions(r) if e["instance_id"] == victim]
    assert expired["by"] == "heartbeat-timeout" and expired["result"] == "CONTINUE"
    assert any(e["type"] == "asg.instance.reused" and e["instance_id"] == victim for e in r.events)
    [x] = r.executions.values()
    types = [h["type"] for h in x["history"]]
    assert types.index("ExecutionFailed") < types.index("ExecutionRedriven") < types.index("ExecutionSucceeded")
    ended = [h for h in x["history"] if h["type"] == "SucceedStateEntered"]
    assert [h["stateEnteredEventDetails"]["name"] for h in ended] == ["LifecycleActionAlreadyEnded"]
    assert json.loads(x["output"])["status"] == "action_ended"


def test_a_redrive_while_the_instance_waits_in_the_pool_marks_it(scenario):
    r = scenario("redrive_in_pool")
    assert r.ok, r.violations
    [victim] = r.victims
    [x] = r.executions.values()
    assert json.loads(x["output"])["status"] == "drained"
    ended = [h for h in x["history"] if h["type"] == "SucceedStateEntered"]
    assert [h["stateEnteredEventDetails"]["name"] for h in ended] == ["InstanceReleased"]
    # marked while stopped in the pool; back in service, a sweep set it ACTIVE: the same record
    of_victim = [e for e in r.events if e.get("instance_id") == victim]
    kinds = [e["type"] for e in of_victim]
    assert "ecs.container_instance.deregistered" not in kinds and "ecs.agent.exited" not in kinds
    marked = kinds.index("ecs.attribute.put")
    assert kinds.index("asg.instance.terminated") < marked < kinds.index("asg.instance.reused")
    assert kinds.index("asg.instance.reused") < kinds.index("ecs.container_instance.active")
    assert [sweep["reactivated"] for sweep in r.sweeps] == [[victim]]


def test_spot_interruption_warning(scenario):
    r = scenario("spot_interruption")
    assert r.ok, r.violations
    [victim] = r.victims
    inputs = [json.loads(x["input"]) for x in r.executions.values()]
    assert {e["detail-type"] for e in inputs} == {
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance-terminate Lifecycle Action",
    }
    interrupted = next(e for e in r.events if e["type"] == "ec2.instance.interrupted")
    assert interrupted["instance_id"] == victim
    [done] = _completions(r)
    assert done["seq"] > interrupted["seq"] and done["by"] == "CompleteLifecycleAction"


def test_instance_refresh_of_three_instances(scenario):
    r = scenario("instance_refresh")
    assert r.ok, r.violations
    assert len(r.victims) == 3
    assert sorted(e["instance_id"] for e in _completions(r)) == r.victims
    assert all(e["by"] == "CompleteLifecycleAction" for e in _completions(r))
    starts = [e["seq"] for e in r.events if e["type"] == "asg.instance.terminating"]
    ends = [e["seq"] for e in r.events if e["type"] == "asg.instance.terminated"]
    assert all(end < start for end, start in zip(ends, starts[1:]))  # one at a time


def test_a_launch_into_the_warm_pool_waiting_on_a_launch_hook_is_no_drain(scenario):
    r = scenario("warm_pool_launch_hook")
    assert r.ok, r.violations
    [launch] = [e for e in r.events if e["type"] == "asg.launch.wait"]
    assert (launch["origin"], launch["destination"]) == ("EC2", "WarmPool")
    assert r.executions == {} and not any(e["type"] == "asg.lifecycle.wait" for e in r.events)
    [report] = r.sweeps
    assert report["waiting"] == [] and report["unidentified"] == [] and report["started"] == []


def test_instance_refresh_then_its_warm_pool(scenario):
    r = scenario("instance_refresh_warm_pool")
    assert r.ok, r.violations
    waits = _waits(r)
    assert [w["origin"] for w in waits] == ["AutoScalingGroup"] * 3 + ["WarmPool"] * 2  # the pool last
    assert all(w["destination"] == "EC2" for w in waits)
    done = {d["token"]: d for d in _completions(r)}
    assert all(done[w["token"]]["by"] == "CompleteLifecycleAction" for w in waits)
    pool = {w["instance_id"] for w in waits[3:]}
    gone = {e["instance_id"] for e in r.events if e["type"] == "asg.instance.terminated"}
    assert pool <= gone


def test_scale_out_during_a_drain(scenario):
    r = scenario("scale_out_during_drain")
    assert r.ok, r.violations
    [victim] = r.victims
    registered = [
        e
        for e in r.events
        if e["type"] == "elbv2.target.registered"
        and e["id"] == victim
        and e["target_group"].split("/")[-2].endswith("asg-tg")
    ]
    terminating = next(e for e in r.events if e["type"] == "asg.instance.terminating")
    assert all(e["seq"] < terminating["seq"] for e in registered)  # never again once it was leaving


def test_second_hook_that_abandons(scenario):
    r = scenario("second_hook_abandon")
    assert r.ok, r.violations
    [ours] = _completions(r)
    assert ours["by"] == "CompleteLifecycleAction" and ours["result"] == "CONTINUE"
    terminated = next(e for e in r.events if e["type"] == "asg.instance.terminated")
    assert terminated["t"] - ours["t"] > 1  # the instance waited for the other hook
