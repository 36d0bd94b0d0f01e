//! `ecs-sta show`: the timeline of one drain, from its execution history. Each state
//! visit with its start and duration, the waits, the heartbeats, the retries (a failed
//! attempt followed by a new one in the same state), the completion, the error, the
//! redrives, and what the drain state says of the drain's phases (task replacement, each
//! load balancer's draining). `history` reads the events, `drain` the drain state the
//! steps return, `failure` says where a stopped execution stopped and what remains,
//! `chart` lays the phases out on a time scale, which `render` draws in the terminal and
//! `svg` as an SVG file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::state::{CompletionOutcome, DrainStatus, LifecycleResult};

use crate::format::{clip, duration};
use crate::input::DrainTarget;
use crate::{CliError, Progress};

mod bars;
mod chart;
mod drain;
mod failure;
mod history;
mod render;
mod svg;

pub use chart::{Chart, Mark, MarkKind, Row};
pub use drain::{Balancer, BalancerKind, Phases};
pub use failure::Stop;
pub use history::from_events;
pub use render::render;
pub use svg::svg;

/// GetExecutionHistory returns at most 1,000 events a page.
const PAGE_SIZE: i32 = 1000;

/// The drain of one execution, read from its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    /// The instance and group it drains (`instance_id`, `asg_name` in JSON).
    #[serde(flatten)]
    pub target: DrainTarget,
    pub started: Option<DateTime<Utc>>,
    pub stopped: Option<DateTime<Utc>>,
    /// When the history was read: the end of a running execution's timeline.
    pub read_at: DateTime<Utc>,
    /// Until it stopped, or until now while it runs.
    pub duration_seconds: Option<f64>,
    pub entries: Vec<Entry>,
    #[serde(flatten)]
    pub counts: Counts,
    /// The drain's own status (`draining`, `drained`, `deadline_passed`, `action_ended`, ...).
    pub drain_status: Option<DrainStatus>,
    /// Service tasks orphaned by a forced deregistration of the container instance
    /// mid-drain, which the drain stopped waiting for.
    pub orphaned_tasks: Vec<String>,
    /// What the drain state says of the drain's phases.
    pub phases: Phases,
    pub completion: Option<Completion>,
    pub error: Option<String>,
    /// As Step Functions reports it (for a Lambda's error, the runtime's JSON).
    pub cause: Option<String>,
    /// Where a failed, timed-out or aborted execution stopped and what remains to do.
    pub stop: Option<Stop>,
    pub events: usize,
}

/// How much the drain did and waited, over the whole history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Heartbeats the drain sent (the last `heartbeat.sent` a step returned).
    pub heartbeats: u32,
    /// Rounds of `CheckDrained` (the last `checks` a step returned).
    pub checks: u32,
    /// Seconds spent in Wait states.
    pub waited_seconds: f64,
    /// Task attempts that failed and were retried.
    pub retries: u32,
    pub redrives: u32,
}

/// The completion of the lifecycle action, as the drain state reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub outcome: CompletionOutcome,
    pub result: Option<LifecycleResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Entries are built once per history; most are state visits.
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    State(StateVisit),
    Redriven {
        at: DateTime<Utc>,
        redrive_count: Option<i32>,
    },
}

