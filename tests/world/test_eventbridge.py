"""EventBridge delivers late, twice, never, and retries within the target's maximum event age."""

from __future__ import annotations

import json
import time

import aws_setup as aws

DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action"


def _machine_and_rule(world, retry_policy=None, name="drain"):
    arn = aws.state_machine_rule(world, name)
    if retry_policy is not None:
        world.client("events").put_targets(
            Rule=f"{name}-rule",
            Targets=[
                {
                    "Id": "sfn",
                    "Arn": arn,
                    "RoleArn": aws.service_role(world, "events"),
                    "RetryPolicy": retry_policy,
                }
            ],
        )
    return arn


def _put(world, n=1):
    entries = [
        {"Source": "aws.autoscaling", "DetailType": DETAIL_TYPE, "Detail": json.dumps({"EC2InstanceId": f"i-{k}"})}
        for k in range(n)
    ]
    return [e["EventId"] for e in world.client("events").put_events(Entries=entries)["Entries"]]


def _executions(world, machine):
    return world.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def test_defaults_deliver_at_once_and_once(world):
    machine = _machine_and_rule(world)
    [event_id] = _put(world)
    assert len(_executions(world, machine)) == 1
    [attempt] = world.events("eventbridge.attempt")
    assert attempt["event_id"] == event_id and attempt["attempt"] == 1 and attempt["copy"] == 1
    assert len(world.events("eventbridge.delivered")) == 1


def test_a_late_event_keeps_its_time_and_arrives_after_the_delay(world):
    world.configure(timescale=0.01, eventbridge={"delay_seconds": 150})  # 1.5 s
    machine = _machine_and_rule(world)
    asg = aws.asg(world, desired=2)
    aws.terminate_hook(world, asg)
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=asg, DesiredCapacity=1)
    [wait] = world.wait_for(lambda: world.events("asg.lifecycle.wait"), what="the wait")
    [scheduled] = world.events("eventbridge.scheduled")
    assert scheduled["in_seconds"] == 150 and scheduled["ordinal"] == 1
    assert _executions(world, machine) == []
    [execution] = world.wait_for(lambda: _executions(world, machine), timeout=10, what="the late delivery")
    # the world records the delivery once StartExecution has answered: wait for the record too
    [delivered] = world.wait_for(lambda: world.events("eventbridge.delivered"), timeout=10, what="the delivery record")
    assert delivered["t"] - wait["t"] >= 1.4
    event = json.loads(
        world.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    )
    sent = time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(sent) - time.mktime(time.gmtime(wait["t"]))) <= 1  # the time the wait began


def test_random_delay_range(world):
    world.configure(timescale=0.01, eventbridge={"delay_seconds": [10, 20]})
    _machine_and_rule(world)
    _put(world, 3)
    delays = [e["in_seconds"] for e in world.events("eventbridge.scheduled")]
    assert len(delays) == 3 and all(10 <= d <= 20 for d in delays) and len(set(delays)) == 3


def test_duplicate_and_dropped_events_by_ordinal(world):
    world.configure(timescale=0.01, eventbridge={"duplicates": [1], "duplicate_delay_seconds": 100, "drop": [2]})
    machine = _machine_and_rule(world)
    first, second, third = _put(world, 3)
    assert len(_executions(world, machine)) == 2  # the first and the third, at once
    [dropped] = world.events("eventbridge.dropped")
    assert dropped["event_id"] == second and dropped["reason"].startswith("lost")
    executions = world.wait_for(
        lambda: len(_executions(world, machine)) == 3 and _executions(world, machine), timeout=10, what="the duplicate"
    )
    sfn = world.client("stepfunctions")
    inputs = [json.loads(sfn.describe_execution(executionArn=x["executionArn"])["input"])["id"] for x in executions]
    assert sorted(inputs) == sorted([first, first, third])
    copies = world.wait_for(
        lambda: len(c := [e for e in world.events("eventbridge.delivered") if e["event_id"] == first]) == 2 and c,
        timeout=10,
        what="both delivery records",
    )
    assert [c["copy"] for c in copies] == [1, 2]


