//! The load balancers of the wait: refreshing where the instance stands in each, and taking
//! over those left to ECS once ECS no longer stands for them.

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use chrono::{DateTime, Utc};
use sta_shared::elb::{classic_registration, deregister_classic};
use sta_shared::elbv2::{deregister_targets, instance_targets, still_registered, target_health};
use sta_shared::left_to_ecs::{must_take_over_at, service_tasks_left_unstopped};
use sta_shared::state::{
    seconds, ClassicElb, DrainState, LoadBalancers, ServiceBalancer, TargetGroup,
};
use sta_shared::StepError;

use crate::replacement::Serving;
use crate::Deps;

/// A service task that left the wait without being STOPPED (orphaned by a forced
/// deregistration, its agent lost, its cluster deleted, or unknown to ECS) says nothing
/// about its load balancers: ECS stops a task only once its registrations have drained,
/// but it takes an orphaned task out of them while it keeps running, and with the cluster
/// gone nobody manages them any more. So the drain takes over the load balancers it left
/// to ECS: each one the instance is still in joins those it waits for (the refresh
/// deregisters a registration still there and waits out the draining).
/// True when it took one over.
pub(crate) async fn adopt_service_balancers(
    deps: &Deps,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<bool, StepError> {
    if service_tasks_left_unstopped(state) == 0 {
        return Ok(false);
    }
    adopt(deps, state, now, |_| true).await
}

/// Moves the load balancers left to ECS that `which` picks to those the drain waits for:
/// each Classic ELB (taken over `now`: an instance OutOfService in it has in-flight
/// requests no API shows, waited out for its draining timeout from now), and each target
/// group the instance is still registered in (on the ports it is). A registration that still
/// serves is moved only once the service serves without it, or at the last moment it could
/// still drain ([`crate::replacement`]); until then it stays left to ECS. A group that several
/// services share on the instance is moved only once none of them waits: taking it over ends
/// every registration of the instance there. True when it moved any.
pub(crate) async fn adopt(
    deps: &Deps,
    state: &mut DrainState,
    now: DateTime<Utc>,
    which: impl Fn(&ServiceBalancer) -> bool,
) -> Result<bool, StepError> {
    let cluster = state.request.cluster.clone();
    let instance_id = state.request.instance_id.clone();
    let last_moments = last_moments(state);
    let known_services = known_services(state);
    let Some(balancers) = state.load_balancers.as_mut() else {
        return Ok(false);
    };
    let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut balancers.service_managed)
        .into_iter()
        .partition(|managed| which(managed));
    balancers.service_managed = kept;
    let mut adopted = false;
    let mut groups = Vec::new();
    for managed in taken {
        let name = managed.load_balancer.clone();
        state.remaining.left_to_ecs.retain(|left| left != &name);
        // Two services sharing it: it is waited for once.
        if state.remaining.classic_elbs.contains(&name)
            || state.remaining.target_groups.contains(&name)
        {
            continue;
        }
        if name.starts_with("arn:") {
            groups.push(managed);
            continue;
        }
        let unhealthy = classic_registration(&deps.elb, &name, &instance_id)
            .await?
            .is_some_and(|registration| registration.may_hide_requests());
        tracing::info!(elb = %name, service = %managed.service, unhealthy, "the drain waits for the Classic ELB it left to ECS");
        balancers.classic.push(ClassicElb {
            name: name.clone(),
            draining_seconds: managed.draining_seconds,
            unhealthy,
            taken_over_at: Some(now),
        });
        state.remaining.classic_elbs.push(name);
        adopted = true;
    }
    let read = Registrations {
        deps,
        cluster: &cluster,
        instance_id: &instance_id,
        last_moments: &last_moments,
        known_services: &known_services,
        now,
    };
    let (waiting, moved) = read.decide(groups).await?;
    for managed in waiting {
        if !state.remaining.left_to_ecs.contains(&managed.load_balancer) {
            state
                .remaining
                .left_to_ecs
                .push(managed.load_balancer.clone());
        }
        balancers.service_managed.push(managed);
    }
    for (managed, ports) in moved {
        let name = managed.load_balancer.clone();
        if state.remaining.target_groups.contains(&name) {
            continue; // moved already for another service sharing it
        }
        tracing::info!(target_group = %name, service = %managed.service, ?ports, "the drain waits for the target group it left to ECS");
        balancers.target_groups.push(TargetGroup {
            arn: name.clone(),
            ports,
            draining_seconds: managed.draining_seconds,
            connections_outlive_delay: managed.connections_outlive_delay,
            taken_over_at: Some(now),
            network: managed.network,
            routes_until: None,
        });
        state.remaining.target_groups.push(name);
        adopted = true;
    }
    Ok(adopted)
}

