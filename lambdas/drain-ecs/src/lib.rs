//! The first drain step. Validates the raw event once into the shared
//! [`DrainRequest`](sta_shared::state::DrainRequest), finds the EC2 instance's ECS
//! container instance, sets it DRAINING (already DRAINING is fine) and records the tasks
//! on it, so that later steps can wait for exactly those tasks to stop.
//!
//! Before anything else it heartbeats the lifecycle action (the hook's timer has run since
//! the instance entered `Terminating:Wait`, however late the event arrived). When AWS has
//! no active action any more (a late or repeated event, an action completed by someone
//! else, an instance already gone), the state says `action_ended` and the execution ends
//! there, having changed nothing; unless the group retains the instance (an instance
//! lifecycle policy keeps it running after an abandoned action, a FAILED drain's
//! included): a redrive then drains it before anyone terminates it.
//!
//! An instance that is not registered in the cluster is not an error: there is nothing
//! to drain in ECS, and the load balancers are still drained by the next step. For a
//! Spot interruption warning (which names no cluster, so the rule matches every Spot
//! instance of the Region) such an instance is not ours: the state says `not_in_cluster`
//! and the execution ends there.

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::config::DrainConfig;
use sta_shared::ecs_drain::{drain_container_instance, Membership};
use sta_shared::ended::first_step_stops;
use sta_shared::event::DrainInput;
use sta_shared::hook::heartbeat;
use sta_shared::state::{DrainState, DrainStatus, Trigger};
use sta_shared::Clients;
use sta_shared::StepError;
use tracing::instrument;

#[derive(Debug, Clone)]
pub struct Deps {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub config: DrainConfig,
}

impl Deps {
    /// The clients and the configuration, from the function's environment (once, at cold start).
    pub async fn from_env() -> Result<Self, StepError> {
        let config = DrainConfig::from_env()?;
        let Clients {
            ecs, autoscaling, ..
        } = Clients::from_env().await;
        Ok(Self {
            ecs,
            autoscaling,
            config,
        })
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let input = DrainInput::parse(&event.payload, &deps.config)?;
    drain(deps, input, Utc::now()).await
}

#[instrument(skip(deps, input), fields(instance = %input.request.instance_id, cluster = %input.request.cluster))]
pub async fn drain(
    deps: &Deps,
    input: DrainInput,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    let mut state = DrainState::new(input.request, input.settings, input.notes);
    // The hook's heartbeat timer has run since the instance entered `Terminating:Wait`,
    // however late we heard of it: heartbeat at once. This also tells whether the action
    // is still waiting for us; reading the hook caps the deadline at its global timeout.
    heartbeat(&deps.autoscaling, &mut state, now, true).await?;
    if first_step_stops(&deps.autoscaling, &mut state).await? {
        return Ok(state);
    }
    let membership = drain_container_instance(&deps.ecs, &mut state, now).await?;
    if membership != Membership::Draining {
        tracing::info!(
            ?membership,
            "nothing to drain in ECS yet: the checks look for the instance again"
        );
    }
    // One registered and not ACTIVE yet takes tasks once ACTIVE, before the interruption.
    if membership == Membership::NotInCluster && state.request.trigger == Trigger::SpotInterruption
    {
        tracing::info!("Spot interruption warning for an instance outside the cluster: ignored");
        state.status = DrainStatus::NotInCluster;
    }
    Ok(state)
}

#[cfg(test)]
mod tests;
