"""EventBridge Scheduler: schedules fire on their own, on their rate, in scaled time.

moto stores schedules and never fires them. When the world's config says so (``scheduler.fire``),
this fires them as the AWS docs describe:

* "Schedule types in EventBridge Scheduler" (Scheduler User Guide): a rate-based schedule starts
  after its StartDate and runs at a fixed rate; without a StartDate it "starts invoking the target
  immediately". "All schedule types on EventBridge Scheduler invoke their targets with 60 second
  precision": a schedule due at 1:00 invokes the target "between 1:00:00 and 1:00:59" when no
  flexible time window is set. The world takes the harsher reading: each invocation comes at a
  uniformly random moment of that minute, so a lost event can be found up to a period plus 60 s
  after its wait began.
* "Configuring a flexible time window" (FlexibleTimeWindow): with ``Mode`` ``FLEXIBLE`` the target
  is invoked within ``MaximumWindowInMinutes`` after the scheduled time (uniformly, added to the
  above).
* A schedule whose ``State`` is ``DISABLED``, or before its StartDate, or after its EndDate, does
  not invoke; a deleted one stops.
* "Invoke a Lambda function on a schedule" (Lambda Developer Guide): Scheduler invokes a Lambda
  function asynchronously. "Error handling and automatic retries in Lambda": an asynchronous
  invocation whose function returns an error is run twice more, "with one minute wait between
  the first two attempts, and two minutes between the second and third"; the function's
  asynchronous invocation config (PutFunctionEventInvokeConfig, AWS::Lambda::EventInvokeConfig)
  lowers the retries (MaximumRetryAttempts) and the event's maximum age.
* The target's ``RetryPolicy`` (MaximumRetryAttempts, MaximumEventAgeInSeconds; "Configuring a
  retry policy and dead-letter queue"): when the invocation itself fails (the function gone,
  Lambda unavailable) Scheduler retries with back-off within those limits, then sends the event
  to the target's dead-letter queue; the world records it dropped.
* A function throttled (no concurrency left: "How Lambda handles errors and retries with
  asynchronous invocation") does not fail Scheduler's asynchronous invocation: Lambda has the
  event, and "for throttling errors (429) ... returns the event to the queue and attempts to run
  the function again for up to 6 hours by default. The retry interval increases exponentially
  from 1 second after the first attempt to a maximum of 5 minutes." The function's
  MaximumEventAgeInSeconds bounds it ("The maximum amount of time ... that Lambda keeps an event
  in the asynchronous event queue before discarding it"). Scheduler's dead-letter queue never
  sees it.
* An event Lambda gives up on (its function failed every attempt, or it outlived its maximum
  age) goes to the function's on-failure destination (DestinationConfig.OnFailure: an SQS queue
  here) when it has one, sent with the function's execution role ("Capturing records of Lambda
  asynchronous invocations": the record's ``requestContext.condition`` is ``RetriesExhausted`` or
  ``EventAgeExceeded``); without one it is gone, unseen.

* "How Lambda handles errors and retries with asynchronous invocation" (Lambda Developer Guide):
  "Even if your function doesn't return an error, it's possible for it to receive the same event
  from Lambda multiple times because the queue itself is eventually consistent." With
  ``duplicate_seconds`` set, every firing's event is delivered a second time that many seconds
  after the first (0: at once, the two runs overlapping); unset, each once (kinder than AWS).

* The target's ``RoleArn`` must let Scheduler invoke the function (world.emulator.service_roles);
  a refusal is dropped unretried.

Only ``rate(value unit)`` expressions fire (``cron``/``at`` are recorded ``scheduler.unsupported``).
The world does not replay what was due while it was not firing a schedule: switching ``fire`` on
starts at the schedule's next occurrence counted from its StartDate or creation.

Config ``scheduler`` (world.emulator.core): ``fire``: false (default: nothing fires on its own; the harness
runs a schedule when it says, ``POST /_world/scheduler/run``, world.stack.run_schedule), true (every schedule), or a list of
schedule names; ``precision_seconds`` (60); ``duplicate_seconds`` (null: no duplicates).

Event log: ``scheduler.fired`` (schedule, due, armed: AWS seconds after the due time its timer was
set for, within the precision; late: AWS seconds after the due time it fired, that plus this
machine's timer delay),
``scheduler.invoked`` (attempt), ``scheduler.answered`` (attempt, error: the function error or
null, body: its answer), ``scheduler.failed`` (the invocation could not be made, retry_in),
``scheduler.dropped``, ``scheduler.unsupported``, ``scheduler.duplicated`` (after: seconds; the
copy's events carry the same firing); Lambda's queue: ``lambda.async.throttled`` (retry_in: AWS
seconds), ``lambda.async.dropped`` (condition, destination: the queue it was sent to or null),
``lambda.async.destination_failed`` (reason). ``GET /_world/scheduler`` lists the schedules
armed to fire and when each fires next.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from moto.scheduler import models as scheduler_models
from world.emulator import core, service_roles
from world.emulator.lambdas import TooManyRequestsException

PRECISION_SECONDS = 60  # "invoke their targets with 60 second precision"
LAMBDA_ASYNC_RETRY_DELAYS = (60, 120)  # "one minute ... between the first two attempts, and two minutes ..."
LAMBDA_THROTTLE_RETRY_MAX = 300  # "from 1 second after the first attempt to a maximum of 5 minutes"
DEFAULT_MAX_EVENT_AGE = 86400
DEFAULT_MAX_RETRY_ATTEMPTS = 185
UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}

_rng = random.Random(0)
_lock = threading.Lock()
_timers: dict[tuple[str, str, str, str], core.Timer] = {}  # (account, region, group, name) -> next firing
_unsupported: set[tuple[str, str, str, str]] = set()


def rate_seconds(expression: str) -> float | None:
    """The period of ``rate(value unit)`` in seconds (None for ``cron``/``at``). The value is a
    positive whole number and the unit singular for 1 only ("Rate expressions reference",
    EventBridge User Guide: ``rate(1 hours)`` and ``rate(5 hour)`` are not valid)."""
    match = re.fullmatch(r"rate\((\d+) (minutes?|hours?|days?)\)", expression.strip())
    if not match:
        return None
    value, unit = int(match[1]), match[2]
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise ValueError(f"invalid rate expression {expression!r}")
    return float(value * UNITS[unit])


def _epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _wanted(name: str) -> bool:
    fire = (core.CONFIG.get("scheduler") or {}).get("fire", False)
    return fire is True or (isinstance(fire, list) and name in fire)


def _schedules() -> dict[tuple[str, str, str, str], Any]:
    out = {}
    for account, regions in scheduler_models.scheduler_backends.items():
        for region, backend in regions.items():
            for group in backend.schedule_groups.values():
                for schedule in group.schedules.values():
                    out[(account, region, group.name, schedule.name)] = schedule
    return out


def _names(key: tuple[str, str, str, str], firing: int | None = None) -> dict[str, Any]:
    names: dict[str, Any] = {"schedule": key[3], "group": key[2]}
    if firing is not None:
        names["firing"] = firing
    return names


# --------------------------------------------------------------------------- planning


def _plan(key: tuple[str, str, str, str], schedule: Any, after: float) -> None:
    """Arm the schedule's first occurrence due at or after ``after`` (wall clock)."""
    try:
        period = rate_seconds(schedule.schedule_expression)
    except ValueError:
        period = None
    if period is None:
        if key not in _unsupported:
            _unsupported.add(key)
            core.record("scheduler.unsupported", **_names(key), expression=schedule.schedule_expression)
        return
    step = core.scaled(period)
    if step <= 0:
        return
    anchor = _epoch(schedule.start_date) or float(schedule.creation_date)
    due = anchor + max(0, math.ceil((after - anchor) / step - 1e-9)) * step
    window = schedule.flexible_time_window or {}
    jitter = float((core.CONFIG.get("scheduler") or {}).get("precision_seconds", PRECISION_SECONDS))
    if window.get("Mode") == "FLEXIBLE":
        jitter += 60 * float(window.get("MaximumWindowInMinutes") or 0)
    with _lock:
        at = due + core.scaled(_rng.uniform(0, jitter))
    _timers[key] = core.after(at - time.time(), _fire, key, due, step, at, name="scheduler-fire")