def test_detail_types_limit_the_policy(world):
    world.configure(eventbridge={"drop": 1.0, "detail_types": ["EC2 Spot Instance Interruption Warning"]})
    machine = _machine_and_rule(world)
    _put(world)
    assert len(_executions(world, machine)) == 1


def test_failed_attempts_are_retried_with_backoff(world):
    world.configure(
        timescale=0.01, eventbridge={"fail_first": 3, "retry_base_seconds": 10, "retry_max_backoff_seconds": 40}
    )
    machine = _machine_and_rule(world)
    _put(world)
    world.wait_for(lambda: _executions(world, machine), timeout=10, what="the fourth attempt")
    attempts = world.events("eventbridge.attempt")
    failed = world.events("eventbridge.failed")
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert [f["attempt"] for f in failed] == [1, 2, 3]
    assert all(f["error"].startswith("ThrottlingException") for f in failed)
    assert [0 <= f["retry_in"] <= cap for f, cap in zip(failed, (10, 20, 40))] == [True] * 3


def test_retries_stop_at_the_targets_maximum_retry_attempts(world):
    world.configure(
        timescale=0.001, eventbridge={"fail_first": 1000, "retry_base_seconds": 1, "retry_max_backoff_seconds": 2}
    )
    machine = _machine_and_rule(world, {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600})
    _put(world)
    [dropped] = world.wait_for(lambda: world.events("eventbridge.dropped"), timeout=10, what="the drop")
    assert dropped["attempts"] == 3 and dropped["reason"] == "2 retries exhausted"
    assert _executions(world, machine) == []


def test_retries_stop_at_the_targets_maximum_event_age(world):
    world.configure(
        timescale=0.01, eventbridge={"fail_first": 1000, "retry_base_seconds": 30, "retry_max_backoff_seconds": 30}
    )
    machine = _machine_and_rule(world, {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60})
    _put(world)
    [dropped] = world.wait_for(lambda: world.events("eventbridge.dropped"), timeout=10, what="the drop")
    assert "maximum event age" in dropped["reason"]
    assert _executions(world, machine) == []


def test_default_retry_policy_is_24_hours_and_185_retries(world):
    world.configure(timescale=0.00001, eventbridge={"fail_first": 1000})  # 24 h -> 0.864 s
    _machine_and_rule(world)
    _put(world)
    [dropped] = world.wait_for(lambda: world.events("eventbridge.dropped"), timeout=20, what="the drop")
    assert dropped["attempts"] <= 186
    assert dropped["reason"] == "185 retries exhausted" or "maximum event age" in dropped["reason"]


def test_a_missing_target_is_not_retried(world):
    machine = _machine_and_rule(world)
    world.client("stepfunctions").delete_state_machine(stateMachineArn=machine)
    _put(world)
    [failed] = world.events("eventbridge.failed")
    assert "StateMachineDoesNotExist" in failed["error"] and failed["retry_in"] is None
    [dropped] = world.events("eventbridge.dropped")
    assert dropped["reason"].startswith("not retried")


def test_world_faults_on_start_execution_are_retried(world):
    world.configure(timescale=0.01, faults={"stepfunctions:StartExecution": {"throttle": 1.0}})
    machine = _machine_and_rule(world)
    _put(world)
    world.wait_for(lambda: world.events("eventbridge.failed"), what="a throttled attempt")
    world.configure(faults={})
    world.wait_for(lambda: _executions(world, machine), timeout=20, what="a retry after the fault")
    assert any(f["by"] == "eventbridge" for f in world.events("fault.injected"))


def test_a_disabled_rule_loses_the_event(world):
    machine = _machine_and_rule(world)
    world.client("events").disable_rule(Name="drain-rule")
    _put(world)
    assert _executions(world, machine) == [] and world.events("eventbridge.attempt") == []
