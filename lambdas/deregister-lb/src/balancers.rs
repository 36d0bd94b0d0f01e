//! One load balancer at a time: deregister the instance from it, or read what a service's
//! own load balancer means for the wait (its draining time, how long a replacement takes
//! to become healthy in it).

use chrono::Utc;
use sta_shared::elb::{classic_registration, deregister_classic, LOAD_BALANCER_GONE};
use sta_shared::elbv2::{
    deregister_targets, instance_targets, still_registered, target_health, TARGET_GROUP_GONE,
};
use sta_shared::error::unless_gone;
use sta_shared::state::{ClassicElb, ServiceBalancer, TargetGroup};
use sta_shared::StepError;

use crate::candidates::Balancer;
use crate::Deps;

/// The default `deregistration_delay.timeout_seconds` of a target group.
const DEFAULT_DEREGISTRATION_DELAY: u64 = 300;
/// A target group's default health check: 5 healthy checks 30 s apart.
const DEFAULT_HEALTH_CHECK_INTERVAL: i32 = 30;
const DEFAULT_HEALTHY_THRESHOLD: i32 = 5;

/// Reads what a service's load balancer means for the wait: its draining time and how
/// long a replacement takes to become healthy in it. `None` when it is gone, or, for a
/// service without a listed task on the instance (`without_task`), when the instance is not
/// registered there (not even draining): nothing of it to leave to ECS.
pub(crate) async fn read_service_balancer(
    deps: &Deps,
    service: &str,
    balancer: &Balancer,
    instance_id: &str,
    without_task: bool,
) -> Result<Option<ServiceBalancer>, StepError> {
    let (load_balancer, healthy_after_seconds, delay) = match balancer {
        Balancer::Classic(name) => {
            let Some(registration) = classic_registration(&deps.elb, name, instance_id).await?
            else {
                return Ok(None);
            };
            if without_task && registration.drained() {
                return Ok(None);
            }
            let Some(draining) = classic_draining_seconds(&deps.elb, name).await? else {
                return Ok(None);
            };
            let delay = Delay {
                seconds: draining,
                network: false,
                connections_outlive_delay: false,
            };
            (name, registration.healthy_after_seconds, delay)
        }
        Balancer::TargetGroup(arn) => {
            if without_task
                && registered_ports(&deps.elbv2, arn, instance_id)
                    .await?
                    .is_empty()
            {
                return Ok(None);
            }
            let Some(healthy_after) = target_group_healthy_after(&deps.elbv2, arn).await? else {
                return Ok(None);
            };
            let Some(delay) = target_group_delay(&deps.elbv2, arn).await? else {
                return Ok(None);
            };
            (arn, healthy_after, delay)
        }
    };
    Ok(Some(ServiceBalancer {
        service: service.to_string(),
        load_balancer: load_balancer.clone(),
        draining_seconds: delay.seconds,
        healthy_after_seconds,
        registered_without_task: without_task,
        network: delay.network,
        connections_outlive_delay: delay.connections_outlive_delay,
    }))
}

