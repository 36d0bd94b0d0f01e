use super::*;
use crate::quiet;
use crate::testing::*;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_smithy_mocks::mock;
use serde_json::json;
use sta_shared::testing::{json_error, ASG, INSTANCE_ID};

fn filter(statuses: Vec<ExecutionStatus>, since: Option<DateTime<Utc>>) -> Filter {
    Filter {
        state_machine_arn: MACHINE.into(),
        statuses,
        since,
    }
}

fn list_page(
    token: Option<&'static str>,
    output: impl Fn() -> aws_sdk_sfn::operation::list_executions::ListExecutionsOutput
        + Send
        + Sync
        + 'static,
) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(move |req| req.next_token() == token)
        .then_compute_output(move |req| {
            assert_eq!(req.state_machine_arn(), Some(MACHINE));
            assert_eq!(req.max_results(), Some(1000));
            output()
        })
}

#[tokio::test]
async fn lists_every_page_newest_first() {
    let first = list_page(None, || {
        page(
            vec![
                listed("b", ExecutionStatus::Failed, 200, Some(260)),
                listed("a", ExecutionStatus::Succeeded, 100, Some(150)),
            ],
            Some("page-2"),
        )
    });
    let second = list_page(Some("page-2"), || {
        page(vec![listed("c", ExecutionStatus::Running, 300, None)], None)
    });
    let client = client(&[&first, &second]);
    let listed = list(&client, &filter(vec![], None), &quiet).await.unwrap();
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    let names: Vec<&str> = listed.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a"]);
    assert_eq!(listed[1].status, "FAILED");
    assert_eq!(listed[1].started, at(200));
    assert_eq!(listed[1].stopped, Some(at(260)));
}

#[tokio::test]
async fn lists_each_status_and_stops_at_since() {
    let failed = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|req| req.status_filter() == Some(&ExecutionStatus::Failed))
        .then_output(|| {
            page(
                vec![
                    listed("new", ExecutionStatus::Failed, 500, Some(510)),
                    listed("old", ExecutionStatus::Failed, 10, Some(20)),
                ],
                Some("more"),
            )
        });
    let aborted = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|req| req.status_filter() == Some(&ExecutionStatus::Aborted))
        .then_output(|| {
            page(
                vec![listed("stopped", ExecutionStatus::Aborted, 400, Some(401))],
                None,
            )
        });
    let client = client(&[&failed, &aborted]);
    let listed = list(
        &client,
        &filter(
            vec![ExecutionStatus::Failed, ExecutionStatus::Aborted],
            Some(at(100)),
        ),
        &quiet,
    )
    .await
    .unwrap();
    // The FAILED listing reached past `since` on its first page: no second page.
    assert_eq!((failed.num_calls(), aborted.num_calls()), (1, 1));
    let names: Vec<&str> = listed.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(names, ["new", "stopped"]);
}

#[tokio::test]
async fn a_failed_listing_fails_with_its_code() {
    for code in [
        "ThrottlingException",
        "StateMachineDoesNotExist",
        "InvalidArn",
    ] {
        let rule = mock!(aws_sdk_sfn::Client::list_executions)
            .then_http_response(move || json_error(400, code));
        let error = list(&client(&[&rule]), &filter(vec![], None), &quiet)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(code));
        assert_eq!(error.exit_code(), 1);
        assert!(error.to_string().starts_with("ListExecutions: "), "{error}");
    }
}

#[tokio::test]
async fn the_client_retries_throttling_by_itself() {
    let rule = mock!(aws_sdk_sfn::Client::list_executions)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException"))
        .output(|| page(vec![listed("a", ExecutionStatus::Failed, 1, Some(2))], None))
        .build();
    let client = aws_smithy_mocks::mock_client!(
        aws_sdk_sfn,
        aws_smithy_mocks::RuleMode::Sequential,
        &[&rule],
        |c| c.retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(1))
        )
    );
    let listed = list(&client, &filter(vec![], None), &quiet).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(rule.num_calls(), 2);
}

fn describe(name: &'static str, output: DescribeExecutionOutput) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(move |req| req.execution_arn() == Some(arn(name).as_str()))
        .then_output(move || output.clone())
}

