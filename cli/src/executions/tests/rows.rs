//! The details of each execution: its row, the last state entered, the table.

use super::*;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;

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

/// A failed execution (redriven once) and a running one (from a Spot event) whose history
/// tail takes two pages to reach a state entered.
fn failed_and_running() -> Vec<aws_smithy_mocks::Rule> {
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
    vec![
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
    ]
}

#[tokio::test]
async fn rows_carry_instance_state_and_error() {
    let rules = failed_and_running();
    let client = client(&rules.iter().collect::<Vec<_>>());
    let rows = executions(&client, &filter(vec![], None), at(600), &quiet)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let failed = &rows[0];
    assert_eq!(failed.name, "failed");
    assert_eq!(failed.target.instance_id.as_deref(), Some(INSTANCE_ID));
    assert_eq!(failed.target.asg_name.as_deref(), Some(ASG));
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.duration_seconds, 300.0);
    assert_eq!(failed.state.as_deref(), Some("CheckDrained"));
    assert_eq!(failed.error.as_deref(), Some("AwsRequestFailed"));
    assert_eq!(failed.redrive_count, 1);
    assert_eq!(failed.details_error, None);
    let running = &rows[1];
    assert_eq!(
        running.target.instance_id.as_deref(),
        Some("i-0abcdef1234567890")
    );
    assert_eq!(running.target.asg_name, None);
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
    assert_eq!(json[0]["asg_name"], ASG);
    assert_eq!(json[0]["state"], "CheckDrained");
    // The target's fields stand beside the others; its token is never printed.
    let keys: Vec<_> = json[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "execution_arn",
            "name",
            "instance_id",
            "asg_name",
            "status",
            "started",
            "stopped",
            "duration_seconds",
            "state",
            "error",
            "cause",
            "redrive_count",
            "details_error"
        ]
    );
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

#[tokio::test]
async fn the_last_state_is_the_first_entered_in_the_history_read_backwards() {
    // GetExecutionHistory with reverseOrder: the newest event first.
    let events = History::default()
        .entered("Task", "DrainContainerInstance", 0, json!({}))
        .entered("Wait", "WaitForDrain", 5, json!({}))
        .scheduled(6)
        .take();
    let rule = tail("x", None, events.into_iter().rev().collect(), None);
    let state = last_state(&client(&[&rule]), &arn("x")).await.unwrap();
    assert_eq!(state.as_deref(), Some("WaitForDrain"));
    // No state entered on any page: none, after reading every page.
    let first = tail("y", None, History::default().scheduled(1).take(), Some("2"));
    let second = tail("y", Some("2"), vec![], None);
    assert_eq!(
        last_state(&client(&[&first, &second]), &arn("y"))
            .await
            .unwrap(),
        None
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_failed_history_read_names_the_call() {
    let rule = mock!(aws_sdk_sfn::Client::get_execution_history)
        .then_http_response(|| json_error(400, "ExecutionDoesNotExist"));
    let error = last_state(&client(&[&rule]), &arn("gone"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExecutionDoesNotExist"));
    assert!(
        error.to_string().starts_with("GetExecutionHistory: "),
        "{error}"
    );
}

#[test]
fn a_lambda_cause_shows_its_message_and_json_keeps_it() {
    let cause = r#"{"errorType":"Retryable","errorMessage":"CompleteLifecycleAction: ServiceUnavailable: try again"}"#;
    let row = ExecutionRow {
        execution_arn: arn("failed"),
        name: "failed".into(),
        target: DrainTarget {
            instance_id: Some(INSTANCE_ID.into()),
            asg_name: Some(ASG.into()),
            ..DrainTarget::default()
        },
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
