"""IAM for the functions: a call a function's code makes is allowed only when the function's
execution role allows its action; any other is refused with the service's access-denied error.

On AWS a function's code signs its calls with its execution role's credentials (Lambda Developer
Guide: "Defining Lambda function permissions with an execution role"), and IAM denies a request
that no identity-based policy allows, or that a policy explicitly denies (IAM User Guide: "Policy
evaluation logic": "By default, all requests are implicitly denied", "An explicit deny in any
policy overrides any allows"; with a permissions boundary, an action must be allowed by both the
identity policies and the boundary). An action is ``<service prefix>:<API operation>`` (IAM User
Guide: "Actions, resources, and condition keys for AWS services"), wildcards allowed, case
insensitive.

The world knows which function a request comes from: each sandbox's SDK sends its sandbox id in
its User-Agent (``AWS_SDK_UA_APP_ID``, world.emulator.lambda_runtime). It reads the role's inline policies,
its attached managed policies and its permissions boundary from moto's IAM as they are at the
call: the policies a stack deployed are the ones the functions run with.

Simplification, kinder than AWS and stated as such: only the action is evaluated; a statement's
``Resource``/``NotResource`` and ``Condition`` are taken as matching (the functions' calls name
resources of the deployment they were granted on). Calls that are not a function's (the world's
harness, ecs-sta, moto's Step Functions) are not evaluated.

Config ``iam``: ``{"enforce": true}`` (default on). Every refusal is recorded as an
``iam.access_denied`` event with the function, its role and the action.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from typing import Any

from world.emulator import core

ACCOUNT = "123456789012"
# the signing name of a request, where its IAM service prefix differs
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
_SANDBOX = re.compile(r"app/world-sandbox-(\d+)")


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [found] if isinstance(found, dict) else list(found)


def _patterns(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _matches(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _applies(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _matches(_patterns(statement["NotAction"]), action)
    return _matches(_patterns(statement.get("Action")), action)


def decide(documents: list[Any], action: str) -> str:
    """``"deny"`` (explicitly denied), ``"allow"``, or ``"implicit-deny"`` (no statement allows it)."""
    statements = [s for d in documents for s in _statements(d)]
    if any(s.get("Effect") == "Deny" and _applies(s, action) for s in statements):
        return "deny"
    if any(s.get("Effect") == "Allow" and _applies(s, action) for s in statements):
        return "allow"
    return "implicit-deny"


def _managed_document(backend: Any, arn: str) -> Any:
    """The default version of a managed policy (customer or AWS managed); none when it is unknown."""
    policy = backend.managed_policies.get(arn)
    if policy is None:
        return {}
    version = next((v for v in policy.versions if v.is_default), None)
    return version.document if version is not None else policy.document


def allowed(role_arn: str, action: str) -> tuple[bool, str]:
    """Whether ``role_arn``'s policies allow ``action``, and why not."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    if role is None:
        return False, f"the role {role_arn} does not exist"
    documents = list(role.policies.values()) + [_managed_document(backend, arn) for arn in role.managed_policies]
    verdict = decide(documents, action)
    if verdict != "allow":
        why = "an identity-based policy explicitly denies" if verdict == "deny" else "no identity-based policy allows"
        return False, f"{why} the {action} action"
    if role.permissions_boundary_arn:
        boundary = _managed_document(backend, role.permissions_boundary_arn)
        if decide([boundary], action) != "allow":
            return False, f"no permissions boundary allows the {action} action"
    return True, ""


def _caller(api: Any) -> tuple[str, str] | None:
    """(function, role ARN) of the sandbox that sent the request, if one did."""
    from world.emulator import lambdas

    match = _SANDBOX.search(getattr(api, "agent", "") or "")
    if match is None or lambdas.RUNTIME is None:
        return None
    box = lambdas.RUNTIME.sandboxes.get(int(match.group(1)))
    if box is None or not box.role:
        return None
    return box.name, box.role


def denied_response(api: Any, message: str) -> tuple[int, dict[str, str], bytes]:
    """AccessDenied in the shape of ``api``'s protocol."""
    request_id = str(uuid.uuid4())
    if api.protocol == "json":
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}, body
    if api.protocol == "rest-json":
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "AccessDeniedException",
            "x-amzn-RequestId": request_id,
        }
        return 403, headers, json.dumps({"Message": message}).encode()
    if api.protocol == "ec2":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return 403, {"Content-Type": "text/xml"}, body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return 403, {"Content-Type": "text/xml"}, body


def _hook(api: Any) -> tuple[int, dict[str, str], bytes] | None:
    if not (core.CONFIG.get("iam") or {}).get("enforce", True):
        return None
    caller = _caller(api)
    if caller is None:
        return None
    function, role_arn = caller
    action = f"{IAM_PREFIX.get(api.signing, api.signing)}:{api.operation}"
    ok, why = allowed(role_arn, action)
    if ok:
        return None
    role = role_arn.rsplit("/", 1)[-1]
    core.record("iam.access_denied", function=function, role=role_arn, action=action)
    message = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: {action} "
        f"because {why}"
    )
    return denied_response(api, message)


def install() -> None:
    core.CONFIG.setdefault("iam", {"enforce": True})
    core.request_hook(_hook)
