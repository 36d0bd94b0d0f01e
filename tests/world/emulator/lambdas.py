"""Lambda invocations run the project's real Rust binaries.

moto runs a function's code in Docker (``LambdaFunction._invoke_lambda``); the
world replaces that one method. An invocation of function ``NAME`` (moto's
Invoke API, which is also how moto's Step Functions ``lambda:invoke`` tasks and
EventBridge Lambda targets call it) goes to the binary ``NAME`` of the cargo
workspace (``target/debug/NAME`` by default), a real ``lambda_runtime``
program, built beforehand (``cargo build``): editing a crate never restarts a
function in the middle of a run.

* The world serves the Lambda Runtime API itself (world.emulator.lambda_runtime) and runs
  each function in execution environments as Lambda does: an invocation goes to
  an idle sandbox of the function or, when all are busy, to a new one (a cold
  start), so concurrent invocations of one function run in parallel, up to the
  function's reserved concurrency or the account's (config ``lambda.concurrency``,
  default 1000, Lambda's default quota per Region); past it, Invoke answers
  ``TooManyRequestsException`` (HTTP 429), which Step Functions names
  ``Lambda.TooManyRequestsException`` ("Understanding Lambda function scaling",
  "Lambda quotas", Invoke API reference). A sandbox gets the function's
  ``Environment.Variables`` plus what Lambda sets (``AWS_LAMBDA_FUNCTION_NAME``,
  ``AWS_REGION``...), credentials, and ``AWS_ENDPOINT_URL`` pointing back at the
  world. Changing the function's environment retires its idle sandboxes; a world
  reset stops them all.
* A function error (the runtime's ``/invocation/ID/error``) is reported as a
  function error, so Step Functions sees ``errorType`` as the Task's error name
  and the Retry/Catch of the state machine apply. A sandbox whose process exits
  (a failed cold start: our binaries exit when their configuration is wrong) is
  the function error ``Runtime.ExitError`` with the end of its log as message;
  one that does not answer within the function's ``Timeout`` (counted from when its runtime
  takes the invocation: a cold start's init has 10 s of its own, as on Lambda; the world's own
  slowness in answering the sandbox's API calls beyond 0.1 s a call is not counted, see
  world.emulator.lambda_runtime) is ``Sandbox.Timedout`` and that sandbox is ended (the others go on). A runtime
  that cannot be started is Lambda's own ``ServiceException``
  (``Lambda.ServiceException`` in Step Functions).
* Inactive functions ("Lambda function states"): a function idle long enough for
  Lambda to reclaim the resources configured for it is Inactive; "When you try to
  invoke a function that is inactive, the invocation fails and Lambda sets the
  function to pending state until the function resources are recreated", and
  "Lambda does not invoke a function during pending state. Any invocations ... will
  fail". What Invoke answers (Invoke API reference, its errors):
  - a function in a VPC (``VpcConfig`` with subnets): ``ResourceNotReadyException``
    (HTTP 502, "The function is inactive and its VPC connection is no longer
    available") the first time, then ``ResourceConflictException`` (HTTP 409, "The
    function is currently in the following state: Pending", as Lambda words it)
    while Pending;
  - any other function (they go Inactive too): ``CodeArtifactUserPendingException``
    (HTTP 409, "its code artifact user is still being provisioned. Wait for the
    function's State to become Active"), the first time and while Pending. AWS's
    docs do not say which error an Inactive function outside a VPC answers; reports
    of it (aws-cdk issue 20123, boto3 issue 3788) name this one.
  Step Functions names them ``Lambda.<code>``, but ``CodeArtifactUserPendingException``
  ``Lambda.AWSLambdaException`` (its code in the cause: world.emulator.service_roles,
  ``WITHOUT_SDK_CLASS``, the harsher reading). AWS gives no figure for how long
  Pending lasts (creating a VPC function "can take a minute or so", CreateFunction;
  reports say 40 s to a few minutes); config ``lambda.inactive`` lists the functions
  (by name) that are Inactive at the start, and ``lambda.pending_seconds`` (AWS
  seconds, default 120) how long each stays Pending once invoked. "If Lambda fails to
  recreate the resources, the function returns to the inactive state": config
  ``lambda.wake_fails`` maps a function to the ``StateReasonCode`` it fails with (one
  of the API's, e.g. ``SubnetOutOfIPAddresses``); its Pending then ends Inactive with
  that reason (event ``lambda.wake.failed``, recorded when the world next looks at the
  function: an invocation or a GetFunction). What an invocation of such a function
  answers is not documented; the world applies the general rule (an invocation of an
  Inactive function fails and sets it Pending), so each one wakes it again, to fail
  again. GetFunction and GetFunctionConfiguration report ``State`` Inactive with
  ``StateReasonCode`` Idle (the Lambda Developer Guide's VPC page: the functions
  "become Idle"), Pending with Restoring (the API's code for it; AWS does not say so
  in words), Inactive with the failure's code, else Active; the ``StateReason`` texts
  are the world's own. Kinder than AWS: while Pending only Invoke fails (on AWS "any
  invocations or other API actions that operate on the function will fail"), and
  ListFunctions shows the state too (AWS returns it only from GetFunction). Events
  ``lambda.inactive.invoked`` and ``lambda.pending.refused`` (function, error).
* A VPC function's network set-up that fails. The Invoke API reference lists, all HTTP
  502, ``EC2ThrottledException`` ("Amazon EC2 throttled Lambda during Lambda function
  initialization"), ``EC2UnexpectedException``, ``ENILimitReachedException``,
  ``SubnetIPAddressLimitReachedException``, ``EC2AccessDeniedException``,
  ``InvalidSubnetIDException``, ``InvalidSecurityGroupIDException`` and ``ENINotReadyException``
  ("isn't ready yet. Wait a few moments and try the request again"). AWS does not
  say which invocations can meet them; the world takes the harsher reading, any
  invocation of a function in a VPC. Config ``lambda.setup_errors`` maps a function (by
  name) to ``{"error": CODE, "invocations": N}``: its next N invocations (counted from
  the config, once the function is Active) answer CODE, which Step Functions names
  ``Lambda.<code>`` (``ENINotReadyException`` ``Lambda.AWSLambdaException``, as above); a function outside a VPC is untouched. Event ``lambda.setup.failed``
  (function, error).

Environment of the world process:

``WORLD_LAMBDA_BIN_DIR``  directory of the binaries (default ``<repo>/target/debug``)
``WORLD_LAMBDA_LOG_DIR``  where each function's sandboxes write stdout/stderr (``NAME.log``; default:
                          a new temporary directory; never inside the source tree)
``WORLD_LAMBDA_RUST_LOG`` ``RUST_LOG`` of the sandboxes (default ``info``)

``GET /_world/lambdas`` lists the sandboxes (function, sandbox id, pid, busy, log file,
started, invocations, errors), the most invocations of each function at once since the
reset (``peak_concurrency``), the account's concurrency and the throttled invocations.

``POST /_world/lambdas/sabotage`` ``{"function": F, "api": "ecs:DescribeTasks",
"do": "kill"|"hang", "seconds": N}`` arms a one-shot failure of F's process in
the middle of an invocation: the next time a sandbox of F, while it runs an
invocation, calls ``api``, the world either kills that process (SIGKILL, event
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
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.exceptions import JsonRESTError
from world.emulator import core
from world.emulator.lambda_runtime import ACCOUNT_CONCURRENCY, Pool, TooManyRequests

REPO = Path(__file__).resolve().parents[3]


class ServiceException(JsonRESTError):
    """Lambda's own failure (HTTP 500 ServiceException): Step Functions' Lambda.ServiceException."""

    code = 500

    def __init__(self, message: str):
        super().__init__("ServiceException", message)


class ResourceNotReadyException(JsonRESTError):
    """Invoke of an Inactive function (HTTP 502): Step Functions' Lambda.ResourceNotReadyException."""

    code = 502

    def __init__(self) -> None:
        super().__init__(
            "ResourceNotReadyException",
            "The function is inactive and its VPC connection is no longer available. "
            "Wait for the VPC connection to reestablish and try again.",
        )


