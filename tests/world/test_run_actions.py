"""The judgements the journey's scenario actions make from the world's event log."""

from __future__ import annotations

from world import run_actions


def _log(*events):
    return [dict(e, seq=i + 1) for i, e in enumerate(events)]


def test_deliveries_on_their_way_until_attempted_or_dropped():
    key = {"event_id": "e1", "target": "arn:sfn", "copy": 2}
    events = _log({"type": "eventbridge.scheduled", **key})
    assert run_actions.deliveries_pending(events) == 1
    events += _log({"type": "eventbridge.attempt", **key})
    assert run_actions.deliveries_pending(events) == 0
    events += _log({"type": "eventbridge.failed", "retry_in": 3.0, **key})
    assert run_actions.deliveries_pending(events) == 1
    events += _log({"type": "eventbridge.dropped", **key})
    assert run_actions.deliveries_pending(events) == 0


def test_what_still_served_when_the_instance_went():
    tg = "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/web-tg/abc"
    events = _log(
        {"type": "ecs.task.running", "task_arn": "task/c/t1", "instance_id": "i-1"},
        {"type": "elbv2.target.registered", "target_group": tg, "id": "i-1", "port": 8080},
        {"type": "elbv2.target.draining", "target_group": tg, "id": "i-1", "port": 8080},
        {"type": "ec2.instance.interrupted", "instance_id": "i-1"},
        {"type": "elbv2.target.unused", "target_group": tg, "id": "i-1", "port": 8080},
        {"type": "ecs.task.stopped", "task_arn": "task/c/t1", "instance_id": "i-1"},
    )
    found = run_actions.not_drained_before(events, "i-1", 4, ["web-clb"])
    assert found == [
        "task t1 not STOPPED",
        "registered or draining in target group web-tg port 8080",
        "registered or draining in Classic ELB web-clb",
    ]
    assert run_actions.not_drained_before(events, "i-1", 7, []) == []
