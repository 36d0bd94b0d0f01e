//! The serving capacity the drill watches: for each load balancer of each service, what serves
//! there (in a target group the service's own tasks `healthy` there; in a Classic ELB its
//! instances `InService` and not deregistering), the fewest seen, and when a replacement first
//! served; for a service without load balancers, its running tasks.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ecs::types::Service;

use super::pick::Target;
use crate::doctor::Clients;
use crate::CliError;
use sta_shared::own_targets::{self, own_targets};

/// What Classic ELB says of an instance that is still draining.
const DEREGISTERING: &str = "deregistration currently in progress";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchedKind {
    TargetGroup(String),
    Classic(String),
    /// A service without load balancers: its running tasks.
    Tasks(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    pub service: String,
    pub label: String,
    pub kind: WatchedKind,
    /// ceil(minimumHealthyPercent x desired / 100) as the drill began.
    pub minimum: u64,
    /// What served before the termination.
    pub baseline: Option<BTreeSet<String>>,
    pub fewest: Option<u64>,
    pub samples: u32,
    /// Seconds after the termination when a task or instance that did not serve before (not
    /// the drained instance) first did.
    pub replacement_after: Option<f64>,
    pub errors: Vec<String>,
}

/// What to watch for the target's services.
pub fn watch(target: &Target) -> Vec<Watched> {
    let mut watched = Vec::new();
    for service in &target.services {
        let new = |label: String, kind| Watched {
            service: service.name.clone(),
            label,
            kind,
            minimum: service.minimum_healthy(),
            baseline: None,
            fewest: None,
            samples: 0,
            replacement_after: None,
            errors: Vec::new(),
        };
        for arn in &service.load_balancers.target_groups {
            let name = arn.split('/').nth(1).unwrap_or(arn);
            watched.push(new(
                format!("{} / target group {name}", service.name),
                WatchedKind::TargetGroup(arn.clone()),
            ));
        }
        for name in &service.load_balancers.classic {
            watched.push(new(
                format!("{} / Classic ELB {name}", service.name),
                WatchedKind::Classic(name.clone()),
            ));
        }
        if service.load_balancers.is_empty() {
            watched.push(new(
                format!("{} / running tasks", service.name),
                WatchedKind::Tasks(service.name.clone()),
            ));
        }
    }
    watched
}

/// Samples each watched load balancer once. `after`: seconds since the termination, `None`
/// for the baseline before it. A failed call is recorded, never fatal.
pub async fn sample(
    clients: &Clients,
    cluster: &str,
    watched: &mut [Watched],
    victim: &str,
    after: Option<f64>,
) {
    for w in watched.iter_mut() {
        match serving(clients, cluster, &w.service, &w.kind).await {
            Ok(healthy) => record(w, healthy, victim, after),
            Err(error) => w.errors.push(error.to_string()),
        }
    }
}

/// Takes one sample into the tally.
pub fn record(w: &mut Watched, healthy: BTreeSet<String>, victim: &str, after: Option<f64>) {
    let count = healthy.len() as u64;
    w.fewest = Some(w.fewest.map_or(count, |f| f.min(count)));
    w.samples += 1;
    match (&w.baseline, after) {
        (None, _) => w.baseline = Some(healthy),
        (Some(before), Some(after)) if w.replacement_after.is_none() => {
            // A Classic ELB's entries are instances: the drained one coming back in service
            // (unhealthy in the baseline) is no replacement. A target group's are task ARNs.
            let is_new = |id: &String| !before.contains(id) && id != victim;
            if !matches!(w.kind, WatchedKind::Tasks(_)) && healthy.iter().any(is_new) {
                w.replacement_after = Some(after);
            }
        }
        _ => {}
    }
}

/// What serves: the service's tasks healthy in a target group (their ARNs), the instances
/// healthy in a Classic ELB, or the service's running tasks (numbered).
async fn serving(
    clients: &Clients,
    cluster: &str,
    service: &str,
    kind: &WatchedKind,
) -> Result<BTreeSet<String>, CliError> {
    match kind {
        WatchedKind::TargetGroup(arn) => own_healthy_tasks(clients, cluster, service, arn).await,
        WatchedKind::Classic(name) => in_service(clients, name).await,
        WatchedKind::Tasks(service) => running_tasks(clients, cluster, service).await,
    }
}

/// `service`'s own RUNNING tasks healthy in the target group `arn` (none when the service is
/// gone or no longer names the group). A group may be shared (with another
/// service, a DAEMON's agent, instances registered by hand), whose healthy targets serve, but
/// not as the service's tasks, and do not keep its floor (CreateService counts a task "in the
/// RUNNING state and ... reported as healthy by the load balancer").
async fn own_healthy_tasks(
    clients: &Clients,
    cluster: &str,
    service: &str,
    arn: &str,
) -> Result<BTreeSet<String>, CliError> {
    // The tasks first: a task ECS began to stop between the two reads would otherwise take its
    // target, still healthy in the first, out of the count; a target healthy in the read after
    // was its task's for some time already (ECS registers it as the task starts, ACTIVATING,
    // and it passes its health checks only a threshold of intervals after).
    let own: HashMap<own_targets::Target, String> =
        match described_service(clients, cluster, service).await? {
            Some(found) => own_targets(&clients.ecs, cluster, &found, arn)
                .await
                .map_err(|error| CliError::Failed(error.to_string()))?
                .unwrap_or_default(),
            None => HashMap::new(),
        };
    let health = clients
        .elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await?;
    let healthy = own_targets::healthy_targets(&health).collect();
    Ok(own_targets::serving_tasks(&own, &healthy)
        .into_iter()
        .cloned()
        .collect())
}

/// The Classic ELB's `InService` instances that are not deregistering.
async fn in_service(clients: &Clients, name: &str) -> Result<BTreeSet<String>, CliError> {
    let health = clients
        .elb
        .describe_instance_health()
        .load_balancer_name(name)
        .send()
        .await?;
    Ok(health
        .instance_states()
        .iter()
        .filter(|s| s.state() == Some("InService"))
        .filter(|s| !s.description().unwrap_or_default().contains(DEREGISTERING))
        .filter_map(|s| s.instance_id().map(str::to_string))
        .collect())
}

/// The service's running tasks, by number.
async fn running_tasks(
    clients: &Clients,
    cluster: &str,
    service: &str,
) -> Result<BTreeSet<String>, CliError> {
    let running = described_service(clients, cluster, service)
        .await?
        .map_or(0, |s| s.running_count().max(0));
    Ok((0..running).map(|i| format!("task {i}")).collect())
}

/// The service as DescribeServices shows it; `None` when it is not found (a failure).
async fn described_service(
    clients: &Clients,
    cluster: &str,
    service: &str,
) -> Result<Option<Service>, CliError> {
    let answer = clients
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await?;
    Ok(answer.services.unwrap_or_default().into_iter().next())
}

#[cfg(test)]
mod tests;
