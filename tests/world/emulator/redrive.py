"""Step Functions RedriveExecution (moto answers HTTP 500).

After the AWS documentation ("Restarting state machine executions with redrive
in Step Functions", API reference of RedriveExecution, DescribeExecution,
ListExecutions and the ExecutionRedriven history event):

* RedriveExecution restarts a FAILED, TIMED_OUT or ABORTED execution of a
  STANDARD state machine from the state that did not complete (the last state
  entered and never exited), with the input that state received, in the same
  execution (same ARN, same input, same definition). The states that succeeded
  are not run again; the history keeps their events and continues with an
  ``ExecutionRedriven`` event (``executionRedrivenEventDetails.redriveCount``)
  and the events of the redriven states. The state runs afresh, so its Retry
  attempts start again from zero; a state machine ``TimeoutSeconds`` restarts.
  ``$$.Execution.RedriveCount`` and ``$$.Execution.RedriveTime`` are set.
* Not redrivable (``ExecutionNotRedrivable``, with AWS's reasons): RUNNING or
  SUCCEEDED executions, EXPRESS state machines, executions that stopped more
  than 14 days ago, and executions whose history has reached one event short of
  the 25,000-event limit (RedriveExecution: "The execution event history count is
  less than 24,999"; ``stepfunctions.history_limit`` in the world's config; an execution
  that reaches the limit fails, world.emulator.sfn_quota).
  A ``clientToken`` already used for this execution returns the earlier answer.
* DescribeExecution adds ``redriveCount`` (0 until redriven), ``redriveDate``,
  ``redriveStatus`` (``REDRIVABLE``/``NOT_REDRIVABLE``) and
  ``redriveStatusReason``; ListExecutions adds ``redriveCount``/``redriveDate``
  and honours ``redriveFilter`` (``REDRIVEN``/``NOT_REDRIVEN``).

``POST /_world/executions/age`` ``{"executionArn": ..., "seconds": N}`` moves an
execution's start and stop dates N seconds into the past (to test the 14 days).
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend import execution_worker as worker_module
from moto.stepfunctions.parser.utils import TMP_THREADS
from world.emulator import core, sfn_quota

REDRIVABLE_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}
REDRIVABLE_PERIOD = datetime.timedelta(days=14)


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


class ExecutionDoesNotExist(AWSError):
    TYPE = "ExecutionDoesNotExist"
    STATUS = 400


# --------------------------------------------------------------------------- worker bookkeeping

_orig_execution_logic = worker_module.ExecutionWorker._execution_logic


def _execution_logic(self: Any) -> None:
    """The original, plus a flag once the worker's thread is done (a redrive waits for it)."""
    done = getattr(self, "_world_done", None)
    if done is None:
        done = self._world_done = threading.Event()
    try:
        _orig_execution_logic(self)
    finally:
        done.set()


def _worker_done(worker: Any) -> threading.Event:
    done = getattr(worker, "_world_done", None)
    if done is None:
        done = worker._world_done = threading.Event()
    return done


# --------------------------------------------------------------------------- eligibility


def _history(execution: Any) -> list[dict[str, Any]]:
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    return env.event_manager.get_event_history() if env is not None else []


def not_redrivable_reason(execution: Any, now: datetime.datetime | None = None) -> str | None:
    """AWS's redriveStatusReason, or None when the execution can be redriven."""
    now = now or datetime.datetime.now(datetime.UTC)
    status = execution.status
    if str(getattr(execution.state_machine, "sm_type", "STANDARD")) not in ("STANDARD", "StateMachineType.STANDARD"):
        return "Execution is of type EXPRESS and cannot be redriven."
    if status == "RUNNING":
        return "Execution is RUNNING and cannot be redriven."
    if status == "SUCCEEDED":
        return "Execution is SUCCEEDED and cannot be redriven."
    if status not in REDRIVABLE_STATUSES:
        return f"Execution is {status} and cannot be redriven."
    stopped = execution.stop_date or execution.start_date
    if stopped is not None and now - stopped > REDRIVABLE_PERIOD:
        return "Execution redrivable period exceeded."
    if len(_history(execution)) >= sfn_quota.history_limit() - 1:
        return "Execution history event limit exceeded."
    return None