def _replan() -> None:
    """Arm every schedule the config fires that is not armed; disarm the others."""
    with core.LOCK:
        schedules = _schedules()
        for key in list(_timers):
            if key not in schedules or not _wanted(key[3]):
                _timers.pop(key).cancel()
        for key, schedule in schedules.items():
            if key not in _timers and _wanted(key[3]):
                _plan(key, schedule, time.time())


def _fire(key: tuple[str, str, str, str], due: float, step: float, at: float) -> None:
    """(Under core.LOCK, from the world's clock.) Invoke the schedule's target, arm the next."""
    _timers.pop(key, None)
    schedule = _schedules().get(key)
    if schedule is None or not _wanted(key[3]):
        return
    _plan(key, schedule, due + step)
    end = _epoch(schedule.end_date)
    if schedule.state != "ENABLED" or (end is not None and time.time() > end):
        return
    timescale = max(float(core.CONFIG["timescale"]), 1e-9)
    late, armed = (time.time() - due) / timescale, (at - due) / timescale
    fired = core.record("scheduler.fired", **_names(key), due=due, armed=round(armed, 3), late=round(late, 3))
    invocation = Invocation(key, dict(schedule.target), time.monotonic(), fired["seq"])
    threading.Thread(target=invocation.attempt, name="world-scheduler", daemon=True).start()
    _maybe_again(key, dict(schedule.target), fired["seq"])


