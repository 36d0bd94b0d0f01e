//! `ecs-sta show`: the timeline of one drain, from its execution history. Each state
//! visit with its start and duration, the waits, the heartbeats (`heartbeat.sent` in the
//! drain state a step returns), the retries (a failed attempt followed by a new one in
//! the same state), the completion, the error, and the redrives.

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as T};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::format::{clip, duration, seconds_between, table, time, timestamp};
use crate::input::DrainTarget;
use crate::{CliError, Progress};

/// GetExecutionHistory returns at most 1,000 events a page.
const PAGE_SIZE: i32 = 1000;

/// The drain of one execution, read from its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    pub instance_id: Option<String>,
    pub asg_name: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub stopped: Option<DateTime<Utc>>,
    /// Until it stopped, or until now while it runs.
    pub duration_seconds: Option<f64>,
    pub entries: Vec<Entry>,
    /// Heartbeats the drain sent (the last `heartbeat.sent` a step returned).
    pub heartbeats: u32,
    /// Rounds of `CheckDrained` (the last `checks` a step returned).
    pub checks: u32,
    /// Seconds spent in Wait states.
    pub waited_seconds: f64,
    /// Task attempts that failed and were retried.
    pub retries: u32,
    pub redrives: u32,
    /// The drain's own status (`draining`, `drained`, `deadline_passed`, ...).
    pub drain_status: Option<String>,
    pub drain_timed_out: Option<bool>,
    /// Service tasks orphaned by a forced deregistration of the container instance
    /// mid-drain, which the drain stopped waiting for.
    pub orphaned_tasks: Vec<String>,
    pub completion: Option<Completion>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub events: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    /// `completed`, `already_completed` or `not_applicable`.
    pub outcome: String,
    /// `CONTINUE` or `ABANDON`.
    pub result: Option<String>,
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
    pub drain_status: Option<String>,
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

/// Reads the whole history of `execution_arn` (every page) and makes its timeline.
pub async fn timeline(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Result<Timeline, CliError> {
    let mut events = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(execution_arn)
            .max_results(PAGE_SIZE)
            .include_execution_data(true)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| CliError::aws("GetExecutionHistory", error))?;
        events.extend_from_slice(page.events());
        progress(&format!("reading history: {} events", events.len()));
        match page.next_token() {
            Some(token) => next_token = Some(token.to_string()),
            None => break,
        }
    }
    Ok(from_events(execution_arn, &events, now))
}

/// A task attempt that failed; retried if another attempt follows in the same state.
struct Pending {
    error: Option<String>,
    cause: Option<String>,
}

