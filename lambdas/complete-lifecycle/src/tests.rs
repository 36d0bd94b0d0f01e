use super::*;
use aws_sdk_autoscaling::operation::complete_lifecycle_action::CompleteLifecycleActionOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use sta_shared::state::LoadBalancers;
use sta_shared::testing::*;

fn deps(rules: &[&Rule]) -> Deps {
    Deps {
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::Sequential, rules, |c| c
            .retry_config(RetryConfig::disabled())),
    }
}

fn drained() -> DrainState {
    let mut state = drain_state();
    state.status = DrainStatus::Drained;
    state
}

/// Drained, for a lifecycle action the sweeper found (no token).
fn swept() -> DrainState {
    let mut state = drained();
    drop_token(&mut state.request);
    state
}

/// What completing `state` at `now` reported, Auto Scaling answering from `rules`.
async fn completed(rules: &[&Rule], state: DrainState, now: DateTime<Utc>) -> Completion {
    let state = complete(&deps(rules), state, now).await.unwrap();
    state.report.completion.expect("a completion")
}

/// The error of completing a drained instance, CompleteLifecycleAction answering `rule`.
async fn failure(rule: &Rule) -> StepError {
    complete(&deps(&[rule]), drained(), at(50))
        .await
        .unwrap_err()
}

/// CompleteLifecycleAction answered with `code` and `message`.
fn refused(status: u16, code: &'static str, message: &'static str) -> Rule {
    mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .then_http_response(move || query_error(status, code, message))
}

fn by_token(result: &'static str) -> Rule {
    mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .match_requests(|req| req.lifecycle_action_token().is_some())
        .then_compute_output(move |req| {
            assert_eq!(req.auto_scaling_group_name(), Some(ASG));
            assert_eq!(req.lifecycle_hook_name(), Some(HOOK));
            assert_eq!(req.lifecycle_action_token(), Some(TOKEN));
            assert_eq!(req.instance_id(), None);
            assert_eq!(req.lifecycle_action_result(), Some(result));
            CompleteLifecycleActionOutput::builder().build()
        })
}

fn no_active(kind: &'static str) -> Rule {
    let message: &'static str = if kind == "token" {
        "No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321"
    } else {
        "No active Lifecycle Action found with instance ID i-1234567890abcdef0"
    };
    refused(400, "ValidationError", message)
}

/// CompleteLifecycleAction by instance id (no token), answered with success.
fn by_instance() -> Rule {
    mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
        .match_requests(|req| req.instance_id().is_some())
        .then_compute_output(|req| {
            assert_eq!(req.instance_id(), Some(INSTANCE_ID));
            assert_eq!(req.lifecycle_action_token(), None);
            CompleteLifecycleActionOutput::builder().build()
        })
}

#[tokio::test]
async fn completes_a_drained_instance_with_continue() {
    let rule = by_token("CONTINUE");
    let completion = completed(&[&rule], drained(), at(50)).await;
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(completion.outcome, CompletionOutcome::Completed);
    assert_eq!(completion.result, Some(LifecycleResult::Continue));
    assert_eq!(completion.at, at(50));
}

#[tokio::test]
async fn completes_with_the_configured_result_after_the_deadline() {
    let rule = by_token("ABANDON");
    let mut state = drain_state();
    state.status = DrainStatus::DeadlinePassed;
    state.settings.deadline_result = LifecycleResult::Abandon;
    let state = complete(&deps(&[&rule]), state, at(3600)).await.unwrap();
    assert!(state.timed_out());
    assert_eq!(
        state.report.completion.unwrap().result,
        Some(LifecycleResult::Abandon)
    );
}

#[tokio::test]
async fn an_action_already_completed_or_expired_is_success() {
    // The instance is on its way out, or gone.
    for lifecycle_state in [Some("Terminating:Proceed"), Some("Warmed:Stopped"), None] {
        let first = no_active("token");
        let described = auto_scaling_instance(lifecycle_state);
        let completion = completed(&[&first, &described], drained(), at(50)).await;
        assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
        assert_eq!((first.num_calls(), described.num_calls()), (1, 1));
    }
    // AWS took a heartbeat of the action: it knew it, the answer is its end, whatever the
    // instance waits for (another hook's action).
    let first = no_active("token");
    let mut state = drained();
    state.heartbeat.sent = 1;
    let completion = completed(&[&first], state, at(50)).await;
    assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
    // None taken, but the hook's 30 s heartbeat timeout has passed since the action began:
    // it was shown to someone (an earlier execution of the same event took a heartbeat, then
    // completed it) or it expired; the answer is its end, whatever the instance waits for.
    let first = no_active("token");
    let mut state = drained();
    state.heartbeat.timeout_seconds = Some(30);
    let completion = completed(&[&first], state, at(30)).await;
    assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
}

