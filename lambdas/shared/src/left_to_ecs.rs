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

use crate::state::{seconds, DrainState, ServiceBalancer, Trigger};

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

/// The last moment to take `balancer` over and still see its draining end before the
/// deadline, or before a Spot instance's interruption (with a margin for the check's own
/// lateness). In the past already when the draining is longer than that: then the first
/// step deregisters the instance at once.
pub fn must_take_over_at(state: &DrainState, balancer: &ServiceBalancer) -> DateTime<Utc> {
    let mut end = state.deadline_at;
    if state.request.trigger == Trigger::SpotInterruption {
        end = end.min(state.request.event_time + seconds(SPOT_INTERRUPTION_NOTICE_SECONDS));
    }
    end - seconds(balancer.draining_seconds + TAKE_OVER_MARGIN_SECONDS)
}

/// When `balancer` is taken over unless the container instance counts a task the drain
/// does not know.
pub fn take_over_at(state: &DrainState, balancer: &ServiceBalancer) -> DateTime<Utc> {
    (state.started_at + seconds(LISTING_LAG_SECONDS)).min(must_take_over_at(state, balancer))
}

/// The next moment after `now` at which an undecided registration is to be taken over.
pub fn next_due(state: &DrainState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    undecided(state)
        .flat_map(|balancer| {
            [
                take_over_at(state, balancer),
                must_take_over_at(state, balancer),
            ]
        })
        .filter(|at| *at > now)
        .min()
}
