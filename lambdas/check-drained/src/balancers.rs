//! The load balancers of the wait: refreshing where the instance stands in each, and taking
//! over those left to ECS once ECS no longer stands for them.

use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use chrono::{DateTime, Utc};
use sta_shared::elb::{classic_registration, deregister_classic};
use sta_shared::elbv2::{deregister_targets, target_health};
use sta_shared::state::{task_has_stopped, ClassicElb, DrainState, TargetGroup};
use sta_shared::StepError;

/// A service task that left the wait without being STOPPED (orphaned by a forced
/// deregistration, its agent lost, its cluster deleted, or unknown to ECS) says nothing
/// about its load balancers: ECS stops a task only once its registrations have drained,
/// but it takes an orphaned task out of them while it keeps running, and with the cluster
/// gone nobody manages them any more. So the drain takes over the load balancers it left
/// to ECS: each one the instance is still in joins those it waits for (the refresh
/// deregisters a registration still there and waits out the draining).
pub(crate) async fn adopt_service_balancers(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    state: &mut DrainState,
) -> Result<(), StepError> {
    let left_unstopped = state.tasks.iter().any(|task| {
        task.service.is_some()
            && !task_has_stopped(&task.last_status)
            && !state.remaining.tasks.contains(&task.arn)
    });
    let Some(balancers) = state.load_balancers.as_mut() else {
        return Ok(());
    };
    if !left_unstopped || balancers.service_managed.is_empty() {
        return Ok(());
    }
    let instance_id = state.request.instance_id.clone();
    for managed in std::mem::take(&mut balancers.service_managed) {
        let name = managed.load_balancer;
        if !name.starts_with("arn:") {
            tracing::info!(elb = %name, service = %managed.service, "service task gone unstopped: the drain waits for its Classic ELB");
            balancers.classic.push(ClassicElb {
                name: name.clone(),
                draining_seconds: managed.draining_seconds,
                unhealthy: false,
            });
            state.remaining.classic_elbs.push(name);
            continue;
        }
        let Some(health) = target_health(elbv2, &name, None).await? else {
            continue;
        };
        let ports: Vec<i32> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|description| description.target())
            .filter(|target| target.id() == Some(instance_id.as_str()))
            .filter_map(|target| target.port())
            .collect();
        if ports.is_empty() {
            continue;
        }
        tracing::info!(target_group = %name, service = %managed.service, ?ports, "service task gone unstopped: the drain waits for its target group");
        balancers.target_groups.push(TargetGroup {
            arn: name.clone(),
            ports,
            draining_seconds: managed.draining_seconds,
            connections_outlive_delay: false,
        });
        state.remaining.target_groups.push(name);
    }
    Ok(())
}

/// A Classic ELB is drained once the instance is no longer registered and no longer
/// `InService` (connection draining over). Found registered again (by hand, or a lost
/// deregistration), it is deregistered again. An instance that was unhealthy when the drain
/// deregistered it is drained only once the draining timeout has also passed: the load
/// balancer completes its in-flight requests, which no API shows
/// ([`ClassicElb::unseen_requests_done`]).
pub(crate) async fn refresh_classic(
    elb: &aws_sdk_elasticloadbalancing::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let instance_id = state.request.instance_id.clone();
    let balancers = state.load_balancers.as_ref();
    let deregistered_at = balancers.and_then(|balancers| balancers.deregistered_at);
    let mut draining = Vec::new();
    for name in &state.remaining.classic_elbs {
        let Some(registration) = classic_registration(elb, name, &instance_id).await? else {
            continue;
        };
        if registration.registered {
            tracing::warn!(elb = %name, "instance registered again; deregistering");
            deregister_classic(elb, name, &instance_id).await?;
        }
        let unseen_done = balancers
            .and_then(|balancers| balancers.classic.iter().find(|elb| &elb.name == name))
            .is_none_or(|elb| elb.unseen_requests_done(deregistered_at, now));
        if !registration.drained() || !unseen_done {
            draining.push(name.clone());
        }
    }
    state.remaining.classic_elbs = draining;
    Ok(())
}

pub(crate) async fn refresh_target_groups(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    state: &mut DrainState,
) -> Result<(), StepError> {
    let instance_id = state.request.instance_id.clone();
    let recorded = state
        .load_balancers
        .as_ref()
        .map(|balancers| balancers.target_groups.clone())
        .unwrap_or_default();
    let mut draining = Vec::new();
    for arn in &state.remaining.target_groups {
        let ports = recorded
            .iter()
            .find(|group| &group.arn == arn)
            .map(|group| group.ports.clone())
            .unwrap_or_default();
        let targets: Vec<TargetDescription> = ports
            .iter()
            .map(|port| {
                TargetDescription::builder()
                    .id(&instance_id)
                    .port(*port)
                    .build()
            })
            .collect();
        let Some(health) = target_health(elbv2, arn, Some(targets)).await? else {
            continue;
        };
        let mut pending = false;
        let mut registered_again = Vec::new();
        for description in health.target_health_descriptions() {
            match description
                .target_health()
                .and_then(|health| health.state())
            {
                None | Some(TargetHealthStateEnum::Unused) => {}
                Some(TargetHealthStateEnum::Draining) => pending = true,
                Some(_) => {
                    // Registered again (by hand, or a lost deregistration): deregister again.
                    pending = true;
                    if let Some(target) = description.target() {
                        registered_again.push(target.clone());
                    }
                }
            }
        }
        if !registered_again.is_empty() {
            tracing::warn!(target_group = %arn, targets = registered_again.len(), "instance registered again; deregistering");
            if !deregister_targets(elbv2, arn, registered_again).await? {
                continue;
            }
        }
        if pending {
            draining.push(arn.clone());
        }
    }
    state.remaining.target_groups = draining;
    Ok(())
}
