use super::*;
use sta_shared::testing::assert_step_error;

/// The error of scaling when ListContainerInstances answers `status` with `code`.
async fn listing_fails(status: u16, code: &'static str) -> StepError {
    let failing = mock!(aws_sdk_ecs::Client::list_container_instances)
        .then_http_response(move || json_error(status, code));
    scale(&make_deps(&[&failing], &[]), &input(2, 1, None))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn throttling_and_5xx_are_retryable() {
    let unavailable = mock!(aws_sdk_ecs::Client::list_container_instances)
        .then_http_response(|| http_error(503, ""));
    let error = scale(&make_deps(&[&unavailable], &[]), &input(2, 1, None))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Retryable", "{error}");
    for (status, code) in [(400, "ThrottlingException"), (500, "ServerException")] {
        let error = listing_fails(status, code).await;
        assert_eq!(error.name(), "Retryable", "{status}: {error}");
        assert!(
            error.to_string().contains("ListContainerInstances"),
            "{error}"
        );
    }
    let (list, describe, services) = (list_rule(3), describe_rule(all_active), service_rule(9));
    let throttled_update = mock!(aws_sdk_ecs::Client::update_service)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let deps = make_deps(&[&list, &describe, &services, &throttled_update], &[]);
    assert_eq!(
        scale(&deps, &input(2, 1, None)).await.unwrap_err().name(),
        "Retryable"
    );
}

#[tokio::test]
async fn a_daemon_service_is_refused_by_name_and_never_updated() {
    let (list, describe) = (list_rule(3), describe_rule(all_active));
    let daemon = scheduled_service_rule(SchedulingStrategy::Daemon, 3);
    let update = update_rule();
    let deps = make_deps(&[&list, &describe, &daemon, &update], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.name(), "Misconfigured");
    assert!(
        error
            .to_string()
            .starts_with("misconfigured: `service_name` names web, a DAEMON service"),
        "{error}"
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn unknown_service_and_cluster_are_named() {
    let (list, describe) = (list_rule(3), describe_rule(all_active));
    let missing = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-west-2:123456789012:service/test-cluster/web")
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let deps = make_deps(&[&list, &describe, &missing], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert_eq!(
        error.to_string(),
        "service `web` not found in cluster test-cluster"
    );

    let error = listing_fails(400, "ClusterNotFoundException").await;
    assert_eq!(error.to_string(), "cluster `test-cluster` not found");
}

#[tokio::test]
async fn other_errors_need_an_operator() {
    let error = listing_fails(400, "AccessDeniedException").await;
    assert_step_error(&error, "AwsRequestFailed", "AccessDeniedException");
}

#[tokio::test]
async fn the_handler_rejects_bad_input_before_calling_aws() {
    let list = list_rule(3);
    let deps = make_deps(&[&list], &[]);
    let event = invocation(serde_json::json!({"cluster_name": "c"}));
    let error = handler(&deps, event).await.unwrap_err();
    assert_step_error(&error, "Misconfigured", "service_name");
    assert_eq!(list.num_calls(), 0);
}
