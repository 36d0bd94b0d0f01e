"""Scaling activities: what DescribeScalingActivities tells about each termination.

moto answers DescribeScalingActivities with nothing. AWS (API reference of
DescribeScalingActivities and Activity; "Verify a scaling activity for an Auto
Scaling group") lists the group's activities newest first, at most
``MaxRecords`` (default 100, max 100) per page with a ``NextToken``. Each
termination is one activity: Description "Terminating EC2 instance: i-...",
a Cause, a StartTime when Auto Scaling began taking the instance out of
service (before the load balancer draining and the lifecycle hooks), a
StatusCode that moves through ``InProgress``,
``WaitingForELBConnectionDraining``, ``MidTerminatingLifecycleAction`` to
``Successful`` (with an EndTime and Progress 100), and ``Details``.
"Activities are sorted by start time. Activities still in progress are
described first." Launches are activities too ("Launching a new EC2 instance:
i-...", and for a warm pool "Launching a new EC2 instance into warm pool: i-...",
"Launching a new EC2 instance from warm pool: i-...", "Terminating EC2 instance
from warm pool: i-...", the wordings AWS's own walkthroughs show), recorded as
already Successful. An instance scaled in back to the warm pool gets the plain
"Terminating EC2 instance: i-..." (AWS documents no other wording: nothing in
the activity says where the instance goes).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from moto.autoscaling import models as asg_models
from moto.autoscaling import responses as asg_responses
from moto.autoscaling.exceptions import ValidationError
from moto.core.responses import ActionResult

CAUSES = {
    "scale-in": "an instance was taken out of service in response to a difference between desired and actual "
    "capacity, shrinking the capacity from {before} to {after}",
    "TerminateInstanceInAutoScalingGroup": "instance {id} was taken out of service in response to a user request"
    "{shrinking}",
    "instance-refresh": "an instance was taken out of service in response to an instance refresh",
    "spot-interruption": "an instance was taken out of service in response to an EC2 instance status change "
    "(Spot instance interruption)",
    "warm-pool-deleted": "an instance was taken out of the warm pool in response to a user request",
}


DONE = ("Successful", "Failed", "Cancelled")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _activities(group: Any) -> list[Any]:
    if not hasattr(group, "_world_activities"):
        group._world_activities = []
    return group._world_activities


def terminating(group: Any, instance_id: str, cause: str, before: int | None) -> Any:
    """A new termination activity of ``group`` (InProgress)."""
    now = _now()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = group.desired_capacity if before is None else before
    shrinking = (
        f", shrinking the capacity from {before} to {group.desired_capacity}" if group.desired_capacity < before else ""
    )
    text = CAUSES.get(cause, "an instance was taken out of service").format(
        before=before, after=group.desired_capacity, id=instance_id, shrinking=shrinking
    )
    activity = asg_models.Activity(
        description=f"Terminating EC2 instance: {instance_id}",
        cause=f"At {stamp} {text}.  At {stamp} instance {instance_id} was selected for termination.",
        auto_scaling_group=group,
        start_time=now,
        status_code="InProgress",
    )
    activity.end_time = None
    activity.progress = 0
    activity.details = _details(group)
    activity._world_instance_id = instance_id
    _activities(group).append(activity)
    return activity


def _details(group: Any) -> str:
    return json.dumps(
        {
            "Subnet ID": (group.vpc_zone_identifier or "").split(",")[0],
            "Availability Zone": group.availability_zones[0] if group.availability_zones else "",
        }
    )


def finished(group: Any, description: str, cause: str) -> Any:
    """An activity already over (a launch): Successful at once."""
    now = _now()
    activity = asg_models.Activity(
        description=description,
        cause=f"At {now.strftime('%Y-%m-%dT%H:%M:%SZ')} {cause}.",
        auto_scaling_group=group,
        start_time=now,
        end_time=now,
        status_code="Successful",
    )
    activity.progress = 100
    activity.details = _details(group)
    _activities(group).append(activity)
    return activity


_orig_replace = asg_models.FakeAutoScalingGroup.replace_autoscaling_group_instances


def _replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
    before = {s.instance.id for s in self.instance_states}
    _orig_replace(self, count_needed, propagated_tags)
    into_pool = getattr(self, "_world_launching_into_pool", False)
    for state in [s for s in self.instance_states if s.instance.id not in before]:
        where = " into warm pool" if into_pool else ""
        finished(
            self,
            f"Launching a new EC2 instance{where}: {state.instance.id}",
            "an instance was started in response to a difference between desired and actual capacity, "
            f"increasing the capacity to {self.desired_capacity}",
        )


def done(activity: Any) -> None:
    if activity is None or activity.status_code == "Successful":
        return
    activity.status_code = "Successful"
    activity.end_time = _now()
    activity.progress = 100


def describe_scaling_activities(self: Any) -> ActionResult:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    ids = self._get_param("ActivityIds", []) or []
    max_records = int(self._get_param("MaxRecords") or 100)
    if not 1 <= max_records <= 100:
        raise ValidationError("MaxRecords must be between 1 and 100")
    groups = (
        [backend.autoscaling_groups[name]]
        if name in backend.autoscaling_groups
        else ([] if name else list(backend.autoscaling_groups.values()))
    )
    found = sorted((a for g in groups for a in _activities(g)), key=lambda a: a.start_time, reverse=True)
    found = [a for a in found if a.status_code not in DONE] + [a for a in found if a.status_code in DONE]
    if ids:
        found = [a for a in found if a.activity_id in ids]
    start = int(self._get_param("NextToken") or 0)
    page = found[start : start + max_records]
    result: dict[str, Any] = {"Activities": [_shape(a) for a in page]}
    if start + max_records < len(found):
        result["NextToken"] = str(start + max_records)
    return ActionResult(result)


def _shape(activity: Any) -> dict[str, Any]:
    shape = {
        "ActivityId": activity.activity_id,
        "AutoScalingGroupName": activity.auto_scaling_group_name,
        "Description": activity.description,
        "Cause": activity.cause,
        "StartTime": activity.start_time,
        "StatusCode": activity.status_code,
        "Progress": activity.progress,
        "Details": getattr(activity, "details", "{}"),
    }
    if activity.end_time is not None:
        shape["EndTime"] = activity.end_time
    return shape


def install() -> None:
    asg_responses.AutoScalingResponse.describe_scaling_activities = describe_scaling_activities
    asg_models.FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace_autoscaling_group_instances
