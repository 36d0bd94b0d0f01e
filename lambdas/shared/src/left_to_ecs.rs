//! When the drain takes over a registration it left to ECS without a listed task
//! ([`ServiceBalancer::registered_without_task`]).
//!
//! ECS shows no bound on how late ListTasks shows a task: the RunTask API reference advises
//! reading again "starting with a couple of seconds of wait time and increasing gradually
//! up to five minutes". The drain waits [`LISTING_LAG_SECONDS`] after it began for a task of
//! the service to show up before it calls the registration nobody's, and longer while the
//! container instance counts a task the drain does not know; but never so long that the
//! registration could not drain before the drain's deadline or a Spot instance's
//! interruption.

use chrono::{DateTime, Utc};

use crate::state::{seconds, task_has_stopped, DrainState, ServiceBalancer, Trigger};

/// How long after the drain began a task missing from ListTasks is waited for before the
/// registration it may be behind is taken over, unless that would leave the registration
/// too little time to drain (see the module).
pub const LISTING_LAG_SECONDS: u64 = 300;
/// A Spot Instance interruption notice comes two minutes before the interruption.
pub const SPOT_INTERRUPTION_NOTICE_SECONDS: u64 = 120;
/// How long before its draining must start the last takeover comes: the check that takes it
/// over is late by up to its wait's rounding and the state machine's and function's own time.
const TAKE_OVER_MARGIN_SECONDS: u64 = 15;

/// The registrations the drain left to ECS without a listed task, still undecided.
pub fn undecided(state: &DrainState) -> impl Iterator<Item = &ServiceBalancer> {
    state
        .load_balancers
        .iter()
        .flat_map(|balancers| &balancers.service_managed)
        .filter(|balancer| {
            balancer.registered_without_task
                && state
                    .remaining
                    .left_to_ecs
                    .contains(&balancer.load_balancer)
        })
}

/// How often a check looks again at a registration left to ECS that waits for its service's
/// replacement ([`awaiting_replacement`]): the replacement's health shows in no event the
/// drain hears of, and every second past it the instance is kept for nothing.
pub const REPLACEMENT_RECHECK_SECONDS: u64 = 15;

/// The last moment to take `balancer` over and still see its draining end before the
/// deadline, or before a Spot instance's interruption (with a margin for the check's own
/// lateness). Its draining lasts its draining time and, in a Network Load Balancer's group,
/// as long as the load balancer may still route new connections to the instance once
/// deregistered ([`crate::state::Settings::nlb_deregistration_seconds`]), whichever is longer.
/// In the past already when the draining is longer than that: then the first step
/// deregisters the instance at once.
pub fn must_take_over_at(state: &DrainState, balancer: &ServiceBalancer) -> DateTime<Utc> {
    let mut end = state.deadline_at;
    if state.request.trigger == Trigger::SpotInterruption {
        end = end.min(state.request.event_time + seconds(SPOT_INTERRUPTION_NOTICE_SECONDS));
    }
    let routing = if balancer.network {
        state.settings.nlb_deregistration_seconds
    } else {
        0
    };
    end - seconds(balancer.draining_seconds.max(routing) + TAKE_OVER_MARGIN_SECONDS)
}

/// The services of the drain's tasks that left the wait without being STOPPED (orphaned by a
/// forced deregistration, their agent lost, their cluster deleted, or unknown to ECS), once a
/// task.
pub fn services_of_tasks_left_unstopped(state: &DrainState) -> impl Iterator<Item = &str> {
    state
        .tasks
        .iter()
        .filter(|task| {
            !task_has_stopped(&task.last_status) && !state.remaining.tasks.contains(&task.arn)
        })
        .filter_map(|task| task.service.as_deref())
}

/// How many of the drain's service tasks left the wait without being STOPPED
/// ([`services_of_tasks_left_unstopped`]).
pub fn service_tasks_left_unstopped(state: &DrainState) -> usize {
    services_of_tasks_left_unstopped(state).count()
}

/// The registrations left to ECS that a check looks at again for the drain to take over, while
/// a service task left the wait unstopped: each waits for its service to serve without it, or
/// for its last moment ([`must_take_over_at`]).
pub fn awaiting_replacement(state: &DrainState) -> impl Iterator<Item = &ServiceBalancer> {
    let orphaned = service_tasks_left_unstopped(state) > 0;
    state
        .load_balancers
        .iter()
        .flat_map(|balancers| &balancers.service_managed)
        .filter(move |balancer| {
            orphaned
                && !balancer.registered_without_task
                && state
                    .remaining
                    .left_to_ecs
                    .contains(&balancer.load_balancer)
        })
}

/// When `balancer` is taken over unless the container instance counts a task the drain
/// does not know.
pub fn take_over_at(state: &DrainState, balancer: &ServiceBalancer) -> DateTime<Utc> {
    (state.started_at + seconds(LISTING_LAG_SECONDS)).min(must_take_over_at(state, balancer))
}

/// The next moment after `now` at which a registration left to ECS is to be taken over: an
/// undecided one's, or the last moment of one awaiting its service's replacement.
pub fn next_due(state: &DrainState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let undecided = undecided(state).flat_map(|balancer| {
        [
            take_over_at(state, balancer),
            must_take_over_at(state, balancer),
        ]
    });
    let awaiting = awaiting_replacement(state).map(|balancer| must_take_over_at(state, balancer));
    undecided.chain(awaiting).filter(|at| *at > now).min()
}
