"""The buckets at work: every Region's buckets and the calls counted in each AWS second.

Each bucket holds at most ``burst`` tokens and gets ``rate`` tokens back at every second
(AWS's wording: "a set number of tokens is added back to it every second"); a call takes one
token from every bucket it belongs to, or is throttled when one of them has less than one.

Config ``limits``: ``{"enabled": true, "scale": 1.0, "buckets": {}}``; ``scale`` multiplies
every bucket's burst and rate (0.5: half as big, half as fast); ``buckets`` overrides one by
id (``{"ecs:cluster-resource-read": {"burst": 10, "rate": 2}}``). Buckets refill in AWS time:
at ``timescale`` 0.01 a bucket refills 100 times faster in real seconds, as every other
duration of the world is 100 times shorter (core.scaled).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any

from world.emulator import core
from world.emulator.rate_limits.buckets import BUCKETS, buckets_of

DEFAULTS = {"enabled": True, "scale": 1.0, "buckets": {}}


class Bucket:
    __slots__ = ("burst", "rate", "ticks", "tokens")

    def __init__(self, burst: float, rate: float):
        self.burst, self.rate, self.tokens, self.ticks = burst, rate, burst, 0


class Limiter:
    """Every region's buckets and the per-second call counts, on the world's clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.t0 = time.monotonic()
        self.epoch = time.time()
        self.series: dict[str, dict[int, list[int]]] = defaultdict(dict)
        self.throttled: dict[str, int] = defaultdict(int)
        self.signature = ""

    def config(self) -> dict[str, Any]:
        return {**DEFAULTS, **(core.CONFIG.get("limits") or {})}

    def figures(self, bid: str) -> tuple[float, float]:
        cfg = self.config()
        burst, rate = BUCKETS[bid][0], BUCKETS[bid][1]
        override = (cfg.get("buckets") or {}).get(bid) or {}
        burst, rate = float(override.get("burst", burst)), float(override.get("rate", rate))
        scale = float(cfg.get("scale", 1.0))
        return burst * scale, rate * scale

    def aws_seconds(self, now: float) -> float | None:
        """AWS seconds since the buckets were filled (None at timescale 0: time does not pass)."""
        timescale = float(core.CONFIG.get("timescale", 1.0))
        return None if timescale <= 0 else (now - self.t0) / timescale

    def refill(self) -> None:
        """New figures (a config change) or a reset: full buckets, a new clock."""
        with self.lock:
            self.buckets.clear()
            self.t0 = time.monotonic()
            self.epoch = time.time()
            self.signature = json.dumps(self.config(), sort_keys=True) + str(core.CONFIG.get("timescale"))

    def reset_series(self) -> None:
        with self.lock:
            self.series.clear()
            self.throttled.clear()
            self.t0 = time.monotonic()
            self.epoch = time.time()
            for bucket in self.buckets.values():
                bucket.ticks = 0

    def take(self, region: str, api_name: str, ids: list[str]) -> str | None:
        """None when the call may go on, else the id of the bucket that throttles it. Counts the call."""
        now = time.monotonic()
        with self.lock:
            elapsed = self.aws_seconds(now)
            second = int(elapsed) if elapsed is not None else 0
            row = self.series[api_name].setdefault(second, [0, 0])
            row[0] += 1
            if not self.config().get("enabled", True) or elapsed is None:
                return None
            held = []
            for bid in ids:
                key = (region, bid)
                bucket = self.buckets.get(key)
                if bucket is None:
                    bucket = self.buckets[key] = Bucket(*self.figures(bid))
                    bucket.ticks = int(elapsed)
                ticks = int(elapsed)
                if ticks > bucket.ticks:  # tokens come back at each second
                    bucket.tokens = min(bucket.burst, bucket.tokens + (ticks - bucket.ticks) * bucket.rate)
                    bucket.ticks = ticks
                held.append((bid, bucket))
            empty = next((bid for bid, bucket in held if bucket.tokens < 1), None)
            if empty is not None:
                row[1] += 1
                self.throttled[api_name] += 1
                return empty
            for _bid, bucket in held:
                bucket.tokens -= 1
            return None

    def limit_of(self, service: str, operation: str) -> dict[str, Any] | None:
        ids = buckets_of(service, operation)
        if not ids:
            return None
        figures = {bid: self.figures(bid) for bid in ids}
        tight = min(ids, key=lambda bid: (figures[bid][1], figures[bid][0]))
        return {"bucket": tight, "burst": figures[tight][0], "rate": figures[tight][1], "buckets": ids}

    def report(self) -> dict[str, Any]:
        with self.lock:
            series = {api: sorted([s, c, t] for s, (c, t) in rows.items()) for api, rows in self.series.items()}
            throttled = dict(self.throttled)
        peaks = {}
        for api, rows in series.items():
            service, _, operation = api.partition(":")
            top = max(rows, key=lambda r: r[1])
            peaks[api] = {
                "calls": top[1],
                "second": top[0],
                "total": sum(r[1] for r in rows),
                "accepted": max(r[1] - r[2] for r in rows),  # the most calls let through in a second
                "throttled": throttled.get(api, 0),
                "limit": self.limit_of(service, operation),
            }
        cfg = self.config()
        return {
            "enabled": bool(cfg.get("enabled", True)),
            "scale": float(cfg.get("scale", 1.0)),
            "timescale": float(core.CONFIG.get("timescale", 1.0)),
            "since": self.epoch,
            "buckets": {
                bid: {
                    "burst": self.figures(bid)[0],
                    "rate": self.figures(bid)[1],
                    "source": BUCKETS[bid][2],
                    "actions": BUCKETS[bid][3],
                }
                for bid in BUCKETS
            },
            "series": series,
            "peaks": peaks,
        }


LIMITER = Limiter()


def peak_table(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``peak_calls_per_second`` by API for reliability.json: the peak, when, and the limit used."""
    out = {}
    for api, peak in sorted(report.get("peaks", {}).items()):
        limit = peak.get("limit")
        out[api] = {
            "peak": peak["calls"],
            "at_second": peak["second"],
            "peak_accepted": peak.get("accepted"),
            "calls": peak["total"],
            "throttled": peak["throttled"],
            "limit": None
            if limit is None
            else {"bucket": limit["bucket"], "burst": limit["burst"], "rate_per_second": limit["rate"]},
        }
    return out
