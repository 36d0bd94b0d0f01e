"""EventBridge Scheduler fires schedules on their rate in scaled time, within its 60 s precision,
and Lambda retries an asynchronous invocation whose function failed (world.emulator.scheduler)."""

from __future__ import annotations

import itertools
import json
import threading

import aws_setup as aws
import pytest
from world.emulator.scheduler import rate_seconds


def test_rate_expressions_as_aws_writes_them():
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 12 * * ? *)") is None
    for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)"):
        with pytest.raises(ValueError):
            rate_seconds(bad)


def _schedule(world, name, arn, state="ENABLED", retry=None):
    target = {"Arn": arn, "RoleArn": aws.service_role(world, "scheduler"), "Input": json.dumps({"event": {}})}
    if retry:
        target["RetryPolicy"] = retry
    world.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        State=state,
        Target=target,
    )


def _of(world, kind, name):
    return [e for e in world.events(kind) if e["schedule"] == name]


def test_a_schedule_fires_on_its_rate_and_a_failed_function_runs_twice_more(world):
    world.configure(timescale=0.01, scheduler={"fire": ["sweep"]})  # 5 minutes: 3 s; precision 0.6 s
    arn = aws.function(world)  # drain-ecs answers {"event": {}} with the function error InvalidEvent
    _schedule(world, "sweep", arn)
    _schedule(world, "other", arn)  # not in "fire": never fired
    world.wait_for(lambda: _of(world, "scheduler.fired", "sweep")[2:], timeout=30, what="three firings")
    fired = _of(world, "scheduler.fired", "sweep")
    # armed within the minute after the due time (AWS seconds), and fired then: no earlier, and later
    # only by this machine's timer delay (an AWS second is 10 ms here: 500 is a delay of 5 s)
    assert all(0 <= f["armed"] < 60 and -1 <= f["late"] - f["armed"] < 500 for f in fired), fired
    dues = [f["due"] for f in fired]
    assert all(abs((b - a) - 3.0) < 0.01 for a, b in itertools.pairwise(dues))  # every 300 AWS seconds

    def first_firing():
        return [a for a in _of(world, "scheduler.answered", "sweep") if a["firing"] == fired[0]["seq"]]

    first = world.wait_for(lambda: first_firing()[2:] and first_firing(), timeout=30, what="three runs")
    assert [a["attempt"] for a in first] == [1, 2, 3]
    assert {a["error"] for a in first} == {"InvalidEvent"}
    # Lambda's asynchronous retries: a minute, then two minutes (scaled) after the failed run
    assert first[1]["t"] - first[0]["t"] >= 0.6 and first[2]["t"] - first[1]["t"] >= 1.2
    assert _of(world, "scheduler.fired", "other") == []
    [armed] = world.control("GET", "/_world/scheduler")["armed"]
    assert armed["schedule"] == "sweep"

    world.configure(scheduler={"fire": []})
    assert world.control("GET", "/_world/scheduler")["armed"] == []


def test_with_duplicates_each_firing_is_delivered_twice(world):
    """Lambda's asynchronous queue may deliver the same event twice ("the queue itself is eventually
    consistent"): ``duplicate_seconds`` delivers every firing a second time, that long after."""
    world.configure(timescale=0.01, scheduler={"fire": ["sweep"], "duplicate_seconds": 30})  # 0.3 s
    arn = aws.function(world)
    _schedule(world, "sweep", arn)
    [fired] = world.wait_for(lambda: _of(world, "scheduler.fired", "sweep")[:1], timeout=30, what="a firing")

    def first_runs():
        return [
            a for a in _of(world, "scheduler.answered", "sweep") if a["firing"] == fired["seq"] and a["attempt"] == 1
        ]

    world.wait_for(lambda: first_runs()[1:], timeout=30, what="two deliveries")
    [duplicated] = [d for d in _of(world, "scheduler.duplicated", "sweep") if d["firing"] == fired["seq"]]
    assert duplicated["after"] == 30
    invoked = [
        e["t"] for e in _of(world, "scheduler.invoked", "sweep") if e["firing"] == fired["seq"] and e["attempt"] == 1
    ]
    assert len(invoked) == 2 and max(invoked) - duplicated["t"] >= 0.29  # the copy 30 s (scaled) later
    # a run the harness asks for stands for a firing: delivered again too
    world.configure(scheduler={"fire": [], "duplicate_seconds": 0})
    world.control("POST", "/_world/scheduler/run", {"name": "sweep"})
    world.wait_for(
        lambda: [a for a in _of(world, "scheduler.answered", "sweep") if "firing" not in a],
        timeout=30,
        what="the harness run's copy",
    )
    world.configure(scheduler={"duplicate_seconds": None})


def test_a_disabled_schedule_does_not_invoke_and_a_missing_target_is_dropped_after_its_retries(world):
    world.configure(timescale=0.01, scheduler={"fire": True})
    arn = aws.function(world)
    _schedule(world, "off", arn, state="DISABLED")
    missing = arn.replace(":function:drain-ecs", ":function:gone")
    _schedule(world, "gone", missing, retry={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60})
    [dropped] = world.wait_for(lambda: _of(world, "scheduler.dropped", "gone"), timeout=30, what="the drop")
    assert dropped["attempts"] == 3
    assert len(_of(world, "scheduler.failed", "gone")) == 3
    assert _of(world, "scheduler.answered", "gone") == []
    world.wait_for(lambda: len(_of(world, "scheduler.fired", "gone")) >= 2, timeout=30, what="a second firing")
    assert _of(world, "scheduler.fired", "off") == [] and _of(world, "scheduler.invoked", "off") == []


