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

    /// Keeps the service's error code (`ThrottlingException`, `ExecutionDoesNotExist`, ...)
    /// and message; a failure before any response (timeout, connection) or an answer without
    /// a message is described by the SDK's [`DisplayErrorContext`] (the error and its causes).
    pub fn aws<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = match (&error, error.code()) {
            (_, Some(code)) => code,
            (SdkError::TimeoutError(_), None) => "Timeout",
            (SdkError::DispatchFailure(_), None) => "DispatchFailure",
            _ => "Unknown",
        };
        Self::Aws {
            operation,
            code: code.to_string(),
            message: error
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&error).to_string()),
        }
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

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::operation::list_executions::ListExecutionsError;
    use aws_sdk_sfn::types::error::StateMachineDoesNotExist;
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
    fn reported(operation: &'static str, error: ListError, code: &str) -> String {
        let error = CliError::aws(operation, error);
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
        let timeout: ListError = SdkError::timeout_error("read timed out after 3.1s");
        let text = reported("GetExecutionHistory", timeout, "Timeout");
        assert!(text.contains("read timed out after 3.1s"), "{text}");

        let refused: ListError = SdkError::dispatch_failure(ConnectorError::io(
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused").into(),
        ));
        let text = reported("DescribeExecution", refused, "DispatchFailure");
        assert!(text.contains("connection refused"), "{text}");
    }

    #[test]
    fn input_errors_exit_with_two() {
        let error = CliError::input("--stack: the stack name is empty");
        assert_eq!((error.exit_code(), error.code()), (2, None));
        assert_eq!(error.to_string(), "--stack: the stack name is empty");
    }
}
