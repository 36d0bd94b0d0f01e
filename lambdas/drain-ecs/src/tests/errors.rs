use super::*;

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
    let throttled = Instance {
        update: mock!(aws_sdk_ecs::Client::update_container_instances_state)
            .then_http_response(|| json_error(400, "ThrottlingException")),
        ..Instance::registered("ACTIVE")
    };
    let deps = deps(&throttled.and(&[]));
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
    let ci = Instance::registered("ACTIVE");
    let deps = deps(&ci.and(&[]));
    let sqs_test: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/sqs-test-notification.json"
    ))
    .unwrap();
    for event in [
        sqs_test,
        serde_json::json!({"detail-type": "x"}),
        Value::Null,
    ] {
        let error = handle(&deps, event).await.unwrap_err();
        assert_eq!(error.name(), "InvalidEvent", "{error}");
    }
    assert_eq!(ci.list.num_calls(), 0);
}

#[tokio::test]
async fn the_handler_drains_on_a_spot_warning() {
    let ci = Instance::registered("ACTIVE");
    let (tasks, describe_t) = (list_tasks(&["web-1"], &[]), describe_tasks());
    let mut deps = deps(&ci.and(&[&tasks, &describe_t]));
    deps.config.cluster = Some(CLUSTER.into());
    let state = handle(&deps, spot_event()).await.unwrap();
    assert_eq!(
        state.request.trigger,
        sta_shared::state::Trigger::SpotInterruption
    );
    assert_eq!(ci.update.num_calls(), 1);
    assert_eq!(state.tasks.len(), 1);
}

#[tokio::test]
async fn a_spot_warning_for_an_instance_outside_the_cluster_is_ignored() {
    let ci = Instance::absent();
    let mut deps = deps(&ci.and(&[]));
    deps.config.cluster = Some(CLUSTER.into());
    let state = handle(&deps, spot_event()).await.unwrap();
    assert_eq!(state.status, DrainStatus::NotInCluster);
    assert_eq!(ci.update.num_calls(), 0);
    // A lifecycle action for an instance outside ECS still drains the load balancers.
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn a_spot_warning_for_an_instance_registering_in_the_cluster_drains_it_once_active() {
    // REGISTERING (its trunk network interface provisioned): it takes tasks once ACTIVE,
    // before the interruption; the checks look for it again.
    let ci = Instance::registered("REGISTERING");
    let mut deps = deps(&ci.and(&[]));
    deps.config.cluster = Some(CLUSTER.into());
    let state = handle(&deps, spot_event()).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.container_instance_arn, None);
    assert_eq!(ci.update.num_calls(), 0);
}
