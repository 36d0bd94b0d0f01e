//! Terminating the instance and following what happens: the execution the lifecycle event
//! started (or none, after a bounded wait), its states as they are entered, the capacity
//! samples, and the instance's final state. Calls that fail while following are reported
//! and retried at the next sample, never fatal: the drain goes on regardless.

use std::collections::HashSet;
use std::future::Future;
use std::time::Instant;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType as T};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::state::DrainState;

use super::pick::Target;
use super::sample::{self, Watched};
use super::{elapsed, DrillOptions, Out};
use crate::doctor::Clients;
use crate::format::time;
use crate::input::DrainTarget;
use crate::CliError;

/// An execution started this long before the termination (clock skew) still counts.
const SKEW_SECONDS: i64 = 60;

/// What following the drain found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub execution: Execution,
    /// The execution's output, the drain's final state.
    pub state: Option<DrainState>,
    pub output_error: Option<String>,
    pub interrupted: bool,
    pub timed_out: bool,
}

/// What following saw of the drain's execution and the instance, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Execution {
    #[serde(rename = "execution_arn")]
    pub arn: Option<String>,
    #[serde(rename = "execution_status")]
    pub status: Option<String>,
    #[serde(rename = "execution_error")]
    pub error: Option<String>,
    /// From the termination to the execution's start.
    #[serde(rename = "execution_started_after_seconds")]
    pub started_after_seconds: Option<f64>,
    /// From the termination to the lifecycle action's completion.
    pub completed_after_seconds: Option<f64>,
    /// The instance's lifecycle state when following ended.
    pub instance_final_state: Option<String>,
}

/// One drill's following, from the termination on.
pub struct Run<'a> {
    pub clients: &'a Clients,
    pub options: &'a DrillOptions,
    pub target: &'a Target,
    pub watched: &'a mut Vec<Watched>,
    pub terminated_at: DateTime<Utc>,
    pub started: Instant,
    pub out: Out<'a>,
    pub interrupt: &'a mut (dyn Future<Output = ()> + Unpin + Send),
}

impl Run<'_> {
    pub async fn follow(&mut self) -> Result<Outcome, CliError> {
        let mut outcome = Outcome::default();
        let Some(arn) = self.find(&mut outcome).await else {
            outcome.execution.instance_final_state = Some(self.final_state().await);
            return Ok(outcome);
        };
        outcome.execution.arn = Some(arn.clone());
        let mut last_event = 0;
        loop {
            self.print_history(&arn, &mut last_event).await;
            self.sample().await;
            match self.describe(&arn).await {
                Some(described) if described.status() != &ExecutionStatus::Running => {
                    self.print_history(&arn, &mut last_event).await;
                    self.settle(&mut outcome, described);
                    break;
                }
                _ => {}
            }
            if elapsed(self.started) > self.options.timeout.as_secs_f64() {
                outcome.timed_out = true;
                break;
            }
            if self.pause().await {
                outcome.interrupted = true;
                break;
            }
        }
        // A drain that ended well lets the instance go; one that failed leaves it waiting.
        if outcome.execution.status.as_deref() == Some("SUCCEEDED") {
            self.wait_until_gone(&mut outcome).await;
        }
        if outcome.execution.instance_final_state.is_none() {
            outcome.execution.instance_final_state = Some(self.final_state().await);
        }
        Ok(outcome)
    }

    /// The execution of the instance's lifecycle event, waited for up to the start timeout.
    async fn find(&mut self, outcome: &mut Outcome) -> Option<String> {
        let mut checked = HashSet::new();
        let machine = self
            .options
            .doctor
            .state_machine_arn
            .clone()
            .unwrap_or_default();
        let since = self.terminated_at - chrono::Duration::seconds(SKEW_SECONDS);
        loop {
            self.sample().await;
            match find_execution(
                self.clients,
                &machine,
                &self.target.instance_id,
                since,
                &mut checked,
            )
            .await
            {
                Ok(Some((arn, started))) => {
                    let after = (started - self.terminated_at).num_milliseconds() as f64 / 1000.0;
                    outcome.execution.started_after_seconds = Some(after.max(0.0));
                    (self.out)(&format!(
                        "{:>7}  execution {} started",
                        offset(after),
                        short(&arn)
                    ));
                    return Some(arn);
                }
                Ok(None) => {}
                Err(error) => (self.out)(&format!("  (could not list the executions: {error})")),
            }
            if elapsed(self.started) > self.options.start_timeout.as_secs_f64() {
                return None;
            }
            if self.pause().await {
                outcome.interrupted = true;
                return None;
            }
        }
    }

    /// Waits one sample period; true when interrupted (the interrupt is never polled again).
    async fn pause(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.options.sample_every) => false,
            _ = &mut *self.interrupt => true,
        }
    }

    async fn sample(&mut self) {
        let after = Some(elapsed(self.started));
        let cluster = &self.options.doctor.cluster;
        sample::sample(
            self.clients,
            cluster,
            self.watched,
            &self.target.instance_id,
            after,
        )
        .await;
    }

    async fn describe(
        &self,
        arn: &str,
    ) -> Option<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput> {
        match self
            .clients
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(described) => Some(described),
            Err(error) => {
                (self.out)(&format!(
                    "  (could not describe the execution: {})",
                    CliError::from(error)
                ));
                None
            }
        }
    }

    /// Reads the ended execution: status, error, and the drain's final state.
    fn settle(
        &self,
        outcome: &mut Outcome,
        described: aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    ) {
        outcome.execution.status = Some(described.status().as_str().to_string());
        outcome.execution.error = described
            .error()
            .map(|e| format!("{e}: {}", described.cause().unwrap_or_default()));
        if let Some(output) = described.output() {
            match serde_json::from_str(output)
                .map_err(|e| e.to_string())
                .and_then(|value| DrainState::from_value(value).map_err(|e| e.to_string()))
            {
                Ok(state) => {
                    outcome.execution.completed_after_seconds =
                        state.report.completion.as_ref().map(|c| {
                            (c.at - self.terminated_at).num_milliseconds().max(0) as f64 / 1000.0
                        });
                    outcome.state = Some(state);
                }
                Err(error) => outcome.output_error = Some(error),
            }
        }
    }

    /// After the drain: until the instance left the group (bounded), still sampling.
    async fn wait_until_gone(&mut self, outcome: &mut Outcome) {
        let until = Instant::now() + self.options.leave_timeout;
        loop {
            let state = self.final_state().await;
            let gone = state == TERMINATED;
            outcome.execution.instance_final_state = Some(state);
            if gone
                || Instant::now() > until
                || elapsed(self.started) > self.options.timeout.as_secs_f64()
            {
                return;
            }
            if self.pause().await {
                outcome.interrupted = true;
                return;
            }
            self.sample().await;
        }
    }

    /// `terminated` once it left the group, else its lifecycle state there.
    async fn final_state(&self) -> String {
        let answer = self
            .clients
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(&self.target.instance_id)
            .send()
            .await;
        match answer {
            Ok(found) => match found.auto_scaling_instances().first() {
                Some(instance) => instance.lifecycle_state().unwrap_or("unknown").to_string(),
                None => TERMINATED.to_string(),
            },
            Err(error) => format!("unknown ({})", CliError::from(error)),
        }
    }

    /// Prints the history events after `last` (every page, read again each time).
    async fn print_history(&self, arn: &str, last: &mut i64) {
        let events = self
            .clients
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .include_execution_data(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        match events {
            Ok(events) => {
                let seen = *last;
                for event in events.iter().filter(|e| e.id() > seen) {
                    if let Some(line) = describe_event(event, self.terminated_at) {
                        (self.out)(&line);
                    }
                    *last = event.id();
                }
            }
            Err(error) => (self.out)(&format!(
                "  (could not read the history: {})",
                CliError::from(error)
            )),
        }
    }
}

