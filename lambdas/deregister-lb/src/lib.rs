//! The second drain step. Finds every load balancer the instance is in and deregisters
//! it from those nobody else will take it out of; records each one's drain time and
//! chooses the first wait.
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
//! - Every other load balancer the instance is in is deregistered here, and the drain
//!   waits for its draining: the names configured on the function (`CLASSIC_ELB_NAMES`,
//!   `TARGET_GROUP_ARNS`), the ones attached to the Auto Scaling group (Auto Scaling
//!   deregisters and drains those before `Terminating:Wait`; doing it again is harmless and
//!   covers the cases where it did not), and registrations in a service's load balancers
//!   that no task on the instance owns.
//!
//! In a target group the instance is deregistered on every port it is registered on
//! (bridge networking gives each task its own host port). Instance targets only: tasks in
//! `awsvpc` mode register IP targets, which do not live on the instance's address.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::config::DrainConfig;
use sta_shared::elb::{classic_registration, deregister_classic};
use sta_shared::error::{aws_error, ecs_error, error_code};
use sta_shared::state::{ClassicElb, DrainState, LoadBalancers, ServiceBalancer, TargetGroup};
use sta_shared::StepError;
use tracing::instrument;

/// DescribeServices takes at most 10 services a call.
const SERVICES_BATCH: usize = 10;
/// The default `deregistration_delay.timeout_seconds` of a target group.
const DEFAULT_DEREGISTRATION_DELAY: u64 = 300;
/// A target group's default health check: 5 healthy checks 30 s apart.
const DEFAULT_HEALTH_CHECK_INTERVAL: i32 = 30;
const DEFAULT_HEALTHY_THRESHOLD: i32 = 5;

#[derive(Debug, Clone)]
pub struct Deps {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub config: DrainConfig,
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let state = DrainState::from_value(event.payload)?;
    deregister(deps, state, Utc::now()).await
}

