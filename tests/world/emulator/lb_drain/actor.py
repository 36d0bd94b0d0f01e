"""Who deregisters, for the event log.

Every deregistration event says ``by`` whom: ``ecs`` (the service scheduler),
``autoscaling`` (Auto Scaling for its attached load balancers),
``termination`` (the instance terminated), ``functions`` (an API call with the
AWS SDK for Rust's User-Agent: the project's Lambdas) or ``client`` (any other
API caller).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_actor = threading.local()


@contextlib.contextmanager
def acting(who: str) -> Iterator[None]:
    """Deregistrations inside this block are recorded with ``by=who`` (ecs, autoscaling...)."""
    previous = getattr(_actor, "who", None)
    _actor.who = who
    try:
        yield
    finally:
        _actor.who = previous


def _remember_caller(api: Any) -> None:
    """Request hook: the API call this request thread serves (for ``by``)."""
    _actor.api = api
    _actor.who = None
    return None


def _by() -> str:
    who = getattr(_actor, "who", None)
    if who:
        return who
    api = getattr(_actor, "api", None)
    if api is None:
        return "world"
    if api.service == "autoscaling":
        return "autoscaling"
    return "functions" if "aws-sdk-rust" in (getattr(api, "agent", "") or "") else "client"
