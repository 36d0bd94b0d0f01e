use super::*;
use crate::quiet;
use crate::testing::*;
use aws_smithy_mocks::mock;
use serde_json::json;
use sta_shared::testing::{json_error, ASG, INSTANCE_ID};

const DAY: i64 = 86_400;

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
                    // Started too long before `since` to have stopped after it.
                    listed(
                        "old",
                        ExecutionStatus::Failed,
                        -19 * DAY,
                        Some(-19 * DAY + 10),
                    ),
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
    // The FAILED listing reached past the window on its first page: no second page.
    assert_eq!((failed.num_calls(), aborted.num_calls()), (1, 1));
    let names: Vec<&str> = listed.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(names, ["new", "stopped"]);
}

#[tokio::test]
async fn a_long_drain_that_stopped_within_the_window_is_listed() {
    // Started two days before the window, failed within it: listed. The listing goes on
    // until executions started too long before the window to have stopped in it.
    let first = list_page(None, || {
        page(
            vec![
                listed(
                    "new",
                    ExecutionStatus::Succeeded,
                    30 * DAY + 10,
                    Some(30 * DAY + 20),
                ),
                listed(
                    "long",
                    ExecutionStatus::Failed,
                    28 * DAY,
                    Some(30 * DAY + 5),
                ),
                listed(
                    "done",
                    ExecutionStatus::Succeeded,
                    29 * DAY,
                    Some(29 * DAY + 60),
                ),
            ],
            Some("page-2"),
        )
    });
    let second = list_page(Some("page-2"), || {
        page(
            vec![
                listed(
                    "redriven",
                    ExecutionStatus::Failed,
                    15 * DAY,
                    Some(31 * DAY),
                ),
                listed("ancient", ExecutionStatus::Failed, 11 * DAY, Some(31 * DAY)),
            ],
            Some("page-3"),
        )
    });
    let third = list_page(Some("page-3"), || page(vec![], None));
    let client = client(&[&first, &second, &third]);
    let listed = list(&client, &filter(vec![], Some(at(30 * DAY))), &quiet)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(names, ["new", "long", "redriven", "ancient"]);
    // The second page reached an execution started 19 days before the window: no third.
    assert_eq!(third.num_calls(), 0);
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

#[tokio::test]
async fn each_status_is_listed_once() {
    let rule = mock!(aws_sdk_sfn::Client::list_executions)
        .then_output(|| page(vec![listed("a", ExecutionStatus::Failed, 1, Some(2))], None));
    let twice = filter(vec![ExecutionStatus::Failed, ExecutionStatus::Failed], None);
    let listed = list(&client(&[&rule]), &twice, &quiet).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(rule.num_calls(), 1);
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

mod rows;