/// The services of the tasks the drain knows on the instance.
fn known_services(state: &DrainState) -> Vec<String> {
    let services = state.tasks.iter().filter_map(|task| task.service.clone());
    services.collect()
}

/// The instance's registrations in the target groups left to ECS, read to decide which of them
/// the drain takes over now.
struct Registrations<'a> {
    deps: &'a Deps,
    cluster: &'a str,
    instance_id: &'a str,
    last_moments: &'a [(String, DateTime<Utc>)],
    /// The services of the tasks the drain knows on the instance (a registration left to ECS
    /// without a listed task is one of theirs once a task of its service is found).
    known_services: &'a [String],
    now: DateTime<Utc>,
}

impl Registrations<'_> {
    /// Splits `groups` into those still left to ECS (a registration of the group waits for its
    /// service's replacement) and those moved now, with the ports the instance is registered
    /// on there. A group gone, or where the instance is no longer registered, is neither.
    async fn decide(
        &self,
        groups: Vec<ServiceBalancer>,
    ) -> Result<(Vec<ServiceBalancer>, Vec<(ServiceBalancer, Vec<i32>)>), StepError> {
        let mut read: Vec<(String, DescribeTargetHealthOutput)> = Vec::new();
        let mut waits: Vec<String> = Vec::new();
        let mut decided = Vec::new();
        for managed in groups {
            let name = managed.load_balancer.clone();
            if !read.iter().any(|(arn, _)| arn == &name) {
                let Some(health) = target_health(&self.deps.elbv2, &name, None).await? else {
                    continue;
                };
                read.push((name.clone(), health));
            }
            let health = read.iter().find(|(arn, _)| arn == &name).map(|(_, h)| h);
            let Some(health) = health else { continue };
            let ports = registered_ports(health, self.instance_id);
            if ports.is_empty() {
                continue;
            }
            if !waits.contains(&name) && self.waits(&managed, health).await? {
                tracing::info!(target_group = %name, service = %managed.service, "the registration still serves, and the service does not without it yet: left to ECS until it does");
                waits.push(name);
            }
            decided.push((managed, ports));
        }
        Ok(decided.into_iter().fold(
            (Vec::new(), Vec::new()),
            |(mut waiting, mut moved), (managed, ports)| {
                if waits.contains(&managed.load_balancer) {
                    waiting.push(managed);
                } else {
                    moved.push((managed, ports));
                }
                (waiting, moved)
            },
        ))
    }

    /// Whether `managed`'s registration in its group (as `health` shows it) is to stay left to
    /// ECS for now ([`Serving::waits_for_replacement`]).
    async fn waits(
        &self,
        managed: &ServiceBalancer,
        health: &DescribeTargetHealthOutput,
    ) -> Result<bool, StepError> {
        let name = &managed.load_balancer;
        let last = self
            .last_moments
            .iter()
            .find_map(|(left, last)| (left == name).then_some(*last));
        let serving = Serving {
            cluster: self.cluster,
            instance_id: self.instance_id,
            target_group: name,
            health,
        };
        let without_task =
            managed.registered_without_task && !self.known_services.contains(&managed.service);
        serving
            .waits_for_replacement(&self.deps.ecs, managed, without_task, last, self.now)
            .await
    }
}

/// The last moment to take over each load balancer left to ECS ([`must_take_over_at`]).
fn last_moments(state: &DrainState) -> Vec<(String, DateTime<Utc>)> {
    state
        .load_balancers
        .iter()
        .flat_map(|balancers| &balancers.service_managed)
        .map(|managed| {
            let last = must_take_over_at(state, managed);
            (managed.load_balancer.clone(), last)
        })
        .collect()
}

/// The ports on which the instance is still registered in the group `health` describes.
fn registered_ports(health: &DescribeTargetHealthOutput, instance_id: &str) -> Vec<i32> {
    health
        .target_health_descriptions()
        .iter()
        .filter(|description| still_registered(description))
        .filter_map(|description| description.target())
        .filter(|target| target.id() == Some(instance_id))
        .filter_map(|target| target.port())
        .collect()
}

