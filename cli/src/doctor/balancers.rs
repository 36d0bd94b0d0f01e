//! The services' load balancers: a drain needs the replacement healthy (healthy threshold
//! x interval) and the old registration drained (deregistration delay, connection
//! draining) before the deadline; an NLB target group without connection termination
//! keeps connections past its delay.

use std::collections::BTreeMap;

use super::hooks::Group;
use super::machine::Drain;
use super::services::Service;
use super::{Check, Clients};
use crate::CliError;
use sta_shared::state::NLB_DEREGISTRATION_SECONDS;

mod zones;

/// A replacement that takes longer than this to become healthy slows every scale-in.
pub const SLOW_HEALTHY_SECONDS: u64 = 300;
/// How long a Network Load Balancer's new target may stay in registration before its health
/// checks start: "It can take a few minutes for the registration process to complete and health
/// checks to start" ("Register targets for your Network Load Balancer"); the longer reading.
pub const NLB_REGISTRATION_SECONDS: u64 = 300;
/// A Network Load Balancer's target group protocols ("Edit target group attributes for your
/// Network Load Balancer": TCP, TLS, UDP, TCP_UDP, QUIC, TCP_QUIC).
const NLB_PROTOCOLS: [&str; 6] = ["TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC"];
const CONNECTION_TERMINATION: &str = "deregistration_delay.connection_termination.enabled";
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// One load balancer (Classic ELB) or target group as the checks need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balancer {
    /// `target group NAME` or `Classic ELB NAME`.
    pub label: String,
    /// `HTTP`, `TCP`, ... (target groups).
    pub protocol: Option<String>,
    pub healthy_threshold: u64,
    pub interval_seconds: u64,
    /// `None`: connection draining off (Classic ELB).
    pub draining_seconds: Option<u64>,
    pub connection_termination: bool,
    /// A load balancer uses it (a target group some listener forwards to; a Classic ELB always).
    pub in_use: bool,
    /// The Availability Zones its load balancers enable (empty: not known).
    pub zones: Vec<String>,
}

impl Balancer {
    /// How long a new registration takes to become healthy: its registration (an NLB's), then
    /// its health checks.
    pub fn healthy_seconds(&self) -> u64 {
        self.registration_seconds() + self.checks_seconds()
    }

    /// How long its health checks take to find a new registration healthy.
    pub fn checks_seconds(&self) -> u64 {
        self.healthy_threshold * self.interval_seconds
    }

    /// How long a new registration may be in progress before its health checks start.
    pub fn registration_seconds(&self) -> u64 {
        if self.is_nlb() {
            NLB_REGISTRATION_SECONDS
        } else {
            0
        }
    }

    pub fn is_nlb(&self) -> bool {
        self.protocol
            .as_deref()
            .is_some_and(|p| NLB_PROTOCOLS.contains(&p))
    }
}

/// What ECS waits for before it deregisters a task from one of its service's load balancers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// A replica task: its replacement healthy (the minimum healthy percent holds).
    Replacement,
    /// A daemon's task, which stops last: the instance's replica tasks drained (the slowest, s).
    ReplicaTasks(u64),
}

/// Reads every load balancer of the services and adds their checks: the replica services'
/// first, whose slowest drain the daemons' draining follows; then whether each enables the
/// zones the managed `groups` launch in.
pub async fn check(
    clients: &Clients,
    drain: &Drain,
    services: &[Service],
    groups: &[Group],
    checks: &mut Vec<Check>,
) {
    let mut slowest = 0;
    for service in services.iter().filter(|s| !s.daemon) {
        for lb in read(clients, service, checks).await {
            slowest = slowest.max(
                lb.healthy_seconds() + lb.draining_seconds.unwrap_or(0) + service.stop_seconds,
            );
            checks.extend(balancer_checks(service, &lb, drain, Before::Replacement));
            checks.extend(zones::check(service, &lb, groups));
        }
    }
    for service in services.iter().filter(|s| s.daemon) {
        for lb in read(clients, service, checks).await {
            let before = Before::ReplicaTasks(slowest);
            checks.extend(balancer_checks(service, &lb, drain, before));
            checks.extend(zones::check(service, &lb, groups));
        }
    }
}

/// The service's load balancers that could be read; a check for each of the others.
async fn read(clients: &Clients, service: &Service, checks: &mut Vec<Check>) -> Vec<Balancer> {
    let mut answers = Vec::new();
    for arn in &service.load_balancers.target_groups {
        answers.push((arn, "TargetGroupNotFound", target_group(clients, arn).await));
    }
    for name in &service.load_balancers.classic {
        answers.push((name, "LoadBalancerNotFound", classic(clients, name).await));
    }
    let mut found = Vec::new();
    for (id, missing, answer) in answers {
        match answer {
            Ok(lb) => found.push(lb),
            Err(error) => checks.push(missing_or_unreadable(&service.name, id, error, missing)),
        }
    }
    found
}

