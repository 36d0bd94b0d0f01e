"""CloudFormation resource types the stack uses and moto's CloudFormation does not model.

moto 5.2 skips these with a warning ("not supported by moto's CloudFormation
implementation"), so a stack "created" without them would drain with no hook, no
schedules and no alarms. Each is created, as CloudFormation does, through the same
service backend the API serves (the world's own hook model for lifecycle hooks), and
deleted with the stack. The properties and the physical ids are those of the
CloudFormation User Guide's page of each type:

* ``AWS::AutoScaling::LifecycleHook``: the group must exist ("Group ... not found"
  fails the stack, as the API does); Ref returns the hook's name.
* ``AWS::Scheduler::Schedule``: in the group ``GroupName`` (default ``default``);
  Ref returns the name, ``Arn`` the schedule's ARN.
* ``AWS::CloudWatch::Alarm``: Ref returns the alarm's name, ``Arn`` its ARN.
* ``AWS::Lambda::EventInvokeConfig``: the function's asynchronous invocation
  settings (maximum event age and retry attempts).
* ``AWS::SNS::TopicPolicy`` / ``AWS::SQS::QueuePolicy``: the ``Policy`` attribute of
  each topic (ARN) / queue (URL) listed.
* ``AWS::SNS::Subscription``: Ref returns the subscription's ARN.

A resource that fails fails the stack, which rolls back (``_create_or_roll_back``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from moto.autoscaling import models as asg_models
from moto.cloudformation import models as cf_models
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.scheduler.models import scheduler_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from world.emulator import autoscaling_hooks


class _Resource:
    """A created resource: its physical id and what its delete needs. (moto lists the models
    that subclass CloudFormationModel directly: each type below names it.)"""

    TYPE = ""  # the CloudFormation type
    NAME = ""  # the property that names it, if any

    def __init__(self, physical_id: str, arn: str | None = None, **keys: Any):
        self.physical_id = physical_id
        self.arn = arn
        self.keys = keys

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Any:
        return cls.create(cloudformation_json["Properties"], resource_name, account_id, region_name)

    @classmethod
    def create(cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str) -> Any:
        raise NotImplementedError(cls.TYPE)

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn" and self.arn:
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)


class LifecycleHookResource(_Resource, CloudFormationModel):
    TYPE = "AWS::AutoScaling::LifecycleHook"
    NAME = "LifecycleHookName"

    @classmethod
    def create(
        cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> LifecycleHookResource:
        backend = asg_models.autoscaling_backends[account_id][region_name]
        group = props["AutoScalingGroupName"]
        name = props.get("LifecycleHookName") or resource_name
        hook = autoscaling_hooks.put_hook(
            backend,
            group,
            name,
            transition=props["LifecycleTransition"],
            timeout=int(props["HeartbeatTimeout"]) if "HeartbeatTimeout" in props else None,
            result=props.get("DefaultResult"),
            metadata=props.get("NotificationMetadata"),
            target=props.get("NotificationTargetARN"),
            role=props.get("RoleARN"),
        )
        return cls(hook.lifecycle_hook_name, group=group)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = asg_models.autoscaling_backends[account_id][region_name]
        if f"{self.keys['group']}_{self.physical_id}" in backend.lifecycle_hooks:
            backend.delete_lifecycle_hook(self.keys["group"], self.physical_id)


class ScheduleResource(_Resource, CloudFormationModel):
    TYPE = "AWS::Scheduler::Schedule"
    NAME = "Name"

    @classmethod
    def create(cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str) -> ScheduleResource:
        name = (props.get("Name") or resource_name)[:64]
        group = props.get("GroupName") or "default"
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=props.get("Description", ""),
            end_date=props.get("EndDate"),
            flexible_time_window=props["FlexibleTimeWindow"],
            group_name=group,
            kms_key_arn=props.get("KmsKeyArn"),
            name=name,
            schedule_expression=props["ScheduleExpression"],
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
            start_date=props.get("StartDate"),
            state=props.get("State", "ENABLED"),
            target=props["Target"],
            action_after_completion=None,
        )
        return cls(name, schedule.arn, group=group)

    def delete(self, account_id: str, region_name: str) -> None:
        scheduler_backends[account_id][region_name].delete_schedule(self.keys["group"], self.physical_id)


class AlarmResource(_Resource, CloudFormationModel):
    TYPE = "AWS::CloudWatch::Alarm"
    NAME = "AlarmName"

    @classmethod
    def create(cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str) -> AlarmResource:
        name = props.get("AlarmName") or resource_name
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])],
            alarm_actions=props.get("AlarmActions", []),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=props.get("ActionsEnabled", True) not in (False, "false"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(name, alarm.alarm_arn)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_id])


class EventInvokeConfigResource(_Resource, CloudFormationModel):
    TYPE = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create(
        cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> EventInvokeConfigResource:
        from moto.awslambda.models import lambda_backends

        config = {
            k: props[k] for k in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts", "DestinationConfig") if k in props
        }
        for k in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts"):
            if k in config:
                config[k] = int(config[k])
        function = props["FunctionName"]
        lambda_backends[account_id][region_name].put_function_event_invoke_config(function, config)
        return cls(f"{function}:{props.get('Qualifier', '$LATEST')}", function=function)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
        from moto.awslambda.models import lambda_backends

        with contextlib.suppress(UnknownFunctionException, UnknownEventConfig):  # gone with its function
            lambda_backends[account_id][region_name].delete_function_event_invoke_config(self.keys["function"])


class TopicPolicyResource(_Resource, CloudFormationModel):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> TopicPolicyResource:
        backend = sns_backends[account_id][region_name]
        for topic in props["Topics"]:
            backend.set_topic_attribute(topic, "policy", json.dumps(props["PolicyDocument"]))  # the API's "Policy"
        return cls(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """The topics' policies go back to their default when the topics stay (CloudFormation)."""


