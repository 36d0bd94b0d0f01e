"""EventBridge: the default event bus delivers what its rules match, late, twice, or never.

moto matches rules but starts nothing for Step Functions or Lambda targets, and
delivers at once and exactly once. This follows the AWS docs instead:

* "Event delivery from AWS services" (EventBridge User Guide): AWS services
  send their events on a best-effort or durable basis; "best effort" means
  "in some rare cases an event might not be delivered". Once an event is on
  the bus, EventBridge matches it against the rules and "follows the retry
  policy and any dead-letter queue specified for the event target(s)".
* "How EventBridge retries delivering events" (eb-rule-retry-policy): a
  delivery that fails with a retriable error is retried "for 24 hours and up
  to 185 times with an exponential back off and jitter, or randomized delay"
  by default; the target's RetryPolicy (PutTargets API reference:
  MaximumEventAgeInSeconds 60-86400, MaximumRetryAttempts 0-185) changes
  both. When the retries are exhausted "the event is dropped".
* "Using dead-letter queues to process undelivered events" (eb-rule-dlq):
  "for errors that result from missing permissions to a target, or a target
  resource that no longer exists" EventBridge does not retry.
* PutTargets API reference: Input, InputPath, InputTransformer; a disabled
  rule matches nothing.

The world's config ``eventbridge`` (world.emulator.core) decides, per event subject to
it, the delay before the first attempt, whether the event is lost, whether it
is delivered a second time (EventBridge delivers at least once), and which
attempts fail. AWS documents neither its back-off base nor its cap; the world
takes full jitter on min(``retry_max_backoff_seconds``, ``retry_base_seconds``
x 2^n) with a 900 s cap, which spreads 185 retries over about 24 hours. Every
delay is in AWS seconds (scaled by the timescale) and counts against the
target's maximum event age, from the moment the event reached the bus; an event
whose next retry would come after that age is given up when it reaches it, and
goes to the target's dead-letter queue if it has one (world.emulator.service_roles).

Event log: ``eventbridge.event`` (on the bus), ``eventbridge.scheduled`` (a
delivery planned for later), ``eventbridge.attempt``, then
``eventbridge.delivered`` or ``eventbridge.failed``; ``eventbridge.dropped``
(lost, retries exhausted, too old, or not retriable), then ``eventbridge.dead_lettered``
or ``eventbridge.dead_letter_failed`` for a target with a dead-letter queue.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.events import models as events_models
from moto.stepfunctions import models as sfn_models
from world.emulator import core, service_roles

DEFAULT_MAX_EVENT_AGE = 86400  # "How EventBridge retries delivering events": 24 hours
DEFAULT_MAX_RETRY_ATTEMPTS = 185  # ... "and up to 185 times"
NOT_RETRIED = ("StateMachineDoesNotExist", "ResourceNotFoundException", "InvalidArn", "AccessDenied")

_rng = random.Random(0)
_lock = threading.Lock()
_ordinals: dict[str, int] = {}  # event id -> ordinal among the events subject to the policy
_plans: dict[str, Plan] = {}
_counter = itertools.count(1)


def _reseed() -> None:
    with _lock:
        _rng.seed(f"eventbridge-{core.CONFIG.get('seed', 0)}")


def _reset() -> None:
    global _counter
    with _lock:
        _ordinals.clear()
        _plans.clear()
        _counter = itertools.count(1)


def _config() -> dict[str, Any]:
    return core.CONFIG.get("eventbridge") or {}


def _seconds(value: Any) -> float:
    """A number, or [low, high]: a uniformly random number in that range."""
    if isinstance(value, (list, tuple)):
        low, high = float(value[0]), float(value[-1])
        with _lock:
            return _rng.uniform(min(low, high), max(low, high))
    return float(value or 0)


def _hit(value: Any, ordinal: int | None) -> bool:
    """A probability, or a list of ordinals."""
    if isinstance(value, (list, tuple)):
        return ordinal is not None and ordinal in [int(v) for v in value]
    if not value:
        return False
    with _lock:
        return _rng.random() < float(value)


# --------------------------------------------------------------------------- the plan of an event


@dataclass
class Plan:
    """What happens to one event: lost, or delivered after each delay (AWS seconds)."""

    ordinal: int | None
    lost: bool
    delays: list[float] = field(default_factory=list)


def _plan(event: dict[str, Any]) -> Plan:
    """Decided once per event (every rule and target sees the same fate)."""
    event_id = str(event.get("id") or id(event))
    if event_id in _plans:
        return _plans[event_id]
    cfg = _config()
    kinds = cfg.get("detail_types")
    if kinds is not None and event.get("detail-type") not in kinds:
        plan = Plan(None, False, [0.0])
    else:
        with _lock:
            ordinal = _ordinals.setdefault(event_id, next(_counter))
        first = _seconds(cfg.get("delay_seconds", 0))
        delays = [first]
        if _hit(cfg.get("duplicates", 0), ordinal):
            delays.append(first + _seconds(cfg.get("duplicate_delay_seconds", 0)))
        plan = Plan(ordinal, _hit(cfg.get("drop", 0), ordinal), delays)
    _plans[event_id] = plan
    return plan


# --------------------------------------------------------------------------- target input


def _json_path(document: Any, path: str) -> Any:
    node = document
    for part in [p for p in path.lstrip("$").split(".") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        parsed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return parsed if isinstance(parsed, str) else json.dumps(parsed)
    return json.dumps(event)


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The event as targets receive it (moto keeps a float time and ingestion-time)."""
    event = dict(event)
    event.pop("ingestion-time", None)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(event["time"], datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


# --------------------------------------------------------------------------- deliveries


@dataclass
class Delivery:
    rule: str
    target: dict[str, Any]
    payload: str
    event_id: str
    copy: int
    reached_bus: float  # time.monotonic() when the event reached the bus
    attempts: int = 0

    @property
    def arn(self) -> str:
        return self.target["Arn"]

    def policy(self) -> tuple[float, int]:
        """(maximum event age in world seconds, maximum retry attempts) of the target."""
        retry = self.target.get("RetryPolicy") or {}
        age = retry.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)
        attempts = retry.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS)
        return core.scaled(int(age)), int(attempts)

    def fields(self) -> dict[str, Any]:
        return {"rule": self.rule, "target": self.arn, "event_id": self.event_id, "copy": self.copy}


