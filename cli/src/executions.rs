//! `ecs-sta executions`: one line per drain execution of the state machine, with the
//! instance and group it drains (from its input), its current or failing state (from the
//! tail of its history) and its error.

use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, HistoryEvent};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::format::{cause_message, clip, duration, seconds_between, table, time, timestamp};
use crate::input::DrainTarget;
use crate::{CliError, Progress};

/// How many executions are read at once (DescribeExecution + GetExecutionHistory each).
const CONCURRENCY: usize = 8;
/// ListExecutions returns at most 1,000 executions a page.
const PAGE_SIZE: i32 = 1000;
/// The tail of the history read to find the current state (a few rounds of the loop).
const HISTORY_TAIL: i32 = 20;

/// Which executions to list.
#[derive(Debug, Clone)]
pub struct Filter {
    pub state_machine_arn: String,
    /// Empty: every status.
    pub statuses: Vec<ExecutionStatus>,
    /// Only executions started or stopped at or after this time ([`in_window`]).
    pub since: Option<DateTime<Utc>>,
}

/// How long before it stopped a drain execution can have started: a drain waits at most
/// 48 hours (the lifecycle hook's longest wait), and a failed one can be redriven within 14
/// days of its failure, and run again.
pub const LONGEST_OPEN_DAYS: i64 = 2 + 14 + 2;

/// An execution is in a window that begins at `since` when it started or stopped in it: a
/// long drain that failed an hour ago belongs to the last day as much as one started then.
pub fn in_window(
    started: DateTime<Utc>,
    stopped: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
) -> bool {
    started >= since || stopped.is_some_and(|stopped| stopped >= since)
}

/// Whether a listing, newest start first, has gone past every execution that can be in the
/// window beginning at `since` (one started [`LONGEST_OPEN_DAYS`] before it).
pub fn listed_past_window(started: DateTime<Utc>, since: DateTime<Utc>) -> bool {
    started < since - chrono::Duration::days(LONGEST_OPEN_DAYS)
}

/// An execution as ListExecutions returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: String,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    pub redrive_count: i32,
}

impl From<&ExecutionListItem> for Listed {
    fn from(item: &ExecutionListItem) -> Self {
        Self {
            execution_arn: item.execution_arn().to_string(),
            state_machine_arn: item.state_machine_arn().to_string(),
            name: item.name().to_string(),
            status: item.status().as_str().to_string(),
            started: time(item.start_date()),
            stopped: item.stop_date().map(time),
            redrive_count: item.redrive_count().unwrap_or(0),
        }
    }
}

/// Lists the executions matching `filter`, newest first, one listing per status (each
/// status once). Step Functions lists the most recent first, so a listing stops at the
/// first page that reaches past `since`.
pub async fn list(
    client: &aws_sdk_sfn::Client,
    filter: &Filter,
    progress: Progress<'_>,
) -> Result<Vec<Listed>, CliError> {
    let mut statuses: Vec<Option<ExecutionStatus>> = Vec::new();
    for status in &filter.statuses {
        if !statuses.contains(&Some(status.clone())) {
            statuses.push(Some(status.clone()));
        }
    }
    if statuses.is_empty() {
        statuses.push(None);
    }
    let mut listed = Vec::new();
    for status in statuses {
        let mut pages = client
            .list_executions()
            .state_machine_arn(&filter.state_machine_arn)
            .set_status_filter(status)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.try_next().await? {
            let items: Vec<Listed> = page.executions().iter().map(Listed::from).collect();
            let past = filter.since.is_some_and(|since| {
                items
                    .last()
                    .is_some_and(|oldest| listed_past_window(oldest.started, since))
            });
            listed.extend(items.into_iter().filter(|item| {
                filter
                    .since
                    .is_none_or(|since| in_window(item.started, item.stopped, since))
            }));
            progress(&format!("listing executions: {} found", listed.len()));
            if past {
                break; // this page reached past every execution the window can hold
            }
        }
    }
    listed.sort_by_key(|item| std::cmp::Reverse(item.started));
    Ok(listed)
}

/// One line of `ecs-sta executions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRow {
    pub execution_arn: String,
    pub name: String,
    /// The instance and group it drains (`instance_id`, `asg_name` in JSON).
    #[serde(flatten)]
    pub target: DrainTarget,
    pub status: String,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    /// Until it stopped, or until now while it runs.
    pub duration_seconds: f64,
    /// The state it is in (running) or stopped in (the failing state when it failed).
    pub state: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub redrive_count: i32,
    /// Why the instance, state or error are missing: a call that failed for this execution.
    pub details_error: Option<String>,
}

