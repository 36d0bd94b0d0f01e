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
  evaluated with ``aws:SourceArn`` and ``aws:SourceAccount``, the keys AWS documents for the
  confused-deputy guard: the state machine ("Creating an IAM role for your state machine"), the
  rule ("Using IAM policy conditions in Amazon EventBridge"), the schedule group, never the
  schedule ("Confused deputy prevention in EventBridge Scheduler": "must be your EventBridge
  Scheduler schedule group ARN"). Step Functions is documented to accept its regional principal
  (``states.<region>.amazonaws.com``) too; the others only their global one here.
* Permission: the role's identity policies, and its permissions boundary, must allow the call, as
  for a function's own calls (world.emulator.iam): ``lambda:InvokeFunction`` on the function's ARN,
  qualified when a qualifier is given (a function, its versions and its aliases are separate
  resources: "Fine-tuning the Resources and Conditions sections of policies", Lambda Developer
  Guide), ``states:StartExecution`` on the state machine's ARN. The role is found by its whole
  ARN (account and path). A policy change applies at once here; AWS documents a propagation delay.
  A Task's own ``Credentials`` role is not modelled (the stack's state machine has none).

What a refusal does:

* A state machine's ``lambda:invoke`` Task fails with ``Lambda.AWSLambdaException``, its cause
  ending ``Status Code: 403; Error Code: AccessDeniedException``. AWS does not document the name;
  Step Functions names Lambda's errors after its SDK's exception classes ("Handle Lambda service
  exceptions" lists ``Lambda.AWSLambdaException``), and Lambda has no class of its own for a
  denial, so it comes as the generic one, as real executions show. A state machine that retries
  ``Lambda.AWSLambdaException`` (as that page advises) retries a denial until its attempts run out.
  A role that does not trust Step Functions fails the same way here (AWS checks the trust when the
  state machine is created and does not document what a later change does at run time).
* EventBridge does not retry "errors that result from missing permissions to a target"
  ("Using dead-letter queues to process undelivered events"): the event is dropped.
* EventBridge Scheduler: AWS does not say whether it retries a permission error; the world takes
  the harsher reading, EventBridge's: not retried, dropped.

Step Functions also checks the trust when a state machine is created or its role changed
(CreateStateMachine, UpdateStateMachine): a role that does not exist or does not let it assume
the role is refused with ``AccessDeniedException`` ("Neither the global service principal
states.amazonaws.com, nor the regional one is authorized to assume the provided role."), so a
stack whose state machine role is wrong fails to deploy, as on AWS.

Dead-letter queues: an event EventBridge drops after its retries, as too old, or unretried, goes
to the target's ``DeadLetterConfig`` queue ("Using dead-letter queues to process undelivered
events": "EventBridge sends these events directly to the target DLQ"); EventBridge sends it as its
service principal, so the queue's policy must allow ``events.amazonaws.com`` ``sqs:SendMessage``
with the rule as ``aws:SourceArn`` ("Granting permissions to the dead-letter queue"). An invocation
Scheduler gives up on goes to the schedule's dead-letter queue, sent with the schedule's execution
role, which must allow ``sqs:SendMessage`` ("Configuring a schedule's dead-letter queue": "Set up
execution role permissions"). In both an explicit Deny of the queue's policy wins, and a statement
naming ``{"AWS": "*"}`` is read as naming every principal, services too (the harsher reading). A
queue that refuses, or is gone, loses the event. The message: the event (EventBridge) or the
target's input (Scheduler) as its body, what failed in its attributes (``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION``,
``RETRY_ATTEMPTS``; Scheduler's as the world reads them), which nothing here reads.

Every refusal is recorded as an ``iam.access_denied`` event with the service, its role (none for a
queue policy's refusal of a service principal), the action and why. Config ``iam.enforce``
(world.emulator.iam) turns these checks off with the rest.
"""

from __future__ import annotations

import uuid
from typing import Any

from world.emulator import core, iam
from world.emulator.iam_requests import ACCOUNT, Request

STATES = "states.amazonaws.com"
EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
SDK_EXCEPTION = "WorldSdkException"  # the SDK exception class an error without a class of its own comes as
# Invoke's error codes that the AWS SDK for Java (v1), whose class names Step Functions gives Lambda's
# errors ("Handle Lambda service exceptions": Lambda.AWSLambdaException, Lambda.SdkClientException,
# Lambda.ClientExecutionTimeoutException are its classes), has no class for: its Lambda model holds
# ResourceNotReadyException, RecursiveInvocationException and the other VPC set-up errors, but
# neither of these. AWS does not document the names Step Functions gives them; the world takes the
# harsher reading: the generic class, the code kept in the cause.
WITHOUT_SDK_CLASS = frozenset({"CodeArtifactUserPendingException", "ENINotReadyException"})


class AccessDenied(Exception):
    """A service was refused a call it makes with a role; ``code`` for the callers that read it."""

    code = "AccessDeniedException"


def _enforced() -> bool:
    return bool((core.CONFIG.get("iam") or {}).get("enforce", True))


def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    return next((r for r in iam_backends[ACCOUNT]["aws"].roles.values() if r.arn == role_arn), None)


def _principals(statement: dict[str, Any], kind: str) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return iam._patterns((principal or {}).get(kind)) if isinstance(principal, dict) else []


def _trust_applies(statement: dict[str, Any], service: str, region: str, context: dict[str, list[str]]) -> bool:
    names = {service, f"states.{region}.amazonaws.com"} if service == STATES else {service}
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
    return _denied(service, source_arn, role_arn, action, resource, why)


def _denied(service: str, source_arn: str, role_arn: str | None, action: str, resource: str, why: str) -> str:
    core.record(
        "iam.access_denied",
        service=service,
        source=source_arn,
        role=role_arn,
        action=action,
        resources=[resource],
        why=why,
    )
    who = (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{service.split('.')[0]}"
        if role_arn
        else service
    )
    return f"User: {who} is not authorized to perform: {action} on resource: {resource} because {why}"


def _names_principal(statement: dict[str, Any], service: str, role_arn: str | None) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    wanted = _principals(statement, "AWS")
    if "*" in wanted:  # every principal, services too: the harsher reading
        return True
    if role_arn and any(p in (role_arn, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root") for p in wanted):
        return True
    return role_arn is None and service in _principals(statement, "Service")


def _queue_decides(queue: Any, service: str, role_arn: str | None, source_arn: str) -> str:
    """What the queue's policy says of ``sqs:SendMessage`` by the service (``role_arn`` None: as its
    own principal) or by ``role_arn``: ``deny``, ``allow`` or ``implicit-deny``."""
    context = {
        "aws:sourcearn": [source_arn],
        "aws:sourceaccount": [ACCOUNT],
        "aws:securetransport": ["true"],
        "aws:principalaccount": [ACCOUNT],
    }
    if role_arn:
        context["aws:principalarn"] = [role_arn]
    statements = [s for s in iam._statements(queue.policy or "{}") if _names_principal(s, service, role_arn)]
    return iam.decide([{"Statement": statements}], Request("sqs:SendMessage", [queue.queue_arn], context))


def dead_letter(
    service: str, source_arn: str, role_arn: str | None, queue_arn: str, body: str, attributes: dict[str, str]
) -> str | None:
    """Send ``body`` to the dead-letter queue ``queue_arn`` as ``service`` does (EventBridge as its
    own principal, ``role_arn`` None; Scheduler with the schedule's role): why it could not, or None."""
    from moto.sqs.models import sqs_backends

    region, account, name = queue_arn.split(":")[3], queue_arn.split(":")[4], queue_arn.split(":")[5]
    queue = sqs_backends[account][region].queues.get(name)
    if queue is None:
        return f"the queue {queue_arn} does not exist"
    if _enforced():
        verdict = _queue_decides(queue, service, role_arn, source_arn)
        if verdict == "deny" or (role_arn is None and verdict != "allow"):
            why = (
                "the queue's policy denies it" if verdict == "deny" else "no statement of the queue's policy allows it"
            )
            return _denied(service, source_arn, role_arn, "sqs:SendMessage", queue_arn, why)
        if role_arn is not None:  # the same account: the role's own policies decide
            refused = refusal(role_arn, service, source_arn, "sqs:SendMessage", queue_arn)
            if refused is not None:
                return refused
    typed = {key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()}
    sqs_backends[account][region].send_message(name, body, message_attributes=typed)
    return None


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

                error = {"Code": "AccessDeniedException", "Message": message, SDK_EXCEPTION: "AWSLambdaException"}
                meta = {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4())}
                raise ClientError({"Error": error, "ResponseMetadata": meta}, "Invoke")
        original(env=env, parameters=parameters, region=region, state_credentials=state_credentials)

    return invoke


def _named_as_the_sdk(original: Any) -> Any:
    """moto names a Lambda API error ``Lambda.<error code>``; one the SDK has no class for is named
    after the class it comes as (``SDK_EXCEPTION``), its code kept in the cause."""

    def name(client_error: Any) -> tuple[str, str]:
        error, cause = original(client_error)
        sdk = client_error.response.get("Error", {}).get(SDK_EXCEPTION)
        if client_error.response.get("Error", {}).get("Code") in WITHOUT_SDK_CLASS:
            sdk = "AWSLambdaException"
        return (f"Lambda.{sdk}", cause) if sdk else (error, cause)

    return staticmethod(name)


def _assumable_by_step_functions(role_arn: str | None, machine_arn: str) -> None:
    """Refuses a state machine role Step Functions may not assume (CreateStateMachine,
    UpdateStateMachine), as AWS does."""
    if not _enforced() or role_arn is None:
        return
    role = _role(role_arn)
    if role is None or not trusts(role, STATES, machine_arn.split(":")[3], machine_arn):
        from moto.core.exceptions import AWSError

        core.record(
            "iam.access_denied",
            service=STATES,
            source=machine_arn,
            role=role_arn,
            action="sts:AssumeRole",
            resources=[role_arn],
            why="the role does not exist or does not trust Step Functions",
        )
        raise AWSError(
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized "
            "to assume the provided role.",
            "AccessDeniedException",
        )


def _checking_the_role_on_create(original: Any) -> Any:
    def create(self: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any) -> Any:
        _assumable_by_step_functions(
            roleArn, f"arn:aws:states:{self.region_name}:{self.account_id}:stateMachine:{name}"
        )
        return original(self, name, definition, roleArn, *args, **kwargs)

    return create


def _checking_the_role_on_update(original: Any) -> Any:
    def update(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        role_arn = kwargs.get("role_arn", args[1] if len(args) > 1 else None)
        _assumable_by_step_functions(role_arn, arn)
        return original(self, arn, *args, **kwargs)

    return update


def install() -> None:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda

    original = lambda_eval_utils.execute_lambda_function_integration
    lambda_eval_utils.execute_lambda_function_integration = _invoke_as_the_state_machine(original)
    task = state_task_service_lambda.StateTaskServiceLambda
    task._error_cause_from_client_error = _named_as_the_sdk(task._error_cause_from_client_error)
    StepFunctionBackend.create_state_machine = _checking_the_role_on_create(StepFunctionBackend.create_state_machine)
    StepFunctionBackend.update_state_machine = _checking_the_role_on_update(StepFunctionBackend.update_state_machine)
