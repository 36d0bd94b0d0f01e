"""Which calls the buckets limit, and the answer a throttled call gets.

Only requests signed like an AWS SDK's are limited. The world's own harness (world.run, the
world's tests: User-Agent with ``world-harness``) observes without being limited or counted:
on AWS nobody polls every execution's history every 0.3 s; every other caller (the functions,
``ecs-sta``, moto's Step Functions) shares the buckets. Calls the world makes on a service's
behalf are free, as AWS says of ELB ("Services that call the ELB API on your behalf ... do not
consume tokens from your buckets"); EventBridge's StartExecution for a rule target takes a
token (world.emulator.eventbridge retries a throttled attempt).
"""

from __future__ import annotations

import uuid
from typing import Any

from world.emulator import core
from world.emulator.rate_limits.buckets import buckets_of
from world.emulator.rate_limits.limiter import LIMITER

HARNESS_AGENT = "world-harness"  # botocore Config(user_agent_extra=...) of the world's own clients
# EventBridge's deliveries do not carry their Region down to world.emulator.faults.draw; the world's runs use this one
DELIVERY_REGION = "us-west-2"


THROTTLE_CODES = {
    "elb": "ThrottlingException",
    "elbv2": "ThrottlingException",
}  # ELB's page; others: world.emulator.faults


def throttle_response(api: Any) -> tuple[int, dict[str, str], bytes]:
    """The service's own throttling answer (ELB's code from its page, the others' as world.emulator.faults has them)."""
    from world.emulator import faults

    code = THROTTLE_CODES.get(api.service)
    if code is None:
        return faults.error_response(api, "throttle")
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return 400, {"Content-Type": "text/xml"}, body


def harness(api: Any) -> bool:
    return HARNESS_AGENT in (getattr(api, "agent", "") or "")


def _hook(api: Any) -> tuple[int, dict[str, str], bytes] | None:
    if harness(api):
        return None
    bucket = LIMITER.take(api.region, api.name, buckets_of(api.service, api.operation))
    if bucket is None:
        return None
    return throttle_response(api)


def allow(service: str, operation: str, region: str) -> bool:
    """For a call the world makes for a caller (EventBridge's StartExecution for a rule target):
    False when the caller's bucket throttles it."""
    return LIMITER.take(region, f"{service}:{operation}", buckets_of(service, operation)) is None


def _wrap_draw() -> None:
    """EventBridge's delivery attempts draw from world.emulator.faults; a throttled StartExecution fails
    the attempt the same way (retried by EventBridge)."""
    from world.emulator import faults

    original = faults.draw
    if getattr(original, "_world_limits", False):
        return

    def draw(service: str, operation: str) -> str | None:
        kind = original(service, operation)
        if kind is None and not allow(service, operation, DELIVERY_REGION):
            core.record("fault.injected", api=f"{service}:{operation}", kind="throttle", by="rate-limit")
            return "throttle"
        return kind

    draw._world_limits = True  # type: ignore[attr-defined]
    faults.draw = draw