/// Deregisters the instance from one Classic ELB. `None` when the load balancer is gone
/// or the instance is neither registered there nor still draining (nothing to wait for),
/// unless an earlier step of the drain may have deregistered it (`earlier`, see
/// [`crate::earlier`]): it may have been unhealthy then, its in-flight requests unseen, and
/// they are waited out for the draining timeout from now.
pub(crate) async fn deregister_classic_elb(
    elb: &aws_sdk_elasticloadbalancing::Client,
    name: &str,
    instance_id: &str,
    earlier: bool,
) -> Result<Option<ClassicElb>, StepError> {
    let Some(registration) = classic_registration(elb, name, instance_id).await? else {
        return Ok(None);
    };
    if registration.drained() {
        if earlier {
            if let Some(draining_seconds) = classic_draining_seconds(elb, name)
                .await?
                .filter(|draining| *draining > 0)
            {
                tracing::warn!(elb = %name, draining_seconds, "not registered in this Classic ELB, which an earlier step may have deregistered the instance from, unhealthy: its unseen in-flight requests are waited out");
                return Ok(Some(ClassicElb {
                    name: name.to_string(),
                    draining_seconds,
                    unhealthy: true,
                    taken_over_at: None,
                }));
            }
        }
        tracing::info!(elb = %name, "not registered in this Classic ELB");
        return Ok(None);
    }
    if registration.registered {
        deregister_classic(elb, name, instance_id).await?;
    }
    // Already deregistered (a retry or redrive): it may still be draining.
    let Some(draining_seconds) = classic_draining_seconds(elb, name).await? else {
        return Ok(None);
    };
    // Registered but OutOfService (failing its health checks), or Unknown: the load balancer
    // still completes its in-flight requests, and nothing shows when they end.
    let unhealthy = registration.may_hide_requests();
    if unhealthy {
        tracing::info!(elb = %name, draining_seconds, "OutOfService in this Classic ELB: its in-flight requests are waited out for the draining timeout");
    }
    Ok(Some(ClassicElb {
        name: name.to_string(),
        draining_seconds,
        unhealthy,
        taken_over_at: None,
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
    let Some(output) = unless_gone(
        attributes,
        &[LOAD_BALANCER_GONE],
        "DescribeLoadBalancerAttributes",
    )?
    else {
        return Ok(None);
    };
    Ok(Some(
        output
            .load_balancer_attributes()
            .and_then(|attributes| attributes.connection_draining())
            .filter(|draining| draining.enabled())
            .map_or(0, |draining| {
                u64::try_from(draining.timeout().unwrap_or(300)).unwrap_or(0)
            }),
    ))
}

/// Deregisters the instance from one target group on every port it is registered on; a
/// Network Load Balancer's may route new connections to it for `routing` more.
/// `None` when the group is gone or the instance is not in it.
pub(crate) async fn deregister_target_group(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    instance_id: &str,
    routing: chrono::Duration,
) -> Result<Option<TargetGroup>, StepError> {
    let ports = registered_ports(elbv2, arn, instance_id).await?;
    if ports.is_empty() {
        return Ok(None);
    }
    if !deregister_targets(elbv2, arn, instance_targets(instance_id, &ports)).await? {
        return Ok(None);
    }
    let Some(delay) = target_group_delay(elbv2, arn).await? else {
        return Ok(None);
    };
    Ok(Some(TargetGroup {
        arn: arn.to_string(),
        ports,
        draining_seconds: delay.seconds,
        connections_outlive_delay: delay.connections_outlive_delay,
        taken_over_at: None,
        network: delay.network,
        // from the deregistration done, not the step's start
        routes_until: delay.network.then(|| Utc::now() + routing),
    }))
}

/// Every port the instance is registered on in the target group, draining ones too, and those
/// `unused` while no listener forwards to the group (none when the group is gone).
async fn registered_ports(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    instance_id: &str,
) -> Result<Vec<i32>, StepError> {
    let Some(health) = target_health(elbv2, arn, None).await? else {
        tracing::info!(target_group = %arn, "target group not found");
        return Ok(Vec::new());
    };
    let mut ports: Vec<i32> = health
        .target_health_descriptions()
        .iter()
        .filter(|description| {
            description.target().and_then(|target| target.id()) == Some(instance_id)
        })
        .filter(|description| still_registered(description))
        .filter_map(|description| description.target().and_then(|target| target.port()))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// A Network Load Balancer target group as a record the instance is no longer registered in
/// (no ports); `None` for any other kind, or when it is gone.
pub(crate) async fn network_target_group(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Option<TargetGroup>, StepError> {
    let Some(delay) = target_group_delay(elbv2, arn).await? else {
        return Ok(None);
    };
    Ok(delay.network.then(|| TargetGroup {
        network: true,
        connections_outlive_delay: delay.connections_outlive_delay,
        ..TargetGroup::new(arn, Vec::new(), delay.seconds)
    }))
}

/// The target group's `deregistration_delay.timeout_seconds`, whether it is a Network Load
/// Balancer's (the only kind with the `deregistration_delay.connection_termination.enabled`
/// attribute), and whether its open connections outlive the delay (that attribute not
/// `true`). `None` when the group is gone.
async fn target_group_delay(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Option<Delay>, StepError> {
    let attributes = elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await;
    let Some(attributes) = unless_gone(
        attributes,
        &[TARGET_GROUP_GONE],
        "DescribeTargetGroupAttributes",
    )?
    else {
        return Ok(None);
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
    let termination = value("deregistration_delay.connection_termination.enabled");
    Ok(Some(Delay {
        seconds: delay,
        network: termination.is_some(),
        connections_outlive_delay: termination
            .is_some_and(|enabled| !enabled.eq_ignore_ascii_case("true")),
    }))
}

/// A target group's deregistration delay, as [`target_group_delay`] reads it.
struct Delay {
    /// `deregistration_delay.timeout_seconds`.
    seconds: u64,
    /// A Network Load Balancer target group: the only kind with the connection-termination
    /// attribute.
    network: bool,
    /// A Network Load Balancer target group whose connection termination is not enabled.
    connections_outlive_delay: bool,
}

/// How long a new target takes to become healthy in the target group: its healthy
/// threshold x health-check interval. `None` when the group is gone.
async fn target_group_healthy_after(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Option<u64>, StepError> {
    let output = elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await;
    let Some(output) = unless_gone(output, &[TARGET_GROUP_GONE], "DescribeTargetGroups")? else {
        return Ok(None);
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