def _maybe_again(key: tuple[str, str, str, str], target: dict[str, Any], firing: int | None) -> None:
    """With ``duplicate_seconds``, deliver the firing's event a second time, that long after: Lambda's
    asynchronous queue may deliver the same event more than once."""
    again = (core.CONFIG.get("scheduler") or {}).get("duplicate_seconds")
    if again is None:
        return
    copy = Invocation(key, target, time.monotonic(), firing)
    core.record("scheduler.duplicated", **_names(key, firing), after=float(again))
    core.after(core.scaled(float(again)), copy.start_attempt, name="scheduler-duplicate")


# --------------------------------------------------------------------------- invoking the target


@dataclass
class Invocation:
    key: tuple[str, str, str, str]
    target: dict[str, Any]
    fired: float  # time.monotonic() of the firing
    firing: int | None  # the seq of its scheduler.fired event (None: run by the harness)
    deliveries: int = 0  # attempts to hand the event to Lambda (the target's RetryPolicy)
    runs: int = 0  # runs of the function (Lambda's asynchronous retries)
    throttles: int = 0  # times Lambda's queue found no concurrency for it
    queued: bool = False  # Lambda has the event: its queue retries, not Scheduler

    def attempt(self) -> None:
        """Hand the event to the target (not under core.LOCK: the function calls back into the world)."""
        arn = self.target["Arn"]
        if arn.split(":")[2] != "lambda":
            core.record("scheduler.unsupported", **_names(self.key, self.firing), target=arn)
            return
        if not self.queued and not self._delivered():
            return
        try:
            error, body = self._invoke(arn)
        except TooManyRequestsException as err:  # Lambda has the event: its queue retries
            self.queued = True
            self._throttled(arn, f"{type(err).__name__}: {err}")
            return
        except Exception as err:  # unavailable, gone: the target's RetryPolicy
            self._delivery_failed(f"{type(err).__name__}: {err}")
            return
        self.queued = True
        self.runs += 1
        core.record("scheduler.answered", **_names(self.key, self.firing), attempt=self.runs, error=error, body=body)
        retries, max_age = _async_config(arn)
        if error is None:
            return
        if self.runs > min(retries, len(LAMBDA_ASYNC_RETRY_DELAYS)):
            self._lambda_gives_up(arn, "RetriesExhausted", body)
            return
        delay = core.scaled(LAMBDA_ASYNC_RETRY_DELAYS[self.runs - 1])
        if time.monotonic() - self.fired + delay > core.scaled(max_age):
            self._lambda_gives_up(arn, "EventAgeExceeded", body)
            return
        core.after(delay, self.start_attempt, name="scheduler-lambda-retry")

    def _delivered(self) -> bool:
        """Scheduler's own part of an attempt: whether its role may invoke the target (a refusal is
        not retried: see world.emulator.service_roles)."""
        self.deliveries += 1
        refused = _refusal(self.key, self.target)
        if refused is None:
            return True
        core.record(
            "scheduler.failed",
            **_names(self.key, self.firing),
            attempt=self.deliveries,
            error=refused,
            retry_in=None,
        )
        self._drop(refused, "")
        return False

    def _throttled(self, arn: str, error: str) -> None:
        """Lambda's queue runs the function again after its back-off, within its maximum event age;
        a function whose reserved concurrency is 0 gets no retry: "When you set reserved
        concurrency to zero for an asynchronously invoked function, Lambda begins sending new
        events to the configured dead-letter queue or the on-failure event destination, without
        any retries" (AWS names no condition for it: the world says RetriesExhausted)."""
        if _reserved(arn) == 0:
            self._lambda_gives_up(arn, "RetriesExhausted", None, error)
            return
        self.throttles += 1
        delay = min(float(LAMBDA_THROTTLE_RETRY_MAX), 2.0 ** (self.throttles - 1))
        _retries, max_age = _async_config(arn)
        left = core.scaled(max_age) - (time.monotonic() - self.fired)
        if core.scaled(delay) > left:  # kept until it is that old, then discarded
            args = (arn, "EventAgeExceeded", None, error)
            core.after(max(left, 0.0), self._on_thread, self._lambda_gives_up, args, name="lambda-async-aged")
            return
        core.record("lambda.async.throttled", **_names(self.key, self.firing), function=arn, retry_in=delay)
        core.after(core.scaled(delay), self.start_attempt, name="lambda-async-throttled")

    def _lambda_gives_up(self, arn: str, condition: str, response: Any, error: str | None = None) -> None:
        """The event leaves Lambda's queue: to the function's on-failure destination, if any."""
        queue = _on_failure(arn)
        record = {
            "version": "1.0",
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "requestContext": {
                "requestId": f"{self.key[3]}-{self.firing}",
                "functionArn": f"{arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": self.runs,
            },
            "requestPayload": json.loads(self.target.get("Input") or "{}"),
            "responseContext": {"functionError": error} if error else {},
            "responsePayload": response,
        }
        names = _names(self.key, self.firing)
        core.record("lambda.async.dropped", **names, function=arn, condition=condition, destination=queue)
        if queue is None:
            return
        why = service_roles.dead_letter(service_roles.LAMBDA, arn, _execution_role(arn), queue, json.dumps(record), {})
        if why is not None:
            core.record("lambda.async.destination_failed", **names, function=arn, queue=queue, reason=why)

    def start_attempt(self) -> None:
        """Attempt the delivery on a thread of its own."""
        self._on_thread(self.attempt, ())

    @staticmethod
    def _on_thread(fn: Any, args: tuple[Any, ...]) -> None:
        """``fn(*args)`` on a thread of its own (not under core.LOCK)."""
        threading.Thread(target=fn, args=args, name="world-scheduler", daemon=True).start()

    def _invoke(self, arn: str) -> tuple[str | None, Any]:
        core.record("scheduler.invoked", **_names(self.key, self.firing), attempt=self.runs + 1, function=arn)
        return _invoke_target(self.target)

    def _drop(self, error: str, exhausted: str) -> None:
        """Given up: dropped, and sent to the target's dead-letter queue, with the schedule's role,
        when it has one (world.emulator.service_roles)."""
        names = _names(self.key, self.firing)
        core.record("scheduler.dropped", **names, attempts=self.deliveries, reason=error)
        queue = (self.target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            return
        account, region, group, name = self.key
        code, _, message = error.partition(": ")
        attributes = {
            "X-Amz-Scheduler-Schedule-Arn": f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}",
            "X-Amz-Scheduler-Target-Arn": self.target["Arn"],
            "X-Amz-Scheduler-Attempt": str(self.deliveries),
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message or code,
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        body = self.target.get("Input") or "{}"
        role = self.target.get("RoleArn")
        why = service_roles.dead_letter(service_roles.SCHEDULER, _group_arn(self.key), role, queue, body, attributes)
        if why is None:
            core.record("scheduler.dead_lettered", **names, queue=queue)
        else:
            core.record("scheduler.dead_letter_failed", **names, queue=queue, reason=why)

    def _delivery_failed(self, error: str) -> None:
        retry = self.target.get("RetryPolicy") or {}
        max_age = core.scaled(int(retry.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)))
        max_retries = int(retry.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS))
        with _lock:
            backoff = _rng.uniform(0, min(60.0, 2.0 ** (self.deliveries - 1)))
        age = time.monotonic() - self.fired + core.scaled(backoff)
        if self.deliveries > max_retries or age > max_age:
            core.record(
                "scheduler.failed", **_names(self.key, self.firing), attempt=self.deliveries, error=error, retry_in=None
            )
            self._drop(error, "MaximumRetryAttempts" if self.deliveries > max_retries else "MaximumEventAgeInSeconds")
            return
        core.record(
            "scheduler.failed", **_names(self.key, self.firing), attempt=self.deliveries, error=error, retry_in=backoff
        )
        core.after(core.scaled(backoff), self.start_attempt, name="scheduler-retry")


