//! The second drain step. Heartbeats the lifecycle action when a heartbeat is due, then
//! finds every load balancer the instance is in and deregisters it from those nobody else
//! will take it out of; records each one's drain time and chooses the first wait. When the
//! heartbeat finds the action ended and the instance no longer leaving under it (a redrive
//! after it expired, the instance back from a warm pool and serving), the drain ends there
//! (`action_ended`), deregistering nothing ([`sta_shared::ended`]).
//!
//! Who deregisters what:
//! - A load balancer that an ECS service with a task on the instance uses (the service's
//!   target groups and Classic ELBs) is left to ECS: ECS deregisters the task from it
//!   once its replacement is healthy, and waits out the draining before it stops the task.
//!   Deregistering the instance ourselves would take serving capacity away before the
//!   replacement is healthy (for a one-task service, an outage). This holds also when the
//!   function's configuration names that load balancer: the service's management wins, and
//!   the drain waits for the task to stop. Its drain time and its health check are read to
//!   choose the first wait.
//! - A registration of the instance in the load balancer of a service without a listed task
//!   on it is left to ECS as well, when the instance is in the cluster: ListTasks is
//!   eventually consistent, and a task it missed may be behind the registration. The checks
//!   settle it later ([`sta_shared::left_to_ecs`]), unless its draining could not end
//!   before the deadline or a Spot instance's interruption if it waited: then it is
//!   deregistered here at once.
//! - Every other load balancer the instance is in is deregistered here, and the drain
//!   waits for its draining: the names configured on the function (`CLASSIC_ELB_NAMES`,
//!   `TARGET_GROUP_ARNS`), the ones attached to the instance's Auto Scaling group (on a
//!   scale-in Auto Scaling deregisters and drains those before `Terminating:Wait`, and doing
//!   it again is harmless; on a Spot warning it does not, and the drain must), and
//!   registrations in a service's load balancers on an instance outside the cluster.
//!
//! In a target group the instance is deregistered on every port it is registered on
//! (bridge networking gives each task its own host port). Instance targets only: tasks in
//! `awsvpc` mode register IP targets, which do not live on the instance's address.

mod attached;
mod balancers;
mod candidates;
mod earlier;

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::config::DrainConfig;
use sta_shared::ended::no_longer_ours;
use sta_shared::hook::heartbeat;
use sta_shared::left_to_ecs::must_take_over_at;
use sta_shared::state::{seconds, DrainState, LoadBalancers, ServiceBalancer, TargetGroup};
use sta_shared::Clients;
use sta_shared::StepError;
use tracing::instrument;

pub use attached::AttachedCache;
use balancers::{deregister_classic_elb, deregister_target_group, read_service_balancer};
use candidates::{candidates, Balancer, Candidates};

#[derive(Debug, Clone)]
pub struct Deps {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub config: DrainConfig,
    /// The groups' attached load balancers read by this execution environment.
    pub attached: AttachedCache,
}

