"""Figure 4 (and the predecessor's side of 5): cold start and peak RSS of a Lambda handler.

A tiny Lambda Runtime API (2018-06-01) served here in Python. The handler's process is
started with AWS_LAMBDA_RUNTIME_API pointing at it; cold start = from just before the
process is spawned to the moment its first GET /2018-06-01/runtime/invocation/next
arrives (everything a cold start does before it can take work: loading, reading its
configuration, creating its AWS clients). For peak RSS, the first request for work gets
one real event (its AWS calls go to the world); when the process asks for the next one,
VmHWM is read from /proc/<pid>/status, then the process is stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from world.harness import stop_process

from bench.common import proc_status, summary

PREFIX = "/2018-06-01/runtime"


class RuntimeAPI:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.next_times: list[float] = []
        self.responses: list[tuple[str, bytes]] = []
        self.asked = threading.Condition()
        self.stop = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_a: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != PREFIX + "/invocation/next":
                    return self._send(404, b"{}")
                with api.asked:
                    api.next_times.append(time.monotonic())
                    event = api.events.pop(0) if api.events else None
                    api.asked.notify_all()
                if event is None:
                    api.stop.wait(120)  # hold the request: no work, the process is about to be stopped
                    return
                rid = str(uuid.uuid4())
                self._send(
                    200,
                    json.dumps(event).encode(),
                    {
                        "Lambda-Runtime-Aws-Request-Id": rid,
                        "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 300) * 1000)),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-west-2:123456789012:function:bench",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Parent=0;Sampled=0",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with api.asked:
                    api.responses.append((self.path.rsplit("/", 1)[-1], body))
                    api.asked.notify_all()
                self._send(202, b'{"status":"OK"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def lambda_env(name: str, runtime_api: str, endpoint: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "RUST_LOG": "warn",
    }
    env.update(extra)
    return env


def one(cmd: list[str], env_of: Any, event: Any = None, timeout: float = 60) -> dict[str, Any]:
    """Start the handler once; its cold start, and with an event its peak RSS after handling it."""
    api = RuntimeAPI()
    try:
        if event is not None:
            api.events.append(event)
        env = env_of(api.address)
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wanted = 2 if event is not None else 1
            with api.asked:
                ok = api.asked.wait_for(lambda: len(api.next_times) >= wanted or proc.poll() is not None, timeout)
            if not ok or len(api.next_times) < wanted:
                stop_process(proc, 5)
                err = proc.stderr.read().decode("utf-8", "replace")[-800:] if proc.stderr else ""
                raise RuntimeError(f"{cmd[0]}: no request for work ({proc.returncode}): {err}")
            out = {"cold_start_s": api.next_times[0] - started}
            if event is not None:
                out.update(proc_status(proc.pid))
                kind, body = api.responses[-1] if api.responses else ("none", b"")
                out["response"] = kind
                out["response_body"] = body[:300].decode("utf-8", "replace")
            else:
                out.update({"VmHWM_at_first_next": proc_status(proc.pid).get("VmHWM")})
            return out
        finally:
            stop_process(proc, 5)
    finally:
        api.close()


def measure(cmd: list[str], env_of: Any, runs: int, event: Any = None) -> dict[str, Any]:
    colds = [one(cmd, env_of)["cold_start_s"] for _ in range(runs)]
    result: dict[str, Any] = {"cold_start_s": summary(colds)}
    if event is not None:
        r = one(cmd, env_of, event)
        result.update(
            {
                "peak_rss_kib_after_one_invocation": r.get("VmHWM"),
                "invocation_result": r["response"],
                "invocation_output": r["response_body"],
            }
        )
    return result
