use super::*;
use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
use aws_sdk_autoscaling::types::LifecycleHook;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::{Failure, Task};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::testing::*;

const CI_ARN: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci";

fn list_instances(arns: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(req.filter(), Some("ec2InstanceId == i-1234567890abcdef0"));
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
            .build()
    })
}

fn describe_instance(status: &'static str) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI_ARN)
                    .ec2_instance_id(INSTANCE_ID)
                    .status(status)
                    .build(),
            )
            .build()
    })
}

fn update_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(|req| {
        assert_eq!(req.container_instances(), [CI_ARN]);
        assert_eq!(req.status(), Some(&ContainerInstanceStatus::Draining));
        UpdateContainerInstancesStateOutput::builder().build()
    })
}

/// ListTasks: `running` under desired RUNNING, `stopping` under desired STOPPED.
fn list_tasks(running: &[&str], stopping: &[&str]) -> Rule {
    let running: Vec<String> = running.iter().map(|name| task_arn(name)).collect();
    let stopping: Vec<String> = stopping.iter().map(|name| task_arn(name)).collect();
    mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(move |req| {
        assert_eq!(req.container_instance(), Some(CI_ARN));
        let arns = match req.desired_status() {
            Some(DesiredStatus::Running) => &running,
            Some(DesiredStatus::Stopped) => &stopping,
            other => panic!("unexpected desired status {other:?}"),
        };
        ListTasksOutput::builder()
            .set_task_arns(Some(arns.clone()))
            .build()
    })
}

/// DescribeTasks: `stopped-*` tasks are STOPPED, `job*` tasks are standalone, the others
/// belong to the service `web`.
fn describe_tasks() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
        assert!(
            req.tasks().len() <= 100,
            "DescribeTasks takes at most 100 ARNs"
        );
        let tasks = req
            .tasks()
            .iter()
            .map(|arn| {
                let name = arn.rsplit('/').next().unwrap();
                let builder =
                    Task::builder()
                        .task_arn(arn)
                        .last_status(if name.starts_with("stopped") {
                            "STOPPED"
                        } else {
                            "RUNNING"
                        });
                if name.starts_with("job") {
                    builder.group("family:job").build()
                } else {
                    builder.group("service:web").build()
                }
            })
            .collect();
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks))
            .build()
    })
}

fn hooks(timeout: i32) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks).then_compute_output(move |req| {
        assert_eq!(req.auto_scaling_group_name(), Some(ASG));
        assert_eq!(req.lifecycle_hook_names(), [HOOK]);
        DescribeLifecycleHooksOutput::builder()
            .lifecycle_hooks(
                LifecycleHook::builder()
                    .heartbeat_timeout(timeout)
                    .global_timeout(timeout * 100)
                    .build(),
            )
            .build()
    })
}

fn deps_with_hooks(rules: &[&Rule], hooks: &Rule) -> Deps {
    Deps {
        ecs: ecs_client(rules),
        autoscaling: autoscaling_client(&[hooks, &heartbeat_ok()]),
        config: DrainConfig::default(),
    }
}

fn deps(rules: &[&Rule]) -> Deps {
    deps_with_hooks(rules, &hooks(300))
}

