"""SVG charts of the benchmark results, written beside RESULTS.md (which embeds them).

Plain SVG text, written by hand: a few bars, lines and labels need no plotting library.
Each chart function takes figures and returns the SVG document as a string; every
document is checked to be well-formed XML before it is written.

- ``completion_by_drain_time``: event to completion by drain time, ours against the
  predecessor (median bar, min-max whisker) with the real end of the drain marked.
- ``drain_timeline``: one drain's timeline, drawn by ``ecs-sta show --svg`` from the
  execution's history (the same picture an operator gets).
- ``api_calls_per_second``: API calls per second during a fleet scale-in, one line per API,
  each with its limit (the sustained rate of its tightest token bucket) dashed in its colour.
  ``fleet_api_calls_per_second`` draws it from the fleet case of ``reliability.json``
  (``world.reliability``: the world's per-second counts, ``GET /_world/limits``).
"""

from __future__ import annotations

import math
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.common import REPO

OURS, PREDECESSOR, FLOOR = "#3366cc", "#f28e2b", "#222222"
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12"'

COMPLETION_FILE = "completion-by-drain-time.svg"
TIMELINE_FILE = "drain-timeline.svg"
FLEET_FILE = "fleet-api-calls-per-second.svg"
FLEET_LINES = 8  # APIs drawn one by one in the fleet chart


def _text(x: float, y: float, content: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{" " + extra if extra else ""}>{escape(str(content))}</text>'


def _document(width: int, height: int, body: list[str]) -> str:
    svg = (
        "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" {FONT}>',
                f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
                *body,
                "</svg>",
            ]
        )
        + "\n"
    )
    ET.fromstring(svg)  # well-formed, or ParseError here rather than a broken picture in the report
    return svg


def _nice_step(top: float, ticks: int = 6) -> float:
    """A round step (1, 2 or 5 times a power of ten) that splits 0..top into at most ``ticks`` parts."""
    raw = max(top, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)


