"""Every scenario file of tests/scenarios runs in the e2e suite: by a test of its own (which asserts
more) or, failing one, here, where the runner's invariants and the file's ``expect`` are the judges.

A file with ``"e2e": false`` is a size a CI machine cannot afford, such as ``fleet_200_of_240``: it is
not one of these tests but a case of ``make reliability`` (tests/world/reliability.py), whose CI size
(``make test-reliability``: ``fleet_20_of_24``) runs in every CI run; a test here holds that every such
file is a reliability case."""

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


OTHERS = sorted(
    p.stem
    for p in SCENARIOS.glob("*.json")
    if p.stem not in _with_a_test_of_their_own() and not _reliability_only(p.stem)
)


# scenarios that take minutes (conftest starts the tests marked long first)
LONG = {"reads_hang"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.long) if n in LONG else n for n in OTHERS])
def test_every_other_scenario(scenario, name):
    r = scenario(name)
    assert r.ok, r.violations


def test_every_scenario_too_large_for_ci_is_a_reliability_case():
    from world.reliability import CASES

    cases = {case.scenario.removesuffix(".json") for case in CASES}
    too_large = sorted(p.stem for p in SCENARIOS.glob("*.json") if _reliability_only(p.stem))
    assert too_large and set(too_large) <= cases, (too_large, sorted(cases))
