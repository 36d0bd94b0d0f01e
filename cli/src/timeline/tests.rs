use super::*;
use crate::quiet;
use crate::testing::*;
use aws_smithy_mocks::mock;
use serde_json::json;
use sta_shared::state::CompletionOutcome::{AlreadyCompleted, Completed};
use sta_shared::state::DrainStatus;
use sta_shared::state::LifecycleResult::{Abandon, Continue};
use sta_shared::testing::{json_error, ASG, INSTANCE_ID};

pub(super) fn visits(timeline: &Timeline) -> Vec<&StateVisit> {
    timeline
        .entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::State(visit) => Some(visit),
            Entry::Redriven { .. } => None,
        })
        .collect()
}

pub(super) fn completed(sent: u32, checks: u32) -> serde_json::Value {
    edited(state("drained", sent, checks), |state| {
        state.report.completion = completion(Completed, Continue, at(600));
    })
}

/// A drain that retried its first step, waited twice, heartbeated once and completed.
pub(super) fn succeeded_drain() -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .entered("Task", "DrainContainerInstance", 0, json!({}))
        .attempt_failed(0, 1, "Retryable", "ListTasks: ThrottlingException")
        .scheduled(3)
        .task_succeeded(4)
        .exited("Task", "DrainContainerInstance", 4, state("draining", 0, 0))
        .entered("Choice", "IsInstanceInCluster", 4, json!({}))
        .exited("Choice", "IsInstanceInCluster", 4, state("draining", 0, 0))
        .task("DeregisterFromLoadBalancers", 4, 6, state("draining", 0, 0))
        .entered("Wait", "WaitForDrain", 6, waiting(300))
        .exited("Wait", "WaitForDrain", 306, state("draining", 0, 0))
        .task("CheckDrained", 306, 307, state("draining", 1, 1))
        .entered("Choice", "IsDrained", 307, json!({}))
        .exited("Choice", "IsDrained", 307, state("draining", 1, 1))
        .entered("Wait", "WaitForDrain", 307, waiting(60))
        .exited("Wait", "WaitForDrain", 367, state("draining", 1, 1))
        .task("CheckDrained", 367, 368, state("drained", 1, 2))
        .entered("Choice", "IsDrained", 368, json!({}))
        .exited("Choice", "IsDrained", 368, state("drained", 1, 2))
        .task("CompleteLifecycleAction", 368, 369, completed(1, 2))
        .entered("Succeed", "InstanceReleased", 369, json!({}))
        .exited("Succeed", "InstanceReleased", 369, completed(1, 2))
        .succeeded(369);
    h.take()
}

/// A drain whose first step succeeded and whose state `name`, entered at `at`, failed a
/// second later with an AWS error (`cause`).
pub(super) fn denied_in(name: &str, at: i64, cause: &str) -> History {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 1, state("draining", 0, 0))
        .failed_in_task(name, at, at + 1, "AwsRequestFailed", cause);
    h
}

/// A test notification the first step refused: caught, and failed in `RejectInvalidEvent`.
pub(super) fn refused_event() -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    let refusal = "`Event` is autoscaling:TEST_NOTIFICATION";
    let mut h = History::default();
    h.started(0, json!({"Event": "autoscaling:TEST_NOTIFICATION"}))
        .entered("Task", "DrainContainerInstance", 0, json!({}))
        .attempt_failed(0, 1, "InvalidEvent", refusal)
        .exited("Task", "DrainContainerInstance", 1, json!({"failure": {}}))
        .entered("Fail", "RejectInvalidEvent", 1, json!({}))
        .failed(1, "InvalidEvent", refusal);
    h.take()
}

#[test]
fn a_successful_drain_reads_as_a_timeline() {
    let timeline = from_events(&arn("ok"), &succeeded_drain(), at(1000));
    assert_eq!(timeline.name, "ok");
    assert_eq!(timeline.status, "SUCCEEDED");
    assert_eq!(timeline.target.instance_id.as_deref(), Some(INSTANCE_ID));
    assert_eq!(timeline.target.asg_name.as_deref(), Some(ASG));
    assert_eq!(timeline.started, Some(at(0)));
    assert_eq!(timeline.stopped, Some(at(369)));
    assert_eq!(timeline.duration_seconds, Some(369.0));
    assert_eq!(timeline.counts.retries, 1);
    assert_eq!(timeline.counts.heartbeats, 1);
    assert_eq!(timeline.counts.checks, 2);
    assert_eq!(timeline.counts.waited_seconds, 360.0);
    assert_eq!(timeline.counts.redrives, 0);
    assert_eq!(timeline.drain_status, Some(DrainStatus::Drained));
    assert_eq!(
        timeline.completion,
        Some(Completion {
            outcome: Completed,
            result: Some(Continue)
        })
    );
    assert_eq!(timeline.error, None);

    let visits = visits(&timeline);
    assert_eq!(visits.len(), 11);
    let first = visits[0];
    assert_eq!(first.name, "DrainContainerInstance");
    assert_eq!(first.state_type, "Task");
    assert_eq!(first.attempts, 2);
    assert_eq!(first.retried_errors, ["Retryable"]);
    assert_eq!(first.duration_seconds, 4.0);
    let wait = visits[3];
    assert_eq!(
        (wait.name.as_str(), wait.planned_wait_seconds),
        ("WaitForDrain", Some(300))
    );
    assert_eq!(wait.duration_seconds, 300.0);
    let check = visits[4];
    assert_eq!((check.heartbeats_sent, check.new_heartbeats), (Some(1), 1));
    assert_eq!(visits[7].new_heartbeats, 0, "the second check sent none");
    // Only the step that completed the action reports the completion.
    assert!(visits[9].completion.is_some());
    assert!(visits[10].completion.is_none());
}