#[tokio::test]
async fn sets_an_active_instance_draining_and_records_its_tasks() {
    let (list, describe, update) = (
        list_instances(&[CI_ARN]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let (tasks, describe_t) = (
        list_tasks(&["web-1", "job-1"], &["web-0", "stopped-1"]),
        describe_tasks(),
    );
    let deps = deps(&[&list, &describe, &update, &tasks, &describe_t]);

    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();

    assert_eq!(update.num_calls(), 1);
    assert_eq!(tasks.num_calls(), 2);
    assert_eq!(state.container_instance_arn.as_deref(), Some(CI_ARN));
    let recorded: Vec<_> = state
        .tasks
        .iter()
        .map(|t| (t.arn.rsplit('/').next().unwrap(), t.service.as_deref()))
        .collect();
    assert_eq!(
        recorded,
        [
            ("job-1", None),
            ("web-0", Some("web")),
            ("web-1", Some("web"))
        ]
    );
    assert_eq!(state.remaining.tasks.len(), 3);
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.started_at, event_time());
    assert_eq!(state.deadline_at, at(3600));
    // The hook's timer has run since the event: heartbeated at once.
    assert_eq!(state.heartbeat.last_at, Some(at(1)));
    assert_eq!(state.heartbeat.sent, 1);
    let action = state.request.trigger.lifecycle_action().unwrap();
    assert_eq!(action.token.as_deref(), Some(TOKEN));
}

#[tokio::test]
async fn a_late_event_heartbeats_at_once_from_when_the_wait_began() {
    let (list, describe, update) = (
        list_instances(&[]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let heartbeat = heartbeat_ok();
    let deps = Deps {
        ecs: ecs_client(&[&list, &describe, &update]),
        autoscaling: autoscaling_client(&[&hooks(30), &heartbeat]),
        config: DrainConfig::default(),
    };
    // Delivered 21 s into a 30 s heartbeat timeout (0.7 x): heartbeat now, not 12 s later.
    let state = drain(&deps, lifecycle_input(), at(21)).await.unwrap();
    assert_eq!(heartbeat.num_calls(), 1);
    assert_eq!(state.heartbeat.last_at, Some(at(21)));
    // The clocks still count from when the wait began.
    assert_eq!(state.started_at, event_time());
    assert_eq!(state.deadline_at, at(3600));
}

#[tokio::test]
async fn an_event_whose_action_has_ended_changes_nothing() {
    let (list, describe, update) = (
        list_instances(&[CI_ARN]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let deps = Deps {
        ecs: ecs_client(&[&list, &describe, &update]),
        autoscaling: autoscaling_client(&[&hooks(300), &heartbeat_gone()]),
        config: DrainConfig::default(),
    };
    let state = drain(&deps, lifecycle_input(), at(400)).await.unwrap();
    assert_eq!(state.status, DrainStatus::ActionEnded);
    assert!(state.heartbeat.action_gone);
    assert_eq!(
        list.num_calls() + describe.num_calls() + update.num_calls(),
        0
    );
    assert!(state.container_instance_arn.is_none());
}

#[tokio::test]
async fn a_heartbeat_that_fails_for_another_reason_is_retried() {
    let list = list_instances(&[]);
    let throttled = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let deps = Deps {
        ecs: ecs_client(&[&list]),
        autoscaling: autoscaling_client(&[&hooks(300), &throttled]),
        config: DrainConfig::default(),
    };
    let error = drain(&deps, lifecycle_input(), at(1)).await.unwrap_err();
    assert_eq!(error.name(), "Retryable");
    assert_eq!(list.num_calls(), 0, "nothing changed before the heartbeat");
}

#[tokio::test]
async fn the_first_heartbeat_does_not_wait_for_the_hook_to_be_read() {
    // A fleet's drains start together: one Auto Scaling call each (the heartbeat); the
    // hook's limits are read by the first check.
    let (list, describe, update) = (
        list_instances(&[]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let short = hooks(30);
    let deps = deps_with_hooks(&[&list, &describe, &update], &short);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(short.num_calls(), 0);
    assert_eq!(state.heartbeat.sent, 1);
    assert_eq!(state.heartbeat.timeout_seconds, None);
    assert_eq!(state.deadline_at, at(3600));
}

#[tokio::test]
async fn an_instance_already_draining_is_not_updated_again() {
    let (list, describe, update) = (
        list_instances(&[CI_ARN]),
        describe_instance("DRAINING"),
        update_ok(),
    );
    let (tasks, describe_t) = (list_tasks(&[], &["web-1"]), describe_tasks());
    let deps = deps(&[&list, &describe, &update, &tasks, &describe_t]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(update.num_calls(), 0);
    // A task ECS is already stopping (desired STOPPED) is still waited for.
    assert_eq!(state.remaining.tasks, [task_arn("web-1")]);
}

#[tokio::test]
async fn an_instance_not_in_the_cluster_has_nothing_to_drain() {
    let (list, describe, update) = (
        list_instances(&[]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let deps = deps(&[&list, &describe, &update]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);
    assert!(state.tasks.is_empty());
    assert_eq!(describe.num_calls(), 0);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_filter_result_for_another_instance_is_never_drained() {
    let list = list_instances(&[CI_ARN]);
    let other = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI_ARN)
                    .ec2_instance_id("i-0000000000000000f")
                    .status("ACTIVE")
                    .build(),
            )
            .build()
    });
    let update = update_ok();
    let deps = deps(&[&list, &other, &update]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn an_instance_deregistered_meanwhile_has_nothing_to_drain() {
    let (list, describe) = (list_instances(&[CI_ARN]), describe_instance("ACTIVE"));
    let missing = mock!(aws_sdk_ecs::Client::update_container_instances_state).then_output(|| {
        UpdateContainerInstancesStateOutput::builder()
            .failures(Failure::builder().arn(CI_ARN).reason("MISSING").build())
            .build()
    });
    let deps = deps(&[&list, &describe, &missing]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);

    let refused = mock!(aws_sdk_ecs::Client::update_container_instances_state).then_output(|| {
        UpdateContainerInstancesStateOutput::builder()
            .failures(
                Failure::builder()
                    .arn(CI_ARN)
                    .reason("INVALID_STATE")
                    .detail("in transition")
                    .build(),
            )
            .build()
    });
    let deps = self::deps(&[&list, &describe, &refused]);
    let error = drain(&deps, lifecycle_input(), at(1)).await.unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(
        error.to_string().contains("INVALID_STATE (in transition)"),
        "{error}"
    );
}

#[tokio::test]
async fn many_tasks_are_described_100_at_a_time() {
    let (list, describe, update) = (
        list_instances(&[CI_ARN]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let names: Vec<String> = (0..150).map(|i| format!("web-{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (tasks, describe_t) = (list_tasks(&names, &[]), describe_tasks());
    let deps = deps(&[&list, &describe, &update, &tasks, &describe_t]);
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(describe_t.num_calls(), 2);
    assert_eq!(state.tasks.len(), 150);
}

#[tokio::test]
async fn errors_map_to_stable_names() {
    for (status, code, name, text) in [
        (
            400,
            "ClusterNotFoundException",
            "ResourceNotFound",
            "cluster `test-cluster` not found",
        ),
        (
            400,
            "ThrottlingException",
            "Retryable",
            "ListContainerInstances",
        ),
        (
            500,
            "ServerException",
            "Retryable",
            "ListContainerInstances",
        ),
        (
            400,
            "AccessDeniedException",
            "AwsRequestFailed",
            "AccessDeniedException",
        ),
    ] {
        let failing = mock!(aws_sdk_ecs::Client::list_container_instances)
            .then_http_response(move || json_error(status, code));
        let deps = deps(&[&failing]);
        let error = drain(&deps, lifecycle_input(), at(1)).await.unwrap_err();
        assert_eq!(error.name(), name, "{error}");
        assert!(error.to_string().contains(text), "{error}");
    }
    let (list, describe) = (list_instances(&[CI_ARN]), describe_instance("ACTIVE"));
    let throttled = mock!(aws_sdk_ecs::Client::update_container_instances_state)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let deps = deps(&[&list, &describe, &throttled]);
    assert_eq!(
        drain(&deps, lifecycle_input(), at(1))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );
}

#[tokio::test]
async fn the_handler_refuses_bad_events_without_calling_aws() {
    let list = list_instances(&[CI_ARN]);
    let deps = deps(&[&list]);
    let sqs_test: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/sqs-test-notification.json"
    ))
    .unwrap();
    for event in [
        sqs_test,
        serde_json::json!({"detail-type": "x"}),
        Value::Null,
    ] {
        let error = handler(
            &deps,
            LambdaEvent::new(step_input(event), lambda_runtime::Context::default()),
        )
        .await
        .unwrap_err();
        assert_eq!(error.name(), "InvalidEvent", "{error}");
    }
    assert_eq!(list.num_calls(), 0);
}

#[tokio::test]
async fn the_handler_drains_on_a_spot_warning() {
    let (list, describe, update) = (
        list_instances(&[CI_ARN]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let (tasks, describe_t) = (list_tasks(&["web-1"], &[]), describe_tasks());
    let mut deps = deps(&[&list, &describe, &update, &tasks, &describe_t]);
    deps.config.cluster = Some(CLUSTER.into());
    let state = handler(
        &deps,
        LambdaEvent::new(step_input(spot_event()), lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        state.request.trigger,
        sta_shared::state::Trigger::SpotInterruption
    );
    assert_eq!(update.num_calls(), 1);
    assert_eq!(state.tasks.len(), 1);
}

#[tokio::test]
async fn a_spot_warning_for_an_instance_outside_the_cluster_is_ignored() {
    let (list, describe, update) = (
        list_instances(&[]),
        describe_instance("ACTIVE"),
        update_ok(),
    );
    let mut deps = deps(&[&list, &describe, &update]);
    deps.config.cluster = Some(CLUSTER.into());
    let state = handler(
        &deps,
        LambdaEvent::new(step_input(spot_event()), lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(state.status, DrainStatus::NotInCluster);
    assert_eq!(update.num_calls(), 0);
    // A lifecycle action for an instance outside ECS still drains the load balancers.
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
}
