//! The second drain step. Finds every load balancer the instance is in, deregisters it
//! from each, records each one's drain time and chooses the first wait.
//!
//! Where it looks: the Classic ELBs and target groups attached to the Auto Scaling group
//! (Auto Scaling normally deregisters those itself before the hook; doing it again is
//! harmless and covers the cases where it did not), the target groups and Classic ELBs
//! of every service in the cluster (ECS registered the tasks there), and the names
//! configured on the function (`CLASSIC_ELB_NAMES`, `TARGET_GROUP_ARNS`). In a target
//! group the instance is deregistered on every port it is registered on (bridge
//! networking gives each task its own host port). Instance targets only: tasks in
//! `awsvpc` mode register IP targets, which do not live on the instance's address.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancing::types::Instance;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::config::DrainConfig;
use sta_shared::elb::classic_instance_state;
use sta_shared::error::{aws_error, classic_elb_not_registered, ecs_error, error_code};
use sta_shared::state::{ClassicElb, DrainState, LoadBalancers, TargetGroup};
use sta_shared::StepError;
use tracing::instrument;

/// DescribeServices takes at most 10 services a call.
const SERVICES_BATCH: usize = 10;
/// The default `deregistration_delay.timeout_seconds` of a target group.
const DEFAULT_DEREGISTRATION_DELAY: u64 = 300;

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
    let (classic_names, group_arns) = candidates(deps, &state).await?;

    let mut classic = Vec::new();
    for name in &classic_names {
        if let Some(elb) = deregister_classic(&deps.elb, name, &instance_id).await? {
            classic.push(elb);
        }
    }
    let mut target_groups = Vec::new();
    for arn in &group_arns {
        if let Some(group) = deregister_target_group(&deps.elbv2, arn, &instance_id).await? {
            target_groups.push(group);
        }
    }
    tracing::info!(
        classic_elbs = ?classic.iter().map(|elb| &elb.name).collect::<Vec<_>>(),
        target_groups = ?target_groups.iter().map(|group| (&group.arn, &group.ports)).collect::<Vec<_>>(),
        "deregistered from load balancers"
    );
    state.remaining.classic_elbs = classic.iter().map(|elb| elb.name.clone()).collect();
    state.remaining.target_groups = target_groups
        .iter()
        .map(|group| group.arn.clone())
        .collect();
    state.load_balancers = Some(LoadBalancers {
        classic,
        target_groups,
        deregistered_at: Some(now),
    });
    state.wait_seconds = sta_shared::wait::next_wait(&state, now);
    tracing::info!(wait_seconds = state.wait_seconds, remaining = ?state.remaining, "first wait");
    Ok(state)
}

/// Every Classic ELB name and target group ARN the instance may be registered in.
async fn candidates(
    deps: &Deps,
    state: &DrainState,
) -> Result<(BTreeSet<String>, BTreeSet<String>), StepError> {
    let mut classic: BTreeSet<String> = deps.config.classic_elb_names.iter().cloned().collect();
    let mut groups: BTreeSet<String> = deps.config.target_group_arns.iter().cloned().collect();

    if let Some(asg) = &state.request.asg_name {
        let output = deps
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(asg)
            .send()
            .await
            .map_err(|error| aws_error("DescribeAutoScalingGroups", error))?;
        match output.auto_scaling_groups().first() {
            None => {
                tracing::warn!(asg = %asg, "Auto Scaling group not found; no attached load balancers")
            }
            Some(group) => {
                classic.extend(group.load_balancer_names().iter().cloned());
                groups.extend(group.target_group_arns().iter().cloned());
                for source in group.traffic_sources() {
                    match (source.r#type(), source.identifier()) {
                        (Some("elb"), Some(name)) => {
                            classic.insert(name.to_string());
                        }
                        (Some("elbv2"), Some(arn)) => {
                            groups.insert(arn.to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    let cluster = state.request.cluster.as_str();
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
    for batch in services.chunks(SERVICES_BATCH) {
        let output = deps
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|error| ecs_error(cluster, "DescribeServices", error))?;
        for balancer in output
            .services()
            .iter()
            .flat_map(|service| service.load_balancers())
        {
            if let Some(arn) = balancer.target_group_arn() {
                groups.insert(arn.to_string());
            }
            if let Some(name) = balancer.load_balancer_name() {
                classic.insert(name.to_string());
            }
        }
    }
    Ok((classic, groups))
}

/// Deregisters the instance from one Classic ELB. `None` when the load balancer is gone
/// or the instance is not registered there (nothing to wait for).
async fn deregister_classic(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
) -> Result<Option<ClassicElb>, StepError> {
    if classic_instance_state(elb, name, instance_id)
        .await?
        .is_none()
    {
        tracing::info!(elb = %name, "not registered in this Classic ELB");
        return Ok(None);
    }
    let instance = Instance::builder().instance_id(instance_id).build();
    let deregistered = elb
        .deregister_instances_from_load_balancer()
        .load_balancer_name(name)
        .instances(instance)
        .send()
        .await;
    match deregistered {
        // Already deregistered (a retry or redrive): it may still be draining.
        Err(error) if classic_elb_not_registered(&error) => {}
        Err(error) => return Err(aws_error("DeregisterInstancesFromLoadBalancer", error)),
        Ok(_) => {}
    }
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_name(name)
        .send()
        .await;
    let draining_seconds = match attributes {
        Err(error) if error_code(&error) == Some("LoadBalancerNotFound") => return Ok(None),
        Err(error) => return Err(aws_error("DescribeLoadBalancerAttributes", error)),
        Ok(output) => output
            .load_balancer_attributes()
            .and_then(|attributes| attributes.connection_draining())
            .filter(|draining| draining.enabled())
            .map_or(0, |draining| {
                u64::try_from(draining.timeout().unwrap_or(300)).unwrap_or(0)
            }),
    };
    Ok(Some(ClassicElb {
        name: name.to_string(),
        draining_seconds,
    }))
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
    let draining_seconds = attributes
        .attributes()
        .iter()
        .find(|attribute| attribute.key() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|attribute| attribute.value())
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_DEREGISTRATION_DELAY);
    Ok(Some(TargetGroup {
        arn: arn.to_string(),
        ports,
        draining_seconds,
    }))
}

#[cfg(test)]
mod tests;
