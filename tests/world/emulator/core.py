"""Shared machinery of the local AWS world.

* CONFIG: the world's configuration (timescale, faults, ECS timings...), set
  through ``POST /_world/config`` or ``--config FILE.json``.
* record(): the event log served by ``GET /_world/events``.
* after(): a single timer thread that runs the world's dynamics (draining
  delays, heartbeat timeouts...). Callbacks run while holding LOCK, which the
  HTTP layer also holds around requests to the "state" services, so moto's
  backends never see a timer and a request at the same time.
* scaled(): converts a real AWS duration (seconds) to world seconds.
* route() / request_hook(): extension points of the HTTP middleware
  (see world.emulator.server).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

# One lock for moto's backends: held by timer callbacks and around requests to
# the services whose state the world changes (see world.emulator.server.LOCKED_SERVICES).
LOCK = threading.RLock()

DEFAULT_CONFIG: dict[str, Any] = {
    # Multiplier applied to every AWS duration the world waits out
    # (connection draining, deregistration delay, heartbeat timeout...).
    "timescale": 1.0,
    # Seed of the fault injector's random generator.
    "seed": 0,
    # Fault rates per API: {"ecs:ListTasks": {"throttle": 0.2, "unavailable": 0.1}}.
    # Keys: "<service>:<Operation>", "<service>:*" or "*". See world.emulator.faults.
    "faults": {},
    "ecs": {
        # Seconds (AWS time) a service task stays PENDING before RUNNING.
        "task_start_seconds": 0,
        # Seconds (AWS time) a stopping task takes to exit after its load
        # balancer draining is over (the container's stop time).
        "task_stop_seconds": 0,
        # Register EC2 instances whose user data says ECS_CLUSTER=<name> as
        # container instances of that cluster, as the ECS agent does at boot.
        "agent_autoregister": True,
        # Seconds (AWS time) after its instance launched that the agent registers it (it starts
        # once the instance booted; AWS gives no figure).
        "agent_register_seconds": 0,
        # Seconds (AWS time) before ListTasks shows a task just started (ECS is eventually
        # consistent; AWS gives no figure).
        "list_lag_seconds": 0,
        # Seconds (AWS time) during which DescribeTasks answers a task just started as a failure,
        # reason MISSING (eventual consistency again; AWS gives no figure).
        "describe_lag_seconds": 0,
        # Seconds (AWS time) after which a standalone task (RunTask/StartTask)
        # exits on its own; None: it runs until someone stops it.
        "standalone_task_seconds": None,
        # Seconds (AWS time) a container instance registered with the account's awsvpcTrunking
        # setting enabled stays REGISTERING while its trunk network interface is provisioned
        # (AWS gives no figure).
        "trunk_provision_seconds": 30,
    },
    "autoscaling": {
        # Seconds (AWS time) after a lifecycle action began during which RecordLifecycleActionHeartbeat and
        # CompleteLifecycleAction answer "No active Lifecycle Action found" while DescribeAutoScalingInstances
        # shows the instance waiting: the control plane's propagation race seen on AWS (PrairieLearn pull
        # request 15586: "DescribeAutoScalingInstances reported `Terminating:Wait`, but the immediately following
        # `CompleteLifecycleAction` request returned `No active Lifecycle Action found`"; a later retry
        # completed it). AWS documents no figure: default 0, kinder than AWS; a scenario raises it.
        "action_propagation_seconds": 0,
    },
    "stepfunctions": {
        # Seconds (AWS time) before ListExecutions lists an execution just started: "This
        # operation is eventually consistent" (ListExecutions API reference; AWS gives no figure).
        "list_lag_seconds": 0,
    },
    "elbv2": {
        # Seconds (AWS time) a Network Load Balancer still routes new connections to a target after
        # its deregistration, whatever its state shows: "It can take a few minutes for the
        # deregistration process to complete and for the load balancer to stop routing requests to
        # the target" (NLB User Guide, "Register targets"); AWS support has said 180 to 300 s
        # (aws-load-balancer-controller issue 1834): the world takes the longer.
        "nlb_deregistration_seconds": 300,
        # how long (AWS seconds) a Network Load Balancer's new target stays initial
        # (Elb.RegistrationInProgress) before its health checks start: "It can take a few minutes for
        # the registration process to complete and health checks to start" (NLB User Guide, "Register
        # targets"); the world takes the same longer reading as for the deregistration.
        "nlb_registration_seconds": 300,
    },
    "health": {
        # EC2 instance ids whose load-balancer health checks fail: their
        # targets and Classic ELB registrations turn unhealthy, new ones never
        # become healthy; an id taken out of the list passes again (world.emulator.lb_drain).
        "failing_instances": [],
    },
    # How EventBridge delivers the events its rules match to their targets
    # (world.emulator.eventbridge). The defaults deliver every event at once, once.
    "eventbridge": {
        # AWS seconds from the event to its first delivery attempt: a number,
        # or [low, high] for a uniformly random delay.
        "delay_seconds": 0,
        # Events delivered twice: a probability, or the list of event ordinals
        # (1 = the first event subject to this policy that a rule sent to a
        # Step Functions or Lambda target since the reset).
        "duplicates": 0,
        # AWS seconds between the first and the second delivery of a duplicate
        # (a number or [low, high]).
        "duplicate_delay_seconds": 0,
        # Events never delivered: a probability or a list of event ordinals.
        "drop": 0,
        # Probability that a delivery attempt fails with a retriable error.
        "failures": 0,
        # The first N delivery attempts of every delivery fail (retriable).
        "fail_first": 0,
        # Retry back-off (AWS seconds): full jitter on min(max, base * 2^n).
        "retry_base_seconds": 1,
        "retry_max_backoff_seconds": 900,
        # Only events with these detail-types are subject to the above
        # (null: every event).
        "detail_types": None,
    },
    # EventBridge Scheduler (world.emulator.scheduler): which schedules fire on their own, on their rate in
    # scaled time (false: none, the harness runs them; true: all; or a list of schedule names)
    "scheduler": {"fire": False, "precision_seconds": 60, "duplicate_seconds": None},
}

CONFIG: dict[str, Any] = copy.deepcopy(DEFAULT_CONFIG)

# The event log's clock: wall-clock seconds as the world started, carried on by the monotonic clock,
# so that a step of the machine's clock (seen here) moves no event against another.
_WALL0, _MONO0 = time.time(), time.monotonic()


def now() -> float:
    """The world's wall-clock time: what ``time.time()`` was when the world started, plus the
    monotonic time since."""
    return _WALL0 + time.monotonic() - _MONO0


_STARTED = now()
_events: list[dict[str, Any]] = []
_seq = itertools.count(1)
_config_listeners: list[Callable[[], None]] = []
_reset_listeners: list[Callable[[], None]] = []


def log(msg: str) -> None:
    print(f"world: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- config


def _merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict) and key != "faults":
            _merge(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


def configure(update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into CONFIG (dicts merge, "faults" is replaced). A config that is
    refused (ValueError: the timescale, or a listener's check) leaves CONFIG as it was."""
    if not isinstance(update, dict):
        raise ValueError("config must be a JSON object")
    with LOCK:
        before = copy.deepcopy(CONFIG)
        _merge(CONFIG, update)
    try:
        if float(CONFIG["timescale"]) < 0:
            raise ValueError("timescale must be >= 0")
        for listener in _config_listeners:
            listener()
    except ValueError:
        with LOCK:
            CONFIG.clear()
            CONFIG.update(before)
        raise
    return CONFIG