fn tail(
    name: &'static str,
    token: Option<&'static str>,
    events: Vec<aws_sdk_sfn::types::HistoryEvent>,
    next: Option<&'static str>,
) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(move |req| {
            req.execution_arn() == Some(arn(name).as_str()) && req.next_token() == token
        })
        .then_compute_output(move |req| {
            assert_eq!(req.reverse_order(), Some(true));
            assert_eq!(req.include_execution_data(), Some(false));
            history(events.clone(), next)
        })
}

#[tokio::test]
async fn rows_carry_instance_state_and_error() {
    let list_rule = mock!(aws_sdk_sfn::Client::list_executions).then_output(|| {
        page(
            vec![
                listed("failed", ExecutionStatus::Failed, 100, Some(400)),
                listed("running", ExecutionStatus::Running, 50, None),
            ],
            None,
        )
    });
    let failed_output = DescribeExecutionOutput::builder()
        .execution_arn(arn("failed"))
        .state_machine_arn(MACHINE)
        .status(ExecutionStatus::Failed)
        .start_date(sdk_time(100))
        .stop_date(sdk_time(400))
        .input(lifecycle_input().to_string())
        .error("AwsRequestFailed")
        .cause("DescribeTasks failed: AccessDeniedException")
        .redrive_count(1)
        .build()
        .unwrap();
    let mut events = History::default();
    let failed_tail = events
        .entered("Task", "CheckDrained", 390, json!({}))
        .scheduled(390)
        .task_failed(391, "AwsRequestFailed", "denied")
        .failed(400, "AwsRequestFailed", "denied")
        .take();
    let mut spot = sta_shared::testing::spot_event();
    spot["detail"]["instance-id"] = json!("i-0abcdef1234567890");
    // The running execution's tail needs a second page to reach a StateEntered.
    let running_first = events.scheduled(90).take();
    let running_second = events.entered("Wait", "WaitForDrain", 80, json!({})).take();
    let rules = [
        list_rule,
        describe("failed", failed_output),
        describe(
            "running",
            described("running", ExecutionStatus::Running, spot),
        ),
        tail(
            "failed",
            None,
            failed_tail.into_iter().rev().collect(),
            None,
        ),
        tail("running", None, running_first, Some("older")),
        tail("running", Some("older"), running_second, None),
    ];
    let client = client(&rules.iter().collect::<Vec<_>>());
    let rows = executions(&client, &filter(vec![], None), at(600), &quiet)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let failed = &rows[0];
    assert_eq!(failed.name, "failed");
    assert_eq!(failed.instance_id.as_deref(), Some(INSTANCE_ID));
    assert_eq!(failed.asg_name.as_deref(), Some(ASG));
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.duration_seconds, 300.0);
    assert_eq!(failed.state.as_deref(), Some("CheckDrained"));
    assert_eq!(failed.error.as_deref(), Some("AwsRequestFailed"));
    assert_eq!(failed.redrive_count, 1);
    assert_eq!(failed.details_error, None);
    let running = &rows[1];
    assert_eq!(running.instance_id.as_deref(), Some("i-0abcdef1234567890"));
    assert_eq!(running.asg_name, None);
    assert_eq!(running.state.as_deref(), Some("WaitForDrain"));
    assert_eq!(running.duration_seconds, 550.0);

    let text = render(&rows);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("INSTANCE"), "{text}");
    assert!(
        lines[1].contains(INSTANCE_ID) && lines[1].contains("FAILED (redriven 1)"),
        "{text}"
    );
    assert!(
        lines[1].contains("5m00s") && lines[1].contains("CheckDrained"),
        "{text}"
    );
    assert!(
        lines[1].contains("AwsRequestFailed: DescribeTasks failed"),
        "{text}"
    );
    assert!(
        lines[2].contains("RUNNING") && lines[2].contains("WaitForDrain"),
        "{text}"
    );
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json[0]["instance_id"], INSTANCE_ID);
    assert_eq!(json[0]["state"], "CheckDrained");
}

