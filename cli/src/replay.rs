//! `ecs-sta replay`: redrives the drain executions that failed, timed out or were
//! aborted (`RedriveExecution`: the same execution resumes at the state that failed,
//! with the same input), or, with `restart`, starts a new execution with the original
//! input, named from the instance and the lifecycle token (without one, the action's start)
//! so that Step Functions itself refuses a second restart of the same action
//! (`ExecutionAlreadyExists`).
//!
//! Replaying is safe: every step is idempotent, and an action that expired or was
//! completed meanwhile counts as already completed.

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::{ExecutionRedriveStatus, ExecutionStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::event::execution_name;

use crate::executions::{list, Filter, Listed};
use crate::input::DrainTarget;
use crate::{CliError, Progress};

mod render;

pub use render::render;

/// Step Functions redrives executions that stopped within the last 14 days.
pub const REDRIVE_DAYS: i64 = 14;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub filter: Filter,
    pub dry_run: bool,
    pub restart: bool,
}

/// The statuses replayed unless told otherwise.
pub fn default_statuses() -> Vec<ExecutionStatus> {
    vec![
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Redriven,
    WouldRedrive,
    Restarted,
    WouldRestart,
    /// A restart of the same action exists already and runs or succeeded.
    AlreadyRestarted,
    /// Step Functions cannot redrive it (too old, history limit, ...): see `reason`.
    NotRedrivable,
    /// No restart can be started: its input names no instance to name one after, or the
    /// restart's name is taken by an execution that did not succeed (this one, or an
    /// earlier restart): see `reason`.
    NotRestartable,
    /// Running or succeeded: nothing to replay.
    Skipped,
    /// A call failed: see `reason`.
    Failed,
}

impl Action {
    /// Whether the execution still needs an operator.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Self::NotRedrivable | Self::NotRestartable | Self::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redriven => "redriven",
            Self::WouldRedrive => "would redrive",
            Self::Restarted => "restarted",
            Self::WouldRestart => "would restart",
            Self::AlreadyRestarted => "already restarted",
            Self::NotRedrivable => "not redrivable",
            Self::NotRestartable => "not restartable",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// What was done with one execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayItem {
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    /// The instance and group it drains (`instance_id`, `asg_name` in JSON).
    #[serde(flatten)]
    pub target: DrainTarget,
    pub action: Action,
    pub reason: Option<String>,
    /// The execution a restart started (or would start: its name).
    pub new_execution_arn: Option<String>,
    pub new_execution_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub dry_run: bool,
    pub restart: bool,
    pub items: Vec<ReplayItem>,
}

impl ReplayReport {
    /// True when every matching execution was replayed (or would be), or needed nothing.
    pub fn ok(&self) -> bool {
        !self.items.iter().any(|item| item.action.is_problem())
    }
}

/// Replays every execution `options.filter` matches, one after the other.
pub async fn replay(
    client: &aws_sdk_sfn::Client,
    options: &ReplayOptions,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Result<ReplayReport, CliError> {
    let listed = list(client, &options.filter, progress).await?;
    let total = listed.len();
    let mut items = Vec::with_capacity(total);
    for (index, execution) in listed.into_iter().enumerate() {
        progress(&format!(
            "replaying {}/{total}: {}",
            index + 1,
            execution.name
        ));
        items.push(replay_one(client, options, execution, now).await);
    }
    Ok(ReplayReport {
        dry_run: options.dry_run,
        restart: options.restart,
        items,
    })
}

impl ReplayItem {
    /// The item of a listed execution, before anything is known of it but its listing.
    fn listed(execution: &Listed) -> Self {
        Self {
            execution_arn: execution.execution_arn.clone(),
            name: execution.name.clone(),
            status: execution.status.clone(),
            started: execution.started,
            stopped: execution.stopped,
            target: DrainTarget::default(),
            action: Action::Failed,
            reason: None,
            new_execution_arn: None,
            new_execution_name: None,
        }
    }

    fn done(mut self, action: Action, reason: Option<String>) -> Self {
        self.action = action;
        self.reason = reason;
        self
    }
}

/// Redrives or restarts one execution and says what came of it.
pub async fn replay_one(
    client: &aws_sdk_sfn::Client,
    options: &ReplayOptions,
    execution: Listed,
    now: DateTime<Utc>,
) -> ReplayItem {
    let mut item = ReplayItem::listed(&execution);
    let described = match client
        .describe_execution()
        .execution_arn(&execution.execution_arn)
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) => {
            let error = CliError::from(error);
            return item.done(Action::Failed, Some(error.to_string()));
        }
    };
    let target = DrainTarget::from_input(described.input());
    item.target = target.clone();
    item.status = described.status().as_str().to_string();
    item.stopped = described
        .stop_date()
        .map(crate::format::time)
        .or(item.stopped);
    if let Some(reason) = nothing_to_replay(described.status()) {
        return item.done(Action::Skipped, Some(reason.into()));
    }
    if options.restart {
        return restart(
            client,
            options,
            item,
            &target,
            &execution,
            described.input(),
        )
        .await;
    }
    if let Some(reason) = not_redrivable(&described, item.stopped, now) {
        return item.done(Action::NotRedrivable, Some(with_hint(reason)));
    }
    if options.dry_run {
        return item.done(Action::WouldRedrive, None);
    }
    redrive(client, item).await
}

