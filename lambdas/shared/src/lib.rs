//! What every Lambda of ecs-single-task-autoscaling shares: the drain request and state
//! passed between the steps of the state machine, the stable error names the state
//! machine's `Retry` and `Catch` match, configuration read once from the environment,
//! AWS clients built from one configuration load, and tracing setup.

pub mod activities;
pub mod aws_lambda_errors;
pub mod clients;
pub mod config;
pub mod ecs;
pub mod elb;
pub mod error;
pub mod event;
pub mod hook;
pub mod input;
pub mod metrics;
pub mod read;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wait;

pub use clients::Clients;
pub use error::StepError;

/// Sets up JSON-friendly tracing the way the Lambda runtime expects. Call once in `main`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