def _drop(delivery: Delivery, reason: str, error: str = "", exhausted: str = "") -> None:
    """The delivery is given up: dropped, and sent to the target's dead-letter queue when it has one
    (world.emulator.service_roles), unless the event never reached the bus."""
    core.record("eventbridge.dropped", **delivery.fields(), attempts=delivery.attempts, reason=reason)
    queue = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue or reason.startswith("lost"):
        return
    region, account = delivery.arn.split(":")[3], delivery.arn.split(":")[4]
    rule_arn = f"arn:aws:events:{region}:{account}:rule/{delivery.rule}"
    code, _, message = (error or reason).partition(": ")
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": delivery.arn,
        "ERROR_CODE": code,
        "ERROR_MESSAGE": message or code,
        "RETRY_ATTEMPTS": str(max(delivery.attempts - 1, 0)),
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    why = service_roles.dead_letter(service_roles.EVENTS, rule_arn, None, queue, delivery.payload, attributes)
    if why is None:
        core.record("eventbridge.dead_lettered", **delivery.fields(), queue=queue)
    else:
        core.record("eventbridge.dead_letter_failed", **delivery.fields(), queue=queue, reason=why)


def _attempt(delivery: Delivery) -> None:
    max_age, max_retries = delivery.policy()
    age = time.monotonic() - delivery.reached_bus
    if age > max_age + 0.001:
        _drop(
            delivery,
            f"older than the target's maximum event age ({age:.1f}s > {max_age:.1f}s world)",
            exhausted="MaximumEventAgeInSeconds",
        )
        return
    delivery.attempts += 1
    core.record("eventbridge.attempt", **delivery.fields(), attempt=delivery.attempts)
    error = _injected_failure(delivery)
    retriable = True
    if error is None:
        error, retriable = _deliver(delivery)
    if error is None:
        return
    if not retriable:
        core.record("eventbridge.failed", **delivery.fields(), attempt=delivery.attempts, error=error, retry_in=None)
        _drop(delivery, f"not retried: {error}", error)
        return
    if delivery.attempts > max_retries:
        core.record("eventbridge.failed", **delivery.fields(), attempt=delivery.attempts, error=error, retry_in=None)
        _drop(delivery, f"{max_retries} retries exhausted", error, exhausted="MaximumRetryAttempts")
        return
    cfg = _config()
    cap = min(
        float(cfg.get("retry_max_backoff_seconds", 900)),
        float(cfg.get("retry_base_seconds", 1)) * 2 ** (delivery.attempts - 1),
    )
    with _lock:
        backoff = _rng.uniform(0, cap)
    left = max_age - (time.monotonic() - delivery.reached_bus)  # world seconds until it is too old
    if core.scaled(backoff) > left:  # given up once too old, not at a retry that would come later
        core.record("eventbridge.failed", **delivery.fields(), attempt=delivery.attempts, error=error, retry_in=None)
        core.after(max(left, 0.0), _too_old, delivery, error, name="eventbridge-too-old")
        return
    core.record(
        "eventbridge.failed", **delivery.fields(), attempt=delivery.attempts, error=error, retry_in=round(backoff, 3)
    )
    core.after(core.scaled(backoff), _attempt, delivery, name="eventbridge-retry")


def _too_old(delivery: Delivery, error: str) -> None:
    max_age, _ = delivery.policy()
    _drop(
        delivery,
        f"older than the target's maximum event age ({max_age:.1f}s world)",
        error,
        exhausted="MaximumEventAgeInSeconds",
    )