class ResourceConflictException(JsonRESTError):
    """Invoke of a Pending function (HTTP 409): Step Functions' Lambda.ResourceConflictException."""

    code = 409

    def __init__(self, arn: str) -> None:
        super().__init__(
            "ResourceConflictException",
            f"The operation cannot be performed at this time. The function {arn} is currently in the "
            "following state: Pending",
        )


class CodeArtifactUserPendingException(JsonRESTError):
    """Invoke of an Inactive or Pending function outside a VPC (HTTP 409): Step Functions'
    Lambda.CodeArtifactUserPendingException."""

    code = 409

    def __init__(self) -> None:
        super().__init__(
            "CodeArtifactUserPendingException",
            "The Lambda function couldn't be invoked because its code artifact user is still being "
            "provisioned. Wait for the function's State to become Active and try the request again.",
        )


# Invoke's errors of a VPC set-up that failed (the Invoke API reference), each with the
# world's own wording of it.
SETUP_ERRORS = {
    "EC2ThrottledException": "Amazon EC2 throttled Lambda while it initialized the function with its execution role.",
    "EC2UnexpectedException": "Lambda got an unexpected Amazon EC2 error while it set up the function.",
    "ENILimitReachedException": "Lambda could not create a network interface in the function's VPC: "
    "the limit of network interfaces is reached.",
    "SubnetIPAddressLimitReachedException": "Lambda could not set up the function's VPC access: "
    "a subnet of it has no free IP address.",
    "EC2AccessDeniedException": "The function's execution role lacks the permissions to set up its VPC access.",
    "InvalidSubnetIDException": "A subnet ID of the function's VPC configuration is not valid.",
    "InvalidSecurityGroupIDException": "A security group ID of the function's VPC configuration is not valid.",
    "ENINotReadyException": "The network interface of the function's VPC connection is not ready yet: "
    "wait a few moments and try again.",
}


