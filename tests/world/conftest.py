"""Fixtures: one world server per test session on a free loopback port (the server binds it and reports
it), reset before each test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from world import harness

TESTS_DIR = Path(__file__).resolve().parent.parent
REGION = "us-west-2"


class World:
    """A running world: boto3 clients and its control endpoint."""

    def __init__(self, url: str):
        self.url = url

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # the tests observe the world; a test of its rate limits passes another user_agent_extra
            config=Config(
                **{"retries": {"max_attempts": 1, "mode": "standard"}, "user_agent_extra": "world-harness", **config}
            ),
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def configure(self, **config: Any) -> Any:
        return self.control("POST", "/_world/config", config)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        path = "/_world/events" + (f"?type={kind}" if kind else "")
        return self.control("GET", path)["events"]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
        return harness.wait_for(predicate, timeout, what, every=0.1)


@pytest.fixture(scope="session")
def world_server() -> Any:
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), AWS_DEFAULT_REGION=REGION)
    proc = subprocess.Popen(
        [sys.executable, "-m", "world.emulator.server", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("world ready on http://127.0.0.1:"), line
    yield World(line.removeprefix("world ready on "))
    proc.terminate()
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture()
def world(world_server: World) -> World:
    world_server.control("POST", "/_world/reset", {})
    return world_server
