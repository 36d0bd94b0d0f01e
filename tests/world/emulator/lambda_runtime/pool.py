"""Every function's sandboxes, within the concurrency Lambda allows, and one invocation's run.

As on Lambda ("Understanding Lambda function scaling", "Lambda execution environment
lifecycle"): an execution environment runs one invocation at a time; an invocation goes to
an idle environment of the function (same configuration) or, when every one is busy, to a
new one (a cold start), as long as the function's concurrency allows: its reserved
concurrency (``PutFunctionConcurrency``) if it has one, else what the account's concurrency
(config ``lambda.concurrency``, default 1000, Lambda's default quota per Region) leaves.
Beyond that a synchronous Invoke fails with ``TooManyRequestsException`` (HTTP 429, Reason
``ConcurrentInvocationLimitExceeded`` / ``ReservedFunctionConcurrentInvocationLimitExceeded``),
which Step Functions reports as ``Lambda.TooManyRequestsException``. An environment whose
invocation timed out, or whose process exited, is gone; a configuration change retires the
idle ones.

The function's timeout measures the function, not the emulator: an AWS API call is answered
in tens of milliseconds, while the world, one process serving every call, can take seconds
under a fleet's load. The part of each of the sandbox's calls that the world takes beyond
``API_SECONDS`` (from when it began to serve the call to its answer, the wait for its lock
included) is not counted against the timeout; the rest (the function's own work, the SDK's
backoff sleeps, ``API_SECONDS`` per call, the way to the world) is.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import subprocess
import threading
import time
import zipfile
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from world.emulator import core
from world.emulator.lambda_runtime.runtime_api import _Handler
from world.emulator.lambda_runtime.sandbox import Invocation, Sandbox

REGION_DEFAULT = "us-west-2"
ACCOUNT_CONCURRENCY = 1000  # Lambda's default concurrency quota per account and Region
_ids = itertools.count(1)
INIT_SECONDS = 10  # Lambda's limit on a sandbox's init phase, not counted in the function's timeout
API_SECONDS = 0.1  # what an AWS API call may take; what the world takes beyond it is the emulator's


class TooManyRequests(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Pool:
    """The Runtime API server and every function's sandboxes."""

    def __init__(self, bin_dir: Path, log_dir: Path):
        self.lock = threading.RLock()
        self.bin_dir = bin_dir
        self.log_dir = log_dir
        self.sandboxes: dict[int, Sandbox] = {}
        # sandboxes whose process runs but which are not in ``sandboxes`` yet: set once they are
        self.starting: dict[int, threading.Event] = {}
        self.peaks: dict[str, int] = {}  # function -> most invocations at once since the reset
        self.throttles: dict[str, int] = {}
        handler = type("Handler", (_Handler,), {"pool": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        core.SERVED_HOOKS.append(self.served)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="lambda-runtime-api", daemon=True).start()

    # ------------------------------------------------------------------ sandboxes

    def busy(self, function: str | None = None) -> int:
        return sum(1 for b in self.sandboxes.values() if b.busy and (function is None or b.name == function))

    def acquire(self, fn: Any) -> Sandbox:
        """An idle sandbox of the function, or a new one within its concurrency; TooManyRequests past it."""
        name = fn.function_name
        wanted = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        with self.lock:
            for box in [b for b in self.sandboxes.values() if b.name == name and not b.busy]:
                if not box.alive() or box.env != wanted:
                    self._retire(
                        box, "crashed" if not box.alive() and box.process.returncode not in (0, -15) else "reconfigured"
                    )
            idle = next((b for b in self.sandboxes.values() if b.name == name and not b.busy), None)
            if idle is None:
                self._check_concurrency(fn)
                idle = self._start(fn, wanted)
            idle.busy = True
            self.peaks[name] = max(self.peaks.get(name, 0), self.busy(name))
            return idle

    def _check_concurrency(self, fn: Any) -> None:
        name = fn.function_name
        reserved = getattr(fn, "reserved_concurrency", None)
        if reserved is not None and self.busy(name) >= int(reserved):
            self.throttles[name] = self.throttles.get(name, 0) + 1
            core.record(
                "lambda.throttled",
                function=name,
                reason="ReservedFunctionConcurrentInvocationLimitExceeded",
                concurrency=int(reserved),
            )
            raise TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")
        limit = int((core.CONFIG.get("lambda") or {}).get("concurrency", ACCOUNT_CONCURRENCY))
        if self.busy() >= limit:
            self.throttles[name] = self.throttles.get(name, 0) + 1
            core.record(
                "lambda.throttled", function=name, reason="ConcurrentInvocationLimitExceeded", concurrency=limit
            )
            raise TooManyRequests("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")

    def _start(self, fn: Any, wanted: dict[str, str]) -> Sandbox:
        from world.emulator.lambdas import ServiceException

        name = fn.function_name
        binary = self.executable(fn)
        if not binary.exists():
            raise ServiceException(f"no binary for function {name}: {binary} (cargo build first)")
        sid = next(_ids)
        region = getattr(fn, "region", None) or REGION_DEFAULT
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.port}/.rt/{sid}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(fn, "memory_size", 128) or 128),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"world-sandbox-{sid}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}",
            "AWS_SDK_UA_APP_ID": f"world-sandbox-{sid}",
            "RUST_LOG": os.environ.get("WORLD_LAMBDA_RUST_LOG", "info"),
            "RUST_BACKTRACE": "1",
        }
        env.update(wanted)
        self.starting[sid] = threading.Event()
        log_path = self.log_dir / f"{name}.log"  # one log per function, as its log group
        log = open(log_path, "ab")  # noqa: SIM115 (the process's stdout for its whole life)
        try:
            process = subprocess.Popen(
                [str(binary)], env=env, cwd=self.log_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError:
            self.starting.pop(sid).set()
            raise
        finally:
            log.close()
        box = Sandbox(name, wanted, process, log_path, sid, getattr(fn, "role", "") or "")
        self.sandboxes[sid] = box
        self.starting.pop(sid).set()
        core.record("lambda.sandbox.started", function=name, pid=process.pid, log=str(log_path), sandbox=sid)
        return box

    def executable(self, fn: Any) -> Path:
        """What a sandbox of ``fn`` runs: the ``bootstrap`` of its deployment package (a
        ``provided`` runtime's entry point), unpacked once per code digest; a package whose
        ``bootstrap`` is empty stands for the binary named after the function in ``bin_dir``."""
        code = getattr(fn, "code_bytes", b"") or b""
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as package:
                bootstrap = package.read("bootstrap")
        except (zipfile.BadZipFile, KeyError) as err:
            from world.emulator.lambdas import ServiceException

            raise ServiceException(f"the code of {fn.function_name} has no bootstrap: {err}") from None
        if not bootstrap:
            return self.bin_dir / fn.function_name
        path = self.log_dir / "code" / hashlib.sha256(code).hexdigest() / "bootstrap"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{threading.get_ident()}")
            partial.write_bytes(bootstrap)
            partial.chmod(0o755)
            partial.replace(path)
        return path

    def _retire(self, box: Sandbox, reason: str) -> None:
        box.stop()
        self.sandboxes.pop(box.id, None)
        core.record(
            "lambda.sandbox.stopped",
            function=box.name,
            pid=box.process.pid,
            reason=reason,
            returncode=box.process.returncode,
            sandbox=box.id,
        )

    def release(self, box: Sandbox, gone: str | None = None) -> None:
        with self.lock:
            box.busy = False
            if gone is not None:
                self._retire(box, gone)

    def stop(self) -> None:
        with self.lock:
            for box in list(self.sandboxes.values()):
                box.stop()
            self.sandboxes.clear()

    def reset(self) -> None:
        self.stop()
        with self.lock:
            self.peaks.clear()
            self.throttles.clear()

    def shutdown(self) -> None:
        self.stop()
        self.server.shutdown()
        self.server.server_close()

    def served(self, api: Any, seconds: float) -> None:
        """core.SERVED_HOOKS: one of a sandbox's calls took the world ``seconds`` to answer."""
        box = self.by_agent(getattr(api, "agent", ""))
        if box is not None and box.busy and seconds > API_SECONDS:
            box.world_seconds += seconds - API_SECONDS

    def by_agent(self, agent: str) -> Sandbox | None:
        """The sandbox whose SDK made a call (``app/world-sandbox-<id>`` in its User-Agent)."""
        match = re.search(r"app/world-sandbox-(\d+)", agent or "")
        return self.sandboxes.get(int(match.group(1))) if match else None

    # ------------------------------------------------------------------ invoking

    def run(self, box: Sandbox, fn: Any, event: Any) -> tuple[str, bool, str]:
        """One invocation on ``box``: (payload, function error?, logs)."""
        timeout = float(getattr(fn, "timeout", 3) or 3)
        invocation = Invocation(json.dumps(event).encode(), timeout, fn.function_arn)
        box.invocations += 1
        box.world_seconds = 0.0
        box.hand(invocation)
        # the timeout runs from when the runtime takes the invocation; a cold start has INIT_SECONDS before
        # (Lambda: "The Init phase is limited to 10 seconds"; then it is retried within the invocation's timeout)
        deadline = time.monotonic() + INIT_SECONDS + timeout
        started = False
        while not invocation.done.wait(0.05):
            if not started and invocation.fetched.is_set():
                started = True
                deadline = time.monotonic() + timeout
            if not box.alive():
                box.errors += 1
                code = box.process.returncode
                self.release(box, "exited")
                tail = _tail(box.log_path)
                return (
                    json.dumps(
                        {
                            "errorType": "Runtime.ExitError",
                            "errorMessage": f"Runtime exited with error: exit status {code}. {tail}",
                        }
                    ),
                    True,
                    "",
                )
            if time.monotonic() > deadline + box.world_seconds:
                box.errors += 1
                self.release(box, "timeout")  # Lambda ends the environment of a timed-out invocation
                return (
                    json.dumps(
                        {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
                    ),
                    True,
                    "",
                )
        kind, body = invocation.outcome or ("error", b"{}")
        self.release(box)
        if kind == "response":
            return body.decode("utf-8"), False, ""
        box.errors += 1
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict) or "errorType" not in parsed:
            parsed = {"errorType": "Unhandled", "errorMessage": body.decode("utf-8", "replace")}
        return json.dumps(parsed), True, ""

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "function": b.name,
                    "sandbox": b.id,
                    "pid": b.process.pid,
                    "alive": b.alive(),
                    "busy": b.busy,
                    "log": str(b.log_path),
                    "started": b.started,
                    "invocations": b.invocations,
                    "errors": b.errors,
                }
                for b in self.sandboxes.values()
            ]


def _tail(path: Path, limit: int = 600) -> str:
    try:
        data = path.read_bytes()[-limit:].decode("utf-8", "replace")
    except OSError:
        return ""
    return " ".join(data.split())
