use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::primitives::DateTime as SfnTime;
use aws_sdk_sfn::types::ExecutionListItem;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use sta_shared::config::DrainConfig;
use sta_shared::event::DrainInput;
use sta_shared::testing::*;

const MACHINE: &str = "arn:aws:states:us-west-2:123456789012:stateMachine:drain";
const WAITING: &str = "i-0aaaaaaaaaaaaaaa1";
const SERVING: &str = "i-0aaaaaaaaaaaaaaa2";

fn config() -> SweeperConfig {
    SweeperConfig {
        state_machine_arn: MACHINE.into(),
        asg_names: vec![ASG.into()],
        hook_name: HOOK.into(),
        cluster: Some(CLUSTER.into()),
    }
}

fn groups(waiting: bool) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
        let instance = |id: &str, state: LifecycleState| {
            Instance::builder()
                .instance_id(id)
                .lifecycle_state(state)
                .build()
        };
        let mut group = AutoScalingGroup::builder()
            .auto_scaling_group_name(ASG)
            .instances(instance(SERVING, LifecycleState::InService));
        if waiting {
            group = group.instances(instance(WAITING, LifecycleState::TerminatingWait));
        }
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(group.build())
            .build()
    })
}

/// ListExecutions with one execution per (name, status, hours ago), newest first.
fn executions(items: &[(&str, &str, i64)]) -> Rule {
    let items: Vec<(String, String, i64)> = items
        .iter()
        .map(|(name, status, hours)| (name.to_string(), status.to_string(), *hours))
        .collect();
    mock!(aws_sdk_sfn::Client::list_executions).then_output(move || {
        let now = at(0).timestamp();
        ListExecutionsOutput::builder()
            .set_executions(Some(
                items
                    .iter()
                    .map(|(name, status, hours)| {
                        ExecutionListItem::builder()
                            .execution_arn(format!(
                                "arn:aws:states:us-west-2:123456789012:execution:drain:{name}"
                            ))
                            .state_machine_arn(MACHINE)
                            .name(name)
                            .status(ExecutionStatus::from(status.as_str()))
                            .start_date(SfnTime::from_secs(now - hours * 3600))
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
            .unwrap()
    })
}

/// DescribeExecution: execution `name` drains the instance named `i-...<last char of name>`.
fn describe() -> Rule {
    mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|req| {
        let arn = req.execution_arn().unwrap();
        let instance = if arn.ends_with("for-waiting") {
            WAITING
        } else {
            SERVING
        };
        let mut event = lifecycle_event();
        event["detail"]["EC2InstanceId"] = json!(instance);
        DescribeExecutionOutput::builder()
            .execution_arn(arn)
            .state_machine_arn(MACHINE)
            .status(ExecutionStatus::Running)
            .start_date(SfnTime::from_secs(0))
            .input(event.to_string())
            .build()
            .unwrap()
    })
}

fn start_ok() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(|req| {
        assert_eq!(req.state_machine_arn(), Some(MACHINE));
        assert_eq!(req.name(), Some("i-0aaaaaaaaaaaaaaa1-sweep"));
        // The drain's first step accepts what the sweeper sends.
        let input: Value = serde_json::from_str(req.input().unwrap()).unwrap();
        let parsed = DrainInput::parse(&step_input(input), &DrainConfig::default()).unwrap();
        assert_eq!(parsed.request.instance_id, WAITING);
        assert_eq!(parsed.request.cluster, CLUSTER);
        assert_eq!(parsed.request.hook_name.as_deref(), Some(HOOK));
        assert_eq!(parsed.request.token, None);
        StartExecutionOutput::builder()
            .execution_arn(
                "arn:aws:states:us-west-2:123456789012:execution:drain:i-0aaaaaaaaaaaaaaa1-sweep",
            )
            .start_date(SfnTime::from_secs(0))
            .build()
            .unwrap()
    })
}

fn deps(autoscaling: &[&Rule], sfn: &[&Rule]) -> Deps {
    Deps {
        autoscaling: autoscaling_client(autoscaling),
        sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn, |c| c
            .retry_config(RetryConfig::disabled())),
        config: config(),
    }
}

#[tokio::test]
async fn nothing_waiting_means_no_step_functions_calls() {
    let (asg, list) = (groups(false), executions(&[]));
    let report = sweep(&deps(&[&asg], &[&list]), at(0)).await.unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(list.num_calls(), 0);
}

#[tokio::test]
async fn starts_a_drain_for_an_instance_whose_event_was_lost() {
    let (asg, list, describe, start) = (
        groups(true),
        executions(&[("for-serving", "SUCCEEDED", 1)]),
        describe(),
        start_ok(),
    );
    let report = sweep(&deps(&[&asg], &[&list, &describe, &start]), at(0))
        .await
        .unwrap();
    assert_eq!(
        report.waiting,
        [Waiting {
            instance_id: WAITING.into(),
            asg: ASG.into()
        }]
    );
    assert_eq!(report.started.len(), 1);
    assert_eq!(report.started[0].instance_id, WAITING);
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_running_or_failed_drain_is_left_alone() {
    for (status, running) in [("RUNNING", true), ("FAILED", false), ("TIMED_OUT", false)] {
        let (asg, list, describe, start) = (
            groups(true),
            executions(&[("for-waiting", status, 2)]),
            describe(),
            start_ok(),
        );
        let report = sweep(&deps(&[&asg], &[&list, &describe, &start]), at(0))
            .await
            .unwrap();
        assert_eq!(start.num_calls(), 0, "{status}");
        if running {
            assert_eq!(report.in_hand[0].status, "RUNNING");
        } else {
            assert_eq!(report.failed[0].status, status);
            assert_eq!(report.failed[0].instance_id, WAITING);
        }
    }
}

#[tokio::test]
async fn executions_older_than_the_hook_limit_are_not_read() {
    let (asg, list, describe, start) = (
        groups(true),
        executions(&[
            ("for-serving", "SUCCEEDED", 1),
            ("for-waiting", "FAILED", 50),
        ]),
        describe(),
        start_ok(),
    );
    let report = sweep(&deps(&[&asg], &[&list, &describe, &start]), at(0))
        .await
        .unwrap();
    assert_eq!(
        describe.num_calls(),
        1,
        "the 50-hour-old execution is not described"
    );
    assert_eq!(report.started.len(), 1);
}

#[tokio::test]
async fn a_second_start_is_refused_by_name() {
    let (asg, list, describe) = (groups(true), executions(&[]), describe());
    let exists = mock!(aws_sdk_sfn::Client::start_execution)
        .then_http_response(|| json_error(400, "ExecutionAlreadyExists"));
    let report = sweep(&deps(&[&asg], &[&list, &describe, &exists]), at(0))
        .await
        .unwrap();
    assert_eq!(report.already_started, [WAITING]);
    assert!(report.started.is_empty());
}

#[tokio::test]
async fn errors_map_to_stable_names() {
    let throttled = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    assert_eq!(
        sweep(&deps(&[&throttled], &[]), at(0))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );
    let asg = groups(true);
    let denied = mock!(aws_sdk_sfn::Client::list_executions)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let error = sweep(&deps(&[&asg], &[&denied]), at(0)).await.unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(error.to_string().contains("ListExecutions"));
}

#[test]
fn configuration_names_what_is_wrong() {
    let env: &[(&str, &str)] = &[
        ("STATE_MACHINE_ARN", MACHINE),
        ("MANAGED_ASG_NAMES", "a,b"),
        ("LIFECYCLE_HOOK_NAME", "drain"),
    ];
    let config = SweeperConfig::from_source(env).unwrap();
    assert_eq!(config.asg_names, ["a", "b"]);
    assert_eq!(config.cluster, None);
    for (missing, named) in [
        (0, "STATE_MACHINE_ARN"),
        (1, "MANAGED_ASG_NAMES"),
        (2, "LIFECYCLE_HOOK_NAME"),
    ] {
        let partial: Vec<(&str, &str)> = env
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, kv)| *kv)
            .collect();
        let error = SweeperConfig::from_source(partial.as_slice()).unwrap_err();
        assert_eq!(error.name(), "Misconfigured");
        assert!(error.to_string().contains(named), "{error}");
    }
    let bad: &[(&str, &str)] = &[
        ("STATE_MACHINE_ARN", "drain"),
        ("MANAGED_ASG_NAMES", "a"),
        ("LIFECYCLE_HOOK_NAME", "h"),
    ];
    assert!(SweeperConfig::from_source(bad)
        .unwrap_err()
        .to_string()
        .contains("not a state machine ARN"));
}

#[test]
fn the_instance_of_an_execution_comes_from_its_input() {
    assert_eq!(
        instance_of(&lifecycle_event().to_string()).as_deref(),
        Some(INSTANCE_ID)
    );
    assert_eq!(
        instance_of(&spot_event().to_string()).as_deref(),
        Some(INSTANCE_ID)
    );
    assert_eq!(instance_of("not json"), None);
    assert_eq!(instance_of("{}"), None);
}