/// Why an execution in `status` needs no replay; `None` when it stopped unsuccessfully.
fn nothing_to_replay(status: &ExecutionStatus) -> Option<&'static str> {
    match status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => None,
        ExecutionStatus::Succeeded => Some("succeeded: nothing to replay"),
        ExecutionStatus::PendingRedrive => Some("already being redriven"),
        _ => Some("still running: nothing to replay"),
    }
}

/// Why Step Functions would refuse to redrive the execution, as far as can be told
/// before asking: its own redrive status, or a stop more than [`REDRIVE_DAYS`] ago.
fn not_redrivable(
    described: &DescribeExecutionOutput,
    stopped: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    if described.redrive_status() == Some(&ExecutionRedriveStatus::NotRedrivable) {
        return Some(
            described
                .redrive_status_reason()
                .unwrap_or("Step Functions says it is not redrivable")
                .to_string(),
        );
    }
    let stopped = stopped?;
    (now - stopped > chrono::Duration::days(REDRIVE_DAYS)).then(|| {
        format!(
            "stopped {} days ago: Step Functions redrives only executions that stopped within {REDRIVE_DAYS} days",
            (now - stopped).num_days()
        )
    })
}

/// `RedriveExecution`; Step Functions' own refusal is reported as not redrivable.
async fn redrive(client: &aws_sdk_sfn::Client, item: ReplayItem) -> ReplayItem {
    match client
        .redrive_execution()
        .execution_arn(&item.execution_arn)
        .send()
        .await
    {
        Ok(_) => item.done(Action::Redriven, None),
        Err(error) => {
            let error = CliError::from(error);
            match &error {
                CliError::Aws { code, message, .. } if code == "ExecutionNotRedrivable" => {
                    let reason = with_hint(message.clone());
                    item.done(Action::NotRedrivable, Some(reason))
                }
                _ => item.done(Action::Failed, Some(error.to_string())),
            }
        }
    }
}

fn with_hint(reason: String) -> String {
    format!("{reason} (--restart starts a new execution with the same input)")
}

async fn restart(
    client: &aws_sdk_sfn::Client,
    options: &ReplayOptions,
    mut item: ReplayItem,
    target: &DrainTarget,
    execution: &Listed,
    input: Option<&str>,
) -> ReplayItem {
    let (Some(instance_id), Some(input)) = (target.instance_id.as_deref(), input) else {
        item.action = Action::NotRestartable;
        item.reason = Some(
            "its input names no instance (detail.EC2InstanceId or detail.instance-id): not a drain event"
                .into(),
        );
        return item;
    };
    let began = target.event_time.unwrap_or(execution.started);
    let name = execution_name(instance_id, target.token.as_deref(), began);
    item.new_execution_name = Some(name.clone());
    if name == execution.name {
        // It did not succeed (replay reads only those), and no new execution can take its
        // name: only a redrive resumes it.
        item.action = Action::NotRestartable;
        item.reason = Some(format!(
            "this execution is the restart of its action and is {}: its name cannot be taken again; \
             replay without --restart redrives it",
            execution.status
        ));
        return item;
    }
    if options.dry_run {
        item.action = Action::WouldRestart;
        return item;
    }
    match client
        .start_execution()
        .state_machine_arn(&execution.state_machine_arn)
        .name(&name)
        .input(input)
        .send()
        .await
    {
        Ok(started) => {
            item.action = Action::Restarted;
            item.new_execution_arn = Some(started.execution_arn().to_string());
        }
        Err(error) => {
            let error = CliError::from(error);
            if error.code() == Some("ExecutionAlreadyExists") {
                return existing_restart(client, item, execution, name).await;
            } else {
                item.action = Action::Failed;
                item.reason = Some(error.to_string());
            }
        }
    }
    item
}

/// A restart of the same action exists already: done when it runs or succeeded; one that
/// did not end well still needs an operator (Step Functions keeps a closed execution's name
/// for 90 days, so only a redrive of it resumes the drain).
async fn existing_restart(
    client: &aws_sdk_sfn::Client,
    mut item: ReplayItem,
    execution: &Listed,
    name: String,
) -> ReplayItem {
    let arn = match crate::executions::execution_arn(&name, Some(&execution.state_machine_arn)) {
        Ok(arn) => arn,
        Err(error) => {
            item.action = Action::Failed;
            item.reason = Some(error.to_string());
            return item;
        }
    };
    match client.describe_execution().execution_arn(&arn).send().await {
        Ok(existing) => {
            let status = existing.status().as_str();
            item.new_execution_arn = Some(arn);
            if matches!(
                existing.status(),
                ExecutionStatus::Running | ExecutionStatus::Succeeded
            ) {
                item.action = Action::AlreadyRestarted;
                item.reason = Some(format!(
                    "an execution named {name} exists already ({status})"
                ));
            } else {
                item.action = Action::NotRestartable;
                item.reason = Some(format!(
                    "its restart {name} exists already and is {status}: replay it without --restart"
                ));
            }
        }
        Err(error) => {
            item.action = Action::Failed;
            item.reason = Some(format!(
                "an execution named {name} exists already; {}",
                CliError::from(error)
            ));
        }
    }
    item
}

#[cfg(test)]
mod tests;
