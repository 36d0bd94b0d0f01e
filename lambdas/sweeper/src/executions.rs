//! The drain executions that may belong to a waiting instance's lifecycle action.

use std::collections::HashMap;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, DurationRound, Utc};
use sta_shared::error::{aws_error, error_code};
use sta_shared::event::ActionRef;
use sta_shared::StepError;

use crate::{Deps, Found};

/// Step Functions and Auto Scaling keep separate clocks: an execution for an action is
/// looked for from this long before the action's start.
const CLOCK_MARGIN_MINUTES: i64 = 5;

/// One execution and the action its input names.
#[derive(Debug, Clone)]
struct Execution {
    found: Found,
    asg_name: Option<String>,
    /// The event's time, else the execution's start.
    time: DateTime<Utc>,
}

/// The recent executions, by instance, newest first.
#[derive(Debug, Default)]
pub struct Recent(HashMap<String, Vec<Execution>>);

impl Recent {
    /// The executions of the lifecycle action of `instance_id` in `asg` that began at
    /// `began` (the start of its termination activity): lifecycle events for that group
    /// whose time is not before the action began. Events are emitted once the instance
    /// waits, which is after its termination activity started; an older action of the
    /// same instance (reused from a warm pool) ended before this one's activity started.
    pub fn of_action(&self, instance_id: &str, asg: &str, began: DateTime<Utc>) -> Vec<Found> {
        // Event times are whole seconds; the activity's start is not.
        let began = began
            .duration_trunc(chrono::Duration::seconds(1))
            .unwrap_or(began);
        self.0
            .get(instance_id)
            .into_iter()
            .flatten()
            .filter(|execution| execution.asg_name.as_deref() == Some(asg))
            .filter(|execution| execution.time >= began)
            .map(|execution| execution.found.clone())
            .collect()
    }

    /// The execution `arn`, when this listing described it.
    fn described(&self, arn: &str) -> Option<&Execution> {
        self.0
            .values()
            .flatten()
            .find(|execution| execution.found.execution_arn == arn)
    }
}

/// From when to list executions: none started before the oldest waiting action began can
/// be for one of them, nor any older than the hook's limit (`since`).
pub fn listed_since(oldest_action: DateTime<Utc>, since: DateTime<Utc>) -> DateTime<Utc> {
    (oldest_action - chrono::Duration::minutes(CLOCK_MARGIN_MINUTES)).max(since)
}

/// The executions started since `since` (only those with `status`, when given), with the
/// action each one's input names. An execution `known` has already described is not
/// described again: its input never changes (a redrive keeps it).
pub async fn recent(
    deps: &Deps,
    status: Option<ExecutionStatus>,
    since: DateTime<Utc>,
    known: &Recent,
) -> Result<Recent, StepError> {
    let mut pages = deps
        .sfn
        .list_executions()
        .state_machine_arn(&deps.config.state_machine_arn)
        .set_status_filter(status)
        .into_paginator()
        .send();
    let mut by_instance: HashMap<String, Vec<Execution>> = HashMap::new();
    'pages: while let Some(page) = pages.next().await {
        let page = page.map_err(|error| aws_error("ListExecutions", error))?;
        for execution in page.executions() {
            let start = execution.start_date();
            if start.secs() < since.timestamp() {
                // ListExecutions returns the newest first.
                break 'pages;
            }
            let started =
                DateTime::from_timestamp(start.secs(), start.subsec_nanos()).unwrap_or(since);
            let arn = execution.execution_arn();
            let (instance_id, asg_name, time) = match known.described(arn) {
                Some(seen) => (
                    seen.found.instance_id.clone(),
                    seen.asg_name.clone(),
                    seen.time,
                ),
                None => match action_of(deps, arn).await? {
                    Some(action) => {
                        let time = action.time.unwrap_or(started);
                        let Some(instance_id) = action.instance_id else {
                            continue;
                        };
                        (instance_id, action.asg_name, time)
                    }
                    None => continue,
                },
            };
            by_instance
                .entry(instance_id.clone())
                .or_default()
                .push(Execution {
                    found: Found {
                        instance_id,
                        execution_arn: arn.to_string(),
                        status: execution.status().as_str().to_string(),
                    },
                    asg_name,
                    time,
                });
        }
    }
    Ok(Recent(by_instance))
}

/// What the execution's input names; `None` when the execution is gone (deleted with its
/// state machine's history, or expired).
async fn action_of(deps: &Deps, arn: &str) -> Result<Option<ActionRef>, StepError> {
    match deps
        .sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("ExecutionDoesNotExist") => Ok(None),
        Err(error) => Err(aws_error("DescribeExecution", error)),
        Ok(described) => Ok(Some(ActionRef::from_input(
            described.input().unwrap_or_default(),
        ))),
    }
}

#[cfg(test)]
mod tests;