/// A Classic ELB is drained once the instance is no longer registered and no longer
/// `InService` (connection draining over). Found registered again (by hand, or a lost
/// deregistration), it is deregistered again, and its draining starts over from then. An
/// instance that was unhealthy when the drain (last) deregistered it, or that is no longer
/// shown draining before its draining timeout has passed ([`ClassicElb::out_of_service`]), is
/// drained only once the draining timeout has also passed: the load balancer completes its
/// in-flight requests, which no API shows ([`ClassicElb::unseen_requests_done`]).
pub(crate) async fn refresh_classic(
    elb: &aws_sdk_elasticloadbalancing::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let instance_id = &state.request.instance_id;
    let deregistered_at = state
        .load_balancers
        .as_ref()
        .and_then(|balancers| balancers.deregistered_at);
    let recorded = records(&mut state.load_balancers, |balancers| {
        &mut balancers.classic
    });
    let mut draining = Vec::new();
    for name in &state.remaining.classic_elbs {
        let Some(registration) = classic_registration(elb, name, instance_id).await? else {
            continue;
        };
        let mut record = recorded.iter_mut().find(|elb| &elb.name == name);
        if registration.registered {
            tracing::warn!(elb = %name, "instance registered again; deregistering");
            deregister_classic(elb, name, instance_id).await?;
            if let Some(record) = record.as_deref_mut() {
                record.unhealthy = registration.may_hide_requests();
                record.taken_over_at = Some(now);
            }
        }
        if let Some(record) = record.as_deref_mut().filter(|_| registration.drained()) {
            record.out_of_service(deregistered_at, now);
        }
        let unseen_done = record.is_none_or(|elb| elb.unseen_requests_done(deregistered_at, now));
        if !registration.drained() || !unseen_done {
            draining.push(name.clone());
        }
    }
    state.remaining.classic_elbs = draining;
    Ok(())
}

/// A target group is drained once the instance is no longer registered there, nor draining,
/// and, for a Network Load Balancer's, once it may no longer route new connections to it
/// ([`TargetGroup::may_still_route`]). Found registered again (by hand, or a lost
/// deregistration), or still registered in a group no listener forwarded to (`unused`,
/// Target.NotInUse: it serves once one does), it is deregistered again, and a Network Load
/// Balancer's routing starts its time over.
pub(crate) async fn refresh_target_groups(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let instance_id = &state.request.instance_id;
    let routing = seconds(state.settings.nlb_deregistration_seconds);
    let recorded = records(&mut state.load_balancers, |balancers| {
        &mut balancers.target_groups
    });
    let mut draining = Vec::new();
    for arn in &state.remaining.target_groups {
        let record = recorded.iter_mut().find(|group| &group.arn == arn);
        let ports = record
            .as_ref()
            .map(|group| group.ports.clone())
            .unwrap_or_default();
        if ports.is_empty() {
            // Not registered there when the drain began (Auto Scaling deregistered it): only
            // a Network Load Balancer's routing is waited for. Asked without targets,
            // DescribeTargetHealth would answer for every instance of the group.
            if record.is_some_and(|group| group.may_still_route(now)) {
                draining.push(arn.clone());
            }
            continue;
        }
        let targets = instance_targets(instance_id, &ports);
        let Some(health) = target_health(elbv2, arn, Some(targets)).await? else {
            continue;
        };
        let mut pending = false;
        let mut registered_again = Vec::new();
        for description in health.target_health_descriptions() {
            let Some(target_state) = description
                .target_health()
                .and_then(|health| health.state())
            else {
                continue;
            };
            if !still_registered(description) {
                continue;
            }
            pending = true;
            if target_state != &TargetHealthStateEnum::Draining {
                if let Some(target) = description.target() {
                    registered_again.push(target.clone());
                }
            }
        }
        let deregistered = !registered_again.is_empty();
        if deregistered {
            tracing::warn!(target_group = %arn, targets = registered_again.len(), "instance registered again; deregistering");
            if !deregister_targets(elbv2, arn, registered_again).await? {
                continue;
            }
        }
        let Some(record) = record else {
            if pending {
                draining.push(arn.clone());
            }
            continue;
        };
        if record.network && (deregistered || record.taken_over_at == Some(now)) {
            record.routes_until = Some(Utc::now() + routing);
        }
        if pending || record.may_still_route(now) {
            draining.push(arn.clone());
        }
    }
    state.remaining.target_groups = draining;
    Ok(())
}

/// The state's records of one kind of load balancer (`kind`: its Classic ELBs or its target
/// groups), to update in place while the refresh reads the rest of the state; none when it
/// keeps no records.
fn records<T>(
    balancers: &mut Option<LoadBalancers>,
    kind: impl FnOnce(&mut LoadBalancers) -> &mut Vec<T>,
) -> &mut [T] {
    balancers
        .as_mut()
        .map_or(&mut [], |balancers| kind(balancers).as_mut_slice())
}