/// One visit of a state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateVisit {
    pub name: String,
    /// `Task`, `Wait`, `Choice`, `Succeed`, `Fail`, ...
    pub state_type: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
    /// Until it exited (or the execution stopped in it), or until now while it runs.
    pub duration_seconds: f64,
    /// Task attempts (scheduled invocations).
    pub attempts: u32,
    /// The error of each failed attempt that was retried.
    pub retried_errors: Vec<String>,
    /// Wait states: what the drain asked for (`wait_seconds` of the state's input).
    pub planned_wait_seconds: Option<u64>,
    /// Cumulative heartbeats in the state's output, and how many this visit added.
    pub heartbeats_sent: Option<u32>,
    pub new_heartbeats: u32,
    pub drain_status: Option<DrainStatus>,
    pub completion: Option<Completion>,
    /// An error a `Catch` took the execution on with.
    pub caught: Option<String>,
    /// The error the execution failed with in this state.
    pub failed: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Timeline {
    /// A timeline with nothing read yet.
    fn new(execution_arn: &str, events: usize, read_at: DateTime<Utc>) -> Self {
        Self {
            execution_arn: execution_arn.to_string(),
            name: execution_arn
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            status: "RUNNING".to_string(),
            target: DrainTarget::default(),
            started: None,
            stopped: None,
            read_at,
            duration_seconds: None,
            entries: Vec::new(),
            counts: Counts::default(),
            drain_status: None,
            orphaned_tasks: Vec::new(),
            phases: Phases::default(),
            completion: None,
            error: None,
            cause: None,
            stop: None,
            events,
        }
    }

    /// The state visits, in order (redrives left out).
    pub fn visits(&self) -> impl Iterator<Item = &StateVisit> {
        self.entries.iter().filter_map(|entry| match entry {
            Entry::State(visit) => Some(visit),
            Entry::Redriven { .. } => None,
        })
    }

    /// The end of the timeline: when the execution stopped, or when it was read.
    pub fn end(&self) -> DateTime<Utc> {
        self.stopped.unwrap_or(self.read_at)
    }
}

/// Reads the whole history of `execution_arn` (every page) and makes its timeline.
pub async fn timeline(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Result<Timeline, CliError> {
    let mut events = Vec::new();
    let mut pages = client
        .get_execution_history()
        .execution_arn(execution_arn)
        .max_results(PAGE_SIZE)
        .include_execution_data(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.try_next().await? {
        events.extend_from_slice(page.events());
        progress(&format!("reading history: {} events", events.len()));
    }
    Ok(from_events(execution_arn, &events, now))
}

impl Completion {
    /// `completed (CONTINUE)`.
    pub fn text(&self) -> String {
        match self.result {
            Some(result) => format!("{} ({})", self.outcome.as_str(), result.as_str()),
            None => self.outcome.as_str().to_string(),
        }
    }
}

impl Failure {
    /// `Retryable: the message` (the message of a Lambda's JSON cause), clipped to `max`.
    pub fn text(&self, max: usize) -> String {
        let error = self.error.as_deref().unwrap_or("failed");
        match &self.cause {
            Some(cause) => format!(
                "{error}: {}",
                clip(&crate::format::cause_message(cause), max)
            ),
            None => error.to_string(),
        }
    }
}

impl StateVisit {
    /// What happened in the visit, in a few words.
    pub fn note(&self) -> String {
        let mut notes = Vec::new();
        if self.state_type == "Wait" {
            match (self.exited, self.planned_wait_seconds) {
                (Some(_), _) => notes.push(format!("waited {}", duration(self.duration_seconds))),
                (None, Some(planned)) => notes.push(format!("waiting ({planned}s planned)")),
                (None, None) => notes.push("waiting".into()),
            }
        } else if self.exited.is_none() && self.failed.is_none() {
            notes.push("running".into());
        }
        if !self.retried_errors.is_empty() {
            notes.push(format!(
                "{} retried ({})",
                self.retried_errors.len(),
                counted(&self.retried_errors)
            ));
        }
        if self.state_type == "Task" {
            if let Some(status) = self.drain_status {
                notes.push(status.as_str().to_string());
            }
        }
        if self.new_heartbeats > 0 {
            notes.push(format!(
                "heartbeat +{} ({} sent)",
                self.new_heartbeats,
                self.heartbeats_sent.unwrap_or_default()
            ));
        }
        if let Some(completion) = &self.completion {
            notes.push(format!("lifecycle action {}", completion.text()));
        }
        if let Some(caught) = &self.caught {
            notes.push(format!("caught {caught}"));
        }
        if let Some(failed) = &self.failed {
            notes.push(format!("FAILED {}", failed.text(100)));
        }
        notes.join("; ")
    }
}

/// `Retryable x6, Lambda.Unknown`: each error once, in order, with how often it came.
fn counted(errors: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for error in errors {
        match counts.iter_mut().find(|(seen, _)| seen == error) {
            Some((_, count)) => *count += 1,
            None => counts.push((error, 1)),
        }
    }
    counts
        .into_iter()
        .map(|(error, count)| match count {
            1 => error.to_string(),
            _ => format!("{error} x{count}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
