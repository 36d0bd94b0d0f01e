"""ListExecutions as Step Functions answers it: eventually consistent. Its API reference: "This
operation is eventually consistent. The results are best effort and may not reflect very recent
updates and changes." AWS gives no figure: an execution shows in the list only
``stepfunctions.list_lag_seconds`` (AWS seconds, default 0, kinder than AWS; a scenario raises it)
after it started. DescribeExecution of its ARN answers at once (StartExecution returned it), and
StartExecution's idempotency by name is not affected. The world's own harness (User-Agent with
``world-harness``), the judge of a run, lists every execution at once.
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from world.emulator import core
from world.emulator.rate_limits.throttling import HARNESS_AGENT


def list_lag_seconds() -> float:
    return core.scaled(float((core.CONFIG.get("stepfunctions") or {}).get("list_lag_seconds") or 0))


def _listed(inner: Any) -> Any:
    def list_executions(self: Any) -> ActionResult:
        result = inner(self)
        lag = list_lag_seconds()
        if lag <= 0 or HARNESS_AGENT in (self.headers.get("User-Agent") or ""):
            return result
        response = core.result_dict(result)
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=lag)
        backend = self.stepfunction_backend
        shown = []
        for item in response.get("executions", []):
            started = backend.describe_execution(item["executionArn"]).start_date
            if started.tzinfo is None:  # moto's own clock is naive UTC
                started = started.replace(tzinfo=datetime.UTC)
            if started <= cutoff:
                shown.append(item)
        response["executions"] = shown
        return result

    return list_executions


def install() -> None:
    responses = sfn_responses.StepFunctionResponse
    responses.list_executions = _listed(responses.list_executions)
