//! Builders of Step Functions outputs and history events for the unit tests.

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::*;
use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use chrono::Utc;
use serde_json::{json, Value};
use sta_shared::state::{Completion, CompletionOutcome, DrainState, LifecycleResult};
use sta_shared::testing::lifecycle_event;

pub const MACHINE: &str = "arn:aws:states:us-west-2:123456789012:stateMachine:drain";

pub fn arn(name: &str) -> String {
    format!("arn:aws:states:us-west-2:123456789012:execution:drain:{name}")
}

/// A Step Functions client answering from `rules` (any matching rule), without retries.
pub fn client(rules: &[&Rule]) -> aws_sdk_sfn::Client {
    mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// `offset` seconds after the fixtures' event time (2026-11-27T00:00:00Z).
pub fn at(offset: i64) -> chrono::DateTime<Utc> {
    sta_shared::testing::at(offset)
}

pub fn sdk_time(offset: i64) -> DateTime {
    DateTime::from_secs(at(offset).timestamp())
}

pub fn listed(
    name: &str,
    status: ExecutionStatus,
    started: i64,
    stopped: Option<i64>,
) -> ExecutionListItem {
    ExecutionListItem::builder()
        .execution_arn(arn(name))
        .state_machine_arn(MACHINE)
        .name(name)
        .status(status)
        .start_date(sdk_time(started))
        .set_stop_date(stopped.map(sdk_time))
        .build()
        .unwrap()
}

pub fn page(items: Vec<ExecutionListItem>, next: Option<&str>) -> ListExecutionsOutput {
    ListExecutionsOutput::builder()
        .set_executions(Some(items))
        .set_next_token(next.map(str::to_string))
        .build()
        .unwrap()
}

pub fn described(name: &str, status: ExecutionStatus, input: Value) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(arn(name))
        .state_machine_arn(MACHINE)
        .name(name)
        .status(status)
        .start_date(sdk_time(0))
        .input(input.to_string())
        .build()
        .unwrap()
}

pub fn history(events: Vec<HistoryEvent>, next: Option<&str>) -> GetExecutionHistoryOutput {
    GetExecutionHistoryOutput::builder()
        .set_events(Some(events))
        .set_next_token(next.map(str::to_string))
        .build()
        .unwrap()
}

/// Builds history events with increasing ids at given seconds.
#[derive(Default)]
pub struct History {
    pub events: Vec<HistoryEvent>,
}

impl History {
    fn push(
        &mut self,
        kind: HistoryEventType,
        second: i64,
        f: impl FnOnce(
            aws_sdk_sfn::types::builders::HistoryEventBuilder,
        ) -> aws_sdk_sfn::types::builders::HistoryEventBuilder,
    ) -> &mut Self {
        let id = self.events.len() as i64 + 1;
        let builder = HistoryEvent::builder()
            .id(id)
            .previous_event_id(id - 1)
            .r#type(kind)
            .timestamp(sdk_time(second));
        self.events.push(f(builder).build().unwrap());
        self
    }

    pub fn started(&mut self, second: i64, input: Value) -> &mut Self {
        self.push(HistoryEventType::ExecutionStarted, second, |b| {
            b.execution_started_event_details(
                ExecutionStartedEventDetails::builder()
                    .input(input.to_string())
                    .role_arn("arn:aws:iam::123456789012:role/drain")
                    .build(),
            )
        })
    }

