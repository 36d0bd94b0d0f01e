"""One execution environment (a sandbox) and the invocation it runs.

Each sandbox is a process of the function's ``bootstrap`` (see ``Pool.executable``: the one in
its deployment package, e.g. a ``launcher`` of a host build, or ``target/debug/<function name>``
when the package's is empty), whose
``AWS_LAMBDA_RUNTIME_API`` points at its own path here (``/.rt/<sandbox id>``), so the world
knows which process has which invocation; its SDK calls carry ``app/world-sandbox-<id>`` in
their User-Agent (``AWS_SDK_UA_APP_ID``), so the world knows which process made a call.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path


class Invocation:
    def __init__(self, body: bytes, timeout: float, arn: str):
        self.request_id = str(uuid.uuid4())
        self.body = body
        self.timeout = timeout
        self.deadline: float | None = None  # epoch seconds, from when the runtime fetched it
        self.fetched = threading.Event()
        self.arn = arn
        self.done = threading.Event()
        self.outcome: tuple[str, bytes] | None = None  # ("response" | "error", body)


class Sandbox:
    """One execution environment: a process of the function's binary."""

    def __init__(
        self,
        function: str,
        env: dict[str, str],
        process: subprocess.Popen[bytes],
        log_path: Path,
        sid: int,
        role: str = "",
    ):
        self.id = sid
        self.name = function
        self.role = role  # the execution role whose credentials its code signs with (world.emulator.iam)
        self.env = env
        self.process = process
        self.log_path = log_path
        self.started = time.time()
        self.invocations = 0
        self.errors = 0
        self.busy = False
        self.retired = False
        self.cond = threading.Condition()
        self.pending: Invocation | None = None  # handed over, not yet fetched by the runtime
        self.current: Invocation | None = None  # fetched, not yet answered
        self.world_seconds = 0.0  # of this invocation: the world's service time beyond API_SECONDS

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        with self.cond:
            self.retired = True
            self.cond.notify_all()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def hand(self, invocation: Invocation) -> None:
        with self.cond:
            self.pending = invocation
            self.cond.notify_all()

    def next_invocation(self) -> Invocation | None:
        """What the runtime's ``invocation/next`` returns (it blocks until there is one)."""
        with self.cond:
            while self.pending is None and not self.retired and self.alive():
                self.cond.wait(0.5)
            invocation, self.pending = self.pending, None
            self.current = invocation
            if invocation is not None:
                invocation.deadline = time.time() + invocation.timeout
                invocation.fetched.set()
            return invocation

    def answer(self, request_id: str, kind: str, body: bytes) -> bool:
        with self.cond:
            invocation = self.current
            if invocation is None or invocation.request_id != request_id:
                return False
            invocation.outcome = (kind, body)
            self.current = None
        invocation.done.set()
        return True
