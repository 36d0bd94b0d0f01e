"""The local AWS world: moto's server with the world's extensions installed.

    PYTHONPATH=tests python -m world.emulator.server [--port 5000] [--config world.json]

prints ``world ready on http://127.0.0.1:PORT`` (the port it bound, a free one by default) once it
accepts requests and
runs until SIGTERM/SIGINT. See tests/world/README.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from world.emulator import core

# Every module here has an install() that patches moto; missing ones are skipped.
EXTENSIONS = [
    "world.emulator.eventbridge",
    "world.emulator.scheduler",
    "world.emulator.autoscaling_hooks",
    "world.emulator.scaling_activities",
    "world.emulator.ecs_drain",
    "world.emulator.warm_pools",
    "world.emulator.spot",
    "world.emulator.instance_refresh",
    "world.emulator.retention",
    "world.emulator.lb_drain",
    "world.emulator.limits",
    "world.emulator.faults",
    "world.emulator.rate_limits",
    "world.emulator.lambdas",
    "world.emulator.iam",
    "world.emulator.service_roles",
    "world.emulator.redrive",
    "world.emulator.sfn_quota",
    "world.emulator.sfn_listing",
    "world.emulator.sfn_history",
    "world.emulator.sfn_choice",
    "world.emulator.cloudformation",
    "world.emulator.stack_resources",
    "world.emulator.teardown",
]

# Requests to these services run under core.LOCK (they never call back into the
# world over HTTP); Step Functions and Lambda do, so they run unlocked.
LOCKED_SERVICES = {"autoscaling", "ecs", "elb", "elbv2", "ec2", "events"}

_installed: list[str] = []


def install_extensions(names: list[str] | None = None) -> list[str]:
    """Import each extension module and call its install(); return the installed ones."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    for name in EXTENSIONS if names is None else names:
        if name in _installed:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                print(f"world: extension {name} not found, skipped", file=sys.stderr, flush=True)
                continue
            raise
        module.install()
        _installed.append(name)
    return list(_installed)


# --------------------------------------------------------------------------- API identification


class ApiCall:
    """The AWS API a request calls: service (boto3 client name) and operation."""

    def __init__(
        self,
        service: str,
        operation: str,
        protocol: str,
        region: str,
        agent: str = "",
        signing: str = "",
        params: dict[str, Any] | None = None,
    ):
        self.service = service
        self.operation = operation
        self.protocol = protocol
        self.region = region
        self.agent = agent  # the caller's User-Agent (the Lambdas: aws-sdk-rust)
        self.signing = signing or service  # the SigV4 signing name (mostly the IAM service prefix)
        # the request's parameters: the JSON body, or the query form flattened (``InstanceIds.member.1``)
        self.params = params or {}

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"

    def __repr__(self) -> str:
        return f"ApiCall({self.name})"


_SIGNING_TO_CLIENT = {"states": "stepfunctions", "elasticloadbalancing": "elb"}


@functools.cache
def _service_model(client_name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(client_name)


@functools.cache
def _rest_routes(client_name: str) -> list[tuple[str, re.Pattern[str], str]]:
    model = _service_model(client_name)
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        uri = http.get("requestUri", "/").split("?")[0]
        pattern = "".join(
            (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", uri)
        )
        routes.append((http.get("method", "POST"), re.compile(f"^{pattern}/?$"), op_name, len(uri)))
    routes.sort(key=lambda r: -r[3])
    return [(m, rx, op) for m, rx, op, _ in routes]


def identify(environ: dict[str, Any], body: bytes) -> ApiCall | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", auth)
    if not match:
        return None
    region, signing = match.group(1), match.group(2).lower()
    client = _SIGNING_TO_CLIENT.get(signing, signing)
    form: dict[str, list[str]] = {}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
    if client == "elb" and form.get("Version", [""])[0] == "2015-12-01":
        client = "elbv2"
    try:
        protocol = _service_model(client).metadata.get("protocol", "")
    except Exception:
        protocol = ""
    operation = ""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.split(".")[-1]
    elif "Action" in form:
        operation = form["Action"][0]
    elif protocol.startswith("rest"):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        for m, rx, op in _rest_routes(client):
            if m == method and rx.match(path):
                operation = op
                break
    params: dict[str, Any] = {key: values[0] for key, values in form.items()}
    if protocol == "json" and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        params = parsed if isinstance(parsed, dict) else {}
    agent = environ.get("HTTP_USER_AGENT", "")
    return ApiCall(client, operation or "Unknown", protocol, region, agent, signing, params)


# --------------------------------------------------------------------------- middleware


class WorldApp:
    """WSGI middleware: the /_world control endpoint, request hooks, locking."""

    def __init__(self, inner: Callable[..., Any]):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        body = self._read_body(environ)
        if path.startswith("/_world/"):
            return self._control(environ, path, body, start_response)
        api = identify(environ, body)
        if api is not None:
            environ["world.api"] = api
            for hook in list(core.REQUEST_HOOKS):
                answer = hook(api)
                if answer is not None:
                    status, headers, payload = answer
                    start_response(_status_line(status), list(headers.items()))
                    return [payload]
        if api is not None and api.service in LOCKED_SERVICES:
            began = time.monotonic()
            with core.LOCK:
                answer = list(self.inner(environ, start_response))
            for served in list(core.SERVED_HOOKS):
                served(api, time.monotonic() - began)
            return answer
        return self.inner(environ, start_response)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0:
            return b""
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _control(environ: dict[str, Any], path: str, body: bytes, start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        handler = core.ROUTES.get((method, path.rstrip("/")))
        if handler is None:
            status, payload = (
                404,
                {"error": f"no route {method} {path}", "routes": sorted(f"{m} {p}" for m, p in core.ROUTES)},
            )
        else:
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            try:
                status, payload = handler(query, core.json_body(body))
            except (ValueError, TypeError, KeyError) as err:
                status, payload = 400, {"error": f"{type(err).__name__}: {err}"}
        data = json.dumps(payload, default=str).encode()
        start_response(_status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def make_app() -> WorldApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return WorldApp(DomainDispatcherApplication(create_backend_app))


# --------------------------------------------------------------------------- running


def _quiet_handler() -> Any:
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            if os.environ.get("WORLD_LOG_REQUESTS"):
                super().log_request(*args, **kwargs)

    return Quiet


class WorldServer:
    """The world on 127.0.0.1:port in background threads (start()/stop())."""

    def __init__(self, port: int, config: dict[str, Any] | None = None, host: str = "127.0.0.1"):
        self.host, self.port, self.config = host, port, config
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> WorldServer:
        from werkzeug.serving import make_server

        install_extensions()
        if self.config:
            core.configure(self.config)
        # port 0: the system chooses a free one, and the server reports it (no window in which another
        # process could take a port chosen beforehand)
        self._server = make_server(self.host, self.port, make_app(), threaded=True, request_handler=_quiet_handler())
        self.port = self._server.server_port
        # moto's Step Functions calls Lambda, and the functions call AWS, at this port
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="world-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        core.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="world.emulator.server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="default 0: a free port, reported in the ready line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--config", help="JSON file merged into the world's config (see README)")
    args = parser.parse_args(argv)
    config = None
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = json.load(fh)
    server = WorldServer(args.port, config, args.host).start()
    done = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"world ready on {server.url}", flush=True)
    while not done.wait(0.5):
        pass
    server.stop()
    # moto's backends leave a large heap after many resets; the interpreter's last collection of it
    # took seconds. The process is exiting: spare that work.
    gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