def _group_arn(key: tuple[str, str, str, str]) -> str:
    """The schedule group's ARN: ``aws:SourceArn`` of what Scheduler does with the role."""
    account, region, group, _name = key
    return f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"


def _refusal(key: tuple[str, str, str, str], target: dict[str, Any]) -> str | None:
    """Why the schedule's role may not invoke its target (world.emulator.service_roles)."""
    return service_roles.refusal(
        target.get("RoleArn"), service_roles.SCHEDULER, _group_arn(key), "lambda:InvokeFunction", target["Arn"]
    )


def _invoke_target(target: dict[str, Any]) -> tuple[str | None, Any]:
    """Invoke the Lambda function ``target`` names with its ``Input``: (its error type or None, its answer)."""
    from moto.awslambda.utils import get_backend

    arn = target["Arn"]
    headers: dict[str, str] = {}
    raw = get_backend(arn.split(":")[4], arn.split(":")[3]).invoke(
        function_name=arn,
        qualifier=None,
        body=target.get("Input") or "{}",
        headers={"x-amz-invocation-type": "RequestResponse"},
        response_headers=headers,
    )
    text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    try:
        body = json.loads(text or "null")
    except ValueError:
        body = text
    error = headers.get("x-amz-function-error")
    return (None, body) if error is None else (_error_type(body), body)