def test_the_functions_async_config_stops_lambdas_retries(world):
    world.configure(timescale=0.01, scheduler={"fire": ["once"]})
    arn = aws.function(world)
    world.client("lambda").put_function_event_invoke_config(FunctionName="drain-ecs", MaximumRetryAttempts=0)
    _schedule(world, "once", arn)
    world.wait_for(lambda: len(_of(world, "scheduler.fired", "once")) >= 2, timeout=30, what="two firings")
    world.wait_for(lambda: len(_of(world, "scheduler.answered", "once")) >= 2, timeout=30, what="two answers")
    assert [a["attempt"] for a in _of(world, "scheduler.answered", "once")][:2] == [1, 1]


def _lost_runs_queue(world, retries, max_age):
    """drain-ecs's asynchronous config: ``retries``, ``max_age`` and an SQS on-failure destination,
    whose queue URL and ARN this returns."""
    sqs = world.client("sqs")
    url = sqs.create_queue(QueueName="lost-runs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.client("lambda").put_function_event_invoke_config(
        FunctionName="drain-ecs",
        MaximumRetryAttempts=retries,
        MaximumEventAgeInSeconds=max_age,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    return url, arn


def _records(world, url):
    messages = world.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _busy(world, seconds):
    """drain-ecs's one unit of concurrency taken for ``seconds`` (wall): an invocation whose first
    call is held that long, on a thread of its own."""
    world.client("lambda").put_function_concurrency(FunctionName="drain-ecs", ReservedConcurrentExecutions=1)
    for api in ("autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:DescribeLifecycleHooks"):
        body = {"function": "drain-ecs", "api": api, "do": "hang", "seconds": seconds}
        world.control("POST", "/_world/lambdas/sabotage", body)
    lam = world.client("lambda", read_timeout=60)
    payload = json.dumps(aws.drain_payload())
    threading.Thread(target=lambda: lam.invoke(FunctionName="drain-ecs", Payload=payload), daemon=True).start()
    world.wait_for(lambda: world.events("lambda.call.held"), timeout=30, what="the invocation held")


def test_a_throttled_run_waits_in_lambdas_queue_then_goes_to_the_on_failure_destination(world):
    world.configure(timescale=0.01)
    arn = aws.function(world)
    url, queue = _lost_runs_queue(world, 2, 60)
    _busy(world, 3.0)  # 300 AWS seconds
    world.configure(scheduler={"fire": ["tick"]})
    _schedule(world, "tick", arn)
    [dropped, *_] = world.wait_for(lambda: _of(world, "lambda.async.dropped", "tick"), timeout=30, what="the drop")
    world.configure(scheduler={"fire": []})
    assert (dropped["condition"], dropped["destination"]) == ("EventAgeExceeded", queue)
    # Lambda's queue ran it again after 1, 2, 4, ... s, and kept it until it was 60 s old
    [fired] = [f for f in _of(world, "scheduler.fired", "tick") if f["seq"] == dropped["firing"]]
    first = [t["retry_in"] for t in _of(world, "lambda.async.throttled", "tick") if t["firing"] == dropped["firing"]]
    assert first == [1, 2, 4, 8, 16], first
    assert dropped["t"] - fired["t"] >= 0.6, (fired, dropped)
    # Scheduler handed the event over: its own retries and dead-letter queue never saw it
    assert _of(world, "scheduler.failed", "tick") == [] and _of(world, "scheduler.dropped", "tick") == []
    assert _of(world, "scheduler.answered", "tick") == []
    [record, *_] = world.wait_for(lambda: _records(world, url), timeout=10, what="the record")
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["functionArn"].startswith(arn) and record["requestPayload"] == {"event": {}}


def test_with_reserved_concurrency_0_a_run_goes_to_the_on_failure_destination_unretried(world):
    world.configure(timescale=0.01, scheduler={"fire": ["off"]})
    arn = aws.function(world)
    world.client("lambda").put_function_concurrency(FunctionName="drain-ecs", ReservedConcurrentExecutions=0)
    url, queue = _lost_runs_queue(world, 2, 3600)
    _schedule(world, "off", arn)
    [dropped, *_] = world.wait_for(lambda: _of(world, "lambda.async.dropped", "off"), timeout=30, what="the drop")
    world.configure(scheduler={"fire": []})
    assert (dropped["condition"], dropped["destination"]) == ("RetriesExhausted", queue)
    assert [t for t in _of(world, "lambda.async.throttled", "off") if t["firing"] == dropped["firing"]] == []
    [record, *_] = world.wait_for(lambda: _records(world, url), timeout=10, what="the record")
    assert record["requestContext"]["approximateInvokeCount"] == 0


def test_a_run_that_failed_every_attempt_goes_to_the_on_failure_destination(world):
    world.configure(timescale=0.01, scheduler={"fire": ["failing"]})
    arn = aws.function(world)  # drain-ecs answers {"event": {}} with the function error InvalidEvent
    url, queue = _lost_runs_queue(world, 0, 60)
    _schedule(world, "failing", arn)
    [dropped, *_] = world.wait_for(lambda: _of(world, "lambda.async.dropped", "failing"), timeout=30, what="the drop")
    assert (dropped["condition"], dropped["destination"]) == ("RetriesExhausted", queue)
    [record, *_] = world.wait_for(lambda: _records(world, url), timeout=10, what="the record")
    context = record["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == ("RetriesExhausted", 1)
    assert record["responsePayload"]["errorType"] == "InvalidEvent"
