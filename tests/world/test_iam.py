"""A function's calls are held to its execution role's policies (world.emulator.iam)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_setup as aws
import pytest
from world.emulator import iam

BIN = Path(__file__).resolve().parents[2] / "target" / "debug" / "drain-ecs"
HEARTBEAT = "autoscaling:RecordLifecycleActionHeartbeat"


@pytest.fixture(autouse=True)
def _binaries_built():
    if not BIN.exists():
        pytest.fail(
            f"{BIN} is missing: build the Lambdas first with `cargo build --bins -p drain-ecs` (make test-world does)"
        )


def _allow(*actions: str, effect: str = "Allow") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}]}


def _on(action: str, *resources: str, **context: str) -> iam.Request:
    keys = {k.replace("__", ":").lower(): [v] for k, v in context.items()}
    return iam.Request(action, list(resources) or ["*"], keys)


def test_policy_evaluation_follows_iams_logic():
    assert iam.decide([_allow("ecs:ListTasks")], _on("ecs:ListTasks")) == "allow"
    assert iam.decide([_allow("ecs:List*")], _on("ecs:listtasks")) == "allow"  # wildcards; actions case-insensitive
    assert iam.decide([_allow("ecs:Describe*")], _on("ecs:ListTasks")) == "implicit-deny"
    assert iam.decide([], _on("ecs:ListTasks")) == "implicit-deny"
    # an explicit deny overrides any allow, in any policy
    assert iam.decide([_allow("*"), _allow("ecs:*", effect="Deny")], _on("ecs:ListTasks")) == "deny"
    not_action = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert iam.decide([json.dumps(not_action)], _on("ecs:ListTasks")) == "allow"
    assert iam.decide([not_action], _on("iam:PassRole")) == "implicit-deny"


CLUSTER = "arn:aws:ecs:us-west-2:123456789012:cluster/prod"
INSTANCES = "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/*"


def _scoped(resource: str | list[str], condition: dict | None = None, action: str = "ecs:*") -> dict:
    statement: dict = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Statement": [statement]}


def test_a_statement_applies_only_to_its_resources_each_of_several_named():
    policy = _scoped(INSTANCES)
    mine = "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/0123"
    theirs = "arn:aws:ecs:us-west-2:123456789012:container-instance/staging/0123"
    assert iam.decide([policy], _on("ecs:UpdateContainerInstancesState", mine)) == "allow"
    assert iam.decide([policy], _on("ecs:UpdateContainerInstancesState", theirs)) == "implicit-deny"
    assert iam.decide([policy], _on("ecs:DescribeContainerInstances", mine, theirs)) == "implicit-deny"
    # an action without resource-level permissions is authorized against "*": a scoped grant does not cover it
    assert iam.decide([policy], _on("ecs:ListServices")) == "implicit-deny"
    # each of the six ARN components on its own; the resource part may hold colons
    group = "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:1a2b:autoScalingGroupName/web"
    pattern = "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:*:autoScalingGroupName/web"
    assert iam.arn_like(pattern, group) and not iam.arn_like(pattern, group + "-2")
    assert not iam.arn_like("arn:aws:autoscaling:*:*:*", "arn:aws:autoscaling:us-west-2")
    # a * ending a segment expands beyond the colons
    assert iam.arn_like("arn:aws:autoscaling:*", group) and iam.arn_like("arn:aws:*", group)
    assert not iam.arn_like("arn:aws:ecs:*", group) and not iam.arn_like("arn:aws:autoscaling:us-*:1", group)
    not_resource = {"Statement": [{"Effect": "Allow", "Action": "ecs:*", "NotResource": INSTANCES}]}
    assert iam.decide([not_resource], _on("ecs:StopTask", theirs)) == "allow"


def test_conditions_hold_as_iam_evaluates_them():
    in_prod = _scoped("*", {"ArnEquals": {"ecs:cluster": CLUSTER}})
    assert iam.decide([in_prod], _on("ecs:ListServices", ecs__cluster=CLUSTER)) == "allow"
    # key names are not case-sensitive
    assert (
        iam.decide(
            [_scoped("*", {"ArnEquals": {"ECS:Cluster": CLUSTER}})], _on("ecs:ListServices", ecs__cluster=CLUSTER)
        )
        == "allow"
    )
    staging = "arn:aws:ecs:us-west-2:123456789012:cluster/staging"
    assert iam.decide([in_prod], _on("ecs:ListServices", ecs__cluster=staging)) == "implicit-deny"
    # a key absent from the request context: the condition is false ...
    assert iam.decide([in_prod], _on("ecs:ListContainerInstances")) == "implicit-deny"
    # ... true for a negated operator, for ...IfExists, and for Null true
    assert iam.decide([_scoped("*", {"ArnNotEquals": {"ecs:cluster": CLUSTER}})], _on("ecs:ListTasks")) == "allow"
    assert iam.decide([_scoped("*", {"ArnEqualsIfExists": {"ecs:cluster": CLUSTER}})], _on("ecs:ListTasks")) == "allow"
    assert iam.decide([_scoped("*", {"Null": {"ecs:cluster": "true"}})], _on("ecs:ListTasks")) == "allow"
    tagged = _scoped("*", {"StringEquals": {"aws:ResourceTag/drain": "yes"}}, "elasticloadbalancing:*")
    target_group = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123"
    deregister = "elasticloadbalancing:DeregisterTargets"
    assert iam.decide([tagged], _on(deregister, target_group, **{"aws__ResourceTag/drain": "yes"})) == "allow"
    assert iam.decide([tagged], _on(deregister, target_group, **{"aws__ResourceTag/drain": "no"})) == "implicit-deny"
    # an operator the world does not know: an Allow does not apply, a Deny does
    unknown = {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    assert iam.decide([_scoped("*", unknown)], _on("ecs:ListTasks")) == "implicit-deny"
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": unknown}]}
    assert iam.decide([_allow("*"), deny], _on("ecs:ListTasks")) == "deny"


def _role(world, name: str, policy: dict | None, boundary: str | None = None) -> str:
    client = world.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    extra = {"PermissionsBoundary": boundary} if boundary else {}
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **extra)["Role"]["Arn"]
    if policy is not None:
        client.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def _invoke(world) -> dict:
    resp = world.client("lambda").invoke(FunctionName="drain-ecs", Payload=json.dumps(aws.drain_payload()).encode())
    assert resp.get("FunctionError"), "the call cannot succeed: group g does not exist"
    return json.loads(resp["Payload"].read())


def test_a_call_the_role_does_not_allow_is_refused_with_access_denied(world):
    aws.function(world, role=_role(world, "narrow", _allow("ecs:*")))
    body = _invoke(world)
    [denied] = world.events("iam.access_denied")
    assert denied["function"] == "drain-ecs" and denied["action"] == HEARTBEAT
    assert denied["role"].endswith(":role/narrow")
    assert "AccessDenied" in json.dumps(body), body


def test_an_allowed_call_goes_through_to_the_api(world):
    aws.function(world, role=_role(world, "heartbeat", _allow(HEARTBEAT, "ecs:*")))
    body = _invoke(world)
    assert world.events("iam.access_denied") == []
    assert "AccessDenied" not in json.dumps(body), body  # refused by Auto Scaling itself (no group g)


def test_a_permissions_boundary_limits_what_the_policies_allow(world):
    boundary = world.client("iam").create_policy(PolicyName="ecs-only", PolicyDocument=json.dumps(_allow("ecs:*")))
    aws.function(world, role=_role(world, "bounded", _allow("*"), boundary=boundary["Policy"]["Arn"]))
    _invoke(world)
    [denied] = world.events("iam.access_denied")
    assert denied["action"] == HEARTBEAT


def test_enforcement_can_be_turned_off(world):
    world.configure(iam={"enforce": False})
    aws.function(world, role=_role(world, "none", None))
    _invoke(world)
    assert world.events("iam.access_denied") == []


def test_a_call_on_a_resource_the_role_is_not_granted_is_access_denied(world):
    """The heartbeat names group g: a grant on another group's ARN does not cover it."""
    group = aws.asg(world, name="g", desired=0)
    arn = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][
        0
    ]["AutoScalingGroupARN"]
    other = arn.replace("autoScalingGroupName/g", "autoScalingGroupName/other")
    scoped = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": HEARTBEAT, "Resource": other}]}
    aws.function(world, role=_role(world, "other-group", scoped))
    body = _invoke(world)
    [denied] = world.events("iam.access_denied")
    assert denied["action"] == HEARTBEAT and denied["resources"] == [arn], denied
    assert "not authorized to perform" in json.dumps(body) and arn in json.dumps(body), body