def _async_config(arn: str) -> tuple[int, int]:
    """The function's asynchronous invocation config (PutFunctionEventInvokeConfig:
    MaximumRetryAttempts 0-2, default 2; MaximumEventAgeInSeconds, default 6 hours)."""
    from moto.awslambda.utils import get_backend

    try:
        configs = get_backend(arn.split(":")[4], arn.split(":")[3]).get_function(arn).event_invoke_config
    except Exception:  # deleted meanwhile: nothing left to retry
        return 0, 0
    config = configs[0].config if configs else {}
    return int(config.get("MaximumRetryAttempts", 2)), int(config.get("MaximumEventAgeInSeconds", 21600))


def _on_failure(arn: str) -> str | None:
    """The SQS queue of the function's on-failure destination, if it has one."""
    from moto.awslambda.utils import get_backend

    try:
        configs = get_backend(arn.split(":")[4], arn.split(":")[3]).get_function(arn).event_invoke_config
    except Exception:  # deleted meanwhile
        return None
    config = configs[0].config if configs else {}
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return destination if destination and destination.split(":")[2] == "sqs" else None


def _reserved(arn: str) -> int | None:
    """The function's reserved concurrency (PutFunctionConcurrency), if set."""
    from moto.awslambda.utils import get_backend

    try:
        reserved = getattr(
            get_backend(arn.split(":")[4], arn.split(":")[3]).get_function(arn), "reserved_concurrency", None
        )
    except Exception:  # deleted meanwhile
        return None
    return None if reserved is None else int(reserved)