/// The executions matching `filter` with their details, newest first. A failure to read
/// one execution's details is kept in its row (`details_error`); a failure to list fails.
pub async fn executions(
    client: &aws_sdk_sfn::Client,
    filter: &Filter,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Result<Vec<ExecutionRow>, CliError> {
    let listed = list(client, filter, progress).await?;
    Ok(details(client, listed, now, progress).await)
}

/// Reads the details of each listed execution, [`CONCURRENCY`] at a time, keeping order.
pub async fn details(
    client: &aws_sdk_sfn::Client,
    listed: Vec<Listed>,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Vec<ExecutionRow> {
    let total = listed.len();
    let mut rows: Vec<(usize, ExecutionRow)> = Vec::with_capacity(total);
    let mut reading = futures::stream::iter(listed.into_iter().enumerate())
        .map(|(index, item)| async move { (index, row(client, item, now).await) })
        .buffer_unordered(CONCURRENCY);
    while let Some(done) = reading.next().await {
        rows.push(done);
        progress(&format!("reading executions: {}/{total}", rows.len()));
    }
    rows.sort_by_key(|(index, _)| *index);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// One execution's row: its input and error (DescribeExecution) and its last state (the
/// tail of GetExecutionHistory).
pub async fn row(client: &aws_sdk_sfn::Client, item: Listed, now: DateTime<Utc>) -> ExecutionRow {
    let mut row = ExecutionRow {
        duration_seconds: seconds_between(item.started, item.stopped.unwrap_or(now)),
        execution_arn: item.execution_arn,
        name: item.name,
        target: DrainTarget::default(),
        status: item.status,
        started: item.started,
        stopped: item.stopped,
        state: None,
        error: None,
        cause: None,
        redrive_count: item.redrive_count,
        details_error: None,
    };
    let mut problems = Vec::new();
    match client
        .describe_execution()
        .execution_arn(&row.execution_arn)
        .send()
        .await
    {
        Ok(described) => {
            let target = DrainTarget::from_input(described.input());
            row.target = target;
            row.status = described.status().as_str().to_string();
            row.error = described.error().map(str::to_string);
            row.cause = described.cause().map(str::to_string);
            row.stopped = described.stop_date().map(time).or(row.stopped);
            row.duration_seconds = seconds_between(row.started, row.stopped.unwrap_or(now));
            row.redrive_count = described.redrive_count().unwrap_or(row.redrive_count);
        }
        Err(error) => problems.push(CliError::from(error).to_string()),
    }
    match last_state(client, &row.execution_arn).await {
        Ok(state) => row.state = state,
        Err(error) => problems.push(error.to_string()),
    }
    if !problems.is_empty() {
        row.details_error = Some(problems.join("; "));
    }
    row
}

/// The name of the last state entered: the first `...StateEntered` event of the history
/// read backwards (`reverseOrder`), page by page.
pub async fn last_state(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<String>, CliError> {
    let mut pages = client
        .get_execution_history()
        .execution_arn(execution_arn)
        .reverse_order(true)
        .include_execution_data(false)
        .max_results(HISTORY_TAIL)
        .into_paginator()
        .send();
    while let Some(page) = pages.try_next().await? {
        if let Some(name) = page.events().iter().find_map(entered_state) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// An execution given by ARN, or by name with the state machine's ARN (an execution's ARN
/// is its state machine's with `:execution:` and its name).
pub fn execution_arn(execution: &str, state_machine_arn: Option<&str>) -> Result<String, CliError> {
    if execution.starts_with("arn:") {
        return Ok(execution.to_string());
    }
    let machine = state_machine_arn.ok_or_else(|| {
        CliError::input(format!(
            "{execution:?} is not an execution ARN; give the ARN, or the name with --state-machine ARN or --stack NAME"
        ))
    })?;
    if !machine.contains(":stateMachine:") {
        return Err(CliError::input(format!(
            "--state-machine {machine:?} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        )));
    }
    Ok(format!(
        "{}:{execution}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    ))
}

/// The state a `...StateEntered` event enters.
pub fn entered_state(event: &HistoryEvent) -> Option<String> {
    event
        .state_entered_event_details()
        .map(|details| details.name().to_string())
}

/// The table of `ecs-sta executions`.
pub fn render(rows: &[ExecutionRow]) -> String {
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let error = match (&row.error, &row.cause, &row.details_error) {
                (Some(error), Some(cause), _) => {
                    format!("{error}: {}", clip(&cause_message(cause), 60))
                }
                (Some(error), None, _) => error.clone(),
                (None, _, Some(problem)) => format!("(details unavailable: {})", clip(problem, 60)),
                (None, _, None) => String::new(),
            };
            let status = if row.redrive_count > 0 {
                format!("{} (redriven {})", row.status, row.redrive_count)
            } else {
                row.status.clone()
            };
            vec![
                row.target.instance_id.clone().unwrap_or_default(),
                row.target.asg_name.clone().unwrap_or_default(),
                status,
                timestamp(row.started),
                duration(row.duration_seconds),
                row.state.clone().unwrap_or_default(),
                row.name.clone(),
                error,
            ]
        })
        .collect();
    table(
        &[
            "INSTANCE", "ASG", "STATUS", "STARTED", "DURATION", "STATE", "NAME", "ERROR",
        ],
        &lines,
    )
}

#[cfg(test)]
mod tests;