class SetupException(JsonRESTError):
    """Invoke of a VPC function whose network set-up failed (HTTP 502): Step Functions'
    Lambda.<code>."""

    code = 502

    def __init__(self, error: str) -> None:
        super().__init__(error, SETUP_ERRORS[error])


class TooManyRequestsException(JsonRESTError):
    """Invoke past the concurrency (HTTP 429): Step Functions' Lambda.TooManyRequestsException."""

    code = 429

    def __init__(self, reason: str, message: str):
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": message, "Reason": reason, "Type": "User"}
        )


RUNTIME: Pool | None = None
_runtime_lock = threading.Lock()


def runtime() -> Pool:
    global RUNTIME
    with _runtime_lock:
        if RUNTIME is None:
            bin_dir = Path(os.environ.get("WORLD_LAMBDA_BIN_DIR") or REPO / "target" / "debug")
            log_dir = os.environ.get("WORLD_LAMBDA_LOG_DIR")
            logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="world-lambdas-"))
            logs.mkdir(parents=True, exist_ok=True)
            RUNTIME = Pool(bin_dir, logs)
            atexit.register(RUNTIME.shutdown)
        return RUNTIME


# The functions whose state has changed since the reset: name -> (State, StateReasonCode,
# when Pending ends (time.monotonic())). The others are Inactive (Idle) when config
# ``lambda.inactive`` lists them, else Active.
_STATES: dict[str, tuple[str, str | None, float]] = {}
_states_lock = threading.Lock()
_REASONS = {
    "Idle": "The function has been idle long enough for Lambda to reclaim its resources.",
    "Restoring": "Lambda is recreating the function's resources.",
}


def _in_a_vpc(fn: Any) -> bool:
    return bool((getattr(fn, "_vpc_config", None) or {}).get("SubnetIds"))


def _state_of(name: str, settings: dict[str, Any]) -> tuple[str, str | None, float]:
    """The function's state now (under ``_states_lock``): a Pending whose time is up ends
    Active, or Inactive again when its wake fails."""
    state = _STATES.get(name)
    if state is None:
        return ("Inactive", "Idle", 0.0) if name in (settings.get("inactive") or []) else ("Active", None, 0.0)
    if state[0] == "Pending" and time.monotonic() >= state[2]:
        failure = (settings.get("wake_fails") or {}).get(name)
        state = ("Inactive", failure, 0.0) if failure else ("Active", None, 0.0)
        _STATES[name] = state
        if failure:
            core.record("lambda.wake.failed", function=name, reason=failure)
    return state


def _refuse_unless_active(fn: Any) -> None:
    """The error of an Inactive function (which goes Pending), and of a Pending one (see the module)."""
    name = fn.function_name
    settings = core.CONFIG.get("lambda") or {}
    with _states_lock:
        state = _state_of(name, settings)
        if state[0] == "Active":
            return
        woken = state[0] == "Inactive"
        if woken:
            until = time.monotonic() + core.scaled(float(settings.get("pending_seconds", 120)))
            _STATES[name] = ("Pending", "Restoring", until)
    if not _in_a_vpc(fn):
        error: JsonRESTError = CodeArtifactUserPendingException()
    else:
        error = ResourceNotReadyException() if woken else ResourceConflictException(fn.function_arn)
    core.record("lambda.inactive.invoked" if woken else "lambda.pending.refused", function=name, error=error.error_type)
    raise error


# How many invocations of each function answered its configured set-up error since the
# config last changed ``lambda.setup_errors`` (the plan they count for).
_SETUP_FAILED: dict[str, int] = {}
_setup_plan: dict[str, Any] = {}


def _setup_errors() -> dict[str, dict[str, Any]]:
    return (core.CONFIG.get("lambda") or {}).get("setup_errors") or {}


