"""Teardown under a drain and fleet scale (tests/scenarios): the group deleted, the cluster deleted, the
ECS agent cut off, and 20 of 24 scaled in at once under the world's API rate limits."""

from __future__ import annotations

import json

import pytest


def _first(result, kind):
    return next(e for e in result.events if e["type"] == kind)


def _stopped_at(execution) -> float:
    return execution["stopDate"].timestamp()


def test_asg_force_deleted_mid_drain_ends_every_drain_with_a_clear_outcome(scenario):
    r = scenario("asg_deleted_mid_drain")
    assert r.ok, r.violations
    deleted = _first(r, "asg.deleted")
    assert deleted["force"] is True
    abandoned = [e for e in r.events if e["type"] == "asg.lifecycle.completed" and e["by"] == "ForceDelete"]
    assert sorted(e["instance_id"] for e in abandoned) == r.victims
    assert len(r.executions) == 2
    for x in r.executions.values():
        assert x["status"] in ("SUCCEEDED", "FAILED"), x["status"]
        if x["status"] == "FAILED":  # naming what vanished
            assert x["error"] == "ResourceNotFound" and r.deployment.asg in x["cause"], x.get("cause")
        # never waiting to the 3000 s deadline once the group is gone
        assert _stopped_at(x) - deleted["t"] < 120


def test_cluster_deleted_mid_drain_completes_the_action(scenario):
    r = scenario("cluster_deleted_mid_drain")
    assert r.ok, r.violations
    [victim] = r.victims
    deleted = _first(r, "ecs.cluster.deleted")
    [done] = [e for e in r.events if e["type"] == "asg.lifecycle.completed"]
    assert done["by"] == "CompleteLifecycleAction" and done["seq"] > deleted["seq"]
    # the deleted cluster's tasks count as gone, the load balancers' draining is still waited for
    drained = [e for e in r.events if e["type"] == "elbv2.target.unused" and e["id"] == victim]
    assert drained and drained[-1]["seq"] < done["seq"]
    assert r.scaler is None  # nothing left to scale


@pytest.mark.long
def test_agent_disconnected_mid_drain_gives_its_tasks_up_after_120_s(scenario):
    r = scenario("agent_disconnected_mid_drain")
    assert r.ok, r.violations
    [victim] = r.victims
    cut = _first(r, "ecs.container_instance.disconnected")
    assert cut["instance_id"] == victim
    [done] = [e for e in r.events if e["type"] == "asg.lifecycle.completed"]
    assert done["by"] == "CompleteLifecycleAction"
    assert 110 < done["t"] - cut["t"] < 200  # about 120 s after, far from the 900 s deadline
    # ECS still reports the task RUNNING: released, reported (not judged), and the container instance
    # stays DRAINING with its agent disconnected: the scaler counts it as stale, never as a drain
    assert any("agent disconnected" in note for note in r.notes), r.notes
    assert r.scaler["payload"]["instances"]["stale_draining"] == 1, json.dumps(r.scaler)


def test_an_agent_blip_while_the_scaler_runs_keeps_the_hold(scenario):
    r = scenario("agent_blip_scaler_mid_drain")
    assert r.ok, r.violations
    [victim] = r.victims
    cut, back = _first(r, "ecs.container_instance.disconnected"), _first(r, "ecs.container_instance.reconnected")
    assert cut["instance_id"] == back["instance_id"] == victim
    # the scaler ran mid-drain while the agent was away (the run's own check: it held the count)
    scaler = [e for e in r.events if e["type"] == "lambda.invoked" and "TaskScaler" in e["function"]]
    assert any(cut["t"] < e["t"] < back["t"] for e in scaler), (cut, back, scaler)


def test_an_agent_blip_of_a_serving_instance_never_lowers_the_count_mid_drain(scenario):
    r = scenario("agent_blip_serving_scaler_mid_drain")
    assert r.ok, r.violations  # the run's own check: the scaler kept the count mid-drain
    cut, back = _first(r, "ecs.container_instance.disconnected"), _first(r, "ecs.container_instance.reconnected")
    assert cut["instance_id"] == back["instance_id"] not in r.victims
    scaler = [e for e in r.events if e["type"] == "lambda.invoked" and "TaskScaler" in e["function"]]
    assert any(cut["t"] < e["t"] < back["t"] for e in scaler), (cut, back, scaler)
    # until the drain ended, no task of the service was stopped but the drained instance's (the
    # scaler's tick after it lowers the count for the instance gone)
    [done] = [e for e in r.events if e["type"] == "asg.lifecycle.completed"]
    stopping = [e for e in r.events if e["type"] == "ecs.task.stopping" and e.get("service")]
    stopped = {e["task_arn"] for e in stopping if e["seq"] < done["seq"]}
    assert stopped
    placed_on = {e["task_arn"]: e["instance_id"] for e in r.events if e["type"] == "ecs.task.pending"}
    assert {placed_on.get(arn) for arn in stopped} <= set(r.victims), (stopped, placed_on)


def test_agent_disconnected_then_action_gone_gives_up_at_once(scenario):
    r = scenario("agent_disconnected_hook_deleted")
    assert r.ok, r.violations
    [execution] = r.executions.values()
    wait = _first(r, "asg.lifecycle.wait")
    assert _stopped_at(execution) - wait["t"] < 60


def test_fleet_of_20_scaled_in_at_once_under_the_rate_limits(scenario):
    r = scenario("fleet_20_of_24")
    assert r.ok, r.violations
    assert len(r.victims) == 20 and len(r.by_status("SUCCEEDED")) == 20
    assert not any(h["type"] == "ExecutionFailed" for x in r.executions.values() for h in x["history"])
    assert r.redrives == 0
    # the world's buckets did throttle the drains (a tenth of AWS's figures), and the functions ran in parallel
    assert sum(p["throttled"] for p in r.limits["peaks"].values()) > 0
    assert max(r.lambdas["peak_concurrency"].values()) > 1


@pytest.mark.long
def test_a_warm_pool_instance_whose_agent_was_lost_comes_back_active(scenario):
    r = scenario("warm_pool_agent_disconnected")
    assert r.ok, r.violations  # back ACTIVE from the pool, given a task, drained again
    [victim] = r.victims
    of_victim = [e for e in r.events if e.get("instance_id") == victim]
    kinds = [e["type"] for e in of_victim]
    # its container instance kept (a deregistered one would never rejoin: its agent exits)
    assert "ecs.container_instance.deregistered" not in kinds and "ecs.agent.exited" not in kinds
    # the task given up stays RUNNING for ECS while the instance is stopped in the pool, and is
    # STOPPED once its agent is back; a sweep then sets the container instance ACTIVE
    started, back = kinds.index("ec2.instance.started"), kinds.index("ecs.container_instance.reconnected")
    assert "ecs.task.stopped" in kinds[started:back]
    assert kinds.index("ecs.container_instance.active") > back
    assert [sweep["reactivated"] for sweep in r.sweeps if sweep["reactivated"]] == [[victim]]
    done = [e for e in r.events if e["type"] == "asg.lifecycle.completed" and e["instance_id"] == victim]
    assert len(done) == 2 and all(d["by"] == "CompleteLifecycleAction" for d in done)
