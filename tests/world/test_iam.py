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


def test_policy_evaluation_follows_iams_logic():
    assert iam.decide([_allow("ecs:ListTasks")], "ecs:ListTasks") == "allow"
    assert iam.decide([_allow("ecs:List*")], "ecs:listtasks") == "allow"  # wildcards; actions are case-insensitive
    assert iam.decide([_allow("ecs:Describe*")], "ecs:ListTasks") == "implicit-deny"
    assert iam.decide([], "ecs:ListTasks") == "implicit-deny"
    # an explicit deny overrides any allow, in any policy
    assert iam.decide([_allow("*"), _allow("ecs:*", effect="Deny")], "ecs:ListTasks") == "deny"
    not_action = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert iam.decide([json.dumps(not_action)], "ecs:ListTasks") == "allow"
    assert iam.decide([not_action], "iam:PassRole") == "implicit-deny"


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
