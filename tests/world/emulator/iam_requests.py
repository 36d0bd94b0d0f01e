"""What a function's call is authorized against: the resources it names and the condition keys of
its request context, as the Service Authorization Reference gives them for each action ("Actions,
resources, and condition keys for Amazon Elastic Container Service", "... for Amazon EC2 Auto
Scaling", "... for Elastic Load Balancing" (V1 and V2), "... for AWS Step Functions").

* The resources: the ARN of each resource the request names, in the resource type's ARN format
  (a name given where an ARN may be is made into one: an ECS cluster ``default`` when none is
  given, a container instance, task or service of that cluster, a Classic ELB, an Auto Scaling
  group with the ID Auto Scaling gave it); ``*`` for an action with no resource type (no
  resource-level permissions), and for one the world does not know.
* The condition keys: ``ecs:cluster`` (the cluster's ARN) where the action lists it, and
  ``aws:ResourceTag/<key>`` of a load balancer or target group a deregistration names.

A request naming a resource that does not exist still names its ARN (the service answers that it
does not exist once authorized); an Auto Scaling group that does not exist has no ID: the world
then authorizes the call against ``*`` in its place, which only a statement on every group allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"


@dataclass
class Request:
    action: str
    resources: list[str] = field(default_factory=lambda: ["*"])
    context: dict[str, list[str]] = field(default_factory=dict)


def _members(params: dict[str, Any], prefix: str) -> list[str]:
    """The query protocol's list ``Prefix.member.N`` (N from 1), in order."""
    found = []
    n = 1
    while f"{prefix}.member.{n}" in params:
        found.append(str(params[f"{prefix}.member.{n}"]))
        n += 1
    return found


class _Ecs:
    """An ECS request: its cluster (by ARN) and the ARNs of what it names in that cluster."""

    def __init__(self, region: str, params: dict[str, Any]):
        self.region, self.params = region, params
        cluster = str(params.get("cluster") or "default")
        self.cluster = cluster if cluster.startswith("arn:") else self._arn("cluster", cluster)
        self.cluster_name = self.cluster.rsplit("/", 1)[-1]

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:{kind}/{name}"

    def of(self, kind: str, refs: Any) -> list[str]:
        """``kind`` (container-instance, task, service) ARNs of ``refs`` (IDs, names or ARNs) in the cluster."""
        names = [refs] if isinstance(refs, str) else list(refs or [])
        return [r if r.startswith("arn:") else self._arn(kind, f"{self.cluster_name}/{r}") for r in names]

    def on(self, resources: list[str], *keys: str) -> tuple[list[str], dict[str, list[str]]]:
        context = {"ecs:cluster": [self.cluster]} if "ecs:cluster" in keys else {}
        return resources or ["*"], context


def _ecs(action: str, region: str, params: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]] | None:
    ecs = _Ecs(region, params)
    p = params
    table = {
        "ListContainerInstances": lambda: ecs.on([ecs.cluster]),
        "DescribeContainerInstances": lambda: ecs.on(
            ecs.of("container-instance", p.get("containerInstances")), "ecs:cluster"
        ),
        "UpdateContainerInstancesState": lambda: ecs.on(
            ecs.of("container-instance", p.get("containerInstances")), "ecs:cluster"
        ),
        "DeregisterContainerInstance": lambda: ecs.on([ecs.cluster]),
        "ListTasks": lambda: ecs.on(ecs.of("container-instance", p.get("containerInstance")), "ecs:cluster"),
        "DescribeTasks": lambda: ecs.on(ecs.of("task", p.get("tasks")), "ecs:cluster"),
        "StopTask": lambda: ecs.on(ecs.of("task", p.get("task")), "ecs:cluster"),
        "ListServices": lambda: ecs.on([], "ecs:cluster"),
        "DescribeServices": lambda: ecs.on(ecs.of("service", p.get("services")), "ecs:cluster"),
        "UpdateService": lambda: ecs.on(ecs.of("service", p.get("service")), "ecs:cluster"),
    }
    answer = table.get(action)
    return answer() if answer else None


def _group_arn(region: str, name: str) -> str:
    from moto.autoscaling.models import autoscaling_backends

    group = autoscaling_backends[ACCOUNT][region].autoscaling_groups.get(name)
    return group.arn if group is not None else "*"


def _tags_of(arn: str, region: str, classic: bool) -> dict[str, list[str]]:
    """``aws:ResourceTag/<key>`` of a Classic ELB (by ARN) or a target group."""
    if classic:
        from moto.elb.models import elb_backends

        lb = elb_backends[ACCOUNT][region].load_balancers.get(arn.rsplit("/", 1)[-1])
        tags = dict(getattr(lb, "tags", {}) or {}) if lb is not None else {}
    else:
        from moto.elbv2.models import elbv2_backends

        tags = dict(elbv2_backends[ACCOUNT][region].tagging_service.get_tag_dict_for_resource(arn))
    return {f"aws:ResourceTag/{key}": [str(value)] for key, value in tags.items()}


def of(api: Any, action: str) -> Request:
    """The request ``api`` (world.emulator.server.ApiCall) makes, for IAM."""
    service, operation, region, p = action.split(":", 1)[0], api.operation, api.region, api.params
    found: tuple[list[str], dict[str, list[str]]] | None = None
    if service == "ecs":
        found = _ecs(operation, region, p)
    elif service == "autoscaling" and operation in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
        found = [_group_arn(region, str(p.get("AutoScalingGroupName", "")))], {}
    elif action == "elasticloadbalancing:DeregisterInstancesFromLoadBalancer":
        arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/{p.get('LoadBalancerName', '')}"
        found = [arn], _tags_of(arn, region, classic=True)
    elif action == "elasticloadbalancing:DeregisterTargets":
        arn = str(p.get("TargetGroupArn", ""))
        found = [arn], _tags_of(arn, region, classic=False)
    elif service == "states" and operation in ("StartExecution", "ListExecutions"):
        found = [str(p.get("stateMachineArn", ""))], {}
    elif service == "states" and operation == "DescribeExecution":
        found = [str(p.get("executionArn", ""))], {}
    if found is None:
        return Request(action)
    return Request(action, found[0], found[1])