/// The final state of an instance that left its group.
pub const TERMINATED: &str = "terminated";

/// The newest execution (started since `since`) whose input names `instance`.
pub async fn find_execution(
    clients: &Clients,
    machine: &str,
    instance: &str,
    since: DateTime<Utc>,
    checked: &mut HashSet<String>,
) -> Result<Option<(String, DateTime<Utc>)>, CliError> {
    let mut items = clients
        .sfn
        .list_executions()
        .state_machine_arn(machine)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.try_next().await? {
        let started = time(item.start_date());
        if started < since {
            break; // newest first: the rest are older
        }
        if checked.contains(item.execution_arn()) {
            continue;
        }
        let described = clients
            .sfn
            .describe_execution()
            .execution_arn(item.execution_arn())
            .send()
            .await?;
        if DrainTarget::from_input(described.input())
            .instance_id
            .as_deref()
            == Some(instance)
        {
            return Ok(Some((item.execution_arn().to_string(), started)));
        }
        checked.insert(item.execution_arn().to_string());
    }
    Ok(None)
}

/// A live line for a history event worth showing.
pub fn describe_event(event: &HistoryEvent, terminated_at: DateTime<Utc>) -> Option<String> {
    let at = offset((time(event.timestamp()) - terminated_at).num_milliseconds() as f64 / 1000.0);
    if let Some(entered) = event.state_entered_event_details() {
        let wait = entered
            .input()
            .and_then(|input| serde_json::from_str(input).ok())
            .and_then(|value| DrainState::from_value(value).ok())
            .filter(|_| event.r#type() == &T::WaitStateEntered)
            .map(|state| format!(" ({} s)", state.wait_seconds))
            .unwrap_or_default();
        return Some(format!("{at:>7}  {}{wait}", entered.name()));
    }
    match event.r#type() {
        T::TaskFailed | T::LambdaFunctionFailed => {
            let error = event
                .task_failed_event_details()
                .and_then(|d| d.error())
                .or_else(|| {
                    event
                        .lambda_function_failed_event_details()
                        .and_then(|d| d.error())
                })
                .unwrap_or("an error");
            Some(format!("{at:>7}    attempt failed: {error}"))
        }
        T::ExecutionSucceeded => Some(format!("{at:>7}  execution SUCCEEDED")),
        T::ExecutionFailed => {
            let error = event
                .execution_failed_event_details()
                .and_then(|d| d.error())
                .unwrap_or("");
            Some(format!("{at:>7}  execution FAILED {error}"))
        }
        T::ExecutionTimedOut => Some(format!("{at:>7}  execution TIMED_OUT")),
        T::ExecutionAborted => Some(format!("{at:>7}  execution ABORTED")),
        _ => None,
    }
}

/// `+12.3s` after the termination.
fn offset(seconds: f64) -> String {
    format!("+{seconds:.1}s")
}

fn short(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
