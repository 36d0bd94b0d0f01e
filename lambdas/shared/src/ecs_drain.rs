//! The drain of a container instance: the first step's, and the check's for an instance whose
//! ECS agent registered after the drain began; and the check's second listing of its tasks.
//!
//! The ECS API "follows an eventual consistency model": the result of a command "might not
//! be immediately visible to all subsequent commands", and AWS advises reading again,
//! increasing the wait "up to five minutes" (RunTask API reference). So a task started just
//! before the instance went DRAINING can be missing from the first listing. The check that
//! finds everything else drained lists the tasks again before it calls the instance drained
//! ([`track_tasks_listed_late`]), however long the drain took: that listing is the one that
//! decides the release, and a later one sees more. And the container instance's own counts,
//! read just before it is set DRAINING, tell of tasks the listing does not show yet
//! ([`crate::state::UnlistedTasks`]): the checks list again until it does.

use std::collections::BTreeSet;

use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::operation::list_tasks::ListTasksError;
use aws_sdk_ecs::types::{
    ContainerInstance, ContainerInstanceStatus, DesiredStatus, Failure, Task,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chrono::{DateTime, Utc};

use crate::ecs::describe_all_container_instances;
use crate::ecs_status::set_status;
use crate::error::{ecs_error, error_code, error_message};
use crate::pool_return::{mark, marked, unmark};
use crate::state::{
    task_has_stopped, Destination, DrainState, TrackedTask, UnlistedTasks, NOT_YET_DESCRIBED,
};
use crate::tasks::described_tasks_with;
use crate::StepError;

/// Where the drained EC2 instance stands in the cluster, as [`drain_container_instance`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Its container instance is DRAINING now, its tasks recorded.
    Draining,
    /// Registered but not ACTIVE yet (see [`set_draining`]): not in the cluster yet.
    NotActiveYet,
    /// Not registered in the cluster, or deregistered meanwhile.
    NotInCluster,
}

