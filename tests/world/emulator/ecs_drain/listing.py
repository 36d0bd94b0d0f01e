"""ListTasks and ListContainerInstances as ECS filters them (AWS docs: ListTasks,
ListContainerInstances, "Cluster query language").

* ListTasks filters on desiredStatus (default RUNNING) and serviceName, and shows a task
  only ``ecs.list_lag_seconds`` (AWS seconds, default 0) after it was started: "The Amazon
  ECS API follows an eventual consistency model ... the result of an API command you run
  that affects your Amazon ECS resources might not be immediately visible to all
  subsequent commands you run" (RunTask API reference, which advises reading again
  "starting with a couple of seconds of wait time and increasing gradually up to five
  minutes"; AWS gives no figure, so the default is the kinder 0, which a scenario raises;
  the world's harness sees every task at once);
  ListContainerInstances honours ``status`` (default: all but INACTIVE) and
  ``filter`` (``ec2InstanceId ==``/``in``, ``agentConnected``,
  ``runningTasksCount``, ``attribute:<name>``; others are rejected).
"""

from __future__ import annotations

import re
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException
from world.emulator import core
from world.emulator.rate_limits.throttling import HARNESS_AGENT


def list_tasks(self: Any) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    desired = self._get_param("desiredStatus") or "RUNNING"
    service_name = self._get_param("serviceName")
    launch_type = self._get_param("launchType")
    tasks = self.ecs_backend.list_tasks(
        cluster.name,
        self._get_param("containerInstance"),
        self._get_param("family"),
        self._get_param("startedBy"),
        None,
        desired,
    )
    if service_name:
        name = service_name.split("/")[-1]
        tasks = [t for t in tasks if getattr(t, "_world_service", None) == name or t.group == f"service:{name}"]
    if launch_type:
        tasks = [t for t in tasks if t.launch_type == launch_type]
    lag = core.scaled(core.CONFIG["ecs"].get("list_lag_seconds") or 0)
    if lag > 0 and HARNESS_AGENT not in (self.headers.get("User-Agent") or ""):
        now = time.monotonic()
        tasks = [t for t in tasks if now - getattr(t, "_world_created", now - lag) >= lag]
    return ActionResult({"taskArns": [t.task_arn for t in tasks]})


_TERM = re.compile(r"^\s*([\w:.\-]+)\s*(==|!=|in|not in)\s*(.+?)\s*$", re.IGNORECASE)


def _filter_terms(expression: str) -> list[tuple[str, str, list[str]]]:
    terms = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        match = _TERM.match(part)
        if not match:
            raise InvalidParameterException(f"Invalid filter expression: {expression}")
        field, op, value = match.group(1), match.group(2).lower(), match.group(3)
        if op in ("in", "not in"):
            if not (value.startswith("[") and value.endswith("]")):
                raise InvalidParameterException(f"Invalid filter expression: {expression}")
            values = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            values = [value.strip("'\"")]
        if field not in ("ec2InstanceId", "agentConnected", "runningTasksCount") and not field.startswith("attribute:"):
            raise InvalidParameterException(f"Unsupported filter expression: {part.strip()}")
        terms.append((field, op, values))
    return terms


def _matches(ci: Any, terms: list[tuple[str, str, list[str]]]) -> bool:
    for field, op, values in terms:
        if field == "ec2InstanceId":
            actual = ci.ec2_instance_id
        elif field == "agentConnected":
            actual = str(bool(ci.agent_connected)).lower()
        elif field == "runningTasksCount":
            actual = str(ci.running_tasks_count)
        else:
            actual = str(ci.attributes.get(field.split(":", 1)[1]))
        hit = actual in [v.lower() if field == "agentConnected" else v for v in values]
        if hit != (op in ("==", "in")):
            return False
    return True


def list_container_instances(self: Any) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
    status = self._get_param("status")
    expression = self._get_param("filter")
    terms = _filter_terms(expression) if expression else []
    found = []
    for ci in self.ecs_backend.container_instances.get(cluster.name, {}).values():
        if (status and ci.status != status) or (not status and ci.status == "INACTIVE"):
            continue
        if _matches(ci, terms):
            found.append(ci.container_instance_arn)
    return ActionResult({"containerInstanceArns": sorted(found)})
