"""What a function's call is authorized against: the resources it names and the condition keys of
its request context, as the Service Authorization Reference gives them for each action ("Actions,
resources, and condition keys for Amazon Elastic Container Service", "... for Amazon EC2 Auto
Scaling", "... for Elastic Load Balancing" (V1 and V2), "... for AWS Step Functions").

* The resources: the ARN of each resource the request names, in the resource type's ARN format
  (a name given where an ARN may be is made into one: an ECS cluster ``default`` when none is
  given, a container instance, task or service of that cluster, a Classic ELB, an Auto Scaling
  group with the ID Auto Scaling gave it); ``*`` for an action with no resource type (no
  resource-level permissions), and for one the world does not know.
* The condition keys (their names lower-cased: "Context key names are not case-sensitive"):
  ``ecs:cluster`` (the cluster's ARN) where the action lists it; ``aws:ResourceTag/<key>`` and
  ``elasticloadbalancing:ResourceTag/<key>`` of a load balancer or target group a deregistration
  names; and those of every call of a role session ("AWS global condition context keys"):
  ``aws:PrincipalArn`` (the role), ``aws:PrincipalAccount``, ``aws:RequestedRegion``,
  ``aws:SecureTransport`` (true: the SDK calls AWS over HTTPS), ``aws:ViaAWSService`` (false), and
  ``lambda:SourceFunctionArn`` ("Lambda injects the source function ARN into the credentials
  context if the request is an AWS API request that comes from within your execution
  environment"). Not given: the resource tags of ECS, Auto Scaling and Step Functions resources,
  ``aws:CurrentTime`` and the other global keys (a policy conditioned on them is not allowed here:
  harsher than AWS for an Allow, kinder for a Deny; the stack's policies use none).

A request naming a resource that does not exist still names its ARN (the service answers that it
does not exist once authorized). An Auto Scaling group that does not exist (deleted mid-drain) has
no ID: the world authorizes the call against its ARN with the ID left as ``*``
(``autoScalingGroup:*:autoScalingGroupName/<name>``), which a grant on the group by name covers
and one on another group does not. AWS does not document what it authorizes such a call against;
reading it as ``*`` would be harsher (AccessDenied under a role scoped to the group's name, where
the world answers Auto Scaling's "not found").
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


class _Ecs:
    """An ECS request: its cluster (by ARN) and the ARNs of what it names in that cluster."""

    def __init__(self, region: str, params: dict[str, Any]):
        self.region = region
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
    targets = [str(a.get("targetId") or "") for a in p.get("attributes") or [] if isinstance(a, dict)]
    table = {
        "ListContainerInstances": lambda: ecs.on([ecs.cluster]),
        "DescribeContainerInstances": lambda: ecs.on(
            ecs.of("container-instance", p.get("containerInstances")), "ecs:cluster"
        ),
        "UpdateContainerInstancesState": lambda: ecs.on(
            ecs.of("container-instance", p.get("containerInstances")), "ecs:cluster"
        ),
        "DeregisterContainerInstance": lambda: ecs.on([ecs.cluster]),
        "PutAttributes": lambda: ecs.on(ecs.of("container-instance", targets), "ecs:cluster"),
        "DeleteAttributes": lambda: ecs.on(ecs.of("container-instance", targets), "ecs:cluster"),
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
    if group is None:
        return f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/{name}"
    return str(group.arn)


def _tags_of(arn: str, region: str, classic: bool) -> dict[str, list[str]]:
    """``aws:ResourceTag/<key>`` of a Classic ELB (by ARN) or a target group."""
    if classic:
        from moto.elb.models import elb_backends

        lb = elb_backends[ACCOUNT][region].load_balancers.get(arn.rsplit("/", 1)[-1])
        tags = dict(getattr(lb, "tags", {}) or {}) if lb is not None else {}
    else:
        from moto.elbv2.models import elbv2_backends

        tags = dict(elbv2_backends[ACCOUNT][region].tagging_service.get_tag_dict_for_resource(arn))
    found: dict[str, list[str]] = {}
    for key, value in tags.items():
        for prefix in ("aws", "elasticloadbalancing"):
            found[f"{prefix}:ResourceTag/{key}"] = [str(value)]
    return found


def _session(region: str, function: str, role_arn: str) -> dict[str, list[str]]:
    """The global keys of every call a function makes with its role."""
    return {
        "aws:PrincipalArn": [role_arn],
        "aws:PrincipalAccount": [ACCOUNT],
        "aws:RequestedRegion": [region],
        "aws:SecureTransport": ["true"],
        "aws:ViaAWSService": ["false"],
        "lambda:SourceFunctionArn": [f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function}"],
    }


def of(api: Any, action: str, function: str, role_arn: str) -> Request:
    """The request ``api`` (world.emulator.server.ApiCall) of ``function`` (with ``role_arn``) makes, for IAM."""
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
    resources, context = found if found is not None else (["*"], {})
    context = {**_session(region, function, role_arn), **context}
    return Request(action, resources, {key.lower(): values for key, values in context.items()})