def _injected_failure(delivery: Delivery) -> str | None:
    """A retriable failure from the config (``fail_first``, ``failures``) or the world's faults
    on the API EventBridge calls for the target (it shares the account's limits)."""
    cfg = _config()
    if delivery.attempts <= int(cfg.get("fail_first", 0) or 0) or _hit(cfg.get("failures", 0), None):
        return "ThrottlingException: Rate exceeded"
    from world.emulator import faults

    service = delivery.arn.split(":")[2]
    api = ("stepfunctions", "StartExecution") if service == "states" else ("lambda", "Invoke")
    kind = faults.draw(*api)
    if kind is not None:
        return f"{'ThrottlingException' if kind == 'throttle' else 'ServiceUnavailable'}: injected on {':'.join(api)}"
    return None


def _deliver(delivery: Delivery) -> tuple[str | None, bool]:
    """One attempt: (None, _) when delivered, else (error, retriable)."""
    arn = delivery.arn
    account, region, service = arn.split(":")[4], arn.split(":")[3], arn.split(":")[2]
    try:
        if service == "states":
            from moto.stepfunctions.responses import get_backend

            rule_arn = f"arn:aws:events:{region}:{account}:rule/{delivery.rule}"
            refused = service_roles.refusal(
                delivery.target.get("RoleArn"), service_roles.EVENTS, rule_arn, "states:StartExecution", arn
            )
            if refused is not None:
                raise service_roles.AccessDenied(refused)
            execution = get_backend(account, region).start_execution(
                state_machine_arn=arn, name=str(uuid.uuid4()), execution_input=delivery.payload
            )
            core.record(
                "eventbridge.delivered",
                **delivery.fields(),
                attempt=delivery.attempts,
                execution_arn=execution.execution_arn,
            )
        else:
            _invoke_lambda(delivery, account, region)
    except Exception as err:
        name = type(err).__name__
        code = getattr(err, "error_type", None) or getattr(err, "code", None) or name
        return f"{code}: {err}", not any(n in f"{code} {name}" for n in NOT_RETRIED)
    return None, True


def _invoke_lambda(delivery: Delivery, account: str, region: str) -> None:
    """Lambda targets are invoked asynchronously: the attempt succeeds once Lambda has the event."""
    from moto.awslambda.utils import get_backend

    backend = get_backend(account, region)
    backend.get_function(delivery.arn)  # a missing function fails the attempt (not retried)

    def run() -> None:
        try:
            backend.invoke(
                function_name=delivery.arn,
                qualifier=None,
                body=delivery.payload,
                headers={"X-Amz-Invocation-Type": "Event"},
                response_headers={},
            )
        except Exception as err:
            core.record(
                "eventbridge.failed",
                **delivery.fields(),
                attempt=delivery.attempts,
                error=f"{type(err).__name__}: {err}",
                retry_in=None,
            )

    core.record("eventbridge.delivered", **delivery.fields(), attempt=delivery.attempts)
    threading.Thread(target=run, name="world-event-lambda", daemon=True).start()


# --------------------------------------------------------------------------- rules


_orig_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if getattr(self, "state", "ENABLED") != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    event = _normalise(original_event)
    ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda")]
    theirs = [t for t in self.targets if t not in ours]
    if theirs:  # moto's own targets (SQS, logs...): as moto delivers them
        saved = self.targets
        self.targets = theirs
        try:
            _orig_send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = saved
    if not ours:
        return
    plan = _plan(event)
    event_id = str(event.get("id") or "")
    now = time.monotonic()
    for target in ours:
        payload = _target_input(target, event)
        for number, delay in enumerate(plan.delays, 1):
            delivery = Delivery(self.name, target, payload, event_id, number, now)
            if plan.lost:
                _drop(delivery, "lost (best-effort delivery)")
                break
            if delay <= 0 and number == 1:
                _attempt(delivery)
                continue
            core.record("eventbridge.scheduled", **delivery.fields(), in_seconds=round(delay, 3), ordinal=plan.ordinal)
            core.after(core.scaled(delay), _attempt, delivery, name="eventbridge-delivery")


def deliver_event(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Send an AWS service event to the rules of the account's default event bus."""
    backend = events_models.events_backends[account_id][region]
    bus = backend.event_buses.get("default")
    core.record(
        "eventbridge.event",
        id=event.get("id"),
        source=event["source"],
        detail_type=event["detail-type"],
        detail=event["detail"],
    )
    if bus is None:
        return
    for rule in list(bus.rules.values()):
        rule.send_to_targets(event)


def _state_machine_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """moto deep-copies the state machine on StartExecution, including its running
    executions (thread locks: TypeError). AWS runs many executions at once; copy
    everything but the execution list."""
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, [] if key == "executions" else copy.deepcopy(value, memo))
    return clone


def install() -> None:
    events_models.Rule.send_to_targets = _send_to_targets
    sfn_models.StateMachine.__deepcopy__ = _state_machine_deepcopy
    core.on_config(_reseed)
    core.on_reset(_reset)
    _reseed()
