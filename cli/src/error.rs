//! Errors of the operator commands: bad input (exit code 2) or an AWS call that failed
//! (exit code 1), with the AWS error code kept so callers can tell them apart.

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the environment is wrong: nothing was called.
    #[error("{0}")]
    Input(String),
    /// A command failed for a reason it already put in words.
    #[error("{0}")]
    Failed(String),
    /// An AWS call failed (after the SDK's own retries).
    #[error("{operation}: {code}: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl CliError {
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// The AWS error code, when an AWS call failed.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Aws { code, .. } => Some(code),
            Self::Input(_) | Self::Failed(_) => None,
        }
    }

    /// 2 for wrong input (as clap uses for usage errors), 1 for a failed call.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_) => 2,
            Self::Aws { .. } | Self::Failed(_) => 1,
        }
    }
}

/// A failed SDK call, so that `.send().await?` reports it under its operation's name.
impl<E, R> From<SdkError<E, R>> for CliError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    /// Keeps the service's error code (`ThrottlingException`, `ExecutionDoesNotExist`, ...)
    /// and message; a failure before any response (timeout, connection) or an answer without
    /// a message is described by the SDK's [`DisplayErrorContext`] (the error and its causes).
    /// The operation is named after the SDK's error type (see [`operation_of`]).
    fn from(error: SdkError<E, R>) -> Self {
        let code = match (&error, error.code()) {
            (_, Some(code)) => code,
            (SdkError::TimeoutError(_), None) => "Timeout",
            (SdkError::DispatchFailure(_), None) => "DispatchFailure",
            _ => "Unknown",
        };
        Self::Aws {
            operation: operation_of::<E>(),
            code: code.to_string(),
            message: error
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&error).to_string()),
        }
    }
}

