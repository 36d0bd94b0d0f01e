use super::*;
use crate::quiet;
use crate::testing::*;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::redrive_execution::RedriveExecutionOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_smithy_mocks::{mock, Rule};
use serde_json::json;
use sta_shared::testing::{json_error, INSTANCE_ID, TOKEN};

fn options(dry_run: bool, restart: bool) -> ReplayOptions {
    ReplayOptions {
        filter: Filter {
            state_machine_arn: MACHINE.into(),
            statuses: default_statuses(),
            since: None,
        },
        dry_run,
        restart,
    }
}

/// ListExecutions answering FAILED with `items` and the other statuses with nothing.
fn listing(items: Vec<aws_sdk_sfn::types::ExecutionListItem>) -> Rule {
    mock!(aws_sdk_sfn::Client::list_executions).then_compute_output(move |req| {
        match req.status_filter() {
            Some(ExecutionStatus::Failed) => page(items.clone(), None),
            Some(ExecutionStatus::TimedOut) | Some(ExecutionStatus::Aborted) => page(vec![], None),
            other => panic!("unexpected status filter {other:?}"),
        }
    })
}

fn failed(name: &str, stopped: i64) -> aws_sdk_sfn::types::ExecutionListItem {
    listed(name, ExecutionStatus::Failed, stopped - 10, Some(stopped))
}

fn describe(output: DescribeExecutionOutput) -> Rule {
    mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || output.clone())
}

fn failed_described(name: &str) -> DescribeExecutionOutput {
    let mut output = described(name, ExecutionStatus::Failed, lifecycle_input());
    output.stop_date = Some(sdk_time(100));
    output.redrive_status = Some(ExecutionRedriveStatus::Redrivable);
    output
}

fn redrive_ok() -> Rule {
    mock!(aws_sdk_sfn::Client::redrive_execution).then_compute_output(|req| {
        assert_eq!(req.execution_arn(), Some(arn("one").as_str()));
        RedriveExecutionOutput::builder()
            .redrive_date(sdk_time(200))
            .build()
            .unwrap()
    })
}

fn start_ok() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(|req| {
        assert_eq!(req.state_machine_arn(), Some(MACHINE));
        assert_eq!(req.input(), Some(lifecycle_input().to_string().as_str()));
        StartExecutionOutput::builder()
            .execution_arn(arn(req.name().unwrap()))
            .start_date(sdk_time(200))
            .build()
            .unwrap()
    })
}

fn redrive_error(code: &'static str) -> Rule {
    mock!(aws_sdk_sfn::Client::redrive_execution).then_http_response(move || json_error(400, code))
}

fn start_error(code: &'static str) -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_http_response(move || json_error(400, code))
}

async fn run(rules: &[&Rule], options: &ReplayOptions, now: i64) -> ReplayReport {
    replay(&client(rules), options, at(now), &quiet)
        .await
        .unwrap()
}

/// Asserts that `item` was `action`, for a reason saying each of `words`.
#[track_caller]
fn assert_item(item: &ReplayItem, action: Action, words: &[&str]) {
    assert_eq!(item.action, action, "{item:?}");
    assert_contains(item.reason.as_deref().expect("a reason"), words);
}

/// One failed execution (stopped at +100 s) as ListExecutions and DescribeExecution show it.
struct FailedExecution {
    list: Rule,
    describe: Rule,
}

impl FailedExecution {
    fn described(output: DescribeExecutionOutput) -> Self {
        let name = output.name.clone().expect("a named execution");
        Self {
            list: listing(vec![failed(&name, 100)]),
            describe: describe(output),
        }
    }

    fn named(name: &str) -> Self {
        Self::described(failed_described(name))
    }

    /// Replays it at `now`, `actions` answering RedriveExecution and StartExecution.
    async fn replay(&self, actions: &[&Rule], options: &ReplayOptions, now: i64) -> ReplayReport {
        // The actions' rules first: one of them may answer a DescribeExecution of another
        // execution (an earlier restart).
        let rules: Vec<&Rule> = actions
            .iter()
            .copied()
            .chain([&self.list, &self.describe])
            .collect();
        run(&rules, options, now).await
    }
}

