"""A service acts with the role it is given, and only as far as that role trusts it and allows the
call (world.emulator.service_roles): a state machine invoking its functions, an EventBridge rule
starting an execution, an EventBridge Scheduler schedule invoking a function."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import aws_setup as aws
import pytest
from botocore.exceptions import ClientError
from world.emulator.service_roles import function_arn, trusts

BIN = Path(__file__).resolve().parents[2] / "target" / "debug" / "drain-ecs"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _binaries_built():
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build it first with `cargo build --bins -p drain-ecs` (make test-world does)")


def _invoking_machine(world, role: str, function: str) -> str:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    task["Parameters"] = {"FunctionName": function, "Payload": {"event.$": "$"}}
    definition = json.dumps({"StartAt": "Drain", "States": {"Drain": task}})
    return world.client("stepfunctions").create_state_machine(name="m", definition=definition, roleArn=role)[
        "stateMachineArn"
    ]


def _ended(world, machine: str) -> dict:
    sfn = world.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.2)
    return desc


def _invocations(world) -> int:
    return sum(box["invocations"] for box in world.control("GET", "/_world/lambdas")["sandboxes"])


def test_a_state_machine_role_without_invoke_on_the_function_fails_the_task_unrun(world):
    arn = aws.function(world)
    other = arn.replace(":function:drain-ecs", ":function:another")
    allow = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": other}]
    role = aws.service_role(world, "states", name="narrow", allow=allow)
    desc = _ended(world, _invoking_machine(world, role, arn))
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Lambda.AWSLambdaException"  # Lambda's SDK has no class for a denial
    assert "Error Code: AccessDeniedException" in desc["cause"]
    assert "not authorized to perform: lambda:InvokeFunction on resource: " + arn in desc["cause"]
    assert "no identity-based policy allows" in desc["cause"]
    assert _invocations(world) == 0
    [denied] = world.events("iam.access_denied")
    assert denied["service"] == "states.amazonaws.com" and denied["role"] == role
    assert denied["action"] == "lambda:InvokeFunction" and denied["resources"] == [arn]


def test_a_state_machine_role_that_no_longer_trusts_step_functions_fails_the_task(world):
    arn = aws.function(world)
    role = aws.service_role(world, "states", name="changed")  # allowed everything
    machine = _invoking_machine(world, role, arn)
    # its trust changed after the state machine was created (then it was checked)
    allow = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [allow]}
    world.client("iam").update_assume_role_policy(RoleName="changed", PolicyDocument=json.dumps(trust))
    desc = _ended(world, machine)
    assert desc["status"] == "FAILED" and desc["error"] == "Lambda.AWSLambdaException"
    assert "does not trust states.amazonaws.com" in desc["cause"]
    assert _invocations(world) == 0


def test_a_state_machine_whose_role_step_functions_may_not_assume_is_not_created(world):
    sfn = world.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    for role in (aws.service_role(world, "events", name="events-only"), f"arn:aws:iam::{ACCOUNT}:role/missing"):
        with pytest.raises(ClientError, match="nor the regional one is authorized to assume") as refused:
            sfn.create_state_machine(name="m", definition=definition, roleArn=role)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sfn.list_state_machines()["stateMachines"] == []
    machine = sfn.create_state_machine(name="m", definition=definition, roleArn=aws.service_role(world, "states"))
    with pytest.raises(ClientError, match="AccessDeniedException"):
        sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], roleArn=f"arn:aws:iam::{ACCOUNT}:role/x")


def test_a_grant_on_the_function_lets_the_state_machine_invoke_it(world):
    arn = aws.function(world)
    allow = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn}]
    role = aws.service_role(world, "states", name="exact", allow=allow)
    desc = _ended(world, _invoking_machine(world, role, arn))
    assert desc["error"] == "InvalidEvent"  # the function ran, and refused the empty event
    assert _invocations(world) == 1 and world.events("iam.access_denied") == []


def test_an_unqualified_grant_does_not_cover_a_qualified_invocation():
    unqualified = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:f"
    assert function_arn(unqualified, "live", "us-west-2") == unqualified + ":live"
    assert function_arn("f", None, "us-west-2") == unqualified
    assert function_arn(f"{ACCOUNT}:function:f", None, "us-west-2") == unqualified
    assert function_arn(unqualified + ":3", "3", "us-west-2") == unqualified + ":3"


def _role_trusting(service: str, condition: dict | None = None):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return SimpleNamespace(assume_role_policy_document=json.dumps({"Statement": [statement]}))


def test_trust_policies_are_read_with_the_source_keys():
    source = f"arn:aws:scheduler:us-west-2:{ACCOUNT}:schedule-group/default"
    assert trusts(_role_trusting("scheduler.amazonaws.com"), "scheduler.amazonaws.com", "us-west-2", source)
    assert not trusts(_role_trusting("events.amazonaws.com"), "scheduler.amazonaws.com", "us-west-2", source)
    # Step Functions is documented to accept its regional principal; the others are not
    machine = f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:m"
    assert trusts(_role_trusting("states.us-west-2.amazonaws.com"), "states.amazonaws.com", "us-west-2", machine)
    regional = _role_trusting("scheduler.us-west-2.amazonaws.com")
    assert not trusts(regional, "scheduler.amazonaws.com", "us-west-2", source)
    ours = _role_trusting("scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    assert trusts(ours, "scheduler.amazonaws.com", "us-west-2", source)
    theirs = _role_trusting("scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "999999999999"}})
    assert not trusts(theirs, "scheduler.amazonaws.com", "us-west-2", source)
    group = _role_trusting("scheduler.amazonaws.com", {"ArnLike": {"aws:SourceArn": source}})
    assert trusts(group, "scheduler.amazonaws.com", "us-west-2", source)
    # a trust scoped to one schedule does not hold: Scheduler's source is the schedule group
    one = _role_trusting("scheduler.amazonaws.com", {"ArnLike": {"aws:SourceArn": source.replace("-group", "") + "/s"}})
    assert not trusts(one, "scheduler.amazonaws.com", "us-west-2", source)


def test_an_eventbridge_target_role_without_start_execution_drops_the_event_unretried(world):
    machine = aws.state_machine_rule(world)
    allow = [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine + "-other"}]
    role = aws.service_role(world, "events", name="wrong-machine", allow=allow)
    world.client("events").put_targets(Rule="drain-rule", Targets=[{"Id": "sfn", "Arn": machine, "RoleArn": role}])
    world.client("events").put_events(
        Entries=[{"Source": "aws.autoscaling", "DetailType": aws.LIFECYCLE_PATTERN["detail-type"][0], "Detail": "{}"}]
    )
    [failed] = world.events("eventbridge.failed")
    assert failed["error"].startswith("AccessDenied") and failed["retry_in"] is None
    assert "states:StartExecution" in failed["error"]
    [dropped] = world.events("eventbridge.dropped")
    assert dropped["reason"].startswith("not retried")
    assert world.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []


def test_a_schedule_role_without_invoke_drops_the_invocation_unretried(world):
    world.configure(timescale=0.01, scheduler={"fire": ["sweep"]})
    arn = aws.function(world)
    allow = [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
    role = aws.service_role(world, "scheduler", name="no-invoke", allow=allow)
    world.client("scheduler").create_schedule(
        Name="sweep",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": role, "Input": "{}"},
    )
    [dropped] = world.wait_for(lambda: world.events("scheduler.dropped"), timeout=30, what="the drop")
    assert dropped["attempts"] == 1 and "lambda:InvokeFunction" in dropped["reason"]
    assert world.events("scheduler.invoked") == [] and _invocations(world) == 0
    world.configure(scheduler={"fire": []})
    # the harness's firing (world.stack.run_schedule) is held to the same role
    answer = world.control("POST", "/_world/scheduler/run", {"name": "sweep"})
    assert "lambda:InvokeFunction" in answer["refused"] and _invocations(world) == 0


def test_the_harness_fires_a_schedule_with_its_role(world):
    arn = aws.function(world)
    world.client("scheduler").create_schedule(
        Name="once",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": aws.service_role(world, "scheduler"), "Input": json.dumps({"event": {}})},
    )
    answer = world.control("POST", "/_world/scheduler/run", {"name": "once"})
    assert answer["error"] == "InvalidEvent" and answer["body"]["errorType"] == "InvalidEvent"
    assert _invocations(world) == 1


def _queue(world, name: str, policy: dict | None = None) -> tuple[str, str]:
    sqs = world.client("sqs")
    attributes = {"Policy": json.dumps(policy)} if policy else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _messages(world, url: str) -> list[dict]:
    sqs = world.client("sqs")
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def _undeliverable_rule(world, queue_arn: str) -> str:
    """The drain rule, its target a deleted state machine (not retried), dead-lettering to ``queue_arn``."""
    machine = aws.state_machine_rule(world)
    target = {"Id": "sfn", "Arn": machine, "RoleArn": aws.service_role(world, "events")}
    target["DeadLetterConfig"] = {"Arn": queue_arn}
    world.client("events").put_targets(Rule="drain-rule", Targets=[target])
    world.client("stepfunctions").delete_state_machine(stateMachineArn=machine)
    return machine


def _put_lifecycle_event(world) -> None:
    detail_type = aws.LIFECYCLE_PATTERN["detail-type"][0]
    entry = {"Source": "aws.autoscaling", "DetailType": detail_type, "Detail": json.dumps({"EC2InstanceId": "i-1"})}
    world.client("events").put_events(Entries=[entry])


def _queue_for_rule(world, rule: str) -> tuple[str, str]:
    """A queue whose policy lets EventBridge send for ``rule`` (as infra's dead-letter queue does)."""
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": "*",
        "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
    }
    return _queue(world, "dlq", {"Version": "2012-10-17", "Statement": [allow]})