/// Makes the timeline of an execution from its history events, in order.
pub fn from_events(execution_arn: &str, events: &[HistoryEvent], now: DateTime<Utc>) -> Timeline {
    let mut timeline = Timeline {
        execution_arn: execution_arn.to_string(),
        name: execution_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string(),
        status: "RUNNING".to_string(),
        instance_id: None,
        asg_name: None,
        started: None,
        stopped: None,
        duration_seconds: None,
        entries: Vec::new(),
        heartbeats: 0,
        checks: 0,
        waited_seconds: 0.0,
        retries: 0,
        redrives: 0,
        drain_status: None,
        drain_timed_out: None,
        orphaned_tasks: Vec::new(),
        completion: None,
        error: None,
        cause: None,
        events: events.len(),
    };
    // The open visit (an index into entries) and its last failed attempt.
    let mut open: Option<usize> = None;
    let mut pending: Option<Pending> = None;
    let mut last_heartbeats = 0u32;

    for event in events {
        let at = time(event.timestamp());
        let kind = event.r#type();
        if let Some(details) = event.state_entered_event_details() {
            let state_type = kind.as_str().trim_end_matches("StateEntered").to_string();
            let input = details.input().and_then(parse_json);
            timeline.entries.push(Entry::State(StateVisit {
                name: details.name().to_string(),
                planned_wait_seconds: (state_type == "Wait")
                    .then(|| input.as_ref().and_then(|v| v["wait_seconds"].as_u64()))
                    .flatten(),
                state_type,
                entered: at,
                exited: None,
                duration_seconds: 0.0,
                attempts: 0,
                retried_errors: Vec::new(),
                heartbeats_sent: None,
                new_heartbeats: 0,
                drain_status: None,
                completion: None,
                caught: None,
                failed: None,
            }));
            open = Some(timeline.entries.len() - 1);
            pending = None;
            continue;
        }
        match kind {
            T::TaskScheduled | T::LambdaFunctionScheduled | T::ActivityScheduled => {
                if let Some(visit) = visit_mut(&mut timeline.entries, open) {
                    visit.attempts += 1;
                    if let Some(failed) = pending.take() {
                        visit
                            .retried_errors
                            .push(failed.error.unwrap_or_else(|| "unknown error".into()));
                        timeline.retries += 1;
                    }
                }
            }
            T::TaskFailed
            | T::TaskTimedOut
            | T::TaskStartFailed
            | T::TaskSubmitFailed
            | T::LambdaFunctionFailed
            | T::LambdaFunctionTimedOut
            | T::LambdaFunctionStartFailed
            | T::LambdaFunctionScheduleFailed
            | T::ActivityFailed
            | T::ActivityTimedOut
            | T::ActivityScheduleFailed => pending = Some(attempt_failure(event)),
            T::ExecutionStarted => {
                timeline.started = Some(at);
                timeline.status = "RUNNING".into();
                let input = event
                    .execution_started_event_details()
                    .and_then(|details| details.input());
                let target = DrainTarget::from_input(input);
                timeline.instance_id = target.instance_id;
                timeline.asg_name = target.asg_name;
            }
            T::ExecutionRedriven => {
                timeline.entries.push(Entry::Redriven {
                    at,
                    redrive_count: event
                        .execution_redriven_event_details()
                        .and_then(|details| details.redrive_count()),
                });
                timeline.redrives += 1;
                timeline.status = "RUNNING".into();
                timeline.stopped = None;
                timeline.error = None;
                timeline.cause = None;
                open = None;
                pending = None;
            }
            T::ExecutionSucceeded => {
                timeline.status = "SUCCEEDED".into();
                timeline.stopped = Some(at);
            }
            T::ExecutionFailed | T::ExecutionTimedOut | T::ExecutionAborted => {
                let (status, error, cause) = execution_failure(event);
                timeline.status = status.into();
                timeline.stopped = Some(at);
                timeline.error = error.clone();
                timeline.cause = cause.clone();
                let attempt = pending.take();
                if let Some(visit) = visit_mut(&mut timeline.entries, open.take()) {
                    visit.exited = Some(at);
                    visit.duration_seconds = seconds_between(visit.entered, at);
                    let (attempt_error, attempt_cause) = attempt
                        .map(|failed| (failed.error, failed.cause))
                        .unwrap_or_default();
                    visit.failed = Some(Failure {
                        error: error.or(attempt_error),
                        cause: cause.or(attempt_cause),
                    });
                }
            }
            _ => {}
        }
        if let Some(details) = event.state_exited_event_details() {
            let index = open.take();
            let mut facts = None;
            if let Some(visit) = visit_mut(&mut timeline.entries, index) {
                visit.exited = Some(at);
                visit.duration_seconds = seconds_between(visit.entered, at);
                if let Some(failed) = pending.take() {
                    visit.caught = failed.error;
                }
                if visit.state_type == "Wait" {
                    timeline.waited_seconds += visit.duration_seconds;
                }
                facts = details
                    .output()
                    .and_then(parse_json)
                    .map(|output| read_drain_state(&output, visit, &mut last_heartbeats));
            }
            if let Some(facts) = facts {
                let completion = facts.completion.clone();
                if timeline.apply(facts) {
                    if let Some(visit) = visit_mut(&mut timeline.entries, index) {
                        visit.completion = completion;
                    }
                }
            }
        }
    }
    // A state still running: its duration so far.
    if let Some(visit) = visit_mut(&mut timeline.entries, open) {
        visit.duration_seconds = seconds_between(visit.entered, now);
    }
    timeline.duration_seconds = timeline
        .started
        .map(|started| seconds_between(started, timeline.stopped.unwrap_or(now)));
    timeline
}