#[tokio::test]
async fn redrives_a_failed_execution() {
    let (one, redrive) = (FailedExecution::named("one"), redrive_ok());
    let report = one.replay(&[&redrive], &options(false, false), 200).await;
    assert_eq!(one.list.num_calls(), 3, "one listing per status");
    assert_eq!(redrive.num_calls(), 1);
    let item = &report.items[0];
    assert_eq!(item.action, Action::Redriven);
    assert_eq!(item.target.instance_id.as_deref(), Some(INSTANCE_ID));
    assert!(report.ok());
    let text = render(&report);
    assert!(
        text.contains("redriven") && text.ends_with("1 redriven\n"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["items"][0]["action"], "redriven");
}

#[tokio::test]
async fn a_dry_run_calls_nothing_that_changes() {
    let (one, redrive, start) = (FailedExecution::named("one"), redrive_ok(), start_ok());
    let actions = [&redrive, &start];
    let report = one.replay(&actions, &options(true, false), 200).await;
    assert_eq!(report.items[0].action, Action::WouldRedrive);
    let report = one.replay(&actions, &options(true, true), 200).await;
    assert_eq!(report.items[0].action, Action::WouldRestart);
    let name = format!("{INSTANCE_ID}-{TOKEN}");
    assert_eq!(
        report.items[0].new_execution_name.as_deref(),
        Some(name.as_str())
    );
    assert_eq!(redrive.num_calls() + start.num_calls(), 0);
    let text = render(&report);
    assert!(
        text.contains(&format!("as {name}")) && text.ends_with("dry run: 1 would restart\n"),
        "{text}"
    );
}

#[tokio::test]
async fn says_why_an_execution_cannot_be_redriven() {
    // Step Functions says so in DescribeExecution.
    let mut not_redrivable = failed_described("one");
    not_redrivable.redrive_status = Some(ExecutionRedriveStatus::NotRedrivable);
    not_redrivable.redrive_status_reason = Some("Execution history event limit exceeded.".into());
    let (one, redrive) = (FailedExecution::described(not_redrivable), redrive_ok());
    let report = one.replay(&[&redrive], &options(false, false), 200).await;
    assert_item(
        &report.items[0],
        Action::NotRedrivable,
        &["history event limit", "--restart"],
    );
    assert!(!report.ok());

    // Stopped more than 14 days ago (an emulator may not say so itself).
    let one = FailedExecution::named("one");
    let fifteen_days_later = 100 + 15 * 86_400;
    let report = one
        .replay(&[&redrive], &options(false, false), fifteen_days_later)
        .await;
    assert_item(
        &report.items[0],
        Action::NotRedrivable,
        &["stopped 15 days ago", "14 days"],
    );

    // RedriveExecution refuses it.
    let refused = redrive_error("ExecutionNotRedrivable");
    let report = one.replay(&[&refused], &options(false, false), 200).await;
    assert_item(
        &report.items[0],
        Action::NotRedrivable,
        &["ExecutionNotRedrivable from the test"],
    );
    assert_eq!(redrive.num_calls(), 0);
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_call_is_reported_per_execution() {
    let list = listing(vec![failed("one", 100), failed("two", 90)]);
    let describe_rule = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|req| {
        failed_described(req.execution_arn().unwrap().rsplit(':').next().unwrap())
    });
    let redrive = mock!(aws_sdk_sfn::Client::redrive_execution).then_compute_response(|req| {
        if req.execution_arn() == Some(arn("one").as_str()) {
            aws_smithy_mocks::MockResponse::Http(json_error(400, "ExecutionDoesNotExist"))
        } else {
            aws_smithy_mocks::MockResponse::Http(json_error(400, "ThrottlingException"))
        }
    });
    let report = run(
        &[&list, &describe_rule, &redrive],
        &options(false, false),
        200,
    )
    .await;
    assert_eq!(report.items.len(), 2);
    for (item, code) in report
        .items
        .iter()
        .zip(["ExecutionDoesNotExist", "ThrottlingException"])
    {
        assert_item(
            item,
            Action::Failed,
            &[&format!("RedriveExecution: {code}")],
        );
    }
    assert!(!report.ok());
    assert!(render(&report).ends_with("2 failed\n"));

    let describe_fails = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let report = run(&[&list, &describe_fails], &options(false, false), 200).await;
    assert_eq!(report.items[0].action, Action::Failed);
    assert!(report.items[0]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("DescribeExecution: ThrottlingException"));
}

#[tokio::test]
async fn running_or_succeeded_executions_are_skipped() {
    let succeeded = listed("done", ExecutionStatus::Succeeded, 1, Some(2));
    let list = mock!(aws_sdk_sfn::Client::list_executions)
        .then_output(move || page(vec![succeeded.clone()], None));
    let describe_rule = describe(described(
        "done",
        ExecutionStatus::Succeeded,
        lifecycle_input(),
    ));
    let mut options = options(false, false);
    options.filter.statuses = vec![ExecutionStatus::Succeeded];
    let report = run(&[&list, &describe_rule], &options, 10).await;
    assert_eq!(report.items[0].action, Action::Skipped);
    assert_eq!(
        report.items[0].reason.as_deref(),
        Some("succeeded: nothing to replay")
    );
    assert!(report.ok());
}

#[tokio::test]
async fn restarts_with_the_original_input_once() {
    let (one, start) = (FailedExecution::named("one"), start_ok());
    let thirty_days_later = 100 + 30 * 86_400;
    let report = one
        .replay(&[&start], &options(false, true), thirty_days_later)
        .await;
    let item = &report.items[0];
    let name = format!("{INSTANCE_ID}-{TOKEN}");
    assert_eq!(item.action, Action::Restarted, "{item:?}");
    assert_eq!(item.new_execution_arn.as_deref(), Some(arn(&name).as_str()));
    assert!(render(&report).contains(&arn(&name)));

    // A second restart of the same action is refused by Step Functions itself: done when
    // the earlier restart runs or succeeded, a problem when it did not end well.
    let exists = start_error("ExecutionAlreadyExists");
    for (status, action, ok) in [
        (ExecutionStatus::Running, Action::AlreadyRestarted, true),
        (ExecutionStatus::Succeeded, Action::AlreadyRestarted, true),
        (ExecutionStatus::Failed, Action::NotRestartable, false),
        (ExecutionStatus::Aborted, Action::NotRestartable, false),
    ] {
        let restart_arn = arn(&name);
        let (matched, earlier) = (restart_arn.clone(), status.clone());
        let earlier_restart = mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(move |req| req.execution_arn() == Some(matched.as_str()))
            .then_output(move || {
                described(
                    &format!("{INSTANCE_ID}-{TOKEN}"),
                    earlier.clone(),
                    lifecycle_input(),
                )
            });
        let report = one
            .replay(&[&earlier_restart, &exists], &options(false, true), 200)
            .await;
        assert_item(&report.items[0], action, &[&name, status.as_str()]);
        assert_eq!(
            report.items[0].new_execution_arn.as_deref(),
            Some(restart_arn.as_str())
        );
        assert_eq!(report.ok(), ok, "{status:?}");
    }

    // Other errors are failures.
    let throttled = start_error("ThrottlingException");
    let report = one.replay(&[&throttled], &options(false, true), 200).await;
    assert_eq!(report.items[0].action, Action::Failed);
    assert!(!report.ok());
}

#[tokio::test]
async fn a_restart_is_not_restarted_again_and_an_unknown_input_is_not_restarted() {
    let name = format!("{INSTANCE_ID}-{TOKEN}");
    let (restart, start) = (FailedExecution::named(&name), start_ok());
    let report = restart.replay(&[&start], &options(false, true), 200).await;
    assert_item(
        &report.items[0],
        Action::NotRestartable,
        &[
            "this execution is the restart",
            "FAILED",
            "without --restart redrives it",
        ],
    );
    assert_eq!(start.num_calls(), 0);
    assert!(
        !report.ok(),
        "a failed drain that cannot be restarted needs an operator"
    );

    let mut unknown = failed_described("bad");
    unknown.input = Some(json!({"Event": "autoscaling:TEST_NOTIFICATION"}).to_string());
    let report = FailedExecution::described(unknown)
        .replay(&[&start], &options(false, true), 200)
        .await;
    assert_eq!(report.items[0].action, Action::NotRestartable);
    assert!(!report.ok());
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_failed_listing_fails_the_replay() {
    let list = mock!(aws_sdk_sfn::Client::list_executions)
        .then_http_response(|| json_error(400, "StateMachineDoesNotExist"));
    let error = replay(&client(&[&list]), &options(false, false), at(0), &quiet)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("StateMachineDoesNotExist"));
}

#[tokio::test]
async fn nothing_to_replay_says_so() {
    let list = listing(vec![]);
    let report = run(&[&list], &options(false, false), 0).await;
    assert!(report.ok());
    assert!(render(&report).ends_with("no execution to replay\n"));
}