#[tokio::test]
async fn no_active_action_while_the_instance_still_waits_under_it_is_tried_again() {
    // Auto Scaling's control plane may not show an action that began a moment ago: the
    // instance would wait out the hook's timeout after the drain.
    for (lifecycle_state, kind, state) in [
        ("Terminating:Wait", "token", drained()),
        ("Warmed:Pending:Wait", "token", drained()),
        ("Terminating:Wait", "instance", swept()),
    ] {
        let gone = no_active(kind);
        let rules = [
            &current(),
            &gone,
            &auto_scaling_instance(Some(lifecycle_state)),
            &current(),
        ];
        let rules = if kind == "token" {
            &rules[1..]
        } else {
            &rules[..]
        };
        let error = complete(&deps(rules), state, at(50)).await.unwrap_err();
        assert_step_error(&error, "Retryable", "still waits under a terminate hook");
        assert_eq!(gone.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_stale_token_never_completes_the_instances_newer_action() {
    // The instance was reused (warm pool) and has a newer action: AWS knows the instance
    // but not our token. Completing by instance id would complete the newer action; nor is
    // the newer action's wait taken for ours.
    let (first, by_instance) = (no_active("token"), by_instance());
    let newer = terminating_since(INSTANCE_ID, at(600));
    let waiting = auto_scaling_instance(Some("Terminating:Wait"));
    let completion = completed(
        &[&first, &waiting, &newer, &by_instance],
        drained(),
        at(700),
    )
    .await;
    assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
    assert_eq!(by_instance.num_calls(), 0);
    assert_eq!(newer.num_calls(), 1);
}

#[tokio::test]
async fn never_completes_while_still_draining() {
    let rule = by_token("CONTINUE");
    let error = complete(&deps(&[&rule]), drain_state(), at(50))
        .await
        .unwrap_err();
    assert_step_error(&error, "InvalidEvent", "`status`");
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn a_spot_drain_has_nothing_to_complete() {
    let rule = by_token("CONTINUE");
    let mut state = drained();
    state.request.trigger = sta_shared::state::Trigger::SpotInterruption;
    let completion = completed(&[&rule], state, at(50)).await;
    assert_eq!(completion.outcome, CompletionOutcome::NotApplicable);
    assert_eq!(rule.num_calls(), 0);
}

/// The instance's termination activity began with the fixture's event: the action the
/// sweeper started the drain for is still the current one.
fn current() -> Rule {
    terminating_since(INSTANCE_ID, event_time())
}

#[tokio::test]
async fn a_stale_sweeper_request_never_completes_a_newer_action() {
    // The instance went back to the warm pool, came back, and is terminating again since
    // 10 minutes after the action this drain was started for.
    let newer = terminating_since(INSTANCE_ID, at(600));
    let by_instance = by_instance();
    let completion = completed(&[&newer, &by_instance], swept(), at(700)).await;
    assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
    assert_eq!(by_instance.num_calls(), 0);
}

#[tokio::test]
async fn a_sweeper_request_without_a_token_completes_by_instance_id() {
    let by_instance = by_instance();
    let completion = completed(&[&current(), &by_instance], swept(), at(50)).await;
    assert_eq!(completion.outcome, CompletionOutcome::Completed);
    assert_eq!(by_instance.num_calls(), 1);

    let gone = no_active("instance");
    let terminated = auto_scaling_instance(None);
    let completion = completed(&[&current(), &gone, &terminated], swept(), at(50)).await;
    assert_eq!(completion.outcome, CompletionOutcome::AlreadyCompleted);
    assert_eq!(gone.num_calls(), 1);

    // A lifecycle action without its hook cannot be completed: refused as it is read.
    let mut state = serde_json::to_value(drained()).unwrap();
    state["request"]["trigger"]
        .as_object_mut()
        .unwrap()
        .remove("hook_name");
    let error = handler(&deps(&[]), invocation(state)).await.unwrap_err();
    assert_step_error(&error, "InvalidEvent", "`request.trigger.hook_name`");
}

#[tokio::test]
async fn errors_map_to_stable_names() {
    for (status, code, message, name) in [
        (400, "Throttling", "Rate exceeded", "Retryable"),
        (503, "ServiceUnavailable", "try later", "Retryable"),
        (
            500,
            "ResourceContentionFault",
            "You already have a pending update to an Amazon EC2 Auto Scaling resource",
            "Retryable",
        ),
        (400, "AccessDenied", "not allowed", "AwsRequestFailed"),
        (
            400,
            "ValidationError",
            "1 validation error detected",
            "AwsRequestFailed",
        ),
    ] {
        let error = failure(&refused(status, code, message)).await;
        assert_eq!(error.name(), name, "{error}");
        assert!(
            error.to_string().contains("CompleteLifecycleAction"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_deleted_group_fails_the_drain_naming_it() {
    let error = failure(&refused(
        400,
        "ValidationError",
        "AutoScalingGroup name not found - AutoScalingGroup test-cluster-asg not found",
    ))
    .await;
    assert_step_error(&error, "ResourceNotFound", "test-cluster-asg");
    assert!(error.to_string().contains("deleted"), "{error}");
}

#[tokio::test]
async fn the_handler_refuses_a_malformed_state() {
    let rule = by_token("CONTINUE");
    let error = handler(
        &deps(&[&rule]),
        invocation(serde_json::json!({"status": "drained"})),
    )
    .await
    .unwrap_err();
    assert_eq!(error.name(), "InvalidEvent");
    assert_eq!(rule.num_calls(), 0);
}

#[test]
fn drain_metrics_measure_the_drain() {
    let mut state = drained();
    state.report.tasks_stopped_at = Some(at(40));
    state.load_balancers = Some(LoadBalancers {
        deregistered_at: Some(at(2)),
        ..LoadBalancers::default()
    });
    state.report.balancers_drained_at = Some(at(32));
    state.heartbeat.sent = 3;
    state.report.completion = Some(Completion {
        result: Some(LifecycleResult::Continue),
        outcome: CompletionOutcome::Completed,
        at: at(41),
    });
    let metrics = drain_metrics(&state);
    let value = |name: &str| {
        metrics
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, _)| *v)
    };
    assert_eq!(value("DrainDurationSeconds"), Some(41.0));
    assert_eq!(value("TaskWaitSeconds"), Some(40.0));
    assert_eq!(value("LoadBalancerWaitSeconds"), Some(30.0));
    assert_eq!(value("HeartbeatsSent"), Some(3.0));
    assert_eq!(value("DrainDeadlineReached"), Some(0.0));
}
