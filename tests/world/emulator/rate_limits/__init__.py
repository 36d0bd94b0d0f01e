"""API throttling as AWS applies it: per account and Region, a token bucket per API (or per
category of APIs), shared by every caller, answering with each service's throttling error.

Each part in its module: ``buckets`` (the buckets of each service's API, their figures and
the AWS page each comes from), ``limiter`` (the buckets at work, in AWS time, and the calls
counted per second), ``throttling`` (which calls are limited, and each service's throttling
answer).

``GET /_world/limits``: the buckets (id, burst, rate, APIs, source), per API the calls made in
each AWS second since the last reset (``series``: ``[second, calls, throttled]``) and its peak
(attempts, and the most let through in a second) against its tightest bucket (``peaks``). ``POST /_world/calls/reset`` resets the series too.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from world.emulator import core
from world.emulator.rate_limits.buckets import BUCKETS, buckets_of
from world.emulator.rate_limits.limiter import DEFAULTS, LIMITER, peak_table
from world.emulator.rate_limits.throttling import _hook, _wrap_draw

# what the world's tests and world.reliability_json use
__all__ = ["BUCKETS", "buckets_of", "install", "peak_table"]


def _on_config() -> None:
    signature = json.dumps(LIMITER.config(), sort_keys=True) + str(core.CONFIG.get("timescale"))
    if signature != LIMITER.signature:
        LIMITER.refill()


def _get_limits(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    return 200, LIMITER.report()


def install() -> None:
    if "limits" not in core.DEFAULT_CONFIG:
        core.DEFAULT_CONFIG["limits"] = copy.deepcopy(DEFAULTS)
    core.CONFIG.setdefault("limits", copy.deepcopy(DEFAULTS))
    core.request_hook(_hook)
    core.on_config(_on_config)
    core.on_reset(LIMITER.refill)
    core.on_reset(LIMITER.reset_series)
    core.route("GET", "/_world/limits")(_get_limits)
    reset_calls = core.ROUTES.get(("POST", "/_world/calls/reset"))

    def _reset_calls(query: dict[str, str], body: Any) -> tuple[int, Any]:
        LIMITER.reset_series()
        return reset_calls(query, body) if reset_calls else (200, {"reset": True})

    core.route("POST", "/_world/calls/reset")(_reset_calls)
    _wrap_draw()
    LIMITER.refill()
