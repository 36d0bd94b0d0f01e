"""One world (and one set of Lambda sandboxes) for the whole e2e session; each test runs a scenario in it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from world import harness, run  # noqa: E402

SCENARIOS = TESTS / "scenarios"


@pytest.fixture(scope="session")
def world():
    if not os.environ.get("E2E_NO_BUILD"):
        harness.build()
    with harness.World() as world:
        yield world


@pytest.fixture()
def scenario(world):
    def _run(name: str):
        lines: list[str] = []
        result = run.run_scenario(world, SCENARIOS / f"{name}.json", out=lines.append)
        print("\n".join(lines))
        run.report(result)
        return result

    return _run


@pytest.fixture(scope="session")
def ecs_sta():
    """The operators' command line (target/debug/ecs-sta), built with the Lambdas (harness.build)."""
    if not os.environ.get("E2E_NO_BUILD"):
        harness.build()
    binary = harness.REPO / "target" / "debug" / "ecs-sta"
    assert binary.exists(), f"{binary} not built"
    return binary


def pytest_configure(config):
    config.addinivalue_line("markers", "long: takes minutes (a drain that must fail for real, or a long drain)")


def pytest_collection_modifyitems(items):
    """The long tests first, so that the workers (``-n``) finish together instead of one
    of them starting a four-minute test when the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
