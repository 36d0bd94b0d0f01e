//! Registrations left to ECS without a listed task ([`ServiceBalancer::registered_without_task`]):
//! the instance registered in the load balancer of a service that has no listed task on it.
//! ListTasks is eventually consistent, so a task the first listing missed may be behind the
//! registration; ECS takes it out of its load balancers, once its replacement serves, before
//! it stops it. The drain leaves the registration to ECS until the tasks, listed again, show
//! a task of the service (waiting for that task covers it), or until it is due to be taken
//! over ([`sta_shared::left_to_ecs`]): then the registration is nobody's, and the drain
//! deregisters it and waits out its draining.
//!
//! [`ServiceBalancer::registered_without_task`]: sta_shared::state::ServiceBalancer

use chrono::{DateTime, Utc};
use sta_shared::ecs_drain::described_tasks;
use sta_shared::left_to_ecs::{
    must_take_over_at, services_of_tasks_left_unstopped, take_over_at, undecided,
};
use sta_shared::state::{task_has_stopped, DrainState};
use sta_shared::StepError;

use crate::balancers::adopt;
use crate::Deps;
use sta_shared::own_container_instance::{describe_own, Described};

/// Settles the registrations left to ECS: with the tasks just `listed` again, those of a
/// service with a task now known on the instance (running, or stopped since the drain
/// began) are that task's; those due are taken over, unless the container instance counts
/// a task the drain does not know and the last moment to take them over has not come.
/// True when it took one over (the caller refreshes it: deregisters it).
pub(crate) async fn settle_left_to_ecs(
    deps: &Deps,
    state: &mut DrainState,
    now: DateTime<Utc>,
    listed: bool,
) -> Result<bool, StepError> {
    if listed {
        drop_those_of_known_tasks(state);
    }
    let due: Vec<(String, bool)> = undecided(state)
        .filter(|balancer| take_over_at(state, balancer) <= now)
        .map(|balancer| {
            let forced = must_take_over_at(state, balancer) <= now;
            (balancer.load_balancer.clone(), forced)
        })
        .collect();
    if due.is_empty() {
        return Ok(false);
    }
    let unknown_task = counts_an_unknown_task(deps, state).await?;
    let taken: Vec<String> = due
        .into_iter()
        .filter(|(_, forced)| *forced || !unknown_task)
        .map(|(name, _)| name)
        .collect();
    if taken.is_empty() {
        tracing::warn!(left_to_ecs = ?state.remaining.left_to_ecs, "the container instance counts a task the listings have not shown: its registration stays left to ECS");
        return Ok(false);
    }
    tracing::warn!(load_balancers = ?taken, "no task of the service listed on the instance since the drain began: the drain takes its registration over");
    let adopted = adopt(deps, state, now, |balancer| {
        balancer.registered_without_task && taken.contains(&balancer.load_balancer)
    })
    .await?;
    state
        .remaining
        .left_to_ecs
        .retain(|name| !taken.contains(name));
    Ok(adopted)
}

/// The registrations of a service with a task now known on the instance are that task's:
/// no longer without a task. Those of a task the drain waits for are ECS's to end with it;
/// those of a task given up (orphaned, its agent lost) stay left to ECS, awaiting the
/// service's replacement as any orphan's do ([`crate::replacement`]).
fn drop_those_of_known_tasks(state: &mut DrainState) {
    let theirs: Vec<(String, String)> = undecided(state)
        .filter(|balancer| {
            state
                .tasks
                .iter()
                .any(|task| task.service.as_deref() == Some(balancer.service.as_str()))
        })
        .map(|balancer| (balancer.service.clone(), balancer.load_balancer.clone()))
        .collect();
    if theirs.is_empty() {
        return;
    }
    let given_up: Vec<String> = services_of_tasks_left_unstopped(state)
        .map(str::to_string)
        .collect();
    for balancer in state
        .load_balancers
        .iter_mut()
        .flat_map(|balancers| balancers.service_managed.iter_mut())
    {
        if theirs.contains(&(balancer.service.clone(), balancer.load_balancer.clone())) {
            balancer.registered_without_task = false;
        }
    }
    let awaiting: Vec<&String> = theirs
        .iter()
        .filter(|(service, _)| given_up.contains(service))
        .map(|(_, name)| name)
        .collect();
    for (_, name) in &theirs {
        let awaits = awaiting.contains(&name);
        tracing::info!(load_balancer = %name, awaits, "the registration left to ECS is a task's found late");
    }
    state
        .remaining
        .left_to_ecs
        .retain(|left| awaiting.contains(&left) || !theirs.iter().any(|(_, name)| name == left));
}

/// Whether the container instance counts more running and pending tasks than the drain
/// knows to be running or pending on it (of those it waits for, and those it gave up on): a
/// task no listing has shown yet. ECS counts a task only while it is PENDING or RUNNING
/// (ContainerInstance: "The number of tasks on the container instance that are in the
/// RUNNING status"), neither one it is stopping (DEACTIVATING while its load balancers
/// drain, STOPPING) nor one still activating. So the known tasks are described again after
/// the counts were read, and only those PENDING or RUNNING then are set against them: a
/// known task that began to stop meanwhile must not stand in for an unknown one the count
/// still shows.
async fn counts_an_unknown_task(deps: &Deps, state: &DrainState) -> Result<bool, StepError> {
    let Described::Found(instance) = describe_own(&deps.ecs, state).await? else {
        return Ok(false);
    };
    let counted = instance.running_tasks_count() + instance.pending_tasks_count();
    let known: Vec<String> = state
        .tasks
        .iter()
        .filter(|task| {
            !task_has_stopped(&task.last_status)
                && (state.remaining.tasks.contains(&task.arn)
                    || state.report.orphaned_tasks.contains(&task.arn))
        })
        .map(|task| task.arn.clone())
        .collect();
    let counted_known = if known.is_empty() {
        0
    } else {
        described_tasks(&deps.ecs, &state.request.cluster, &known, None)
            .await?
            .iter()
            .filter(|task| matches!(task.last_status.as_str(), "PENDING" | "RUNNING"))
            .count()
    };
    Ok(usize::try_from(counted).unwrap_or(0) > counted_known)
}