def _y_axis(body: list[str], left: float, top: float, bottom: float, right: float, vmax: float, unit: str) -> Any:
    """Grid lines and labels from 0 to vmax; returns the function from a value to its y."""
    step = _nice_step(vmax)
    vmax = step * -(-vmax // step)
    y_of = lambda v: bottom - (v / vmax) * (bottom - top)  # noqa: E731
    v = 0.0
    while v <= vmax + 1e-9:
        y = y_of(v)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        body.append(_text(left - 6, y + 4, f"{v:g}", 'text-anchor="end" fill="#555555"'))
        v += step
    body.append(
        _text(
            14,
            (top + bottom) / 2,
            unit,
            f'text-anchor="middle" fill="#555555" transform="rotate(-90 14 {(top + bottom) / 2:.1f})"',
        )
    )
    return y_of


def _bar(body: list[str], x: float, width: float, stats: dict[str, Any], y_of: Any, colour: str, tip: str) -> None:
    """A median bar with a min-max whisker and its value above."""
    top, base = y_of(stats["median"]), y_of(0)
    body.append(
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{base - top:.1f}" fill="{colour}">'
        f"<title>{escape(tip)}</title></rect>"
    )
    mid = x + width / 2
    lo, hi = y_of(stats.get("min", stats["median"])), y_of(stats.get("max", stats["median"]))
    body.append(
        f'<path d="M{mid:.1f} {lo:.1f} V{hi:.1f} M{mid - 5:.1f} {hi:.1f} h10 M{mid - 5:.1f} {lo:.1f} h10" '
        'stroke="#333333" stroke-width="1.2" fill="none"/>'
    )
    body.append(_text(mid, hi - 6, f"{stats['median']:.1f} s", 'text-anchor="middle"'))


def completion_by_drain_time(results: dict[str, Any]) -> str | None:
    """Event to completion (median, min-max) per drain time, ours and the predecessor's; a dashed line marks
    when the drain really ended (event to floor, median). None without drain rounds."""
    ours = {d["drain_seconds"]: d for d in results.get("drains", [])}
    pred = {p["drain_seconds"]: p for p in (results.get("predecessor") or {}).get("rounds", [])}
    times = sorted(set(ours) | set(pred))
    if not times:
        return None
    width, height, left, right, top, bottom = 720, 400, 70, 700, 50, 330
    vmax = (
        max(
            [o["event_to_completion_s"]["max"] for o in ours.values()]
            + [p["event_to_completion_aws_s"]["max"] for p in pred.values()]
            + [1.0]
        )
        * 1.1
    )
    body = [_text(left, 24, "Lifecycle event to completion, by drain time", 'font-size="15" font-weight="bold"')]
    y_of = _y_axis(body, left, top, bottom, right, vmax, "seconds (AWS time)")
    group = (right - left) / len(times)
    bar = min(70.0, group / 3)
    for i, d in enumerate(times):
        x0 = left + i * group + group / 2 - bar - 4
        if d in ours:
            _bar(
                body,
                x0,
                bar,
                ours[d]["event_to_completion_s"],
                y_of,
                OURS,
                f"ours, D={d}s: median {ours[d]['event_to_completion_s']['median']} s",
            )
            floor = ours[d]["event_to_floor_s"]["median"]
            y = y_of(floor)
            body.append(
                f'<line x1="{x0 - 8:.1f}" y1="{y:.1f}" x2="{x0 + 2 * bar + 16:.1f}" y2="{y:.1f}" '
                f'stroke="{FLOOR}" stroke-dasharray="4 3"><title>the drain really ended: {floor} s</title></line>'
            )
        if d in pred:
            _bar(
                body,
                x0 + bar + 8,
                bar,
                pred[d]["event_to_completion_aws_s"],
                y_of,
                PREDECESSOR,
                f"predecessor, D={d}s: median {pred[d]['event_to_completion_aws_s']['median']} s",
            )
        body.append(_text(left + i * group + group / 2, bottom + 20, f"D = {d} s", 'text-anchor="middle"'))
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555555"/>')
    legend = [(OURS, "ours"), (PREDECESSOR, "predecessor (polling, re-implemented)")]
    x = left
    for colour, name in legend:
        body.append(f'<rect x="{x}" y="{bottom + 38}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, bottom + 48, name))
        x += 40 + 7 * len(name)
    body.append(
        f'<line x1="{x}" y1="{bottom + 44}" x2="{x + 24}" y2="{bottom + 44}" stroke="{FLOOR}" stroke-dasharray="4 3"/>'
    )
    body.append(_text(x + 30, bottom + 48, "the drain's real end (median)"))
    body.append(
        _text(
            left,
            bottom + 66,
            "bars: median; whiskers: min to max; D: connection draining and deregistration delay",
            'fill="#555555"',
        )
    )
    return _document(width, height, body)


def api_calls_per_second(
    series: dict[str, list[tuple[float, int]]], title: str, limits: dict[str, float] | None = None
) -> str | None:
    """API calls per second during a fleet scale-in: one line per API (or group of APIs), ``series`` mapping its
    name to (second from the scale-in, calls in that second); ``limits`` maps a name to its limit in calls per
    second, drawn dashed in the line's colour."""
    points = [p for values in series.values() for p in values]
    if not points:
        return None
    width, height, left, right, top, bottom = 1060, 380, 70, 600, 50, 320
    seconds = max(t for t, _ in points) or 1.0
    body = [_text(left, 24, title, 'font-size="15" font-weight="bold"')]
    limits = {name: rate for name, rate in (limits or {}).items() if name in series and rate is not None}
    top_value = max([c for _, c in points] + list(limits.values()))
    y_of = _y_axis(body, left, top, bottom, right, top_value * 1.1 or 1.0, "calls per second")
    x_of = lambda t: left + t / seconds * (right - left)  # noqa: E731
    palette = [OURS, PREDECESSOR, "#2e9e57", "#7a4fbf", "#d62728", "#8c564b", "#17becf", "#7f7f7f"]
    for i, (name, values) in enumerate(sorted(series.items())):
        colour = palette[i % len(palette)]
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{x_of(t):.1f} {y_of(c):.1f}" for j, (t, c) in enumerate(sorted(values))
        )
        body.append(
            f'<path d="{path}" stroke="{colour}" stroke-width="1.5" fill="none"><title>{escape(name)}</title></path>'
        )
        if name in limits:
            y = y_of(limits[name])
            body.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{colour}" '
                f'stroke-dasharray="6 4"><title>{escape(name)} limit {limits[name]:g}/s</title></line>'
            )
        label = f"{name} (limit {limits[name]:g}/s)" if name in limits else name
        body.append(f'<rect x="{right + 14}" y="{top + 18 * i}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(right + 30, top + 18 * i + 10, label))
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555555"/>')
    body.append(_text(left, bottom + 18, "0 s", 'fill="#555555"'))
    body.append(_text(right, bottom + 18, f"{seconds:g} s after the scale-in", 'text-anchor="end" fill="#555555"'))
    return _document(width, height, body)


def fleet_api_calls_per_second(reliability: dict[str, Any], case: str = "fleet_200_of_240") -> str | None:
    """``api_calls_per_second`` of the fleet case of ``reliability.json`` (world.reliability): the calls per
    second of each API the functions call, against its limit; None when the file has no such series."""
    found = next((c for c in reliability.get("cases", []) if c.get("name") == case and c.get("calls_per_second")), None)
    if found is None:
        return None
    apis = found["calls_per_second"]["apis"]
    # the APIs with the most calls, each with its limit; the rest summed into one line
    busiest = sorted(apis, key=lambda api: -sum(c for _s, c, _t in apis[api]["series"]))
    series = {api: [(float(s), int(c)) for s, c, _throttled in apis[api]["series"]] for api in busiest[:FLEET_LINES]}
    rest: dict[float, int] = {}
    for api in busiest[FLEET_LINES:]:
        for s, c, _throttled in apis[api]["series"]:
            rest[float(s)] = rest.get(float(s), 0) + int(c)
    if rest:
        series[f"{len(busiest) - FLEET_LINES} other APIs"] = sorted(rest.items())
    limits = {api: (apis[api].get("limit") or {}).get("rate_per_second") for api in busiest[:FLEET_LINES]}
    return api_calls_per_second(
        series, f"API calls per second during the scale-in of {found.get('size', case)}", limits
    )


def ecs_sta_binary() -> Path:
    """The operators' command line, as `make bench` and `make bench-smoke` build it (debug)."""
    for profile in ("debug", "release"):
        binary = REPO / "target" / profile / "ecs-sta"
        if binary.exists():
            return binary
    raise FileNotFoundError("target/debug/ecs-sta not found: run `cargo build -p ecs-sta` (make bench does)")


def drain_timeline(world_url: str, execution_arn: str, path: Path) -> str:
    """``ecs-sta show EXECUTION --svg PATH`` against the world; returns what it printed (the terminal picture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECS_STA_"))}
    env.update(
        AWS_ENDPOINT_URL=world_url,
        AWS_DEFAULT_REGION="us-west-2",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    proc = subprocess.run(
        [str(ecs_sta_binary()), "show", execution_arn, "--svg", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ecs-sta show {execution_arn} --svg exited {proc.returncode}: {proc.stderr.strip()}")
    ET.parse(path)  # well-formed
    return proc.stdout


def write_charts(results: dict[str, Any], out: Path) -> dict[str, str]:
    """Writes the charts the results allow into ``out``; returns {chart: file name} for the report."""
    written = {}
    svg = completion_by_drain_time(results)
    if svg:
        (out / COMPLETION_FILE).write_text(svg)
        written["completion_by_drain_time"] = COMPLETION_FILE
    if (out / TIMELINE_FILE).exists() and (results.get("drain_timeline") or {}).get("execution_arn"):
        written["drain_timeline"] = TIMELINE_FILE
    fleet = (results.get("fleet") or {}).get("case")
    svg = fleet_api_calls_per_second({"cases": [fleet]}, fleet["name"]) if fleet else None
    if svg:
        (out / FLEET_FILE).write_text(svg)
        written["fleet_api_calls_per_second"] = FLEET_FILE
    return written