impl Deps {
    /// The clients and the configuration, from the function's environment (once, at cold start).
    pub async fn from_env() -> Result<Self, StepError> {
        let config = DrainConfig::from_env()?;
        let Clients {
            ecs,
            autoscaling,
            elb,
            elbv2,
        } = Clients::from_env().await;
        Ok(Self {
            autoscaling,
            ecs,
            elb,
            elbv2,
            config,
            attached: AttachedCache::default(),
        })
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let state = DrainState::from_value(event.payload)?;
    let started = Utc::now();
    let state = deregister(deps, state, started).await?;
    Ok(sta_shared::wait::waits_from_return(
        state,
        started,
        Utc::now(),
    ))
}

#[instrument(skip(deps, state), fields(instance = %state.request.instance_id))]
pub async fn deregister(
    deps: &Deps,
    mut state: DrainState,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    // A due heartbeat goes before every read, as in each check: this step's retries (a
    // throttled or hung load-balancer call, up to the function's timeout each) can outlast
    // the hook's heartbeat timeout.
    heartbeat(&deps.autoscaling, &mut state, now, false).await?;
    if no_longer_ours(&deps.autoscaling, &mut state).await? {
        return Ok(state);
    }
    let instance_id = state.request.instance_id.clone();
    let mut found = candidates(deps, &state, now).await?;
    let service_managed = left_to_ecs(deps, &state, &mut found, now).await?;
    // Read before this step marks it: did an earlier one deregister what no API shows now?
    let deregistering = !(found.classic.is_empty() && found.target_groups.is_empty());
    let earlier = deregistering && earlier::may_have_deregistered(&deps.ecs, &state).await?;
    if deregistering {
        earlier::mark_deregistration(&deps.ecs, &state, now).await?;
    }

    let mut classic = Vec::new();
    for name in &found.classic {
        if let Some(elb) = deregister_classic_elb(&deps.elb, name, &instance_id, earlier).await? {
            classic.push(elb);
        }
    }
    let mut target_groups = Vec::new();
    let routing = seconds(state.settings.nlb_deregistration_seconds);
    for arn in &found.target_groups {
        let group = match deregister_target_group(&deps.elbv2, arn, &instance_id, routing).await? {
            // Auto Scaling deregistered it before `Terminating:Wait`: at the latest when the
            // wait began (the event's time has whole seconds, hence one more).
            None if found.left_by_auto_scaling.contains(arn) => {
                let until = state.request.event_time + routing + seconds(1);
                let why = "Auto Scaling deregistered the instance from this Network Load Balancer target group";
                nlb_routing_until(&deps.elbv2, arn, until, why).await?
            }
            // An earlier step may have (see `earlier`): at the latest just now.
            None if earlier => {
                let why = "not in this Network Load Balancer target group, which an earlier step may have deregistered the instance from";
                nlb_routing_until(&deps.elbv2, arn, Utc::now() + routing, why).await?
            }
            group => group,
        };
        if let Some(group) = group {
            if group.connections_outlive_delay {
                tracing::warn!(
                    target_group = %arn,
                    delay_seconds = group.draining_seconds,
                    "Network Load Balancer target group without deregistration_delay.connection_termination.enabled: \
                     open connections may outlive the deregistration delay"
                );
            }
            target_groups.push(group);
        }
    }
    tracing::info!(
        classic_elbs = ?classic.iter().map(|elb| &elb.name).collect::<Vec<_>>(),
        target_groups = ?target_groups.iter().map(|group| (&group.arn, &group.ports)).collect::<Vec<_>>(),
        left_to_ecs = ?service_managed.iter().map(|balancer| (&balancer.service, &balancer.load_balancer)).collect::<Vec<_>>(),
        "deregistered from the load balancers nobody else manages; the services' own are left to ECS"
    );
    state.remaining.classic_elbs = classic.iter().map(|elb| elb.name.clone()).collect();
    state.remaining.target_groups = target_groups
        .iter()
        .map(|group| group.arn.clone())
        .collect();
    state.remaining.left_to_ecs = service_managed
        .iter()
        .filter(|balancer| balancer.registered_without_task)
        .map(|balancer| balancer.load_balancer.clone())
        .collect();
    state.load_balancers = Some(LoadBalancers {
        classic,
        target_groups,
        service_managed,
        deregistered_at: Some(now),
    });
    state.wait_seconds = sta_shared::wait::next_wait(&state, now);
    tracing::info!(wait_seconds = state.wait_seconds, remaining = ?state.remaining, "first wait");
    Ok(state)
}

/// A Network Load Balancer target group the instance is not in, which it may have been
/// deregistered from at a moment no API tells: it may route new connections to the instance
/// `until` then ("a few minutes", whatever the target's state). `None` for any other group.
async fn nlb_routing_until(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    until: DateTime<Utc>,
    why: &str,
) -> Result<Option<TargetGroup>, StepError> {
    let Some(group) = balancers::network_target_group(elbv2, arn).await? else {
        return Ok(None);
    };
    tracing::info!(target_group = %arn, %until, "{why}: the drain waits until it stops routing there");
    Ok(Some(TargetGroup {
        routes_until: Some(until),
        ..group
    }))
}

/// The load balancers left to ECS: those of the services with a task on the instance, and
/// those of other services the instance is registered in (a task the listing missed may
/// be behind the registration), unless such a registration could not drain in time if it
/// waited ([`must_take_over_at`]): that one joins `found`, to be deregistered at once.
async fn left_to_ecs(
    deps: &Deps,
    state: &DrainState,
    found: &mut Candidates,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceBalancer>, StepError> {
    let instance_id = &state.request.instance_id;
    let mut service_managed = Vec::new();
    for (service, balancer) in &found.service_managed {
        if let Some(read) =
            read_service_balancer(deps, service, balancer, instance_id, false).await?
        {
            service_managed.push(read);
        }
    }
    for (service, balancer) in std::mem::take(&mut found.other_services) {
        let Some(read) =
            read_service_balancer(deps, &service, &balancer, instance_id, true).await?
        else {
            continue;
        };
        if must_take_over_at(state, &read) <= now {
            tracing::warn!(service = %service, load_balancer = ?balancer, "registered in the load balancer of a service without a listed task here, with no time to wait for one: deregistered at once");
            match balancer {
                Balancer::Classic(name) => found.classic.insert(name),
                Balancer::TargetGroup(arn) => found.target_groups.insert(arn),
            };
            continue;
        }
        tracing::warn!(
            service = %service,
            load_balancer = ?balancer,
            "registered in the load balancer of a service without a listed task here: \
             left to ECS while a task the listing missed may be behind it"
        );
        service_managed.push(read);
    }
    Ok(service_managed)
}

#[cfg(test)]
mod tests;
