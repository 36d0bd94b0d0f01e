//! From an execution's history events to its [`Timeline`]: one pass over the events, in
//! order, keeping the open state visit and its last failed attempt.

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as T, StateExitedEventDetails};
use chrono::{DateTime, Utc};

use super::{drain, failure, Entry, Failure, StateVisit, Timeline};
use crate::format::{seconds_between, time};
use crate::input::DrainTarget;

/// Makes the timeline of an execution from its history events, in order.
pub fn from_events(execution_arn: &str, events: &[HistoryEvent], now: DateTime<Utc>) -> Timeline {
    let mut walk = Walk {
        timeline: Timeline::new(execution_arn, events.len(), now),
        open: None,
        pending: None,
    };
    for event in events {
        walk.event(event);
    }
    walk.finish(now)
}

/// A task attempt that failed; retried if another attempt follows in the same state.
struct Pending {
    error: Option<String>,
    cause: Option<String>,
}

struct Walk {
    timeline: Timeline,
    /// The open visit: an index into the entries.
    open: Option<usize>,
    /// The open visit's last failed attempt.
    pending: Option<Pending>,
}

impl Walk {
    fn event(&mut self, event: &HistoryEvent) {
        let at = time(event.timestamp());
        if let Some(details) = event.state_entered_event_details() {
            let state_type = event.r#type().as_str().trim_end_matches("StateEntered");
            let visit = StateVisit::new(details.name(), state_type, at, details.input());
            self.timeline.entries.push(Entry::State(visit));
            self.open = Some(self.timeline.entries.len() - 1);
            self.pending = None;
            return;
        }
        match event.r#type() {
            T::TaskScheduled | T::LambdaFunctionScheduled | T::ActivityScheduled => {
                self.scheduled()
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
            | T::ActivityScheduleFailed => self.pending = Some(attempt_failure(event)),
            T::ExecutionStarted => self.started(event, at),
            T::ExecutionRedriven => self.redriven(event, at),
            T::ExecutionSucceeded => {
                self.timeline.status = "SUCCEEDED".into();
                self.timeline.stopped = Some(at);
            }
            T::ExecutionFailed | T::ExecutionTimedOut | T::ExecutionAborted => {
                self.stopped(event, at)
            }
            _ => {}
        }
        if let Some(details) = event.state_exited_event_details() {
            self.exited(details, at);
        }
    }

    fn visit(&mut self, index: Option<usize>) -> Option<&mut StateVisit> {
        match self.timeline.entries.get_mut(index?) {
            Some(Entry::State(visit)) => Some(visit),
            _ => None,
        }
    }

    fn scheduled(&mut self) {
        let retried = self.pending.take();
        let Some(visit) = self.visit(self.open) else {
            return;
        };
        visit.attempts += 1;
        if let Some(failed) = retried {
            visit
                .retried_errors
                .push(failed.error.unwrap_or_else(|| "unknown error".into()));
            self.timeline.counts.retries += 1;
        }
    }

    fn started(&mut self, event: &HistoryEvent, at: DateTime<Utc>) {
        let timeline = &mut self.timeline;
        timeline.started = Some(at);
        timeline.status = "RUNNING".into();
        let input = event
            .execution_started_event_details()
            .and_then(|details| details.input());
        let target = DrainTarget::from_input(input);
        timeline.target = target;
    }

    fn redriven(&mut self, event: &HistoryEvent, at: DateTime<Utc>) {
        let timeline = &mut self.timeline;
        timeline.entries.push(Entry::Redriven {
            at,
            redrive_count: event
                .execution_redriven_event_details()
                .and_then(|details| details.redrive_count()),
        });
        timeline.counts.redrives += 1;
        timeline.status = "RUNNING".into();
        timeline.stopped = None;
        timeline.error = None;
        timeline.cause = None;
        self.open = None;
        self.pending = None;
    }

    /// The execution failed, timed out or was aborted, in the open visit if any.
    fn stopped(&mut self, event: &HistoryEvent, at: DateTime<Utc>) {
        let (status, error, cause) = execution_failure(event);
        self.timeline.status = status.into();
        self.timeline.stopped = Some(at);
        self.timeline.error.clone_from(&error);
        self.timeline.cause.clone_from(&cause);
        let attempt = self.pending.take();
        let open = self.open.take();
        if let Some(visit) = self.visit(open) {
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

    fn exited(&mut self, details: &StateExitedEventDetails, at: DateTime<Utc>) {
        let caught = self.pending.take().and_then(|failed| failed.error);
        let index = self.open.take();
        let Some(visit) = self.visit(index) else {
            return;
        };
        visit.exited = Some(at);
        visit.duration_seconds = seconds_between(visit.entered, at);
        visit.caught = caught;
        if visit.state_type == "Wait" {
            let waited = visit.duration_seconds;
            self.timeline.counts.waited_seconds += waited;
        }
        let Some(state) = details.output().and_then(drain::parse) else {
            return;
        };
        let sent_before = self.timeline.counts.heartbeats;
        let completed = self.timeline.take_state(&state, at);
        let completion = self.timeline.completion.clone();
        if let Some(visit) = self.visit(index) {
            visit.heartbeats_sent = Some(state.heartbeat.sent);
            visit.new_heartbeats = state.heartbeat.sent.saturating_sub(sent_before);
            visit.drain_status = Some(state.status);
            if completed {
                visit.completion = completion;
            }
        }
    }

    fn finish(mut self, now: DateTime<Utc>) -> Timeline {
        // A state still running: its duration so far.
        if let Some(visit) = self.visit(self.open) {
            visit.duration_seconds = seconds_between(visit.entered, now);
        }
        let timeline = &mut self.timeline;
        timeline.duration_seconds = timeline
            .started
            .map(|started| seconds_between(started, timeline.stopped.unwrap_or(now)));
        timeline.stop = failure::stop(timeline);
        self.timeline
    }
}

impl StateVisit {
    fn new(name: &str, state_type: &str, entered: DateTime<Utc>, input: Option<&str>) -> Self {
        Self {
            name: name.to_string(),
            planned_wait_seconds: (state_type == "Wait")
                .then(|| input.and_then(drain::parse))
                .flatten()
                .map(|state| state.wait_seconds),
            state_type: state_type.to_string(),
            entered,
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
        }
    }
}

/// The `(error, cause)` of the first of the event's details that is set (an event has one).
macro_rules! error_and_cause {
    ($event:expr, $($details:ident),+) => {
        None$(.or_else(|| $event.$details().map(|d| (d.error(), d.cause()))))+
    };
}

fn attempt_failure(event: &HistoryEvent) -> Pending {
    let failed = error_and_cause!(
        event,
        task_failed_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        lambda_function_failed_event_details,
        lambda_function_start_failed_event_details,
        lambda_function_schedule_failed_event_details,
        activity_failed_event_details
    );
    let timed_out = error_and_cause!(
        event,
        task_timed_out_event_details,
        lambda_function_timed_out_event_details,
        activity_timed_out_event_details
    )
    .map(|(error, cause)| (error.or(Some("States.Timeout")), cause));
    let (error, cause) = failed
        .or(timed_out)
        .unwrap_or((Some(event.r#type().as_str()), None));
    Pending {
        error: error.map(str::to_string),
        cause: cause.map(str::to_string),
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
