//! Whether each load balancer enables every Availability Zone the managed groups launch in.
//! A registration in a zone its load balancer does not enable gets no traffic (TargetHealth:
//! `unused`, `Target.NotInUse`; a Classic ELB's instance `OutOfService`), so a replacement
//! task placed there never becomes healthy: with a minimum healthy percent of 100 the old task
//! is never stopped and the drain waits until its deadline.

use std::collections::BTreeSet;

use super::super::hooks::Group;
use super::super::services::Service;
use super::super::{Check, Clients};
use super::Balancer;
use crate::CliError;

/// The zones of the load balancers that use a target group.
pub async fn of_target_group(
    clients: &Clients,
    load_balancers: &[String],
) -> Result<Vec<String>, CliError> {
    if load_balancers.is_empty() {
        return Ok(Vec::new());
    }
    let described = clients
        .elbv2
        .describe_load_balancers()
        .set_load_balancer_arns(Some(load_balancers.to_vec()))
        .send()
        .await?;
    let zones: BTreeSet<String> = described
        .load_balancers()
        .iter()
        .flat_map(|lb| lb.availability_zones())
        .filter_map(|zone| zone.zone_name().map(str::to_string))
        .collect();
    Ok(zones.into_iter().collect())
}

/// `lb-zones` for one of the service's load balancers; none when its zones are not known (or no
/// load balancer uses it: `load-balancer` says so).
pub fn check(service: &Service, lb: &Balancer, groups: &[Group]) -> Option<Check> {
    if lb.zones.is_empty() || !lb.in_use {
        return None;
    }
    let subject = format!("{} / {}", service.name, lb.label);
    let missing: Vec<String> = groups
        .iter()
        .flat_map(|group| {
            group
                .zones
                .iter()
                .filter(|zone| !lb.zones.contains(zone))
                .map(move |zone| format!("{zone} (group {})", group.name))
        })
        .collect();
    let enabled = lb.zones.join(", ");
    if missing.is_empty() {
        return Some(Check::pass(
            "lb-zones",
            Some(&subject),
            format!("enables every zone the groups launch in ({enabled})"),
        ));
    }
    let fix = if lb.label.starts_with("Classic") {
        "enable those zones: aws elb attach-load-balancer-to-subnets (in a VPC) or aws elb \
         enable-availability-zones-for-load-balancer; or take them out of the groups \
         (aws autoscaling update-auto-scaling-group --vpc-zone-identifier <subnets in enabled zones>)"
    } else {
        "enable those zones: aws elbv2 set-subnets --load-balancer-arn <arn> --subnets <a subnet in \
         every zone>; or take them out of the groups (aws autoscaling update-auto-scaling-group \
         --vpc-zone-identifier <subnets in enabled zones>)"
    };
    Some(Check::fail(
        "lb-zones",
        Some(&subject),
        format!(
            "enables {enabled} but not {}: instances there get no traffic, so a replacement task \
             placed there never becomes healthy and the drain it should end waits until its deadline",
            missing.join(", ")
        ),
        fix,
    ))
}