/// Finds the drained EC2 instance's container instance, sets it DRAINING (already DRAINING is
/// fine) and records the tasks on it in `state`, so that the drain waits for exactly those.
pub async fn drain_container_instance(
    ecs: &aws_sdk_ecs::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<Membership, StepError> {
    let cluster = state.request.cluster.clone();
    let instance_id = state.request.instance_id.clone();
    let Some(instance) = find_container_instance(ecs, &cluster, &instance_id).await? else {
        return Ok(Membership::NotInCluster);
    };
    let arn = instance
        .container_instance_arn()
        .unwrap_or_default()
        .to_string();
    if !matches!(instance.status(), Some("ACTIVE" | "DRAINING")) {
        tracing::warn!(container_instance = %arn, status = ?instance.status(), "not ACTIVE: cannot be set DRAINING yet, looked for again on each check");
        return Ok(Membership::NotActiveYet);
    }
    if !set_draining(ecs, &cluster, &instance).await? {
        return Ok(Membership::NotInCluster);
    }
    let destination = state.request.destination;
    // a stop's time is written again, over an older stop's
    let stopped_at = (destination == Destination::Stopped).then_some(state.request.event_time);
    if destination.comes_back() && (!marked(&instance) || stopped_at.is_some()) {
        if let Some(note) = mark(ecs, &cluster, &arn, stopped_at).await? {
            state.report.notes.push(note);
        }
    } else if !destination.comes_back() && marked(&instance) {
        tracing::info!(container_instance = %arn, "not coming back: its mark to be set ACTIVE removed");
        unmark(ecs, &cluster, &instance).await?;
    }
    let (tasks, listed) = tasks_on(ecs, &cluster, &arn, now, state.started_at).await?;
    tracing::info!(container_instance = %arn, tasks = tasks.len(), "container instance is DRAINING");
    let counted = instance.running_tasks_count() + instance.pending_tasks_count();
    let unlisted = UnlistedTasks::beyond(u32::try_from(counted).unwrap_or(0), listed, now);
    if unlisted.is_some() {
        tracing::warn!(container_instance = %arn, counted, listed, "the container instance counts tasks the listing does not show yet (ECS is eventually consistent): listed again until it does");
    }
    state.remaining.unlisted = unlisted;
    state.remaining.tasks = tasks.iter().map(|task| task.arn.clone()).collect();
    state.tasks = tasks;
    state.container_instance_arn = Some(arn);
    Ok(Membership::Draining)
}

/// Lists the container instance's tasks again and records those the drain did not know
/// and that have not stopped, adding them to `remaining`, so that it waits for them too.
/// Those that stopped since the drain began are recorded as stopped, not waited for: the
/// registrations their services left on the instance are theirs
/// ([`crate::state::Remaining::left_to_ecs`]). True when it found one to wait for. Nothing
/// to list when the instance never joined the cluster.
pub async fn track_tasks_listed_late(
    ecs: &aws_sdk_ecs::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<bool, StepError> {
    let Some(arn) = state.container_instance_arn.clone() else {
        return Ok(false);
    };
    let cluster = state.request.cluster.clone();
    let arns = match task_arns_on(ecs, &cluster, &arn).await {
        Ok(arns) => arns,
        // Not documented: a container instance deregistered meanwhile (by force: ECS no longer
        // manages its tasks) may be refused as a filter. The checks judge such an instance.
        Err(error) if error_code(&error) == Some("InvalidParameterException") => {
            tracing::warn!(container_instance = %arn, error = ?error_message(&error), "the container instance's tasks cannot be listed again");
            state.remaining.unlisted = None;
            return Ok(false);
        }
        Err(error) => return Err(ecs_error(&cluster, "ListTasks", error)),
    };
    let unknown: Vec<String> = arns
        .into_iter()
        .filter(|listed| !state.tasks.iter().any(|known| &known.arn == listed))
        .collect();
    if unknown.is_empty() {
        return Ok(false);
    }
    let mut found = described_tasks(ecs, &cluster, &unknown, Some(state.started_at)).await?;
    // Each task shown for the first time that has not stopped, or stopped since the drain
    // began, may be one the container instance counted; one that stopped before is not (it
    // is not recorded, and shows again on each listing).
    state.remaining.unlisted = state
        .remaining
        .unlisted
        .and_then(|unlisted| unlisted.settled_by(found.len()));
    listed_at(&mut found, now);
    let mut any = false;
    for task in &found {
        if task_has_stopped(&task.last_status) {
            tracing::info!(task = %task.arn, service = ?task.service, "a task the first listing did not show stopped since the drain began");
            continue;
        }
        tracing::warn!(task = %task.arn, last_status = %task.last_status, "a task the first listing did not show (ECS is eventually consistent): the drain waits for it too");
        state.remaining.tasks.push(task.arn.clone());
        any = true;
    }
    state.tasks.extend(found);
    Ok(any)
}

/// The container instance of `instance_id`, found with the `ec2InstanceId ==` filter.
/// The match is checked on the described instance, never assumed from the filter.
async fn find_container_instance(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance_id: &str,
) -> Result<Option<ContainerInstance>, StepError> {
    let filter = format!("ec2InstanceId == {instance_id}");
    Ok(describe_all_container_instances(ecs, cluster, Some(filter))
        .await?
        .into_iter()
        .find(|instance| instance.ec2_instance_id() == Some(instance_id)))
}

/// Sets the ACTIVE or DRAINING container instance DRAINING. Returns false when it vanished
/// meanwhile.
///
/// ECS takes DRAINING only from ACTIVE ("A container instance can't be changed to DRAINING
/// until it has reached an ACTIVE status", UpdateContainerInstancesState; "If a container
/// instance is in REGISTERING, DEREGISTERING, or REGISTRATION_FAILED state you can describe
/// the container instance but can't update the container instance state"). One REGISTERING
/// (its trunk network interface provisioned, with the account's `awsvpcTrunking`) cannot
/// accept tasks yet ("The ACTIVE status indicates that the container instance can accept
/// tasks"), and once ACTIVE takes them at once (a DAEMON's first): it counts as not in the
/// cluster yet, looked for again on each check and drained then, as an instance whose agent
/// registers mid-drain is.
async fn set_draining(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance: &ContainerInstance,
) -> Result<bool, StepError> {
    let arn = instance.container_instance_arn().unwrap_or_default();
    if instance.status() == Some("DRAINING") {
        tracing::info!(container_instance = %arn, "already DRAINING");
        return Ok(true);
    }
    let set = set_status(ecs, cluster, arn, ContainerInstanceStatus::Draining).await?;
    if !set {
        tracing::info!(container_instance = %arn, "deregistered before it could be drained");
    }
    Ok(set)
}

/// Every task on the container instance that has not stopped, those DescribeTasks does not
/// know yet included, and how many of the listed tasks the container instance may have
/// counted: those, and those that stopped `since` the drain began (one that stopped between
/// the count and the listing). A task that stopped before does not stand in for one the
/// listing does not show yet (ListTasks shows stopped tasks "for at least one hour").
async fn tasks_on(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: &str,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<(Vec<TrackedTask>, usize), StepError> {
    let arns = task_arns_on(ecs, cluster, container_instance)
        .await
        .map_err(|error| ecs_error(cluster, "ListTasks", error))?;
    let mut tasks = described_tasks(ecs, cluster, &arns, Some(since)).await?;
    let countable = tasks.len();
    tasks.retain(|task| !task_has_stopped(&task.last_status));
    listed_at(&mut tasks, now);
    Ok((tasks, countable))
}

/// Records that the tasks just listed and not described yet were listed at `now`.
fn listed_at(tasks: &mut [TrackedTask], now: DateTime<Utc>) {
    for task in tasks
        .iter_mut()
        .filter(|task| task.last_status == NOT_YET_DESCRIBED)
    {
        tracing::warn!(task = %task.arn, "listed but not described yet (ECS is eventually consistent): waited for until it is");
        task.unseen_since = Some(now);
    }
}

/// The tasks ListTasks shows on the container instance, by both desired statuses: a task
/// ECS is already stopping has desired status STOPPED and would be missing from the default
/// list (a step may run again on a retry or redrive).
async fn task_arns_on(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: &str,
) -> Result<Vec<String>, SdkError<ListTasksError, HttpResponse>> {
    let mut arns = BTreeSet::new();
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let page: Vec<String> = ecs
            .list_tasks()
            .cluster(cluster)
            .container_instance(container_instance)
            .desired_status(desired)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        arns.extend(page);
    }
    Ok(arns.into_iter().collect())
}

/// The tasks `arns` that have not stopped, as DescribeTasks shows them, and with
/// `stopped_since` those that stopped since then; those it answers MISSING with
/// [`NOT_YET_DESCRIBED`] (whoever just listed them records when: [`TrackedTask::unseen_since`]).
pub async fn described_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    stopped_since: Option<DateTime<Utc>>,
) -> Result<Vec<TrackedTask>, StepError> {
    let described = described_tasks_with(ecs, cluster, arns, |output| {
        let missing = missing_tasks(output.failures());
        let found = output.tasks.unwrap_or_default().into_iter().map(Ok);
        found.chain(missing.into_iter().map(Err)).collect()
    })
    .await?;
    let mut tasks = Vec::new();
    for task in &described {
        let task = match task {
            Ok(task) => task,
            Err(arn) => {
                tasks.push(TrackedTask {
                    arn: arn.clone(),
                    service: None,
                    last_status: NOT_YET_DESCRIBED.to_string(),
                    unseen_since: None,
                });
                continue;
            }
        };
        let last_status = task.last_status().unwrap_or("UNKNOWN");
        if task_has_stopped(last_status)
            && !stopped_since.is_some_and(|since| stopped_after(task, since))
        {
            continue;
        }
        tasks.push(TrackedTask {
            arn: task.task_arn().unwrap_or_default().to_string(),
            service: service_of(task),
            last_status: last_status.to_string(),
            unseen_since: None,
        });
    }
    Ok(tasks)
}

/// The service that owns `task`, from its `group` (`service:<name>`); `None` for a standalone one.
pub fn service_of(task: &Task) -> Option<String> {
    task.group()
        .and_then(|group| group.strip_prefix("service:"))
        .map(str::to_string)
}

/// The tasks a DescribeTasks answer lists as failures with reason MISSING.
pub fn missing_tasks(failures: &[Failure]) -> Vec<String> {
    failures
        .iter()
        .filter(|failure| failure.reason() == Some(NOT_YET_DESCRIBED))
        .filter_map(|failure| failure.arn().map(str::to_string))
        .collect()
}

/// Whether the task stopped at or after `since` (ECS sets `stoppedAt` once it is STOPPED).
fn stopped_after(task: &Task, since: DateTime<Utc>) -> bool {
    task.stopped_at()
        .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
        .is_some_and(|at| at >= since)
}