def test_a_grant_on_the_resource_covers_it_and_only_it(world):
    group = aws.asg(world, name="g", desired=0)
    arn = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][
        0
    ]["AutoScalingGroupARN"]
    pattern = arn.split(":autoScalingGroup:")[0] + ":autoScalingGroup:*:autoScalingGroupName/g"
    statement = {"Effect": "Allow", "Action": [HEARTBEAT, "autoscaling:Describe*"], "Resource": pattern}
    aws.function(world, role=_role(world, "this-group", {"Version": "2012-10-17", "Statement": [statement]}))
    _invoke(world)
    # the heartbeat goes through (no action: the drain reads the hook, for how long "no action"
    # may be one not shown yet, then asks where the instance is), but DescribeLifecycleHooks has
    # no resource-level permissions: a grant on g does not cover it
    denied = [(e["action"], e["resources"]) for e in world.events("iam.access_denied")]
    assert denied == [("autoscaling:DescribeLifecycleHooks", ["*"])], denied


def test_the_session_keys_of_a_functions_call_are_in_its_context(world):
    """lambda:SourceFunctionArn and aws:RequestedRegion are there; a key of another function is not ours."""
    fn = "arn:aws:lambda:us-west-2:123456789012:function:drain-ecs"
    statement = {
        "Effect": "Allow",
        "Action": [HEARTBEAT, "ecs:*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"lambda:SourceFunctionArn": fn, "AWS:RequestedRegion": "us-west-2"}},
    }
    deny_others = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement, deny_others]}
    aws.function(world, role=_role(world, "from-drain-ecs", policy))
    _invoke(world)
    assert world.events("iam.access_denied") == []