def test_an_undelivered_event_goes_to_a_dead_letter_queue_whose_policy_lets_the_rule_send(world):
    rule = f"arn:aws:events:us-west-2:{ACCOUNT}:rule/drain-rule"
    url, arn = _queue_for_rule(world, rule)
    machine = _undeliverable_rule(world, arn)
    _put_lifecycle_event(world)
    [lettered] = world.events("eventbridge.dead_lettered")
    assert lettered["queue"] == arn
    [message] = _messages(world, url)
    assert json.loads(message["Body"])["detail"] == {"EC2InstanceId": "i-1"}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule and attributes["TARGET_ARN"] == machine
    assert "StateMachineDoesNotExist" in attributes["ERROR_CODE"] + attributes["ERROR_MESSAGE"]
    assert world.events("iam.access_denied") == []


def test_a_dead_letter_queue_without_a_policy_for_the_rule_loses_the_event(world):
    url, arn = _queue_for_rule(world, f"arn:aws:events:us-west-2:{ACCOUNT}:rule/another")
    _undeliverable_rule(world, arn)
    _put_lifecycle_event(world)
    [failed] = world.events("eventbridge.dead_letter_failed")
    assert "no statement of the queue's policy allows it" in failed["reason"]
    [denied] = world.events("iam.access_denied")
    assert denied["service"] == "events.amazonaws.com" and denied["role"] is None
    assert denied["action"] == "sqs:SendMessage" and denied["resources"] == [arn]
    assert _messages(world, url) == []