class QueuePolicyResource(_Resource, CloudFormationModel):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(
        cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> QueuePolicyResource:
        backend = sqs_backends[account_id][region_name]
        for url in props["Queues"]:
            backend.set_queue_attributes(
                url.rstrip("/").rsplit("/", 1)[-1], {"Policy": json.dumps(props["PolicyDocument"])}
            )
        return cls(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """The queues' policies are removed with the queues the stack deletes next."""


class SubscriptionResource(_Resource, CloudFormationModel):
    TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, props: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> SubscriptionResource:
        subscription = sns_backends[account_id][region_name].subscribe(
            props["TopicArn"], props["Endpoint"], props["Protocol"]
        )
        return cls(subscription.arn)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sns_backends[account_id][region_name]
        if self.physical_id in backend.subscriptions:
            backend.unsubscribe(self.physical_id)


_create_resources = cf_models.Stack.create_resources


def _create_or_roll_back(self: Any) -> None:
    """A resource that fails to create fails the stack, which rolls back: CreateStack has
    answered, the stack goes CREATE_FAILED, its created resources are deleted and it ends
    ROLLBACK_COMPLETE (User Guide, "Stack failure options": by default "Roll back all stack
    resources"). moto instead answers CreateStack with the resource's error."""
    try:
        _create_resources(self)
    except Exception as err:  # any resource's failure, as CloudFormation reports it
        self._add_stack_event("CREATE_FAILED", resource_status_reason=f"{type(err).__name__}: {err}")
        self._add_stack_event(
            "ROLLBACK_IN_PROGRESS", resource_status_reason="The following resource(s) failed to create."
        )
        with contextlib.suppress(Exception):  # what was created is deleted as far as it can be
            self.resource_map.delete()
        self._add_stack_event("ROLLBACK_COMPLETE")
        self.status = "ROLLBACK_COMPLETE"


def install() -> None:
    cf_models.Stack.create_resources = _create_or_roll_back
    # moto lists the CloudFormation models once (cached): list them again with the ones above
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
