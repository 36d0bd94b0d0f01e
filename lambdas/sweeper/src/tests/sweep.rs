//! A sweep: which waiting actions get a drain, and the errors it stops on.

use super::*;

#[tokio::test]
async fn nothing_waiting_means_no_other_calls() {
    let (asg, history) = (groups(false), history());
    let (list, describe) = executions(vec![]);
    let report = sweep_now(&[&asg, &history], &[&list, &describe])
        .await
        .unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(history.num_calls() + list.num_calls(), 0);
}

#[tokio::test]
async fn starts_a_drain_for_an_action_whose_event_was_lost() {
    let (asg, history, start) = (groups(true), history(), start_ok(Destination::Ec2));
    let (list, describe) = executions(vec![serving_execution(at(-60))]);
    let report = sweep_now(&[&asg, &history], &[&list, &describe, &start])
        .await
        .unwrap();
    assert_eq!(
        report.waiting,
        [Waiting {
            instance_id: WAITING.into(),
            asg: ASG.into(),
            action_started: Some(began()),
            destination: Destination::Ec2,
            from_warm_pool: false,
            retained: false,
        }]
    );
    assert_eq!(report.started.len(), 1);
    assert_eq!(report.started[0].instance_id, WAITING);
    assert_eq!(report.started[0].execution_arn, arn(NAME));
    assert_eq!(start.num_calls(), 1);
    assert_eq!(history.num_calls(), 1);
}

#[tokio::test]
async fn a_second_start_is_refused_by_name() {
    let (asg, history) = (groups(true), history());
    let (list, describe) = executions(vec![]);
    let exists = mock!(aws_sdk_sfn::Client::start_execution)
        .then_http_response(|| json_error(400, "ExecutionAlreadyExists"));
    let report = sweep_now(&[&asg, &history], &[&list, &describe, &exists])
        .await
        .unwrap();
    assert_eq!(report.already_started, [WAITING]);
    assert!(report.started.is_empty());
}

#[tokio::test]
async fn an_instance_no_activity_names_is_reported_and_not_drained() {
    let (asg, start) = (groups(true), start_ok(Destination::Ec2));
    let (list, describe) = executions(vec![]);
    for listing in [
        activities(vec![]),
        activities(vec![
            activity(
                "Terminating EC2 instance: i-0bbbbbbbbbbbbbbb1",
                began(),
                ScalingActivityStatusCode::MidLifecycleAction,
            ),
            activity(
                &format!("Launching a new EC2 instance: {WAITING}"),
                at(-3600),
                ScalingActivityStatusCode::Successful,
            ),
        ]),
    ] {
        let report = sweep_now(&[&asg, &listing], &[&list, &describe, &start])
            .await
            .unwrap();
        assert_eq!(report.unidentified, [WAITING]);
        assert_eq!(report.waiting[0].action_started, None);
        assert!(report.started.is_empty());
    }
    assert_eq!(list.num_calls() + start.num_calls(), 0);
}

#[tokio::test]
async fn errors_map_to_stable_names() {
    let throttled = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    assert_eq!(
        sweep_now(&[&throttled], &[]).await.unwrap_err().name(),
        "Retryable"
    );
    let (asg, history) = (groups(true), history());
    let denied = mock!(aws_sdk_sfn::Client::list_executions)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let error = sweep_now(&[&asg, &history], &[&denied]).await.unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "ListExecutions");
}

#[tokio::test]
async fn describe_scaling_activities_errors_map_to_stable_names() {
    let asg = groups(true);
    let (list, describe) = executions(vec![]);
    for (code, name) in [
        ("Throttling", "Retryable"),
        ("AccessDenied", "AwsRequestFailed"),
    ] {
        let failing = mock!(aws_sdk_autoscaling::Client::describe_scaling_activities)
            .then_http_response(move || query_error(400, code, "from the test"));
        let error = sweep_now(&[&asg, &failing], &[&list, &describe])
            .await
            .unwrap_err();
        assert_eq!(error.name(), name, "{code}");
        assert!(
            error.to_string().contains("DescribeScalingActivities"),
            "{error}"
        );
    }
    assert_eq!(list.num_calls(), 0);
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
        assert_step_error(&error, "Misconfigured", named);
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
