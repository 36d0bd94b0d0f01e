"""Every scenario file of tests/scenarios runs in the e2e suite: by a test of its own (which asserts
more) or, failing one, here, where the runner's invariants and the file's ``expect`` are the judges.

A file with ``"e2e": false`` is run by ``make reliability`` only (tests/world/reliability.py): a size a
CI machine cannot afford, such as ``fleet_200_of_240`` (its CI size, ``fleet_20_of_24``, runs here).
That skips a size, not a failure: the same code runs at the small size in every CI run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent
SCENARIOS = E2E.parent / "scenarios"


def _with_a_test_of_their_own() -> set[str]:
    named = set()
    for path in E2E.glob("test_*.py"):
        if path.name != Path(__file__).name:
            named |= set(re.findall(r'scenario\("([a-z0-9_]+)"\)', path.read_text()))
    return named


def _reliability_only(name: str) -> bool:
    return json.loads((SCENARIOS / f"{name}.json").read_text()).get("e2e") is False


OTHERS = sorted(p.stem for p in SCENARIOS.glob("*.json") if p.stem not in _with_a_test_of_their_own())


@pytest.mark.parametrize("name", OTHERS)
def test_every_other_scenario(scenario, name):
    if _reliability_only(name):
        pytest.skip(f'{name}.json says "e2e": false: run by `make reliability` only')
    r = scenario(name)
    assert r.ok, r.violations