    pub fn entered(&mut self, kind: &str, name: &str, second: i64, input: Value) -> &mut Self {
        let event_type = HistoryEventType::from(format!("{kind}StateEntered").as_str());
        self.push(event_type, second, |b| {
            b.state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .input(input.to_string())
                    .build()
                    .unwrap(),
            )
        })
    }

    pub fn exited(&mut self, kind: &str, name: &str, second: i64, output: Value) -> &mut Self {
        let event_type = HistoryEventType::from(format!("{kind}StateExited").as_str());
        self.push(event_type, second, |b| {
            b.state_exited_event_details(
                StateExitedEventDetails::builder()
                    .name(name)
                    .output(output.to_string())
                    .build()
                    .unwrap(),
            )
        })
    }

    pub fn scheduled(&mut self, second: i64) -> &mut Self {
        self.push(HistoryEventType::TaskScheduled, second, |b| {
            b.task_scheduled_event_details(
                TaskScheduledEventDetails::builder()
                    .resource_type("lambda")
                    .resource("invoke")
                    .region("us-west-2")
                    .parameters("{}")
                    .build()
                    .unwrap(),
            )
        })
    }

    pub fn task_failed(&mut self, second: i64, error: &str, cause: &str) -> &mut Self {
        self.push(HistoryEventType::TaskFailed, second, |b| {
            b.task_failed_event_details(
                TaskFailedEventDetails::builder()
                    .resource_type("lambda")
                    .resource("invoke")
                    .error(error)
                    .cause(cause)
                    .build()
                    .unwrap(),
            )
        })
    }

    pub fn task_succeeded(&mut self, second: i64) -> &mut Self {
        self.push(HistoryEventType::TaskSucceeded, second, |b| b)
    }

    /// A Task attempt scheduled at `scheduled` that fails at `failed`.
    pub fn attempt_failed(
        &mut self,
        scheduled: i64,
        failed: i64,
        error: &str,
        cause: &str,
    ) -> &mut Self {
        self.scheduled(scheduled).task_failed(failed, error, cause)
    }

    /// A Task state entered at `from` whose only attempt fails at `to`, and the execution
    /// with it.
    pub fn failed_in_task(
        &mut self,
        name: &str,
        from: i64,
        to: i64,
        error: &str,
        cause: &str,
    ) -> &mut Self {
        self.entered("Task", name, from, json!({}))
            .attempt_failed(from, to, error, cause)
            .failed(to, error, cause)
    }

    /// A Task state visit that succeeds at the first attempt.
    pub fn task(&mut self, name: &str, from: i64, to: i64, output: Value) -> &mut Self {
        self.entered("Task", name, from, json!({}))
            .scheduled(from)
            .task_succeeded(to)
            .exited("Task", name, to, output)
    }

    pub fn failed(&mut self, second: i64, error: &str, cause: &str) -> &mut Self {
        self.push(HistoryEventType::ExecutionFailed, second, |b| {
            b.execution_failed_event_details(
                ExecutionFailedEventDetails::builder()
                    .error(error)
                    .cause(cause)
                    .build(),
            )
        })
    }

    pub fn redriven(&mut self, second: i64, count: i32) -> &mut Self {
        self.push(HistoryEventType::ExecutionRedriven, second, |b| {
            b.execution_redriven_event_details(
                ExecutionRedrivenEventDetails::builder()
                    .redrive_count(count)
                    .build(),
            )
        })
    }

    pub fn succeeded(&mut self, second: i64) -> &mut Self {
        self.push(HistoryEventType::ExecutionSucceeded, second, |b| b)
    }

    pub fn take(&mut self) -> Vec<HistoryEvent> {
        std::mem::take(&mut self.events)
    }
}

/// Asserts that `text` contains each of `needles`.
#[track_caller]
pub fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
}

/// The state machine's input for the lifecycle fixture.
pub fn lifecycle_input() -> Value {
    lifecycle_event()
}

/// A drain state as a step returns it (`sta_shared::state::DrainState`, the lifecycle
/// fixture's), with the status, heartbeats and checks given.
pub fn state(status: &str, sent: u32, checks: u32) -> Value {
    let mut state = sta_shared::testing::drain_state();
    state.status = serde_json::from_value(json!(status)).expect("a drain status");
    state.heartbeat.sent = sent;
    state.checks = checks;
    state.wait_seconds = 30;
    serde_json::to_value(state).expect("a drain state serializes")
}

/// A drain state that asks `WaitForDrain` to wait `seconds`.
pub fn waiting(seconds: u64) -> Value {
    edited(state("draining", 0, 0), |state| {
        state.wait_seconds = seconds
    })
}

/// `state` (a step's output) with `change` made to it through the drain state's type.
pub fn edited(state: Value, change: impl FnOnce(&mut DrainState)) -> Value {
    let mut state = DrainState::from_value(state).expect("a drain state");
    change(&mut state);
    serde_json::to_value(state).expect("a drain state serializes")
}

/// A completion of the lifecycle action at `at`.
pub fn completion(
    outcome: CompletionOutcome,
    result: LifecycleResult,
    at: chrono::DateTime<Utc>,
) -> Option<Completion> {
    Some(Completion {
        result: Some(result),
        outcome,
        at,
    })
}