def _failed_state(history: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """(name, input) of the last state entered and not exited."""
    import json

    open_states: list[tuple[str, Any]] = []
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered and event["type"].endswith("StateEntered"):
            raw = entered.get("input")
            open_states.append((entered["name"], json.loads(raw) if isinstance(raw, str) and raw else raw))
        elif exited and event["type"].endswith("StateExited"):
            for i in range(len(open_states) - 1, -1, -1):
                if open_states[i][0] == exited["name"]:
                    del open_states[i]
                    break
    return open_states[-1] if open_states else None


# --------------------------------------------------------------------------- redrive


def redrive(execution: Any, client_token: str | None = None) -> datetime.datetime:
    tokens = getattr(execution, "_world_redrive_tokens", None)
    if tokens is None:
        tokens = execution._world_redrive_tokens = {}
    if client_token and client_token in tokens:
        return tokens[client_token]
    worker = execution.exec_worker
    if worker is not None and execution.status in REDRIVABLE_STATUSES:
        _worker_done(worker).wait(10)  # an aborted execution's thread ends at its next step
    reason = not_redrivable_reason(execution)
    if reason is None and worker is not None and not _worker_done(worker).is_set():
        reason = "Execution is RUNNING and cannot be redriven."
    if reason:
        raise ExecutionNotRedrivable(reason)
    history = _history(execution)
    failed = _failed_state(history)
    if failed is None:
        raise ExecutionNotRedrivable("Execution has no state to redrive.")
    state_name, state_input = failed
    now = datetime.datetime.now(datetime.UTC)
    count = getattr(execution, "redrive_count", 0) + 1
    env = worker.env

    execution.redrive_count = count
    execution.redrive_date = now
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = None
    execution.error = None
    execution.cause = None
    execution.output = None
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionRedriven,
        event_details=EventDetails(executionRedrivenEventDetails=ExecutionRedrivenEventDetails(redriveCount=count)),
    )
    with env._state_mutex:
        env._program_state = ProgramRunning()
    env.states.reset(state_input)
    context = env.states.context_object.context_object_data["Execution"]
    context["RedriveCount"] = count
    context["RedriveTime"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    done = worker._world_done = threading.Event()

    def run() -> None:
        try:
            program = AmazonStateLanguageParser.parse(execution.state_machine.definition)[0]
            program.start_at = StartAt(state_name)
            program.eval(env)
            worker._execution_communication.terminated()
        finally:
            done.set()

    thread = threading.Thread(target=run, name="sfn-redrive", daemon=True)
    TMP_THREADS.append(thread)
    thread.start()
    core.record(
        "stepfunctions.execution.redriven", execution_arn=execution.execution_arn, state=state_name, redrive_count=count
    )
    if client_token:
        tokens[client_token] = now
    return now


# --------------------------------------------------------------------------- API


def _find(backend: Any, arn: str) -> Any:
    for machine in backend.state_machines:
        for execution in machine.executions:
            if execution.execution_arn == arn:
                return execution
    raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")


def redrive_execution(self: Any) -> ActionResult:
    execution = _find(self.stepfunction_backend, self._get_param("executionArn"))
    date = redrive(execution, self._get_param("clientToken"))
    return ActionResult({"redriveDate": date})


def _redrive_fields(execution: Any, describe: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"redriveCount": getattr(execution, "redrive_count", 0)}
    if getattr(execution, "redrive_date", None) is not None:
        fields["redriveDate"] = execution.redrive_date
    if describe:
        reason = not_redrivable_reason(execution)
        fields["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            fields["redriveStatusReason"] = reason
    return fields


_orig_describe_execution = sfn_responses.StepFunctionResponse.describe_execution
_orig_list_executions = sfn_responses.StepFunctionResponse.list_executions


def describe_execution(self: Any) -> ActionResult:
    result = _orig_describe_execution(self)
    response = core.result_dict(result)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    response.update(_redrive_fields(execution, describe=True))
    if execution.status == "TIMED_OUT" and execution.stop_date is not None:
        response.setdefault("stopDate", execution.stop_date)
    return result


def list_executions(self: Any) -> ActionResult:
    result = _orig_list_executions(self)
    response = core.result_dict(result)
    backend = self.stepfunction_backend
    wanted = self._get_param("redriveFilter")
    items = []
    for item in response.get("executions", []):
        execution = backend.describe_execution(item["executionArn"])
        count = getattr(execution, "redrive_count", 0)
        if (wanted == "REDRIVEN" and not count) or (wanted == "NOT_REDRIVEN" and count):
            continue
        item.update(_redrive_fields(execution, describe=False))
        items.append(item)
    response["executions"] = items
    return result


@core.route("POST", "/_world/executions/age")
def _age(_q: dict[str, str], body: Any) -> tuple[int, Any]:
    from moto.stepfunctions.responses import get_backend

    arn = body["executionArn"]
    seconds = float(body["seconds"])
    parts = arn.split(":")
    execution = _find(get_backend(parts[4], parts[3]), arn)
    delta = datetime.timedelta(seconds=seconds)
    execution.start_date = execution.start_date - delta
    if execution.stop_date is not None:
        execution.stop_date = execution.stop_date - delta
    return 200, {"executionArn": arn, "startDate": execution.start_date, "stopDate": execution.stop_date}


def install() -> None:
    worker_module.ExecutionWorker._execution_logic = _execution_logic
    sfn_responses.StepFunctionResponse.redrive_execution = redrive_execution
    sfn_responses.StepFunctionResponse.describe_execution = describe_execution
    sfn_responses.StepFunctionResponse.list_executions = list_executions