def on_config(listener: Callable[[], None]) -> None:
    _config_listeners.append(listener)


def on_reset(listener: Callable[[], None]) -> None:
    _reset_listeners.append(listener)


def scaled(aws_seconds: float) -> float:
    """World seconds for a duration that takes ``aws_seconds`` on AWS."""
    return max(0.0, float(aws_seconds)) * float(CONFIG["timescale"])


# --------------------------------------------------------------------------- event log


def record(event_type: str, **fields: Any) -> dict[str, Any]:
    """Append an event to the world's log and return it."""
    at = now()
    event = {"seq": next(_seq), "t": at, "elapsed": round(at - _STARTED, 3), "type": event_type}
    event.update(fields)
    _events.append(event)
    return event


def events(since: int = 0, kind: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in list(_events)
        if e["seq"] > since and (kind is None or e["type"] == kind or e["type"].startswith(kind + "."))
    ]


# --------------------------------------------------------------------------- timers


class Timer:
    __slots__ = ("args", "cancelled", "due", "fn", "generation", "name")

    def __init__(self, due: float, fn: Callable[..., Any], args: tuple[Any, ...], name: str):
        self.due = due
        self.fn = fn
        self.args = args
        self.cancelled = False
        self.generation = _clock.generation
        self.name = name

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return self.due < other.due


