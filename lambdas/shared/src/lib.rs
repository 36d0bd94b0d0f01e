//! What every Lambda of ecs-single-task-autoscaling shares: the drain request and state
//! passed between the steps of the state machine, the stable error names the state
//! machine's `Retry` and `Catch` match, configuration read once from the environment,
//! AWS clients built from one configuration load, and tracing setup.

pub mod activities;
pub mod aws_lambda_errors;
pub mod batches;
pub mod clients;
pub mod config;
pub mod ecs;
pub mod ecs_drain;
pub mod ecs_status;
pub mod elb;
pub mod elbv2;
pub mod ended;
pub mod error;
pub mod event;
pub mod group;
pub mod hook;
pub mod instance_state;
pub mod left_to_ecs;
pub mod metrics;
pub mod own_container_instance;
pub mod own_targets;
pub mod pool_return;
pub mod read;
pub mod state;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wait;
pub mod warm_pool;

pub use clients::Clients;
pub use error::StepError;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

/// Sets up JSON-friendly tracing the way the Lambda runtime expects. Call once in `main`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Runs a Lambda's `handler` until the runtime stops, every invocation borrowing the same
/// `deps` (clients and configuration, built once per execution environment). Deps that
/// could not be built (a misconfigured environment) answer every invocation with their
/// error: its stable name (`Misconfigured`, naming the variable) reaches the state
/// machine, where a process exiting at its cold start would be a `Runtime.ExitError`,
/// retried as if it could pass.
pub async fn serve<D, O>(
    deps: Result<D, StepError>,
    handler: impl AsyncFn(&D, LambdaEvent<Value>) -> Result<O, StepError>,
) -> Result<(), lambda_runtime::Error>
where
    O: Serialize,
{
    if let Err(error) = &deps {
        tracing::error!(error = %error, "the function's configuration is wrong: every invocation fails with it");
    }
    let (deps, handler) = (&deps, &handler);
    // Boxed, the runtime's future and each invocation's: together they nest SDK futures
    // deeper than the compiler lays out in one piece.
    Box::pin(lambda_runtime::run(lambda_runtime::service_fn(
        move |event| {
            Box::pin(async move {
                match deps {
                    Ok(deps) => handler(deps, event).await,
                    Err(error) => Err(error.clone()),
                }
            })
        },
    )))
    .await
}