def _execution_role(arn: str) -> str | None:
    from moto.awslambda.utils import get_backend

    try:
        return get_backend(arn.split(":")[4], arn.split(":")[3]).get_function(arn).role
    except Exception:  # deleted meanwhile
        return None


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("errorType") or "Unhandled")
    return "Unhandled"


# --------------------------------------------------------------------------- install

_orig_create = scheduler_models.EventBridgeSchedulerBackend.create_schedule
_orig_update = scheduler_models.EventBridgeSchedulerBackend.update_schedule


def _create_schedule(self: Any, *args: Any, **kwargs: Any) -> Any:
    """A new rate schedule without a StartDate "starts invoking the target immediately"."""
    schedule = _orig_create(self, *args, **kwargs)
    key = (self.account_id, self.region_name, schedule.group_name, schedule.name)

    def plan() -> None:
        with core.LOCK:
            if key not in _timers and _wanted(schedule.name):
                _plan(key, schedule, float(schedule.creation_date))

    threading.Thread(target=plan, name="world-scheduler-plan", daemon=True).start()
    return schedule


def _update_schedule(self: Any, *args: Any, **kwargs: Any) -> Any:
    schedule = _orig_update(self, *args, **kwargs)
    key = (self.account_id, self.region_name, schedule.group_name, schedule.name)

    def replan() -> None:
        with core.LOCK:
            timer = _timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        _replan()

    threading.Thread(target=replan, name="world-scheduler-plan", daemon=True).start()
    return schedule


@core.route("GET", "/_world/scheduler")
def _get_armed(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    """The schedules armed to fire on their own, each with when it fires next (wall clock)."""
    now, mono = time.time(), time.monotonic()
    armed = [{**_names(key), "at": round(now + timer.due - mono, 3)} for key, timer in list(_timers.items())]
    return 200, {"armed": sorted(armed, key=lambda a: a["at"])}


@core.route("POST", "/_world/scheduler/run")
def _post_run(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    """Fire the schedule ``name`` once, now, as Scheduler does (its role checked), without retries:
    ``{"error", "body"}`` (the function's error type and answer) or ``{"refused"}``. With
    ``duplicate_seconds`` the event is delivered again, as a firing's is."""
    found = [(key, s) for key, s in _schedules().items() if key[3] == body["name"]]
    if not found:
        return 404, {"error": f"no schedule {body['name']}"}
    [(key, schedule)] = found
    target = dict(schedule.target)
    refused = _refusal(key, target)
    if refused is not None:
        return 200, {"refused": refused}
    _maybe_again(key, dict(target), None)
    error, answer = _invoke_target(target)
    return 200, {"error": error, "body": answer}


def _reseed() -> None:
    with _lock:
        _rng.seed(f"scheduler-{core.CONFIG.get('seed', 0)}")


def _reset() -> None:
    for timer in _timers.values():
        timer.cancel()
    _timers.clear()
    _unsupported.clear()


def install() -> None:
    scheduler_models.EventBridgeSchedulerBackend.create_schedule = _create_schedule
    scheduler_models.EventBridgeSchedulerBackend.update_schedule = _update_schedule
    core.on_reset(_reset)
    core.on_config(_reseed)
    core.on_config(_replan)
    _reseed()