def _check_setup_errors() -> None:
    """Refuses a ``lambda.setup_errors`` the world cannot answer; a new one restarts the counts."""
    global _setup_plan
    plans = _setup_errors()
    for name, plan in plans.items():
        if not isinstance(plan, dict) or plan.get("error") not in SETUP_ERRORS:
            raise ValueError(f"lambda.setup_errors.{name}.error: one of {sorted(SETUP_ERRORS)}")
        if not isinstance(plan.get("invocations"), int) or plan["invocations"] < 1:
            raise ValueError(f"lambda.setup_errors.{name}.invocations: a whole number from 1")
    with _states_lock:
        if plans != _setup_plan:
            _setup_plan = json.loads(json.dumps(plans))
            _SETUP_FAILED.clear()


def _fail_setup(fn: Any) -> None:
    """The configured set-up error of a VPC function, for its next invocations (see the module)."""
    plan = _setup_errors().get(fn.function_name)
    if plan is None or not _in_a_vpc(fn):
        return
    with _states_lock:
        failed = _SETUP_FAILED.get(fn.function_name, 0)
        if failed >= int(plan["invocations"]):
            return
        _SETUP_FAILED[fn.function_name] = failed + 1
    core.record("lambda.setup.failed", function=fn.function_name, error=plan["error"])
    raise SetupException(plan["error"])


_get_configuration = lambda_models.LambdaFunction.get_configuration


def _configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
    config = _get_configuration(self, on_create)
    with _states_lock:
        state, code, _ = _state_of(self.function_name, core.CONFIG.get("lambda") or {})
    config["State"] = state
    if code is not None:
        config["StateReasonCode"] = code
        config["StateReason"] = _REASONS.get(code, f"Lambda could not recreate the function's resources: {code}.")
    return config


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    if event is None:
        event = {}
    _refuse_unless_active(self)
    _fail_setup(self)
    pool = runtime()
    try:
        box = pool.acquire(self)
    except TooManyRequests as err:
        raise TooManyRequestsException(err.reason, str(err)) from None
    payload, errored, logs = pool.run(box, self, event)
    core.record(
        "lambda.invoked",
        function=self.function_name,
        errored=errored,
        sandbox=box.id,
        error_type=(json.loads(payload).get("errorType") if errored else None),
    )
    return payload, errored, logs


@core.route("GET", "/_world/lambdas")
def _get_lambdas(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    rt = RUNTIME
    return 200, {
        "sandboxes": rt.describe() if rt else [],
        "log_dir": str(rt.log_dir) if rt else None,
        "port": rt.port if rt else None,
        "peak_concurrency": dict(rt.peaks) if rt else {},
        "throttled": dict(rt.throttles) if rt else {},
        "concurrency": int((core.CONFIG.get("lambda") or {}).get("concurrency", ACCOUNT_CONCURRENCY)),
    }


SABOTAGE: list[dict[str, Any]] = []
_sabotage_lock = threading.Lock()


@core.route("POST", "/_world/lambdas/sabotage")
def _post_sabotage(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not body.get("function") or not body.get("api"):
        return 400, {"error": 'need {"function", "api", "do": "kill"|"hang"}'}
    if body.get("do", "kill") not in ("kill", "hang"):
        return 400, {"error": "do must be kill or hang"}
    plan = {
        "function": body["function"],
        "api": body["api"],
        "do": body.get("do", "kill"),
        "seconds": float(body.get("seconds", 0)),
    }
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
    box = rt.by_agent(api.agent)
    if box is None or not box.busy or not box.alive():
        return None
    with _sabotage_lock:
        plan = next((c for c in SABOTAGE if c["api"] == api.name and c["function"] == box.name), None)
        if plan is None:
            return None
        SABOTAGE.remove(plan)
    if plan["do"] == "kill":
        box.process.kill()
        core.record("lambda.sandbox.killed", function=box.name, pid=box.process.pid, api=api.name, sandbox=box.id)
        return None  # the request goes on to the service; nobody reads its answer
    core.record("lambda.call.held", function=box.name, api=api.name, seconds=plan["seconds"], sandbox=box.id)
    time.sleep(plan["seconds"])
    return None


def _on_reset() -> None:
    with _sabotage_lock:
        SABOTAGE.clear()
    with _states_lock:
        _STATES.clear()
        _SETUP_FAILED.clear()
    if RUNTIME is not None:
        RUNTIME.reset()


def install() -> None:
    lambda_models.LambdaFunction._invoke_lambda = _invoke_lambda
    lambda_models.LambdaFunction.get_configuration = _configuration
    core.on_reset(_on_reset)
    core.on_config(_check_setup_errors)
    core.request_hook(_sabotage_hook)
