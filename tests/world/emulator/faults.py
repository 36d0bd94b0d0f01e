"""Faults on demand and API call counts.

Config (``POST /_world/config``)::

    {"seed": 7,
     "faults": {"ecs:ListTasks": {"throttle": 0.3},
                "autoscaling:*": {"unavailable": 0.1},
                "*": {"throttle": 0.01}}}

The most specific key wins ("service:Operation", then "service:*", then "*").
Service names are boto3 client names (ecs, autoscaling, elb, elbv2,
stepfunctions, events, lambda, ec2...). Each call draws once from a
random.Random(seed) generator: throttled with probability ``throttle``, else
unavailable with probability ``unavailable``, else denied with probability
``denied``: refused as an explicit deny in a service control policy refuses it
(IAM User Guide, "Policy evaluation logic": an explicit deny in an SCP
overrides any allow of the role's policies), in each protocol's AccessDenied
shape (world.emulator.iam), a client error no retry gets past. The calls the
world makes on a service's behalf (``draw``) know only the first two.

Error shapes follow each protocol, as the AWS SDKs parse them:

* JSON (ECS, Step Functions, EventBridge): HTTP 400 ``ThrottlingException``,
  HTTP 503 ``ServiceUnavailableException``.
* Query/XML (Auto Scaling, ELB, ELBv2): HTTP 400 ``Throttling``
  (``<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>...``),
  HTTP 503 ``ServiceUnavailable``; for Auto Scaling, HTTP 500 ``ResourceContentionFault``, the
  one server error its API reference documents (CompleteLifecycleAction,
  RecordLifecycleActionHeartbeat, DescribeAutoScalingGroups...: "You already have a pending
  update to an Amazon EC2 Auto Scaling resource").
* EC2: HTTP 503 ``RequestLimitExceeded`` / ``Unavailable`` in EC2's ``<Response><Errors>`` shape.
* REST-JSON (Lambda): HTTP 429 ``TooManyRequestsException``, HTTP 503 ``ServiceException``.

``GET /_world/calls`` returns the count of calls per API since the last reset
(``POST /_world/calls/reset`` or ``/_world/reset``), the faults injected, and
``functions``: the calls made by the project's functions alone (requests whose
User-Agent is the AWS SDK for Rust's), with ``functions_total``.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from typing import Any

from world.emulator import core

_rng = random.Random(0)
_rng_lock = threading.Lock()
CALLS: Counter[str] = Counter()
FAULTS: Counter[str] = Counter()
FUNCTION_CALLS: Counter[str] = Counter()  # calls by the Rust SDK: the project's functions

# Auto Scaling's ResourceContentionFault, as its API reference words it (HTTP 500)
RESOURCE_CONTENTION = (
    "You already have a pending update to an Amazon EC2 Auto Scaling resource (for example, an "
    "Auto Scaling group, instance, or load balancer)."
)


def _reseed() -> None:
    with _rng_lock:
        _rng.seed(core.CONFIG.get("seed", 0))


def _reset() -> None:
    CALLS.clear()
    FAULTS.clear()
    FUNCTION_CALLS.clear()


def _rates(api: Any) -> dict[str, float]:
    table = core.CONFIG.get("faults") or {}
    for key in (api.name, f"{api.service}:*", "*"):
        if key in table:
            return table[key] or {}
    return {}


def error_response(api: Any, kind: str) -> tuple[int, dict[str, str], bytes]:
    """An error in the shape ``api``'s protocol uses (kind: throttle|unavailable)."""
    request_id = str(uuid.uuid4())
    throttle = kind == "throttle"
    message = "Rate exceeded" if throttle else "Service is unavailable. Please try again later."
    if api.protocol in ("json",):
        code = "ThrottlingException" if throttle else "ServiceUnavailableException"
        status = 400 if throttle else 503
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}, body
    if api.protocol == "rest-json":
        code = "TooManyRequestsException" if throttle else "ServiceException"
        status = 429 if throttle else 503
        body = json.dumps({"Type": "User" if throttle else "Service", "message": message}).encode()
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
        return status, headers, body
    if api.protocol == "ec2":
        code = "RequestLimitExceeded" if throttle else "Unavailable"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return 503, {"Content-Type": "text/xml"}, body
    # query protocol (autoscaling, elb, elbv2) and anything else
    code = "Throttling" if throttle else "ServiceUnavailable"
    status = 400 if throttle else 503
    if api.service == "autoscaling" and not throttle:
        code, status, message = "ResourceContentionFault", 500, RESOURCE_CONTENTION
    kind_ = "Sender" if throttle else "Receiver"
    body = (
        f"<ErrorResponse><Error><Type>{kind_}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status, {"Content-Type": "text/xml"}, body


def _hook(api: Any) -> tuple[int, dict[str, str], bytes] | None:
    CALLS[api.name] += 1
    if "aws-sdk-rust" in (getattr(api, "agent", "") or ""):
        FUNCTION_CALLS[api.name] += 1
    rates = _rates(api)
    if not rates:
        return None
    with _rng_lock:
        draw = _rng.random()
    kind = None
    bound = 0.0
    for name in ("throttle", "unavailable", "denied"):
        bound += float(rates.get(name, 0))
        if draw < bound:
            kind = name
            break
    if kind is None:
        return None
    FAULTS[f"{api.name}:{kind}"] += 1
    core.record("fault.injected", api=api.name, kind=kind)
    if kind == "denied":
        from world.emulator import iam

        message = f"not authorized to perform: {api.name} with an explicit deny in a service control policy"
        return iam.denied_response(api, message)
    return error_response(api, kind)


class _Api:
    def __init__(self, service: str, operation: str):
        self.service, self.operation = service, operation
        self.name = f"{service}:{operation}"


def draw(service: str, operation: str) -> str | None:
    """A fault ("throttle", "unavailable") or None for a call the world makes on a service's
    behalf (EventBridge calling StartExecution for a rule target): same rates, same draw."""
    api = _Api(service, operation)
    rates = _rates(api)
    if not rates:
        return None
    with _rng_lock:
        value = _rng.random()
    throttle = float(rates.get("throttle", 0))
    unavailable = float(rates.get("unavailable", 0))
    kind = "throttle" if value < throttle else "unavailable" if value < throttle + unavailable else None
    if kind is not None:
        FAULTS[f"{api.name}:{kind}"] += 1
        core.record("fault.injected", api=api.name, kind=kind, by="eventbridge")
    return kind


def answers_unknown(service: str, operation: str) -> bool:
    """Whether this answer of ``service:operation`` shows an instance's state as ``Unknown``,
    with probability ``unknown`` of its fault rates (``elb:DescribeInstanceHealth``: "Valid
    values: InService | OutOfService | Unknown", with the description "A transient error
    occurred. Please try again later.", Elastic Load Balancing API reference, InstanceState)."""
    rates = _rates(_Api(service, operation))
    rate = float(rates.get("unknown", 0)) if rates else 0.0
    if rate <= 0:
        return False
    with _rng_lock:
        value = _rng.random()
    if value >= rate:
        return False
    FAULTS[f"{service}:{operation}:unknown"] += 1
    core.record("fault.injected", api=f"{service}:{operation}", kind="unknown")
    return True


def _get_calls(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    return 200, {
        "calls": dict(sorted(CALLS.items())),
        "faults": dict(sorted(FAULTS.items())),
        "total": sum(CALLS.values()),
        "functions": dict(sorted(FUNCTION_CALLS.items())),
        "functions_total": sum(FUNCTION_CALLS.values()),
    }


def _reset_calls(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    _reset()
    return 200, {"reset": True}


def install() -> None:
    core.request_hook(_hook)
    core.on_config(_reseed)
    core.on_reset(_reset)
    core.route("GET", "/_world/calls")(_get_calls)
    core.route("POST", "/_world/calls/reset")(_reset_calls)
    _reseed()
