//! The judgement of a service's room to move a task (no AWS calls).

use super::Service;
use crate::doctor::Check;

/// Whether a task of the service takes a whole instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Host networking or a fixed host port: one task an instance; why.
    OnePerInstance(String),
    /// awsvpc or dynamic host ports: tasks can share an instance.
    Shared,
}

/// N+1: the usable instances are at least the desired count plus N.
pub fn n_plus_one(service: &str, usable: u64, desired: u64, n: u64) -> Check {
    let subject = Some(service);
    if usable >= desired + n {
        return Check::pass(
            "n-plus-1",
            subject,
            format!("{usable} usable instances >= desired {desired} + N {n}"),
        );
    }
    Check::fail(
        "n-plus-1",
        subject,
        format!(
            "{usable} usable instances < desired {desired} + N {n}: a task on a draining instance has no \
             spare instance to move to (usable: ACTIVE, agent connected, InService)"
        ),
        format!(
            "scale the group out by {} instance(s), or lower the service's desired count (the task scaler keeps \
             it at usable - N: is it scheduled?)",
            desired + n - usable
        ),
    )
}

/// Can ECS move one task off a draining instance, within the deployment configuration and
/// with `free` usable instances that run no task of the service?
pub fn deployment(service: &Service, placement: &Placement, free: u64) -> Check {
    let subject = Some(service.name.as_str());
    let desired = service.desired;
    let (min_pct, max_pct) = (service.minimum_healthy_percent, service.maximum_percent);
    let config = format!("minimum healthy {min_pct} %, maximum {max_pct} % of {desired}");
    if desired == 0 {
        return Check::pass(
            "deployment-configuration",
            subject,
            "desired count 0: nothing to move",
        );
    }
    let minimum = service.minimum_healthy();
    let maximum = max_pct * desired / 100;
    if minimum >= desired {
        // No task may stop before its replacement is healthy: ECS must start one more.
        if maximum <= desired {
            return Check::fail(
                "deployment-configuration",
                subject,
                format!(
                    "{config}: no task may stop before its replacement is healthy, and no task may start beyond \
                     {maximum}: a task on a draining instance is never replaced, the drain waits until its deadline"
                ),
                format!(
                    "raise maximumPercent to at least {} (or lower minimumHealthyPercent)",
                    (100 * (desired + 1)).div_ceil(desired)
                ),
            );
        }
        if let (Placement::OnePerInstance(why), 0) = (placement, free) {
            return Check::fail(
                "deployment-configuration",
                subject,
                format!(
                    "{config} and {why} (one task an instance): every usable instance runs a task of it, so a \
                     replacement has nowhere to start and the drain waits until its deadline"
                ),
                "add an instance (N+1): scale the group out, or lower the desired count",
            );
        }
        let room = match placement {
            Placement::OnePerInstance(why) => format!("on one of {free} free instance(s) ({why})"),
            Placement::Shared => "beside the others".to_string(),
        };
        return Check::pass(
            "deployment-configuration",
            subject,
            format!("{config}: ECS starts the replacement first, {room}, and stops the old task once it is healthy"),
        );
    }
    if minimum == 0 {
        return Check::warn(
            "deployment-configuration",
            subject,
            format!(
                "{config}: ECS may stop every task of a draining instance before its replacement runs: the service \
                 serves less than it should (nothing, for a one-task service) during every scale-in"
            ),
            "set minimumHealthyPercent to 100 and maximumPercent to 200",
        );
    }
    Check::pass(
        "deployment-configuration",
        subject,
        format!("{config}: ECS may stop the task before its replacement runs, keeping {minimum} of {desired} healthy"),
    )
}
