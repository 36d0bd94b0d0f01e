"""The roles AWS services assume to act for the stack: a state machine's role invoking its Lambda
functions, an EventBridge rule target's role starting an execution, an EventBridge Scheduler
target's role invoking a function. moto assumes nothing and checks nothing; on AWS each call is
made with the role's credentials, so the role must trust the service and allow the call.

* Trust: a service can act with a role only when the role's trust policy allows that service
  principal ``sts:AssumeRole`` ("Creating a role to delegate permissions to an AWS service", IAM
  User Guide; "Step Functions ... assumes the IAM role" of the state machine, Step Functions
  Developer Guide, "How Step Functions works with IAM"; "Using IAM roles to send events to
  targets" (EventBridge: "EventBridge needs permission ... an IAM role" for a Step Functions
  target); "Set up the execution role" (EventBridge Scheduler)). The trust policy's conditions are
  evaluated with ``aws:SourceArn`` (the rule, the schedule, the state machine) and
  ``aws:SourceAccount``, the keys AWS documents for the confused-deputy guard ("Cross-service
  confused deputy prevention").
* Permission: the role's identity policies, and its permissions boundary, must allow the call, as
  for a function's own calls (world.emulator.iam): ``lambda:InvokeFunction`` on the function's ARN
  (qualified when a qualifier is given: "a policy on the unqualified ARN does not cover a
  qualified one" reads the harsher way), ``states:StartExecution`` on the state machine's ARN.

What a refusal does:

* A state machine's ``lambda:invoke`` Task fails with ``Lambda.AccessDeniedException`` (Step
  Functions names a Lambda API error ``Lambda.<error code>``; AWS does not list this one, and the
  world's state machines retry nothing under that name: the drain fails at once, visibly).
* EventBridge does not retry "errors that result from missing permissions to a target"
  ("Using dead-letter queues to process undelivered events"): the event is dropped.
* EventBridge Scheduler: AWS does not say whether it retries a permission error; the world takes
  the harsher reading, EventBridge's: not retried, dropped.

Every refusal is recorded as an ``iam.access_denied`` event with the service, its role and the
action. Config ``iam.enforce`` (world.emulator.iam) turns these checks off with the rest.
"""

from __future__ import annotations

import uuid
from typing import Any

from world.emulator import core, iam
from world.emulator.iam_requests import ACCOUNT, Request

STATES = "states.amazonaws.com"
EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"


class AccessDenied(Exception):
    """A service was refused a call it makes with a role; ``code`` for the callers that read it."""

    code = "AccessDeniedException"


def _enforced() -> bool:
    return bool((core.CONFIG.get("iam") or {}).get("enforce", True))


def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    name = role_arn.rsplit("/", 1)[-1]
    return next((r for r in iam_backends[ACCOUNT]["aws"].roles.values() if r.name == name), None)


def _principals(statement: dict[str, Any], kind: str) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return iam._patterns((principal or {}).get(kind)) if isinstance(principal, dict) else []


def _trust_applies(statement: dict[str, Any], service: str, region: str, context: dict[str, list[str]]) -> bool:
    names = {service, service.replace(".amazonaws.com", f".{region}.amazonaws.com")}
    if not iam._matches(iam._patterns(statement.get("Action")), "sts:AssumeRole"):
        return False
    if not any(p == "*" or p in names for p in _principals(statement, "Service")):
        return False
    held = iam._conditions_hold(statement, context)
    return held if held is not None else statement.get("Effect") == "Deny"


def trusts(role: Any, service: str, region: str, source_arn: str) -> bool:
    """Whether ``role``'s trust policy lets ``service`` assume it for ``source_arn``."""
    context = {"aws:sourcearn": [source_arn], "aws:sourceaccount": [ACCOUNT]}
    statements = iam._statements(role.assume_role_policy_document or "{}")
    if any(s.get("Effect") == "Deny" and _trust_applies(s, service, region, context) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _trust_applies(s, service, region, context) for s in statements)


def refusal(role_arn: str | None, service: str, source_arn: str, action: str, resource: str) -> str | None:
    """Why ``service``, acting for ``source_arn`` with ``role_arn``, may not do ``action`` on
    ``resource``; ``None`` when it may (or when the world's IAM is off)."""
    if not _enforced():
        return None
    region = source_arn.split(":")[3]
    why = None
    if not role_arn:
        why = f"{service} has no role to act with"
    elif (role := _role(role_arn)) is None:
        why = f"the role {role_arn} does not exist"
    elif not trusts(role, service, region, source_arn):
        why = f"the role {role_arn} does not trust {service} to assume it for {source_arn}"
    else:
        context = {
            "aws:principalarn": [role_arn],
            "aws:principalaccount": [ACCOUNT],
            "aws:requestedregion": [region],
            "aws:securetransport": ["true"],
            "aws:viaawsservice": ["false"],
        }
        ok, reason = iam.allowed(role_arn, Request(action, [resource], context))
        why = None if ok else reason
    if why is None:
        return None
    core.record(
        "iam.access_denied", service=service, source=source_arn, role=role_arn, action=action, resources=[resource]
    )
    session = (role_arn or "").rsplit("/", 1)[-1]
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{session}/{service.split('.')[0]} is not authorized to "
        f"perform: {action} on resource: {resource} because {why}"
    )


def function_arn(name: str, qualifier: str | None, region: str) -> str:
    """The ARN a ``lambda:InvokeFunction`` is authorized against: ``name`` (a name, a partial or a
    full ARN, possibly qualified) made whole, with ``qualifier`` appended when given."""
    if name.startswith("arn:"):
        arn = name
    elif name.startswith(f"{ACCOUNT}:function:"):
        arn = f"arn:aws:lambda:{region}:{name}"
    else:
        arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn


# --------------------------------------------------------------------------- Step Functions


def _machine_arn(env: Any) -> str:
    data = env.states.context_object.context_object_data
    return str(data["StateMachine"]["Id"])


def _invoke_as_the_state_machine(original: Any) -> Any:
    def invoke(env: Any, parameters: dict, region: str, state_credentials: Any) -> None:
        if not env.is_mocked_mode():
            resource = function_arn(str(parameters.get("FunctionName", "")), parameters.get("Qualifier"), region)
            message = refusal(state_credentials.role_arn, STATES, _machine_arn(env), "lambda:InvokeFunction", resource)
            if message is not None:
                from botocore.exceptions import ClientError

                error = {"Code": "AccessDeniedException", "Message": message}
                meta = {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())}
                raise ClientError({"Error": error, "ResponseMetadata": meta}, "Invoke")
        original(env=env, parameters=parameters, region=region, state_credentials=state_credentials)

    return invoke


def install() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.execute_lambda_function_integration
    lambda_eval_utils.execute_lambda_function_integration = _invoke_as_the_state_machine(original)
