"""AWS API limits moto does not enforce, so that code ignoring them fails here as on AWS.

ECS (API reference of each action):

* ListContainerInstances, ListTasks: at most 100 results per page
  (``maxResults`` 1-100, default 100) and a ``nextToken`` for the rest.
* ListServices: 10 per page by default, ``maxResults`` up to 100.
* DescribeContainerInstances / DescribeTasks: at most 100 ARNs per call,
  else InvalidParameterException "instanceIds can have at most 100 items." /
  "taskIds can have at most 100 items.".
* DescribeServices: at most 10 services per call ("service names can have at
  most 10 items.").

Everything else (DescribeTargetHealth, DescribeAutoScalingGroups...) is as
moto has it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import InvalidParameterException

PAGES = {  # response method -> (result key, default page size, max page size)
    "list_container_instances": ("containerInstanceArns", 100, 100),
    "list_tasks": ("taskArns", 100, 100),
    "list_services": ("serviceArns", 10, 100),
}
BATCHES = {  # response method -> (parameter, max items, message)
    "describe_container_instances": ("containerInstances", 100, "instanceIds can have at most 100 items."),
    "describe_tasks": ("tasks", 100, "taskIds can have at most 100 items."),
    "describe_services": ("services", 10, "service names can have at most 10 items."),
}


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except Exception:
        raise InvalidParameterException("Invalid nextToken") from None


def _paginated(method: Callable[[Any], Any], key: str, default: int, maximum: int) -> Callable[[Any], Any]:
    def wrapped(self: Any) -> Any:
        size = self._get_param("maxResults")
        if size is None:
            size = default
        elif not 1 <= int(size) <= maximum:
            raise InvalidParameterException(f"maxResults must be between 1 and {maximum}.")
        start = _decode(self._get_param("nextToken"))
        result = method(self)
        items = result.result.get(key) or []
        result.result[key] = items[start : start + int(size)]
        if start + int(size) < len(items):
            result.result["nextToken"] = _encode(start + int(size))
        return result

    wrapped.__name__ = method.__name__
    return wrapped


def _batched(method: Callable[[Any], Any], param: str, maximum: int, message: str) -> Callable[[Any], Any]:
    def wrapped(self: Any) -> Any:
        if len(self._get_param(param) or []) > maximum:
            raise InvalidParameterException(message)
        return method(self)

    wrapped.__name__ = method.__name__
    return wrapped


def install() -> None:
    resp = ecs_responses.EC2ContainerServiceResponse
    for name, (key, default, maximum) in PAGES.items():
        setattr(resp, name, _paginated(getattr(resp, name), key, default, maximum))
    for name, (param, maximum, message) in BATCHES.items():
        setattr(resp, name, _batched(getattr(resp, name), param, maximum, message))
