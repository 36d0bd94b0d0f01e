"""The Lambda Runtime API (``/2018-06-01/runtime/...``) as the world serves it: each sandbox's
runtime at its own path (``/.rt/<sandbox id>``) fetches its next invocation and posts its
response or error (world.emulator.lambda_runtime.sandbox).
"""

from __future__ import annotations

import re
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from world.emulator.lambda_runtime.pool import Pool
    from world.emulator.lambda_runtime.sandbox import Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pool: Pool

    def log_message(self, *_args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> tuple[Sandbox | None, str]:
        match = re.match(r"^/\.rt/(\d+)(/2018-06-01/runtime/.*)$", self.path)
        if not match:
            return None, ""
        sid = int(match.group(1))
        starting = self.pool.starting.get(sid)
        if starting is not None:  # its process asked before the pool recorded it (a busy world)
            starting.wait(10)
        return self.pool.sandboxes.get(sid), match.group(2)

    def do_GET(self) -> None:
        box, path = self._route()
        if box is None or path != "/2018-06-01/runtime/invocation/next":
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        invocation = box.next_invocation()
        if invocation is None:  # the sandbox is being shut down
            self._reply(410, b'{"errorType":"Gone"}')
            return
        self._reply(
            200,
            invocation.body,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int((invocation.deadline or time.time()) * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        box, path = self._route()
        body = self._body()
        if box is None:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        match = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", path)
        if match:
            ok = box.answer(match.group(1), match.group(2), body)
            self._reply(202 if ok else 400, b'{"status":"OK"}' if ok else b'{"errorType":"InvalidRequestID"}')
            return
        if path == "/2018-06-01/runtime/init/error":
            box.errors += 1
            self._reply(202, b'{"status":"OK"}')
            return
        self._reply(404, b'{"errorType":"NotFound"}')
