//! The group's own scaling policies. Target tracking on the cluster's reservation fights N+1:
//! CPUReservation is "the total CPU units that are reserved by Amazon ECS tasks on the cluster,
//! divided by the total CPU units for all of the Amazon EC2 instances registered in the
//! cluster" (MemoryReservation likewise), and with a task on every instance but N that is
//! (U - N) / U of U instances. Below the policy's target the group scales in, the task scaler
//! lowers the count, and the reservation falls further, down to the group's minimum; above it
//! the same runs up to its maximum.

use aws_sdk_autoscaling::types::{
    CustomizedMetricSpecification, MetricDimension, ScalingPolicy, TargetTrackingConfiguration,
};

use crate::doctor::{short_name, Check, Clients};
use crate::CliError;

const NAME: &str = "scaling-policies";
const RESERVATIONS: [&str; 2] = ["CPUReservation", "MemoryReservation"];

/// The group's target tracking policies (`DescribePolicies`, every page).
pub async fn target_tracking(
    clients: &Clients,
    group: &str,
) -> Result<Vec<ScalingPolicy>, CliError> {
    clients
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(group)
        .policy_types("TargetTrackingScaling")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(CliError::from)
}

/// The `scaling-policies` check of `group`: FAIL for each enabled target tracking policy on
/// the reservation of the ECS cluster `cluster` (a name or an ARN).
pub fn check(group: &str, cluster: &str, policies: &[ScalingPolicy], n: u64) -> Check {
    let cluster = short_name(cluster);
    let fighting: Vec<String> = policies
        .iter()
        .filter(|policy| policy.enabled() != Some(false))
        .filter_map(|policy| {
            let tracking = policy.target_tracking_configuration()?;
            let metric = reservation(tracking, cluster)?;
            Some(format!(
                "{} ({metric} at {} %)",
                policy.policy_name().unwrap_or_default(),
                tracking.target_value().unwrap_or_default()
            ))
        })
        .collect();
    if fighting.is_empty() {
        return Check::pass(
            NAME,
            Some(group),
            "no target tracking on the ECS cluster's reservation",
        );
    }
    Check::fail(
        NAME,
        Some(group),
        format!(
            "target tracking on the ECS cluster's reservation: {}. With the task scaler keeping a task on \
             every instance but {n}, the reservation is (instances - {n}) / instances: below the target the \
             group scales in, the scaler lowers the count and the reservation falls further, down to the \
             group's minimum (above it, up to its maximum)",
            fighting.join(", ")
        ),
        "size the group on something the task count does not follow (a schedule, the service's own load), \
         or let an ECS capacity provider's managed scaling size it with a target below 100 %",
    )
}

/// The ECS reservation metric of `cluster` a policy tracks, if it tracks one (a metric whose
/// `ClusterName` dimension names another cluster is that cluster's).
fn reservation(tracking: &TargetTrackingConfiguration, cluster: &str) -> Option<&'static str> {
    let metric = tracking.customized_metric_specification()?;
    let named = |namespace: Option<&str>, name: Option<&str>, clusters: Vec<Option<&str>>| {
        let ours = clusters.iter().all(|named| *named == Some(cluster));
        RESERVATIONS
            .into_iter()
            .find(|reservation| ours && namespace == Some("AWS/ECS") && name == Some(reservation))
    };
    let clusters = clusters(metric.dimensions());
    named(metric.namespace(), metric.metric_name(), clusters).or_else(|| queried(metric, named))
}

/// The reservation metric among a customized metric's queries (its `Metrics` form).
fn queried(
    metric: &CustomizedMetricSpecification,
    named: impl Fn(Option<&str>, Option<&str>, Vec<Option<&str>>) -> Option<&'static str>,
) -> Option<&'static str> {
    metric
        .metrics()
        .iter()
        .filter_map(|query| query.metric_stat()?.metric())
        .find_map(|stat| {
            named(
                stat.namespace(),
                stat.metric_name(),
                clusters(stat.dimensions()),
            )
        })
}

/// The clusters a metric's `ClusterName` dimensions name.
fn clusters(dimensions: &[MetricDimension]) -> Vec<Option<&str>> {
    dimensions
        .iter()
        .filter(|dimension| dimension.name() == Some("ClusterName"))
        .map(|dimension| dimension.value())
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_autoscaling::types::{
        Metric, TargetTrackingMetricDataQuery, TargetTrackingMetricStat,
    };

    use super::*;

    /// A policy tracking `metric` of `namespace` (of the cluster `prod`) through a metric math
    /// query, enabled or not.
    fn queried_policy(namespace: &str, metric: &str, enabled: bool) -> ScalingPolicy {
        of_cluster(namespace, metric, enabled, "prod")
    }

    fn of_cluster(namespace: &str, metric: &str, enabled: bool, cluster: &str) -> ScalingPolicy {
        let dimension = MetricDimension::builder()
            .name("ClusterName")
            .value(cluster)
            .build();
        let metric = Metric::builder()
            .namespace(namespace)
            .metric_name(metric)
            .dimensions(dimension)
            .build();
        let stat = TargetTrackingMetricStat::builder()
            .metric(metric)
            .stat("Average")
            .build();
        let query = TargetTrackingMetricDataQuery::builder()
            .id("m1")
            .metric_stat(stat)
            .build();
        let metric = CustomizedMetricSpecification::builder()
            .metrics(query)
            .build();
        let tracking = TargetTrackingConfiguration::builder()
            .customized_metric_specification(metric)
            .target_value(90.0)
            .build();
        ScalingPolicy::builder()
            .policy_name("math")
            .target_tracking_configuration(tracking)
            .enabled(enabled)
            .build()
    }

    #[test]
    fn a_reservation_tracked_through_a_query_counts_unless_the_policy_is_disabled() {
        let check = |policy| super::check("g", "prod", &[policy], 2);
        let found = check(queried_policy("AWS/ECS", "MemoryReservation", true));
        assert_eq!(found.status, crate::doctor::Status::Fail, "{found:?}");
        assert!(
            found.detail.contains("math (MemoryReservation at 90 %)"),
            "{found:?}"
        );
        assert!(found.detail.contains("every instance but 2"), "{found:?}");
        let disabled = check(queried_policy("AWS/ECS", "MemoryReservation", false));
        assert_eq!(disabled.status, crate::doctor::Status::Pass);
        let elsewhere = check(queried_policy("Custom/ECS", "MemoryReservation", true));
        assert_eq!(elsewhere.status, crate::doctor::Status::Pass);
        // another cluster's reservation: that cluster's to mind
        let other = check(of_cluster("AWS/ECS", "CPUReservation", true, "staging"));
        assert_eq!(other.status, crate::doctor::Status::Pass, "{other:?}");
    }
}