#[test]
fn a_successful_drain_renders_as_text() {
    let timeline = from_events(&arn("ok"), &succeeded_drain(), at(1000));
    let text = render(&timeline);
    assert_contains(
        &text,
        &[
            &format!("instance    {INSTANCE_ID}  asg {ASG}"),
            "status      SUCCEEDED  drain drained",
            "2 checks, waited 6m00s, 1 heartbeats, 1 retries, 0 redrives",
            "completion  completed (CONTINUE)",
        ],
    );
    // The table of visits, after the chart.
    let visits_table = &text[text.find("\nAT  ").expect("the table")..];
    let line = |name: &str, nth: usize| -> String {
        visits_table
            .lines()
            .filter(|line| line.contains(name))
            .nth(nth)
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    assert!(
        line("DrainContainerInstance", 0).contains("1 retried (Retryable)"),
        "{text}"
    );
    assert!(line("WaitForDrain", 0).contains("waited 5m00s"), "{text}");
    assert!(
        line("CheckDrained", 0).contains("heartbeat +1 (1 sent)"),
        "{text}"
    );
    assert!(
        line("CompleteLifecycleAction", 0).contains("lifecycle action completed (CONTINUE)"),
        "{text}"
    );
    assert!(line("+6s", 0).contains("WaitForDrain"), "{text}");
}

#[test]
fn a_failed_and_redriven_drain_shows_both_attempts() {
    let mut h = denied_in(
        "DeregisterFromLoadBalancers",
        1,
        "DescribeTargetHealth: AccessDenied",
    );
    let failed = from_events(&arn("x"), &h.events, at(100));
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.error.as_deref(), Some("AwsRequestFailed"));
    assert_eq!(
        failed.cause.as_deref(),
        Some("DescribeTargetHealth: AccessDenied")
    );
    let last = *visits(&failed).last().unwrap();
    assert_eq!(last.name, "DeregisterFromLoadBalancers");
    assert_eq!(
        last.failed.as_ref().unwrap().error.as_deref(),
        Some("AwsRequestFailed")
    );
    assert_eq!(last.retried_errors.len(), 0);
    assert!(render(&failed).contains("FAILED AwsRequestFailed: DescribeTargetHealth: AccessDenied"));

    h.redriven(50, 1)
        .task(
            "DeregisterFromLoadBalancers",
            50,
            52,
            state("draining", 0, 0),
        )
        .entered("Wait", "WaitForDrain", 52, waiting(30));
    let redriven = from_events(&arn("x"), &h.events, at(62));
    assert_eq!(redriven.status, "RUNNING");
    assert_eq!(redriven.counts.redrives, 1);
    assert_eq!((redriven.error.clone(), redriven.stopped), (None, None));
    assert_eq!(redriven.duration_seconds, Some(62.0));
    assert!(matches!(
        redriven.entries[2],
        Entry::Redriven {
            redrive_count: Some(1),
            ..
        }
    ));
    let waiting = *visits(&redriven).last().unwrap();
    assert_eq!(waiting.exited, None);
    assert_eq!(waiting.duration_seconds, 10.0);
    assert_eq!(waiting.note(), "waiting (30s planned)");
    assert_contains(
        &render(&redriven),
        &["(redriven)", "redrive 1: resumes at the state that failed"],
    );
    let json = serde_json::to_value(&redriven).unwrap();
    assert_eq!(json["entries"][2]["kind"], "redriven");
    assert_eq!(json["entries"][0]["kind"], "state");
    // the counts stand at the top level of `ecs-sta show --json`
    assert_eq!((&json["redrives"], &json["checks"]), (&json!(1), &json!(0)));
    assert!(json.get("counts").is_none());
}

#[test]
fn a_refused_event_shows_the_catch_and_the_fail_state() {
    let timeline = from_events(&arn("bad"), &refused_event(), at(5));
    assert_eq!(timeline.target.instance_id, None);
    let visits = visits(&timeline);
    assert_eq!(visits[0].caught.as_deref(), Some("InvalidEvent"));
    assert_eq!(visits[0].failed, None);
    assert_eq!(visits[1].state_type, "Fail");
    assert_eq!(
        visits[1].failed.as_ref().unwrap().error.as_deref(),
        Some("InvalidEvent")
    );
    assert!(visits[0].note().contains("caught InvalidEvent"));
}