fn visit_mut(entries: &mut [Entry], index: Option<usize>) -> Option<&mut StateVisit> {
    match entries.get_mut(index?) {
        Some(Entry::State(visit)) => Some(visit),
        _ => None,
    }
}

fn parse_json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// What a step's output (the drain state) says: heartbeats, checks, status, completion.
/// Sets the visit's own facts and returns those of the whole drain.
fn read_drain_state(
    output: &Value,
    visit: &mut StateVisit,
    last_heartbeats: &mut u32,
) -> DrainFacts {
    let mut facts = DrainFacts::default();
    if let Some(sent) = output["heartbeat"]["sent"].as_u64() {
        let sent = u32::try_from(sent).unwrap_or(u32::MAX);
        visit.heartbeats_sent = Some(sent);
        visit.new_heartbeats = sent.saturating_sub(*last_heartbeats);
        *last_heartbeats = sent;
        facts.heartbeats = Some(sent);
    }
    facts.checks = output["checks"]
        .as_u64()
        .map(|checks| u32::try_from(checks).unwrap_or(u32::MAX));
    facts.status = text(&output["status"]);
    visit.drain_status.clone_from(&facts.status);
    facts.timed_out = output["drain_timed_out"].as_bool();
    facts.orphaned_tasks = output["orphaned_tasks"].as_array().map(|tasks| {
        tasks
            .iter()
            .filter_map(|task| task.as_str().map(str::to_string))
            .collect()
    });
    facts.completion = text(&output["completion"]["outcome"]).map(|outcome| Completion {
        outcome,
        result: text(&output["completion"]["result"]),
    });
    facts
}

#[derive(Default)]
struct DrainFacts {
    heartbeats: Option<u32>,
    checks: Option<u32>,
    status: Option<String>,
    timed_out: Option<bool>,
    orphaned_tasks: Option<Vec<String>>,
    completion: Option<Completion>,
}

impl Timeline {
    /// Takes what a step's output says about the drain; returns whether the completion
    /// is new (the step that completed the action).
    fn apply(&mut self, facts: DrainFacts) -> bool {
        if let Some(sent) = facts.heartbeats {
            self.heartbeats = sent;
        }
        if let Some(checks) = facts.checks {
            self.checks = checks;
        }
        if facts.status.is_some() {
            self.drain_status = facts.status;
        }
        if facts.timed_out.is_some() {
            self.drain_timed_out = facts.timed_out;
        }
        if let Some(orphaned) = facts.orphaned_tasks {
            self.orphaned_tasks = orphaned;
        }
        match facts.completion {
            Some(completion) if self.completion.as_ref() != Some(&completion) => {
                self.completion = Some(completion);
                true
            }
            _ => false,
        }
    }
}

fn attempt_failure(event: &HistoryEvent) -> Pending {
    let pair = |error: Option<&str>, cause: Option<&str>| Pending {
        error: error.map(str::to_string),
        cause: cause.map(str::to_string),
    };
    if let Some(d) = event.task_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.task_timed_out_event_details() {
        pair(d.error().or(Some("States.Timeout")), d.cause())
    } else if let Some(d) = event.task_start_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.task_submit_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.lambda_function_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.lambda_function_timed_out_event_details() {
        pair(d.error().or(Some("States.Timeout")), d.cause())
    } else if let Some(d) = event.lambda_function_start_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.lambda_function_schedule_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.activity_failed_event_details() {
        pair(d.error(), d.cause())
    } else if let Some(d) = event.activity_timed_out_event_details() {
        pair(d.error().or(Some("States.Timeout")), d.cause())
    } else {
        pair(Some(event.r#type().as_str()), None)
    }
}

fn execution_failure(event: &HistoryEvent) -> (&'static str, Option<String>, Option<String>) {
    let own = |value: Option<&str>| value.map(str::to_string);
    match event.r#type() {
        T::ExecutionTimedOut => {
            let details = event.execution_timed_out_event_details();
            (
                "TIMED_OUT",
                own(details.and_then(|d| d.error())).or(Some("States.Timeout".into())),
                own(details.and_then(|d| d.cause())),
            )
        }
        T::ExecutionAborted => {
            let details = event.execution_aborted_event_details();
            (
                "ABORTED",
                own(details.and_then(|d| d.error())),
                own(details.and_then(|d| d.cause())),
            )
        }
        _ => {
            let details = event.execution_failed_event_details();
            (
                "FAILED",
                own(details.and_then(|d| d.error())),
                own(details.and_then(|d| d.cause())),
            )
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
                self.retried_errors.join(", ")
            ));
        }
        if self.state_type == "Task" {
            if let Some(status) = &self.drain_status {
                notes.push(status.clone());
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
            notes.push(match &completion.result {
                Some(result) => format!("lifecycle action {} ({result})", completion.outcome),
                None => format!("lifecycle action {}", completion.outcome),
            });
        }
        if let Some(caught) = &self.caught {
            notes.push(format!("caught {caught}"));
        }
        if let Some(failed) = &self.failed {
            let error = failed.error.as_deref().unwrap_or("failed");
            notes.push(match &failed.cause {
                Some(cause) => format!("FAILED {error}: {}", clip(cause, 100)),
                None => format!("FAILED {error}"),
            });
        }
        notes.join("; ")
    }
}

