"""Step Functions GetExecutionHistory honours ``reverseOrder`` (moto ignores it).

After the AWS documentation (API reference of GetExecutionHistory): "By default,
the results are returned in ascending order of the timeStamp of the events. Use
the reverseOrder parameter to get the latest events first." With ``reverseOrder``
true the events come newest first, so a caller reading the tail of a long
history reads it from its first page.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from world.emulator import core

_orig_get_execution_history = sfn_responses.StepFunctionResponse.get_execution_history


def get_execution_history(self: Any) -> ActionResult:
    result = _orig_get_execution_history(self)
    if self._get_bool_param("reverseOrder", False):
        response = core.result_dict(result)
        # newest first: descending timeStamp, the event id breaking ties (events of one instant)
        response["events"] = sorted(
            response.get("events", []),
            key=lambda event: (event["timestamp"], event["id"]),
            reverse=True,
        )
    return result


def install() -> None:
    sfn_responses.StepFunctionResponse.get_execution_history = get_execution_history