#[test]
fn a_drain_past_its_deadline_says_so() {
    let output = edited(state("deadline_passed", 40, 600), |state| {
        state.report.completion = completion(AlreadyCompleted, Abandon, at(172_800));
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task(
            "CompleteLifecycleActionAfterDeadline",
            172_000,
            172_001,
            output,
        )
        .succeeded(172_001);
    let timeline = from_events(&arn("late"), &h.events, at(172_100));
    assert_eq!(timeline.drain_status, Some(DrainStatus::DeadlinePassed));
    assert_eq!(timeline.counts.heartbeats, 40);
    assert_contains(
        &render(&timeline),
        &[
            "drain deadline_passed  (deadline passed)",
            "already_completed (ABANDON)",
            "1d23h",
        ],
    );
}

#[test]
fn orphaned_tasks_are_shown() {
    let task = "arn:aws:ecs:us-west-2:123456789012:task/test-cluster/web";
    let output = edited(state("drained", 0, 3), |state| {
        state.report.orphaned_tasks = vec![task.into()];
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("CheckDrained", 60, 61, output)
        .succeeded(62);
    let timeline = from_events(&arn("orphan"), &h.events, at(70));
    assert_eq!(timeline.orphaned_tasks, [task]);
    let text = render(&timeline);
    assert!(
        text.contains(&format!(
            "orphaned    1 service task(s) not waited for: the container instance was deregistered mid-drain ({task})"
        )),
        "{text}"
    );
    // A drain without orphans says nothing of them.
    let plain = from_events(&arn("plain"), &succeeded_drain(), at(500));
    assert!(plain.orphaned_tasks.is_empty());
    assert!(!render(&plain).contains("orphaned"));
}

#[test]
fn a_drain_waiting_for_its_action_to_be_confirmed_says_why() {
    let output = edited(state("draining", 0, 4), |state| {
        state.heartbeat.unconfirmed = true;
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("CheckDrained", 60, 61, output);
    let timeline = from_events(&arn("unconfirmed"), &h.events, at(70));
    assert!(timeline.phases.unconfirmed);
    assert_contains(
        &render(&timeline),
        &[
            "Auto Scaling has taken none of the drain's heartbeats",
            "another terminate hook",
        ],
    );
    // Once a heartbeat is taken, nothing is said of it.
    let plain = from_events(&arn("plain"), &succeeded_drain(), at(500));
    assert!(!plain.phases.unconfirmed);
    assert!(!render(&plain).contains("none of the drain's heartbeats"));
}

#[tokio::test]
async fn reads_every_page_of_the_history() {
    let events = succeeded_drain();
    let (first, rest) = events.split_at(20);
    let (first, rest) = (first.to_vec(), rest.to_vec());
    let page_one = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|req| req.next_token().is_none())
        .then_compute_output(move |req| {
            assert_eq!(req.execution_arn(), Some(arn("ok").as_str()));
            assert_eq!(req.max_results(), Some(1000));
            assert_eq!(req.include_execution_data(), Some(true));
            assert_eq!(req.reverse_order(), None);
            history(first.clone(), Some("next"))
        });
    let page_two = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|req| req.next_token() == Some("next"))
        .then_output(move || history(rest.clone(), None));
    let client = client(&[&page_one, &page_two]);
    let timeline = timeline(&client, &arn("ok"), at(1000), &quiet)
        .await
        .unwrap();
    assert_eq!((page_one.num_calls(), page_two.num_calls()), (1, 1));
    assert_eq!(
        timeline,
        from_events(&arn("ok"), &succeeded_drain(), at(1000))
    );
    assert_eq!(timeline.events, succeeded_drain().len());
}

#[tokio::test]
async fn a_missing_execution_or_throttling_fails_with_its_code() {
    for code in ["ExecutionDoesNotExist", "ThrottlingException", "InvalidArn"] {
        let rule = mock!(aws_sdk_sfn::Client::get_execution_history)
            .then_http_response(move || json_error(400, code));
        let error = timeline(&client(&[&rule]), &arn("x"), at(0), &quiet)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(code));
        assert!(
            error.to_string().starts_with("GetExecutionHistory: "),
            "{error}"
        );
    }
}

#[test]
fn retried_errors_are_counted() {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .entered("Task", "CheckDrained", 0, json!({}))
        .attempt_failed(0, 1, "Retryable", "a")
        .attempt_failed(2, 3, "Lambda.Unknown", "b")
        .attempt_failed(4, 5, "Retryable", "c")
        .scheduled(6);
    let timeline = from_events(&arn("r"), &h.events, at(7));
    assert_eq!(
        visits(&timeline)[0].note(),
        "running; 3 retried (Retryable x2, Lambda.Unknown)"
    );
}

#[test]
fn tasks_counted_but_not_listed_yet_are_left_at_the_last_check() {
    let output = edited(state("draining", 0, 2), |state| {
        state.remaining.tasks = vec![];
        state.remaining.unlisted = sta_shared::state::UnlistedTasks::beyond(2, 0, at(60));
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("CheckDrained", 60, 61, output);
    let timeline = from_events(&arn("unlisted"), &h.events, at(70));
    assert_eq!(timeline.phases.remaining_tasks, 2);
}
