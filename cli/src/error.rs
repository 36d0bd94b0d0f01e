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
    /// or, for a failure before any response (timeout, connection), the SDK's description.
    pub fn aws<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let (code, message) = match &error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                (
                    inner.code().unwrap_or("Unknown").to_string(),
                    inner
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(inner).to_string()),
                )
            }
            SdkError::TimeoutError(_) => (
                "Timeout".to_string(),
                DisplayErrorContext(&error).to_string(),
            ),
            SdkError::DispatchFailure(_) => (
                "DispatchFailure".to_string(),
                DisplayErrorContext(&error).to_string(),
            ),
            _ => (
                error.code().unwrap_or("Unknown").to_string(),
                DisplayErrorContext(&error).to_string(),
            ),
        };
        Self::Aws {
            operation,
            code,
            message,
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
