"""Step Functions GetExecutionHistory as AWS serves it: ordered, in pages, with or without data.

moto returns the whole history in one answer, oldest first, whatever the request asks.
After the AWS documentation (API reference of GetExecutionHistory):

* order: "By default, the results are returned in ascending order of the timeStamp of
  the events. Use the reverseOrder parameter to get the latest events first."
* pages: ``maxResults`` is "The maximum number of results that are returned per call.
  You can use nextToken to obtain further pages of results. The default is 100 and the
  maximum allowed page size is 1000. A value of 0 uses the default." A caller that reads
  one page of a long drain's history reads 100 events, not all of them.
* ``nextToken``: "Make the call again using the returned token to retrieve the next
  page. Keep all other arguments unchanged." A token that is not one this operation
  gave, or is sent with another execution or another order, answers InvalidToken (400),
  as AWS does for a token it cannot use.
* ``includeExecutionData``: "You can select whether execution data (input or output of
  a history event) is returned. The default is true." With false the events carry no
  input or output (nor their details, nor a task's parameters: the task's input), the
  harsher reading of what "execution data" covers.

A token names the last event of its page rather than an offset, so the pages stay right
while a running execution's history grows between them, in either order.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.exceptions import InvalidToken, ValidationException
from world.emulator import core

DEFAULT_PAGE = 100
MAX_PAGE = 1000
# what "execution data" covers in an event's details: the input and output, their details,
# and the parameters a task is scheduled with
EXECUTION_DATA = ("input", "output", "inputDetails", "outputDetails", "parameters")

_orig_get_execution_history = sfn_responses.StepFunctionResponse.get_execution_history


def _token(arn: str, reverse: bool, last_id: int) -> str:
    body = {"executionArn": arn, "reverseOrder": reverse, "after": last_id}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def _after(token: str | None, arn: str, reverse: bool) -> int | None:
    """The id of the last event the token's page held; None without a token."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = int(body["after"])
    except Exception:
        raise InvalidToken("the nextToken is not one GetExecutionHistory gave") from None
    if body.get("executionArn") != arn or bool(body.get("reverseOrder")) != reverse:
        raise InvalidToken("the nextToken was given for other arguments")
    return after


def _page_size(raw: Any) -> int:
    size = DEFAULT_PAGE if raw in (None, "") else int(raw)
    if not 0 <= size <= MAX_PAGE:
        raise ValidationException(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_PAGE}"
        )
    return size or DEFAULT_PAGE


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    stripped = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in EXECUTION_DATA}
        stripped[key] = value
    return stripped


def get_execution_history(self: Any) -> ActionResult:
    arn = self._get_param("executionArn")
    reverse = self._get_bool_param("reverseOrder", False)
    size = _page_size(self._get_param("maxResults"))
    after = _after(self._get_param("nextToken"), arn, reverse)
    result = _orig_get_execution_history(self)
    response = core.result_dict(result)
    # ascending timeStamp, the event id breaking ties (events of one instant); newest first reversed
    events = sorted(response.get("events", []), key=lambda event: (event["timestamp"], event["id"]), reverse=reverse)
    if after is not None:
        events = [e for e in events if (e["id"] < after if reverse else e["id"] > after)]
    page = events[:size]
    if not self._get_bool_param("includeExecutionData", True):
        page = [_without_data(event) for event in page]
    response["events"] = page
    response.pop("nextToken", None)
    if len(events) > size:
        response["nextToken"] = _token(arn, reverse, page[-1]["id"])
    return result


def install() -> None:
    sfn_responses.StepFunctionResponse.get_execution_history = get_execution_history