#[instrument(skip(deps, state), fields(instance = %state.request.instance_id))]
pub async fn deregister(
    deps: &Deps,
    mut state: DrainState,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    let instance_id = state.request.instance_id.clone();
    let found = candidates(deps, &state).await?;

    let mut classic = Vec::new();
    for name in &found.classic {
        if let Some(elb) = deregister_classic_elb(&deps.elb, name, &instance_id).await? {
            classic.push(elb);
        }
    }
    let mut target_groups = Vec::new();
    for arn in &found.target_groups {
        if let Some(group) = deregister_target_group(&deps.elbv2, arn, &instance_id).await? {
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
    let mut service_managed = Vec::new();
    for (service, balancer) in &found.service_managed {
        if let Some(read) = read_service_balancer(deps, service, balancer, &instance_id).await? {
            service_managed.push(read);
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

/// A load balancer of an ECS service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Balancer {
    Classic(String),
    TargetGroup(String),
}

/// The load balancers to look at: the ones to deregister the instance from, and the ones
/// left to the services with a task on the instance.
#[derive(Debug, Default)]
struct Candidates {
    classic: BTreeSet<String>,
    target_groups: BTreeSet<String>,
    service_managed: BTreeSet<(String, Balancer)>,
}

/// Every Classic ELB name and target group ARN the instance may be registered in.
async fn candidates(deps: &Deps, state: &DrainState) -> Result<Candidates, StepError> {
    let mut found = Candidates {
        classic: deps.config.classic_elb_names.iter().cloned().collect(),
        target_groups: deps.config.target_group_arns.iter().cloned().collect(),
        ..Candidates::default()
    };
    if let Some(action) = state.request.trigger.lifecycle_action() {
        attached_to_group(deps, &action.asg_name, &mut found).await?;
    }
    let services_here: BTreeSet<&str> = state
        .tasks
        .iter()
        .filter_map(|task| task.service.as_deref())
        .collect();
    for (service, balancer) in service_balancers(deps, &state.request.cluster).await? {
        if services_here.contains(service.as_str()) {
            found.service_managed.insert((service, balancer));
        } else {
            match balancer {
                Balancer::Classic(name) => found.classic.insert(name),
                Balancer::TargetGroup(arn) => found.target_groups.insert(arn),
            };
        }
    }
    for (service, balancer) in &found.service_managed {
        let configured = match balancer {
            Balancer::Classic(name) => found.classic.remove(name),
            Balancer::TargetGroup(arn) => found.target_groups.remove(arn),
        };
        if configured {
            tracing::info!(
                service = %service,
                load_balancer = ?balancer,
                "configured or attached, but the service with a task on the instance manages it: left to ECS"
            );
        }
    }
    Ok(found)
}

/// The Classic ELBs and target groups attached to the Auto Scaling group.
async fn attached_to_group(
    deps: &Deps,
    asg: &str,
    found: &mut Candidates,
) -> Result<(), StepError> {
    let output = deps
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(asg)
        .send()
        .await
        .map_err(|error| aws_error("DescribeAutoScalingGroups", error))?;
    let Some(group) = output.auto_scaling_groups().first() else {
        tracing::warn!(asg = %asg, "Auto Scaling group not found; no attached load balancers");
        return Ok(());
    };
    found
        .classic
        .extend(group.load_balancer_names().iter().cloned());
    found
        .target_groups
        .extend(group.target_group_arns().iter().cloned());
    for source in group.traffic_sources() {
        match (source.r#type(), source.identifier()) {
            (Some("elb"), Some(name)) => {
                found.classic.insert(name.to_string());
            }
            (Some("elbv2"), Some(arn)) => {
                found.target_groups.insert(arn.to_string());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every (service, load balancer) pair of the cluster's services.
async fn service_balancers(
    deps: &Deps,
    cluster: &str,
) -> Result<Vec<(String, Balancer)>, StepError> {
    let services: Vec<String> = deps
        .ecs
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| ecs_error(cluster, "ListServices", error))?;
    let mut pairs = Vec::new();
    for batch in services.chunks(SERVICES_BATCH) {
        let output = deps
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|error| ecs_error(cluster, "DescribeServices", error))?;
        for service in output.services() {
            let name = service.service_name().unwrap_or_default().to_string();
            for balancer in service.load_balancers() {
                if let Some(arn) = balancer.target_group_arn() {
                    pairs.push((name.clone(), Balancer::TargetGroup(arn.to_string())));
                }
                if let Some(classic) = balancer.load_balancer_name() {
                    pairs.push((name.clone(), Balancer::Classic(classic.to_string())));
                }
            }
        }
    }
    Ok(pairs)
}

/// Reads what a service's load balancer means for the wait: its draining time and how
/// long a replacement takes to become healthy in it. `None` when it is gone.
async fn read_service_balancer(
    deps: &Deps,
    service: &str,
    balancer: &Balancer,
    instance_id: &str,
) -> Result<Option<ServiceBalancer>, StepError> {
    let (load_balancer, draining_seconds, healthy_after_seconds) = match balancer {
        Balancer::Classic(name) => {
            let Some(registration) = classic_registration(&deps.elb, name, instance_id).await?
            else {
                return Ok(None);
            };
            let Some(draining) = classic_draining_seconds(&deps.elb, name).await? else {
                return Ok(None);
            };
            (name, draining, registration.healthy_after_seconds)
        }
        Balancer::TargetGroup(arn) => {
            let Some(healthy_after) = target_group_healthy_after(&deps.elbv2, arn).await? else {
                return Ok(None);
            };
            let Some((delay, _)) = target_group_delay(&deps.elbv2, arn).await? else {
                return Ok(None);
            };
            (arn, delay, healthy_after)
        }
    };
    Ok(Some(ServiceBalancer {
        service: service.to_string(),
        load_balancer: load_balancer.clone(),
        draining_seconds,
        healthy_after_seconds,
    }))
}

/// Deregisters the instance from one Classic ELB. `None` when the load balancer is gone
/// or the instance is neither registered there nor still draining (nothing to wait for).
async fn deregister_classic_elb(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
) -> Result<Option<ClassicElb>, StepError> {
    let Some(registration) = classic_registration(elb, name, instance_id).await? else {
        return Ok(None);
    };
    if registration.drained() {
        tracing::info!(elb = %name, "not registered in this Classic ELB");
        return Ok(None);
    }
    if registration.registered {
        deregister_classic(elb, name, instance_id).await?;
    }
    // Already deregistered (a retry or redrive): it may still be draining.
    let Some(mut draining_seconds) = classic_draining_seconds(elb, name).await? else {
        return Ok(None);
    };
    if !registration.in_service {
        // Registered but OutOfService (failing its health checks): connection draining
        // does not hold connections to an unhealthy instance, there is nothing to wait out.
        tracing::info!(elb = %name, "unhealthy in this Classic ELB: deregistered, nothing to drain");
        draining_seconds = 0;
    }
    Ok(Some(ClassicElb {
        name: name.to_string(),
        draining_seconds,
    }))
}

/// The Classic ELB's connection-draining timeout (0 when off); `None` when it is gone.
async fn classic_draining_seconds(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
) -> Result<Option<u64>, StepError> {
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_name(name)
        .send()
        .await;
    match attributes {
        Err(error) if error_code(&error) == Some("LoadBalancerNotFound") => Ok(None),
        Err(error) => Err(aws_error("DescribeLoadBalancerAttributes", error)),
        Ok(output) => Ok(Some(
            output
                .load_balancer_attributes()
                .and_then(|attributes| attributes.connection_draining())
                .filter(|draining| draining.enabled())
                .map_or(0, |draining| {
                    u64::try_from(draining.timeout().unwrap_or(300)).unwrap_or(0)
                }),
        )),
    }
}

/// Deregisters the instance from one target group on every port it is registered on.
/// `None` when the group is gone or the instance is not in it.
async fn deregister_target_group(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    instance_id: &str,
) -> Result<Option<TargetGroup>, StepError> {
    let health = match elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("TargetGroupNotFound") => {
            tracing::info!(target_group = %arn, "target group not found");
            return Ok(None);
        }
        Err(error) => return Err(aws_error("DescribeTargetHealth", error)),
        Ok(output) => output,
    };
    let mut ports: Vec<i32> = health
        .target_health_descriptions()
        .iter()
        .filter(|description| {
            description.target().and_then(|target| target.id()) == Some(instance_id)
        })
        .filter(|description| {
            description
                .target_health()
                .and_then(|health| health.state())
                != Some(&TargetHealthStateEnum::Unused)
        })
        .filter_map(|description| description.target().and_then(|target| target.port()))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return Ok(None);
    }
    let targets = ports
        .iter()
        .map(|port| {
            TargetDescription::builder()
                .id(instance_id)
                .port(*port)
                .build()
        })
        .collect::<Vec<_>>();
    match elbv2
        .deregister_targets()
        .target_group_arn(arn)
        .set_targets(Some(targets))
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("TargetGroupNotFound") => return Ok(None),
        Err(error) => return Err(aws_error("DeregisterTargets", error)),
        Ok(_) => {}
    }
    let Some((draining_seconds, connections_outlive_delay)) =
        target_group_delay(elbv2, arn).await?
    else {
        return Ok(None);
    };
    Ok(Some(TargetGroup {
        arn: arn.to_string(),
        ports,
        draining_seconds,
        connections_outlive_delay,
    }))
}

/// The target group's `deregistration_delay.timeout_seconds`, and whether open connections
/// outlive it: a Network Load Balancer target group (the only kind with the
/// `deregistration_delay.connection_termination.enabled` attribute) where that attribute
/// is not `true`. `None` when the group is gone.
async fn target_group_delay(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Option<(u64, bool)>, StepError> {
    let attributes = match elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("TargetGroupNotFound") => return Ok(None),
        Err(error) => return Err(aws_error("DescribeTargetGroupAttributes", error)),
        Ok(output) => output,
    };
    let value = |key: &str| {
        attributes
            .attributes()
            .iter()
            .find(|attribute| attribute.key() == Some(key))
            .and_then(|attribute| attribute.value())
    };
    let delay = value("deregistration_delay.timeout_seconds")
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_DEREGISTRATION_DELAY);
    let outlive = value("deregistration_delay.connection_termination.enabled")
        .is_some_and(|enabled| !enabled.eq_ignore_ascii_case("true"));
    Ok(Some((delay, outlive)))
}

/// How long a new target takes to become healthy in the target group: its healthy
/// threshold x health-check interval. `None` when the group is gone.
async fn target_group_healthy_after(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Option<u64>, StepError> {
    let output = match elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("TargetGroupNotFound") => return Ok(None),
        Err(error) => return Err(aws_error("DescribeTargetGroups", error)),
        Ok(output) => output,
    };
    Ok(output.target_groups().first().map(|group| {
        let interval = group
            .health_check_interval_seconds()
            .unwrap_or(DEFAULT_HEALTH_CHECK_INTERVAL);
        let threshold = group
            .healthy_threshold_count()
            .unwrap_or(DEFAULT_HEALTHY_THRESHOLD);
        u64::try_from(interval.saturating_mul(threshold)).unwrap_or(0)
    }))
}

#[cfg(test)]
mod tests;