fn missing_or_unreadable(service: &str, id: &str, error: CliError, missing: &str) -> Check {
    let subject = format!("{service} / {id}");
    if error.code() == Some(missing) {
        Check::fail(
            "load-balancer",
            Some(&subject),
            "the service names it but it does not exist: the service cannot register its tasks",
            "recreate it, or update the service's load balancers",
        )
    } else {
        Check::unreadable("load-balancer", Some(&subject), &error)
    }
}

/// Draining against the deadline, the replacement's health-check time (a replica's), NLB
/// connections.
pub fn balancer_checks(
    service: &Service,
    lb: &Balancer,
    drain: &Drain,
    before: Before,
) -> Vec<Check> {
    let subject = format!("{} / {}", service.name, lb.label);
    let subject = Some(subject.as_str());
    if !lb.in_use {
        return vec![Check::fail(
            "load-balancer",
            subject,
            "no load balancer uses it (no listener forwards to it): its targets are never healthy \
             (Target.NotInUse), so a replacement never counts and every drain waits until its deadline",
            "forward a listener of the service's load balancer to it, or update the service's load balancers",
        )];
    }
    let mut checks = vec![draining(subject, lb, drain, before, service.stop_seconds)];
    if before == Before::Replacement {
        checks.push(replacement_health(subject, lb));
    }
    if lb.is_nlb() {
        checks.push(nlb_routing(subject, lb, drain));
        checks.push(if lb.connection_termination {
            Check::pass("nlb-connection-termination", subject, format!("{CONNECTION_TERMINATION} is true"))
        } else {
            Check::warn(
                "nlb-connection-termination",
                subject,
                format!(
                    "{CONNECTION_TERMINATION} is false: established connections outlive the deregistration delay, \
                     so the drain ends with them open and the instance's termination cuts them"
                ),
                format!("aws elbv2 modify-target-group-attributes --target-group-arn <arn> --attributes Key={CONNECTION_TERMINATION},Value=true"),
            )
        });
    }
    checks
}

/// A service's NLB target group is left to ECS, which stops the old task once its
/// deregistration delay is over, while the NLB may still route new connections to it for
/// minutes ("It can take a few minutes ... for the load balancer to stop routing requests to
/// the target"): those reach a stopped task. The drain waits `nlb_deregistration_seconds`
/// only for the target groups it deregisters itself.
fn nlb_routing(subject: Option<&str>, lb: &Balancer, drain: &Drain) -> Check {
    let routing = drain
        .settings
        .map_or(NLB_DEREGISTRATION_SECONDS, |s| s.nlb_deregistration_seconds);
    let delay = lb.draining_seconds.unwrap_or(0);
    if delay >= routing {
        return Check::pass(
            "nlb-deregistration-delay",
            subject,
            format!("deregistration delay {delay} s: not shorter than the {routing} s the NLB may still route to a deregistered target"),
        );
    }
    Check::warn(
        "nlb-deregistration-delay",
        subject,
        format!(
            "deregistration delay {delay} s, shorter than the {routing} s the NLB may still route new connections \
             to a deregistered target (nlbDeregistrationSeconds): ECS stops the old task after the delay, and \
             connections that still arrive then are refused"
        ),
        format!("aws elbv2 modify-target-group-attributes --target-group-arn <arn> --attributes Key=deregistration_delay.timeout_seconds,Value={routing}"),
    )
}

/// The health checks' part of a replacement's wait (an NLB's registration, which no setting
/// shortens, is said but not held against it).
fn replacement_health(subject: Option<&str>, lb: &Balancer) -> Check {
    let checks = lb.checks_seconds();
    let registration = match lb.registration_seconds() {
        0 => String::new(),
        seconds => format!(
            " (after its registration, up to {seconds} s on a Network Load Balancer: {} s in all)",
            lb.healthy_seconds()
        ),
    };
    let health = format!(
        "a replacement is healthy after {} x {} s = {checks} s{registration}",
        lb.healthy_threshold, lb.interval_seconds
    );
    if checks > SLOW_HEALTHY_SECONDS {
        Check::warn(
            "lb-replacement-health",
            subject,
            format!(
                "{health}: every scale-in waits at least that long before ECS stops the old task"
            ),
            "lower the health check's healthy threshold or interval",
        )
    } else {
        Check::pass("lb-replacement-health", subject, health)
    }
}

