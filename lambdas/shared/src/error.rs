//! Errors with stable names. The name of every error a Lambda returns is one of
//! [`ERROR_NAMES`]; the state machine's `Retry` and `Catch` fields match on them, and a
//! contract test holds the two together.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// Every error name our Lambdas can return to Step Functions.
pub const ERROR_NAMES: [&str; 5] = [
    "InvalidEvent",
    "Misconfigured",
    "ResourceNotFound",
    "Retryable",
    "AwsRequestFailed",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The input is not something this step can identify: a foreign or malformed event,
    /// or a drain state with a missing or mistyped field. Never retried.
    #[error("invalid input: `{field}` {reason}")]
    InvalidEvent { field: String, reason: String },
    /// A setting (function environment, state machine substitution, scaler input) is
    /// missing or wrong.
    #[error("misconfigured: `{field}` {reason}")]
    Misconfigured { field: String, reason: String },
    /// A cluster, service or Auto Scaling group named in the configuration does not exist.
    #[error("{kind} `{name}` not found{detail}")]
    ResourceNotFound {
        kind: &'static str,
        name: String,
        detail: String,
    },
    /// Throttling, a 5xx, a timeout or a connection failure: try again later.
    #[error("{operation} failed transiently: {message}")]
    Retryable { operation: String, message: String },
    /// Any other AWS error (access denied, validation, ...): needs an operator.
    #[error("{operation} failed: {message}")]
    AwsRequestFailed { operation: String, message: String },
}

impl StepError {
    pub fn invalid_event(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidEvent {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn misconfigured(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Misconfigured {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Self::ResourceNotFound {
            kind,
            name: name.into(),
            detail: String::new(),
        }
    }

    /// The stable name Step Functions sees as the error of the Task.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InvalidEvent { .. } => "InvalidEvent",
            Self::Misconfigured { .. } => "Misconfigured",
            Self::ResourceNotFound { .. } => "ResourceNotFound",
            Self::Retryable { .. } => "Retryable",
            Self::AwsRequestFailed { .. } => "AwsRequestFailed",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Self {
        Diagnostic {
            error_type: error.name().to_string(),
            error_message: error.to_string(),
        }
    }
}

/// Error codes AWS services use for throttling and for their own transient failures.
const TRANSIENT_CODES: [&str; 12] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "ServerException",
];

/// The code and message of an SDK error's service response, if there was one.
pub fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

pub fn error_message<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().message(),
        _ => None,
    }
}

/// Maps an SDK error (after the SDK's own retries) to a stable step error: transient
/// failures become `Retryable`, everything else `AwsRequestFailed`. Callers handle the
/// errors that mean something to them (not found, already done) before calling this.
pub fn aws_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = operation.to_string();
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StepError::Retryable {
                operation,
                message: describe(&error),
            }
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let status = service.raw().status().as_u16();
            let server_side = status >= 500 || status == 429;
            let message = format!(
                "{}: {}",
                if code.is_empty() {
                    "UnknownError"
                } else {
                    code
                },
                service.err().message().unwrap_or("no message")
            );
            if TRANSIENT_CODES.contains(&code) || server_side {
                StepError::Retryable { operation, message }
            } else {
                StepError::AwsRequestFailed { operation, message }
            }
        }
        _ => StepError::AwsRequestFailed {
            operation,
            message: describe(&error),
        },
    }
}

/// An ECS error: `ClusterNotFoundException` becomes `ResourceNotFound` naming the
/// cluster, anything else is mapped by [`aws_error`].
pub fn ecs_error<E>(cluster: &str, operation: &str, error: SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if error_code(&error) == Some("ClusterNotFoundException") {
        StepError::not_found("cluster", cluster)
    } else {
        aws_error(operation, error)
    }
}

/// An Auto Scaling call naming a group: a group that no longer exists (deleted, e.g. with
/// `ForceDelete`, which terminates its instances without waiting for their lifecycle
/// actions) is `ResourceNotFound` naming it, so the execution fails at once with a cause
/// that says what vanished, instead of being retried or waiting until the deadline.
pub fn autoscaling_error<E>(
    asg: &str,
    operation: &str,
    error: SdkError<E, HttpResponse>,
) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let group_gone = error_code(&error) == Some("ValidationError")
        && error_message(&error).is_some_and(|message| {
            message.contains("AutoScalingGroup name not found")
                || message.contains("Group not found")
        });
    if group_gone {
        StepError::ResourceNotFound {
            kind: "Auto Scaling group",
            name: asg.to_string(),
            detail: format!(
                " ({operation}): the group was deleted; its instances terminate without waiting for their lifecycle actions"
            ),
        }
    } else {
        aws_error(operation, error)
    }
}

/// The answer to a call on a resource that may have been deleted meanwhile: `None` when AWS
/// answers with one of the error codes `gone` (e.g. `TargetGroupNotFound`), nothing being
/// left to drain there; the call's stable error otherwise.
pub fn unless_gone<T, E>(
    answer: Result<T, SdkError<E, HttpResponse>>,
    gone: &[&str],
    operation: &str,
) -> Result<Option<T>, StepError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Err(error) if error_code(&error).is_some_and(|code| gone.contains(&code)) => Ok(None),
        Err(error) => Err(aws_error(operation, error)),
        Ok(output) => Ok(Some(output)),
    }
}

/// Classic ELB error codes that mean the instance is not (or no longer) registered in
/// the load balancer, or the load balancer is gone: nothing to deregister or wait for.
pub fn classic_elb_not_registered<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> bool {
    matches!(
        error_code(error),
        Some("LoadBalancerNotFound" | "InvalidInstance" | "InvalidEndPoint")
    )
}

/// Auto Scaling's answer when a lifecycle action is not (or no longer) waiting: it was
/// completed, or it expired. Both for completing and for heartbeating.
pub fn is_no_active_lifecycle_action<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> bool {
    error_code(error) == Some("ValidationError")
        && error_message(error)
            .is_some_and(|message| message.contains("No active Lifecycle Action found"))
}

fn describe<E: std::error::Error + 'static>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_listed_name() {
        let all = [
            StepError::invalid_event("detail", "missing"),
            StepError::misconfigured("ECS_CLUSTER", "empty"),
            StepError::not_found("cluster", "c"),
            StepError::Retryable {
                operation: "op".into(),
                message: "m".into(),
            },
            StepError::AwsRequestFailed {
                operation: "op".into(),
                message: "m".into(),
            },
        ];
        let names: Vec<_> = all.iter().map(StepError::name).collect();
        assert_eq!(names, ERROR_NAMES);
    }

    #[test]
    fn diagnostic_carries_the_stable_name_and_the_field() {
        let diagnostic: Diagnostic =
            StepError::invalid_event("detail.LifecycleActionToken", "is missing").into();
        assert_eq!(diagnostic.error_type, "InvalidEvent");
        assert!(diagnostic
            .error_message
            .contains("detail.LifecycleActionToken"));
    }
}