def test_a_schedule_dead_letters_with_its_role(world):
    world.configure(timescale=0.01, scheduler={"fire": ["sweep", "mute"]})
    arn = aws.function(world)
    missing = arn.replace(":function:drain-ecs", ":function:gone")
    url, queue = _queue(world, "dlq")
    retry = {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    for name, allow in (("sweep", ["lambda:InvokeFunction", "sqs:SendMessage"]), ("mute", ["lambda:InvokeFunction"])):
        statements = [{"Effect": "Allow", "Action": allow, "Resource": "*"}]
        role = aws.service_role(world, "scheduler", name=f"{name}-role", allow=statements)
        target = {"Arn": missing, "RoleArn": role, "Input": '{"sweep": true}', "RetryPolicy": retry}
        target["DeadLetterConfig"] = {"Arn": queue}
        world.client("scheduler").create_schedule(
            Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"}, Target=target
        )
    world.wait_for(lambda: world.events("scheduler.dead_letter_failed"), timeout=30, what="the refused letter")
    [lettered] = world.wait_for(lambda: world.events("scheduler.dead_lettered"), timeout=30, what="the letter")
    assert lettered["schedule"] == "sweep"
    [failed] = world.events("scheduler.dead_letter_failed")
    assert failed["schedule"] == "mute" and "sqs:SendMessage" in failed["reason"]
    world.configure(scheduler={"fire": []})
    [message] = _messages(world, url)[:1]
    assert message["Body"] == '{"sweep": true}'
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["X-Amz-Scheduler-Target-Arn"] == missing
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"


def test_a_pending_function_fails_the_task_under_the_sdk_generic_class(world):
    # CodeArtifactUserPendingException has no class in the SDK Step Functions names Lambda's errors
    # after: the harsher reading names it as the generic one, its code kept in the cause.
    arn = aws.function(world)
    world.configure(**{"lambda": {"inactive": ["drain-ecs"], "pending_seconds": 60}})
    role = aws.service_role(world, "states", name="waking")  # allowed everything
    desc = _ended(world, _invoking_machine(world, role, arn))
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Lambda.AWSLambdaException"
    assert "Error Code: CodeArtifactUserPendingException" in desc["cause"]