fn draining(
    subject: Option<&str>,
    lb: &Balancer,
    drain: &Drain,
    before: Before,
    stop: u64,
) -> Check {
    let Some(draining) = lb.draining_seconds else {
        return Check::warn(
            "lb-draining",
            subject,
            "connection draining is off: in-flight requests are cut when ECS deregisters the old task",
            "enable connection draining (aws elb modify-load-balancer-attributes ... ConnectionDraining={Enabled=true,Timeout=300})",
        );
    };
    let (needed, what) = match before {
        Before::Replacement => {
            let healthy = lb.healthy_seconds();
            let needed = healthy + draining + stop;
            let registration = if lb.registration_seconds() > 0 {
                ", its NLB registration included"
            } else {
                ""
            };
            (needed, format!(
                "a drain takes about {needed} s here (replacement healthy {healthy} s{registration} + draining \
                 {draining} s + its containers' stop, up to {stop} s)"
            ))
        }
        Before::ReplicaTasks(first) => {
            let needed = first + draining + stop;
            (needed, format!(
                "a drain takes about {needed} s here (the replica tasks' drain {first} s, then this daemon task's \
                 draining {draining} s and its containers' stop, up to {stop} s: ECS stops it last)"
            ))
        }
    };
    let Some(deadline) = drain.settings.map(|s| s.drain_deadline_seconds) else {
        return Check::pass(
            "lb-draining",
            subject,
            format!("{what}; the drain deadline is unknown"),
        );
    };
    if needed >= deadline {
        return Check::fail(
            "lb-draining",
            subject,
            format!("{what}, not less than the drain deadline {deadline} s: the instance is released while it still drains"),
            format!("raise the drain deadline (infra: drainDeadline) above {} s, or shorten the draining", needed * 2),
        );
    }
    if needed * 2 > deadline {
        return Check::warn(
            "lb-draining",
            subject,
            format!("{what}, more than half the drain deadline {deadline} s: a slow placement reaches the deadline"),
            format!("raise the drain deadline (infra: drainDeadline) to {} s or more", needed * 2),
        );
    }
    Check::pass(
        "lb-draining",
        subject,
        format!("{what}, within the drain deadline {deadline} s"),
    )
}

async fn target_group(clients: &Clients, arn: &str) -> Result<Balancer, CliError> {
    let groups: Vec<_> = clients
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let Some(group) = groups.first() else {
        return Err(CliError::Aws {
            operation: "DescribeTargetGroups",
            code: "TargetGroupNotFound".to_string(),
            message: format!("{arn} not found"),
        });
    };
    let attributes: BTreeMap<String, String> = clients
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await?
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect();
    let number = |v: Option<i32>, default: u64| v.map(|v| v.max(0) as u64).unwrap_or(default);
    let zones = zones::of_target_group(clients, group.load_balancer_arns()).await?;
    Ok(Balancer {
        label: format!("target group {}", group.target_group_name().unwrap_or(arn)),
        protocol: group.protocol().map(|p| p.as_str().to_string()),
        healthy_threshold: number(group.healthy_threshold_count(), 5),
        interval_seconds: number(group.health_check_interval_seconds(), 30),
        draining_seconds: Some(
            attributes
                .get(DEREGISTRATION_DELAY)
                .and_then(|v| v.parse().ok())
                .unwrap_or(300),
        ),
        connection_termination: attributes.get(CONNECTION_TERMINATION).map(String::as_str)
            == Some("true"),
        in_use: !group.load_balancer_arns().is_empty(),
        zones,
    })
}

async fn classic(clients: &Clients, name: &str) -> Result<Balancer, CliError> {
    let found: Vec<_> = clients
        .elb
        .describe_load_balancers()
        .load_balancer_names(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let check = found.first().and_then(|lb| lb.health_check());
    let zones = found
        .first()
        .map(|lb| lb.availability_zones().to_vec())
        .unwrap_or_default();
    let attributes = clients
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_name(name)
        .send()
        .await?;
    let draining = attributes
        .load_balancer_attributes()
        .and_then(|a| a.connection_draining())
        .filter(|d| d.enabled())
        .map(|d| d.timeout().unwrap_or(300).max(0) as u64);
    Ok(Balancer {
        label: format!("Classic ELB {name}"),
        protocol: None,
        healthy_threshold: check
            .map(|c| c.healthy_threshold().max(0) as u64)
            .unwrap_or(10),
        interval_seconds: check.map(|c| c.interval().max(0) as u64).unwrap_or(30),
        draining_seconds: draining,
        connection_termination: false,
        in_use: true,
        zones,
    })
}