#[tokio::test]
async fn a_row_whose_details_fail_says_why() {
    let list_rule = mock!(aws_sdk_sfn::Client::list_executions).then_output(|| {
        page(
            vec![listed("gone", ExecutionStatus::Failed, 1, Some(2))],
            None,
        )
    });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let history = mock!(aws_sdk_sfn::Client::get_execution_history)
        .then_http_response(|| json_error(400, "ExecutionDoesNotExist"));
    let client = client(&[&list_rule, &describe, &history]);
    let rows = executions(&client, &filter(vec![], None), at(10), &quiet)
        .await
        .unwrap();
    let problem = rows[0].details_error.as_deref().unwrap();
    assert!(
        problem.contains("DescribeExecution: ThrottlingException"),
        "{problem}"
    );
    assert!(
        problem.contains("GetExecutionHistory: ExecutionDoesNotExist"),
        "{problem}"
    );
    assert_eq!(rows[0].status, "FAILED");
    assert!(render(&rows).contains("(details unavailable: DescribeExecution: Throttling"));
}

#[tokio::test]
async fn reads_many_executions_in_order() {
    let list_rule = mock!(aws_sdk_sfn::Client::list_executions).then_output(|| {
        page(
            (0..50)
                .map(|i| {
                    listed(
                        &format!("e{i:02}"),
                        ExecutionStatus::Succeeded,
                        1000 - i,
                        Some(1000),
                    )
                })
                .collect(),
            None,
        )
    });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|req| {
        let name = req.execution_arn().unwrap().rsplit(':').next().unwrap();
        described(name, ExecutionStatus::Succeeded, lifecycle_input())
    });
    let history = mock!(aws_sdk_sfn::Client::get_execution_history).then_output(|| {
        history(
            History::default()
                .entered("Succeed", "InstanceReleased", 999, json!({}))
                .take(),
            None,
        )
    });
    let client = client(&[&list_rule, &describe, &history]);
    let rows = executions(&client, &filter(vec![], None), at(2000), &quiet)
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!((describe.num_calls(), history.num_calls()), (50, 50));
    let names: Vec<String> = rows.iter().map(|row| row.name.clone()).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("e{i:02}")).collect();
    assert_eq!(names, expected);
    assert!(rows
        .iter()
        .all(|row| row.state.as_deref() == Some("InstanceReleased")));
}

#[test]
fn executions_are_named_by_arn_or_by_name() {
    assert_eq!(execution_arn(&arn("x"), None).unwrap(), arn("x"));
    assert_eq!(execution_arn("x", Some(MACHINE)).unwrap(), arn("x"));
    let error = execution_arn("x", None).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("--state-machine"), "{error}");
    assert!(execution_arn("x", Some("drain")).is_err());
}

#[tokio::test]
async fn the_last_state_is_the_latest_event_in_either_order() {
    // An emulator may answer reverseOrder with the history in forward order.
    let events = History::default()
        .entered("Task", "DrainContainerInstance", 0, json!({}))
        .entered("Wait", "WaitForDrain", 5, json!({}))
        .scheduled(6)
        .take();
    let rule = tail("x", None, events, None);
    let state = last_state(&client(&[&rule]), &arn("x")).await.unwrap();
    assert_eq!(state.as_deref(), Some("WaitForDrain"));
    let empty = tail("y", None, vec![], None);
    assert_eq!(
        last_state(&client(&[&empty]), &arn("y")).await.unwrap(),
        None
    );
}

#[test]
fn a_lambda_cause_shows_its_message_and_json_keeps_it() {
    let cause = r#"{"errorType":"Retryable","errorMessage":"CompleteLifecycleAction: ServiceUnavailable: try again"}"#;
    let row = ExecutionRow {
        execution_arn: arn("failed"),
        name: "failed".into(),
        instance_id: Some(INSTANCE_ID.into()),
        asg_name: Some(ASG.into()),
        status: "FAILED".into(),
        started: at(0),
        stopped: Some(at(60)),
        duration_seconds: 60.0,
        state: Some("CompleteLifecycleAction".into()),
        error: Some("Retryable".into()),
        cause: Some(cause.into()),
        redrive_count: 0,
        details_error: None,
    };
    let text = render(std::slice::from_ref(&row));
    assert!(
        text.contains("Retryable: CompleteLifecycleAction: ServiceUnavailable: try again"),
        "{text}"
    );
    assert!(!text.contains("errorMessage"), "{text}");
    let json = serde_json::to_value([row]).unwrap();
    assert_eq!(json[0]["cause"], cause);
}