/// The text of `ecs-sta show`: a summary, then one line per state visit and redrive.
pub fn render(timeline: &Timeline) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: String| {
        if !value.is_empty() {
            out.push_str(&format!("{name:<12}{value}\n"));
        }
    };
    field("execution", timeline.execution_arn.clone());
    field(
        "instance",
        format!(
            "{}  asg {}",
            timeline.instance_id.as_deref().unwrap_or("-"),
            timeline.asg_name.as_deref().unwrap_or("-")
        ),
    );
    let mut status = timeline.status.clone();
    if let Some(drain) = &timeline.drain_status {
        status.push_str(&format!("  drain {drain}"));
    }
    if timeline.drain_timed_out == Some(true) {
        status.push_str("  (deadline passed)");
    }
    field("status", status);
    if let Some(started) = timeline.started {
        let mut text = timestamp(started);
        if let Some(stopped) = timeline.stopped {
            text.push_str(&format!(" -> {}", timestamp(stopped)));
        }
        if let Some(seconds) = timeline.duration_seconds {
            text.push_str(&format!("  ({})", duration(seconds)));
        }
        field("time", text);
    }
    field(
        "drain",
        format!(
            "{} checks, waited {}, {} heartbeats, {} retries, {} redrives",
            timeline.checks,
            duration(timeline.waited_seconds),
            timeline.heartbeats,
            timeline.retries,
            timeline.redrives
        ),
    );
    if !timeline.orphaned_tasks.is_empty() {
        field(
            "orphaned",
            format!(
                "{} service task(s) not waited for: the container instance was deregistered \
                 mid-drain ({})",
                timeline.orphaned_tasks.len(),
                timeline.orphaned_tasks.join(", ")
            ),
        );
    }
    if let Some(completion) = &timeline.completion {
        field(
            "completion",
            match &completion.result {
                Some(result) => format!("{} ({result})", completion.outcome),
                None => completion.outcome.clone(),
            },
        );
    }
    if let Some(error) = &timeline.error {
        field("error", error.clone());
    }
    if let Some(cause) = &timeline.cause {
        field("cause", cause.replace('\n', " "));
    }
    out.push('\n');
    let start = timeline.started;
    let offset = |at: DateTime<Utc>| match start {
        Some(start) => format!("+{}", duration(seconds_between(start, at))),
        None => timestamp(at),
    };
    let rows: Vec<Vec<String>> = timeline
        .entries
        .iter()
        .map(|entry| match entry {
            Entry::State(visit) => vec![
                offset(visit.entered),
                visit.name.clone(),
                duration(visit.duration_seconds),
                visit.note(),
            ],
            Entry::Redriven { at, redrive_count } => vec![
                offset(*at),
                "(redriven)".into(),
                String::new(),
                match redrive_count {
                    Some(count) => format!("redrive {count}: resumes at the state that failed"),
                    None => "resumes at the state that failed".into(),
                },
            ],
        })
        .collect();
    out.push_str(&table(&["AT", "STATE", "DURATION", "NOTE"], &rows));
    out
}

#[cfg(test)]
mod tests;