class _Clock:
    def __init__(self) -> None:
        self.heap: list[Timer] = []
        self.cond = threading.Condition()
        self.generation = 0
        self.thread: threading.Thread | None = None
        self.stopping = False

    def start(self) -> None:
        if self.thread is None:
            self.stopping = False
            self.thread = threading.Thread(target=self._run, name="world-clock", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def clear(self) -> None:
        with self.cond:
            self.generation += 1
            self.heap.clear()
            self.cond.notify_all()

    def push(self, timer: Timer) -> None:
        with self.cond:
            heapq.heappush(self.heap, timer)
            self.cond.notify_all()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping:
                    now = time.monotonic()
                    if self.heap and self.heap[0].due <= now:
                        timer = heapq.heappop(self.heap)
                        break
                    timeout = (self.heap[0].due - now) if self.heap else None
                    self.cond.wait(timeout)
                if self.stopping:
                    return
            if timer.cancelled or timer.generation != self.generation:
                continue
            try:
                with LOCK:
                    if not timer.cancelled and timer.generation == self.generation:
                        timer.fn(*timer.args)
            except Exception:  # a broken callback must not stop the world
                log(f"timer {timer.name} failed:\n{traceback.format_exc()}")


_clock = _Clock()


def after(seconds: float, fn: Callable[..., Any], *args: Any, name: str = "") -> Timer:
    """Run ``fn(*args)`` (under LOCK) after ``seconds`` world seconds."""
    timer = Timer(time.monotonic() + max(0.0, seconds), fn, args, name or getattr(fn, "__name__", "timer"))
    _clock.start()
    _clock.push(timer)
    return timer


def stop() -> None:
    _clock.stop()


def reset() -> None:
    """Forget timers, the event log and per-test state (moto's own reset is separate)."""
    global _STARTED
    _clock.clear()
    with LOCK:
        _events.clear()
        CONFIG.clear()
        CONFIG.update(copy.deepcopy(DEFAULT_CONFIG))
        _STARTED = now()
        for listener in _reset_listeners:
            listener()
    for listener in _config_listeners:
        listener()


# --------------------------------------------------------------------------- HTTP extension points

# (method, path) -> handler(query: dict[str, str], body: Any) -> (status, json-able)
ROUTES: dict[tuple[str, str], Callable[[dict[str, str], Any], tuple[int, Any]]] = {}

# hook(api: ApiCall) -> None or (status, headers, body bytes) to answer instead of moto
REQUEST_HOOKS: list[Callable[[Any], tuple[int, dict[str, str], bytes] | None]] = []


def route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES[(method.upper(), path)] = fn
        return fn

    return deco


# hook(api: ApiCall, seconds: float): a call of a locked service was answered, ``seconds`` after the
# world began to serve it (the lock's wait included)
SERVED_HOOKS: list[Callable[[Any, float], None]] = []


def request_hook(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if fn not in REQUEST_HOOKS:
        REQUEST_HOOKS.append(fn)
    return fn


@route("GET", "/_world/config")
def _get_config(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    return 200, CONFIG


@route("POST", "/_world/config")
def _post_config(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    try:
        return 200, configure(body or {})
    except (ValueError, TypeError) as err:
        return 400, {"error": str(err)}


@route("GET", "/_world/events")
def _get_events(query: dict[str, str], _b: Any) -> tuple[int, Any]:
    since = int(query.get("since", "0") or 0)
    found = events(since, query.get("type"))
    last = found[-1]["seq"] if found else since
    return 200, {"events": found, "last": last, "now": now()}


@route("POST", "/_world/reset")
def _post_reset(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    reset()
    if not (isinstance(body, dict) and body.get("moto") is False):
        from moto.moto_api._internal import moto_api_backend

        with LOCK:
            moto_api_backend.reset()
    return 200, {"reset": True}


def json_body(raw: bytes) -> Any:
    if not raw:
        return None
    return json.loads(raw.decode("utf-8"))


def result_dict(result: Any) -> dict[str, Any]:
    """The body of a moto response object (an ``ActionResult``), whichever attribute holds it."""
    for attr in ("result", "_result", "data"):
        value = getattr(result, attr, None)
        if isinstance(value, dict):
            return value
    raise TypeError(f"cannot read {type(result).__name__}")
