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

A statement applies to a call when its ``Action`` (or ``NotAction``), its ``Resource`` (or
``NotResource``) and its ``Condition`` all match (IAM User Guide, "Policy evaluation logic"; "IAM
JSON policy elements: Resource": each of the six colon-delimited parts of an ARN matched on its own,
with ``*`` and ``?``; "Condition operators"). What the call is authorized against, its resources'
ARNs and its condition keys, is the Service Authorization Reference's for the action
(world.emulator.iam_requests): an action without resource-level permissions against ``*``, which a
grant on named resources does not cover; a call naming several resources is allowed only when each
of them is ("IAM authorizes your request only if every part of your request is allowed"). A
condition key absent from the request context makes the condition false, true for a negated
operator and for ``...IfExists``; the operators the world knows are the String, Arn, Bool and Null
ones (with ``IfExists``); a statement with another is taken the harsher way: an Allow does not
apply, a Deny does. Calls that are not a function's (the world's harness, ecs-sta) are not
evaluated; those a service makes with a role the stack gives it (moto's Step Functions invoking a
function, EventBridge, Scheduler) are, in world.emulator.service_roles.

Config ``iam``: ``{"enforce": true}`` (default on). Every refusal is recorded as an
``iam.access_denied`` event with the function, its role and the action.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from typing import Any

from world.emulator import core, iam_requests
from world.emulator.iam_requests import Request

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


def _glob(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; case-sensitive; nothing else special."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals and a statement's Resource: "each of the six colon-delimited components
    of the ARN is checked separately", each with ``*`` and ``?`` (the resource, the sixth, may hold
    colons and slashes of its own); "if the * wildcard is the last character of a resource ARN
    segment, it can expand to match beyond the colon boundaries"; ``*`` alone matches every resource."""
    if pattern == "*":
        return True
    want, got = pattern.split(":", 5), arn.split(":", 5)
    if len(got) != 6:
        return False
    if len(want) < 6:  # the last segment given takes the rest, when it ends with *
        last = len(want) - 1
        return (
            want[last].endswith("*")
            and all(_glob(w, g) for w, g in zip(want[:last], got))
            and _glob(want[last], ":".join(got[last:]))
        )
    return all(_glob(w, g) for w, g in zip(want, got))


_POSITIVE = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": _glob,
    "ArnEquals": arn_like,
    "ArnLike": arn_like,
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, wanted: Any, context: dict[str, list[str]]) -> bool | None:
    """One condition: ``None`` when the world does not know the operator. A key absent from the
    request context: "the values do not match and the condition is false"; for a negated operator
    it is true, and so for ``...IfExists``; ``Null`` is true exactly when the key is absent."""
    values = [str(v) for v in _patterns(wanted)]
    got = context.get(key.lower())  # "Context key names are not case-sensitive"
    if operator == "Null":
        return (got is None) == (values[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base in _NEGATED:
        if got is None:
            return True
        test = _POSITIVE[_NEGATED[base]]
        return not any(test(w, g) for w in values for g in got)
    if base not in _POSITIVE:
        return None
    if got is None:
        return if_exists
    return any(_POSITIVE[base](w, g) for w in values for g in got)


def _conditions_hold(statement: dict[str, Any], context: dict[str, list[str]]) -> bool | None:
    """All of the statement's conditions hold (``None``: one the world cannot evaluate)."""
    verdicts = [
        _condition_holds(operator, key, wanted, context)
        for operator, keys in (statement.get("Condition") or {}).items()
        for key, wanted in keys.items()
    ]
    if None in verdicts:
        return None
    return all(verdicts)


def _resource_applies(statement: dict[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(arn_like(p, resource) for p in _patterns(statement["NotResource"]))
    return any(arn_like(p, resource) for p in _patterns(statement.get("Resource")))


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    """Whether the statement applies to ``action`` on ``resource``: a condition the world cannot
    evaluate is taken the harsher way (an Allow does not apply, a Deny does)."""
    if "NotAction" in statement:
        acts = not _matches(_patterns(statement["NotAction"]), action)
    else:
        acts = _matches(_patterns(statement.get("Action")), action)
    if not acts or not _resource_applies(statement, resource):
        return False
    held = _conditions_hold(statement, context)
    return held if held is not None else statement.get("Effect") == "Deny"


def decide(documents: list[Any], request: Request) -> str:
    """``"deny"`` (explicitly denied), ``"allow"``, or ``"implicit-deny"`` (no statement allows it).
    A request naming several resources is allowed only when each of them is."""
    statements = [s for d in documents for s in _statements(d)]
    verdicts = set()
    for resource in request.resources:
        if any(
            s.get("Effect") == "Deny" and _applies(s, request.action, resource, request.context) for s in statements
        ):
            return "deny"
        allows = any(
            s.get("Effect") == "Allow" and _applies(s, request.action, resource, request.context) for s in statements
        )
        verdicts.add("allow" if allows else "implicit-deny")
    return "implicit-deny" if "implicit-deny" in verdicts else "allow"


def _managed_document(backend: Any, arn: str) -> Any:
    """The default version of a managed policy (customer or AWS managed); none when it is unknown."""
    policy = backend.managed_policies.get(arn)
    if policy is None:
        return {}
    version = next((v for v in policy.versions if v.is_default), None)
    return version.document if version is not None else policy.document


def allowed(role_arn: str, request: Request) -> tuple[bool, str]:
    """Whether ``role_arn``'s policies allow ``request``, and why not."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    if role is None:
        return False, f"the role {role_arn} does not exist"
    documents = list(role.policies.values()) + [_managed_document(backend, arn) for arn in role.managed_policies]
    verdict = decide(documents, request)
    on = f" on {', '.join(request.resources)}" if request.resources != ["*"] else ""
    if verdict != "allow":
        why = "an identity-based policy explicitly denies" if verdict == "deny" else "no identity-based policy allows"
        return False, f"{why} the {request.action} action{on}"
    if role.permissions_boundary_arn:
        boundary = _managed_document(backend, role.permissions_boundary_arn)
        if decide([boundary], request) != "allow":
            return False, f"no permissions boundary allows the {request.action} action{on}"
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
    request = iam_requests.of(api, f"{IAM_PREFIX.get(api.signing, api.signing)}:{api.operation}", function, role_arn)
    ok, why = allowed(role_arn, request)
    if ok:
        return None
    role = role_arn.rsplit("/", 1)[-1]
    core.record(
        "iam.access_denied", function=function, role=role_arn, action=request.action, resources=request.resources
    )
    message = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: "
        f"{request.action} because {why}"
    )
    return denied_response(api, message)


def install() -> None:
    core.CONFIG.setdefault("iam", {"enforce": True})
    core.request_hook(_hook)