/// The AWS operation whose error `E` is: every SDK operation's error type is
/// `aws_sdk_<service>::operation::<operation>::<Operation>Error`, so `ListTasksError` names
/// `ListTasks` (the tests pin the name of every operation the commands call).
pub(crate) fn operation_of<E>() -> &'static str {
    let path = std::any::type_name::<E>();
    let name = path.rsplit("::").next().unwrap_or(path);
    name.strip_suffix("Error").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsError;
    use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsError;
    use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesError;
    use aws_sdk_autoscaling::operation::describe_launch_configurations::DescribeLaunchConfigurationsError;
    use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksError;
    use aws_sdk_autoscaling::operation::describe_policies::DescribePoliciesError;
    use aws_sdk_autoscaling::operation::describe_warm_pool::DescribeWarmPoolError;
    use aws_sdk_autoscaling::operation::terminate_instance_in_auto_scaling_group::TerminateInstanceInAutoScalingGroupError;
    use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesError;
    use aws_sdk_ec2::operation::describe_launch_template_versions::DescribeLaunchTemplateVersionsError;
    use aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersError;
    use aws_sdk_ecs::operation::describe_clusters::DescribeClustersError;
    use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesError;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksError;
    use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesError;
    use aws_sdk_ecs::operation::list_services::ListServicesError;
    use aws_sdk_ecs::operation::list_tasks::ListTasksError;
    use aws_sdk_elasticloadbalancing::operation::describe_instance_health::DescribeInstanceHealthError;
    use aws_sdk_elasticloadbalancing::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesError;
    use aws_sdk_elasticloadbalancing::operation::describe_load_balancers::DescribeLoadBalancersError as ClassicDescribeLoadBalancersError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError;
    use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError;
    use aws_sdk_eventbridge::operation::list_rule_names_by_target::ListRuleNamesByTargetError;
    use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleError;
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationError;
    use aws_sdk_scheduler::operation::get_schedule::GetScheduleError;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
    use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError;
    use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryError;
    use aws_sdk_sfn::operation::list_executions::ListExecutionsError;
    use aws_sdk_sfn::operation::redrive_execution::RedriveExecutionError;
    use aws_sdk_sfn::operation::start_execution::StartExecutionError;
    use aws_sdk_sfn::types::error::StateMachineDoesNotExist;
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    type ListError = SdkError<ListExecutionsError, HttpResponse>;

    fn response() -> HttpResponse {
        HttpResponse::new(400.try_into().unwrap(), SdkBody::empty())
    }

    /// `error` of `operation` as the commands report it: its code kept and named after the
    /// operation; the text.
    #[track_caller]
    fn reported<E>(operation: &'static str, error: SdkError<E, HttpResponse>, code: &str) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let error = CliError::from(error);
        assert_eq!(error.code(), Some(code));
        assert_eq!(error.exit_code(), 1);
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{operation}: {code}: ")),
            "{text}"
        );
        text
    }

    #[test]
    fn a_service_error_keeps_its_code_and_message() {
        let modeled = StateMachineDoesNotExist::builder()
            .message("State Machine Does Not Exist: 'arn:x'")
            .meta(
                aws_sdk_sfn::error::ErrorMetadata::builder()
                    .code("StateMachineDoesNotExist")
                    .message("State Machine Does Not Exist: 'arn:x'")
                    .build(),
            )
            .build();
        let error: ListError = SdkError::service_error(
            ListExecutionsError::StateMachineDoesNotExist(modeled),
            response(),
        );
        assert_eq!(
            reported("ListExecutions", error, "StateMachineDoesNotExist"),
            "ListExecutions: StateMachineDoesNotExist: State Machine Does Not Exist: 'arn:x'"
        );
    }

    #[test]
    fn a_service_error_without_a_message_is_described() {
        let unhandled = ListExecutionsError::generic(
            aws_sdk_sfn::error::ErrorMetadata::builder()
                .code("InternalFailure")
                .build(),
        );
        let error: ListError = SdkError::service_error(unhandled, response());
        let text = reported("ListExecutions", error, "InternalFailure");
        assert!(text.contains("service error"), "{text}");
    }

    #[test]
    fn failures_before_an_answer_say_what_happened() {
        let timeout: SdkError<GetExecutionHistoryError, HttpResponse> =
            SdkError::timeout_error("read timed out after 3.1s");
        let text = reported("GetExecutionHistory", timeout, "Timeout");
        assert!(text.contains("read timed out after 3.1s"), "{text}");

        let refused: SdkError<DescribeExecutionError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused")
                    .into(),
            ));
        let text = reported("DescribeExecution", refused, "DispatchFailure");
        assert!(text.contains("connection refused"), "{text}");
    }

    /// `E` is the error of `operation`, and named so.
    #[track_caller]
    fn names<E>(operation: &str) {
        assert_eq!(operation_of::<E>(), operation);
    }

    /// Every operation the commands call is named as AWS names it, in each SDK crate they use.
    #[test]
    fn operations_are_named_after_their_error_types() {
        names::<DescribeStateMachineError>("DescribeStateMachine");
        names::<ListExecutionsError>("ListExecutions");
        names::<DescribeExecutionError>("DescribeExecution");
        names::<GetExecutionHistoryError>("GetExecutionHistory");
        names::<RedriveExecutionError>("RedriveExecution");
        names::<StartExecutionError>("StartExecution");
        names::<ListStackResourcesError>("ListStackResources");
        names::<GetScheduleError>("GetSchedule");
        names::<GetFunctionConfigurationError>("GetFunctionConfiguration");
        names::<GetQueueAttributesError>("GetQueueAttributes");
        names::<DescribeRuleError>("DescribeRule");
        names::<ListTargetsByRuleError>("ListTargetsByRule");
        names::<ListRuleNamesByTargetError>("ListRuleNamesByTarget");
        names::<DescribeAutoScalingGroupsError>("DescribeAutoScalingGroups");
        names::<DescribeLifecycleHooksError>("DescribeLifecycleHooks");
        names::<DescribeWarmPoolError>("DescribeWarmPool");
        names::<DescribeLaunchConfigurationsError>("DescribeLaunchConfigurations");
        names::<DescribeAutoScalingInstancesError>("DescribeAutoScalingInstances");
        names::<TerminateInstanceInAutoScalingGroupError>("TerminateInstanceInAutoScalingGroup");
        names::<DescribeLaunchTemplateVersionsError>("DescribeLaunchTemplateVersions");
        names::<DescribeClustersError>("DescribeClusters");
        names::<DescribeCapacityProvidersError>("DescribeCapacityProviders");
        names::<ListContainerInstancesError>("ListContainerInstances");
        names::<DescribeContainerInstancesError>("DescribeContainerInstances");
        names::<ListServicesError>("ListServices");
        names::<DescribeServicesError>("DescribeServices");
        names::<DescribeTaskDefinitionError>("DescribeTaskDefinition");
        names::<ListTasksError>("ListTasks");
        names::<DescribeTasksError>("DescribeTasks");
        names::<ClassicDescribeLoadBalancersError>("DescribeLoadBalancers");
        names::<DescribeLoadBalancerAttributesError>("DescribeLoadBalancerAttributes");
        names::<DescribeInstanceHealthError>("DescribeInstanceHealth");
        names::<DescribeTargetGroupsError>("DescribeTargetGroups");
        names::<DescribeTargetGroupAttributesError>("DescribeTargetGroupAttributes");
        names::<DescribeLoadBalancersError>("DescribeLoadBalancers");
        names::<DescribeTargetHealthError>("DescribeTargetHealth");
        names::<DescribeScalableTargetsError>("DescribeScalableTargets");
        names::<DescribePoliciesError>("DescribePolicies");
    }

    #[test]
    fn input_errors_exit_with_two() {
        let error = CliError::input("--stack: the stack name is empty");
        assert_eq!((error.exit_code(), error.code()), (2, None));
        assert_eq!(error.to_string(), "--stack: the stack name is empty");
    }
}
