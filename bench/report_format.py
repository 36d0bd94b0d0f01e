"""How bench/RESULTS.md writes its figures (bench.report and its sections)."""

from __future__ import annotations

import itertools
import math
from typing import Any


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _kib(x: Any) -> str:
    """KiB (as /proc reports them) -> MiB."""
    return "-" if not x else f"{x / 1024:.1f} MiB"


def _bytes(x: Any) -> str:
    return "-" if not x else f"{x / 1048576:.2f} MiB"


def _growth(points: list[tuple[float, float]]) -> str:
    """Extra per doubling between consecutive points."""
    parts = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        doublings = math.log2(x1 / x0)
        parts.append(f"{x0:g}->{x1:g}: {(y1 - y0) / doublings:+.1f} per doubling")
    return "; ".join(parts) or "-"


def _chart_part(text: str) -> str:
    """The chart of `ecs-sta show`'s text: between the summary and the table of visits (blank lines apart)."""
    parts = text.strip("\n").split("\n\n")
    return parts[1] if len(parts) > 2 else text.strip("\n")
