"""Lambda invocations run the project's real Rust binaries.

moto runs a function's code in Docker (``LambdaFunction._invoke_lambda``); the
world replaces that one method. An invocation of function ``NAME`` (moto's
Invoke API, which is also how moto's Step Functions ``lambda:invoke`` tasks and
EventBridge Lambda targets call it) goes to the binary ``NAME`` of the cargo
workspace (``target/debug/NAME`` by default), a real ``lambda_runtime``
program:

* ``cargo lambda watch --only-lambda-apis`` (cargo-lambda, pinned in
  requirements-dev.txt) serves the Lambda Runtime API and the Invoke API
  (``POST /2015-03-31/functions/NAME/invocations``) on a loopback port. It is
  started on the first invocation and never builds anything: the binaries are
  built beforehand (``cargo build``), so editing a crate never restarts a
  function in the middle of a run.
* Each function gets one sandbox: its binary, started on first use with the
  function's ``Environment.Variables`` plus what Lambda sets
  (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``...), credentials, and
  ``AWS_ENDPOINT_URL`` pointing back at the world. Changing the function's
  environment, a world reset or a crashed process starts a new sandbox (a cold
  start), as Lambda does.
* A function error (the runtime's ``/invocation/ID/error``) comes back from
  cargo-lambda as HTTP 500 with ``{"errorType", "errorMessage"}`` but without
  ``X-Amz-Function-Error``; the world reports it as a function error, so Step
  Functions sees ``errorType`` as the Task's error name and the Retry/Catch
  of the state machine apply. A sandbox whose process exits (a failed cold
  start: our binaries exit when their configuration is wrong) is the function
  error ``Runtime.ExitError`` with the end of its log as message; one that does
  not answer within the function's ``Timeout`` is ``Sandbox.Timedout``. Both
  restart cargo-lambda too, so that the lost invocation never reaches the next
  sandbox. A runtime that cannot be started is Lambda's own
  ``ServiceException`` (``Lambda.ServiceException`` in Step Functions).

Environment of the world process:

``WORLD_LAMBDA_BIN_DIR``  directory of the binaries (default ``<repo>/target/debug``)
``WORLD_LAMBDA_LOG_DIR``  where each sandbox's stdout/stderr goes (default: a new
                          temporary directory; never inside the source tree)
``WORLD_LAMBDA_PORT``     port of cargo-lambda's APIs (default: a free one)
``WORLD_LAMBDA_RUST_LOG`` ``RUST_LOG`` of the sandboxes (default ``info``)

``GET /_world/lambdas`` lists the sandboxes (function, pid, log file, started,
invocations, errors).

``POST /_world/lambdas/sabotage`` ``{"function": F, "api": "ecs:DescribeTasks",
"do": "kill"|"hang", "seconds": N}`` arms a one-shot failure of F's process in
the middle of an invocation: the next time F's sandbox, while it runs an
invocation, calls ``api``, the world either kills the process (SIGKILL, event
``lambda.sandbox.killed``; the call itself still reaches the service, its answer
is lost: the Lambda crashed after the side effect) or holds the call for
``seconds`` before answering (event ``lambda.call.held``), so that the
invocation outlives the function's ``Timeout``. What Step Functions then sees is
what the world reports for a crashed or timed-out sandbox (above).
``GET /_world/lambdas/sabotage`` lists what is still armed; a reset disarms all.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.exceptions import JsonRESTError

from world import core

REPO = Path(__file__).resolve().parents[2]
REGION_DEFAULT = "us-west-2"


class ServiceException(JsonRESTError):
    """Lambda's own failure (HTTP 500 ServiceException): Step Functions' Lambda.ServiceException."""

    code = 500

    def __init__(self, message: str):
        super().__init__("ServiceException", message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cargo_lambda() -> str:
    beside = Path(sys.executable).parent / "cargo-lambda"
    if beside.exists():
        return str(beside)
    found = shutil.which("cargo-lambda")
    if not found:
        raise ServiceException("cargo-lambda not found (make deps-py installs it into .venv)")
    return found


class Sandbox:
    def __init__(self, name: str, env: dict[str, str], process: subprocess.Popen[bytes], log_path: Path):
        self.name = name
        self.env = env
        self.process = process
        self.log_path = log_path
        self.started = time.time()
        self.invocations = 0
        self.errors = 0
        self.lock = threading.Lock()  # one invocation at a time per sandbox, as on Lambda

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class Runtime:
    """cargo-lambda's Runtime/Invoke APIs and one sandbox process per function."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.server: subprocess.Popen[bytes] | None = None
        self.port = int(os.environ.get("WORLD_LAMBDA_PORT") or 0) or _free_port()
        self.bin_dir = Path(os.environ.get("WORLD_LAMBDA_BIN_DIR") or REPO / "target" / "debug")
        log_dir = os.environ.get("WORLD_LAMBDA_LOG_DIR")
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="world-lambdas-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.sandboxes: dict[str, Sandbox] = {}
        self.served: set[str] = set()

    # ------------------------------------------------------------------ processes

    def _stub_project(self) -> Path:
        """cargo lambda reads `cargo metadata` of its directory even when it builds nothing:
        a one-file project answers at once, without waiting on the workspace's cargo locks."""
        stub = self.log_dir / "cargo-lambda-project"
        (stub / "src").mkdir(parents=True, exist_ok=True)
        # cargo lambda only serves functions that are binaries of its project
        self.served = set(self.served) | {p.parent.parent.name for p in (REPO / "lambdas").glob("*/src/main.rs")}
        bins = "".join(f'[[bin]]\nname = "{name}"\npath = "src/main.rs"\n\n' for name in sorted(self.served))
        (stub / "Cargo.toml").write_text(
            '[package]\nname = "world-lambdas"\nversion = "0.0.0"\nedition = "2021"\nautobins = false\n\n'
            + bins + "[workspace]\n")
        (stub / "src" / "main.rs").write_text("fn main() {}\n")
        return stub

    def _ensure_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            return
        log = open(self.log_dir / "cargo-lambda.log", "ab")
        self.server = subprocess.Popen(
            [_cargo_lambda(), "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=self._stub_project(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise ServiceException(f"cargo lambda watch exited ({self.server.returncode}); see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceException(f"cargo lambda watch did not listen on {self.port}; see {log.name}")

    def _sandbox(self, fn: Any) -> Sandbox:
        name = fn.function_name
        wanted = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        with self.lock:
            if self.server is not None and name not in self.served:
                self.stop()  # a function cargo lambda does not know yet: restart it knowing it
            self.served.add(name)
            self._ensure_server()
            box = self.sandboxes.get(name)
            if box is not None and box.alive() and box.env == wanted:
                return box
            if box is not None:
                box.stop()
                reason = "crashed" if not box.alive() and box.process.returncode not in (0, -15) else "reconfigured"
                core.record("lambda.sandbox.stopped", function=name, pid=box.process.pid, reason=reason,
                            returncode=box.process.returncode)
            binary = self.bin_dir / name
            if not binary.exists():
                raise ServiceException(f"no binary for function {name}: {binary} (cargo build first)")
            region = getattr(fn, "region", None) or REGION_DEFAULT
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(fn, "memory_size", 128) or 128),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}",
                "RUST_LOG": os.environ.get("WORLD_LAMBDA_RUST_LOG", "info"),
                "RUST_BACKTRACE": "1",
            }
            env.update(wanted)
            log_path = self.log_dir / f"{name}.log"
            log = open(log_path, "ab")
            process = subprocess.Popen([str(binary)], env=env, cwd=self.log_dir, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
            box = Sandbox(name, wanted, process, log_path)
            self.sandboxes[name] = box
            core.record("lambda.sandbox.started", function=name, pid=process.pid, log=str(log_path))
            return box

    def stop_sandboxes(self) -> None:
        with self.lock:
            for box in self.sandboxes.values():
                box.stop()
            self.sandboxes.clear()

    def stop(self) -> None:
        self.stop_sandboxes()
        with self.lock:
            if self.server is not None and self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
                try:
                    self.server.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.server.kill()
            self.server = None

    # ------------------------------------------------------------------ invoking

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        box = self._sandbox(fn)
        timeout = float(getattr(fn, "timeout", 3) or 3)
        body = json.dumps(event).encode()
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/{fn.function_name}/invocations"
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                with urllib.request.urlopen(request, timeout=timeout + 5) as resp:
                    outcome["ok"] = resp.read().decode("utf-8")
            except urllib.error.HTTPError as err:
                outcome["http"] = (err.code, err.read().decode("utf-8", "replace"))
            except Exception as err:  # connection refused/reset, timeout
                outcome["exc"] = err

        with box.lock:
            box.invocations += 1
            worker = threading.Thread(target=call, name=f"invoke-{fn.function_name}", daemon=True)
            worker.start()
            deadline = time.monotonic() + timeout
            while worker.is_alive() and box.alive() and time.monotonic() < deadline:
                worker.join(0.05)
            if worker.is_alive():
                box.errors += 1
                # Lambda ends a sandbox that exits or times out; the invocation cannot be
                # taken back from cargo-lambda's queue, so its APIs restart too (no stale
                # invocation ever reaches the next sandbox).
                crashed = not box.alive()
                code = box.process.returncode
                self._restart_all()
                if crashed:
                    core.record("lambda.sandbox.stopped", function=box.name, pid=box.process.pid,
                                reason="exited", returncode=code)
                    tail = _tail(box.log_path)
                    return json.dumps({"errorType": "Runtime.ExitError",
                                       "errorMessage": f"Runtime exited with error: exit status {code}. {tail}"}), True, ""
                message = f"Task timed out after {timeout:.2f} seconds"
                return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}), True, ""
            if "ok" in outcome:
                return outcome["ok"], False, ""
            box.errors += 1
            if "http" in outcome:
                status, payload = outcome["http"]
                try:
                    parsed = json.loads(payload)
                except ValueError:
                    parsed = None
                if status == 500 and isinstance(parsed, dict) and "errorType" in parsed:
                    return payload, True, ""  # the function's own error
                raise ServiceException(f"invoke {fn.function_name}: HTTP {status}: {payload[:500]}")
            raise ServiceException(f"invoke {fn.function_name}: {outcome.get('exc')}")

    def _restart_all(self) -> None:
        self.stop()

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "function": b.name,
                    "pid": b.process.pid,
                    "alive": b.alive(),
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


RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    global RUNTIME
    if RUNTIME is None:
        RUNTIME = Runtime()
        atexit.register(RUNTIME.stop)
    return RUNTIME


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    if event is None:
        event = {}
    payload, errored, logs = runtime().invoke(self, event)
    core.record("lambda.invoked", function=self.function_name, errored=errored,
                error_type=(json.loads(payload).get("errorType") if errored else None))
    return payload, errored, logs


@core.route("GET", "/_world/lambdas")
def _get_lambdas(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    rt = RUNTIME
    return 200, {
        "sandboxes": rt.describe() if rt else [],
        "log_dir": str(rt.log_dir) if rt else None,
        "port": rt.port if rt else None,
    }


SABOTAGE: list[dict[str, Any]] = []
_sabotage_lock = threading.Lock()


@core.route("POST", "/_world/lambdas/sabotage")
def _post_sabotage(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not body.get("function") or not body.get("api"):
        return 400, {"error": "need {\"function\", \"api\", \"do\": \"kill\"|\"hang\"}"}
    if body.get("do", "kill") not in ("kill", "hang"):
        return 400, {"error": "do must be kill or hang"}
    plan = {"function": body["function"], "api": body["api"], "do": body.get("do", "kill"),
            "seconds": float(body.get("seconds", 0))}
    with _sabotage_lock:
        SABOTAGE.append(plan)
    return 200, {"armed": SABOTAGE}


@core.route("GET", "/_world/lambdas/sabotage")
def _get_sabotage(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    return 200, {"armed": SABOTAGE}


def _sabotage_hook(api: Any) -> None:
    rt = RUNTIME
    if rt is None or not SABOTAGE or "aws-sdk-rust" not in (getattr(api, "agent", "") or ""):
        return None
    with _sabotage_lock:
        plan = None
        for candidate in SABOTAGE:
            box = rt.sandboxes.get(candidate["function"])
            if candidate["api"] == api.name and box is not None and box.alive() and box.lock.locked():
                plan = candidate
                break
        if plan is None:
            return None
        SABOTAGE.remove(plan)
    if plan["do"] == "kill":
        box.process.kill()
        core.record("lambda.sandbox.killed", function=box.name, pid=box.process.pid, api=api.name)
        return None  # the request goes on to the service; nobody reads its answer
    core.record("lambda.call.held", function=box.name, api=api.name, seconds=plan["seconds"])
    time.sleep(plan["seconds"])
    return None


def _on_reset() -> None:
    with _sabotage_lock:
        SABOTAGE.clear()
    if RUNTIME is not None:
        RUNTIME.stop_sandboxes()


def install() -> None:
    lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda
    core.on_reset(_on_reset)
    core.request_hook(_sabotage_hook)
