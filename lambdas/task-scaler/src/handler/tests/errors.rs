use super::*;

fn http_error(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn throttling_and_5xx_are_retryable() {
    for (status, body) in [
        (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        (500, r#"{"__type":"ServerException","message":"internal"}"#),
        (503, ""),
    ] {
        let throttled = mock!(aws_sdk_ecs::Client::list_container_instances)
            .then_http_response(move || http_error(status, body));
        let deps = make_deps(&[&throttled], &[]);
        let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
        assert_eq!(error.name(), "Retryable", "{status}: {error}");
        assert!(
            error.to_string().contains("ListContainerInstances"),
            "{error}"
        );
    }
    let (list, describe, services) = (list_rule(3), describe_rule(all_active), service_rule(9));
    let throttled_update = mock!(aws_sdk_ecs::Client::update_service).then_http_response(|| {
        http_error(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    });
    let deps = make_deps(&[&list, &describe, &services, &throttled_update], &[]);
    assert_eq!(
        scale(&deps, &input(2, 1, None)).await.unwrap_err().name(),
        "Retryable"
    );
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

    let no_cluster =
        mock!(aws_sdk_ecs::Client::list_container_instances).then_http_response(|| {
            http_error(
                400,
                r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#,
            )
        });
    let deps = make_deps(&[&no_cluster], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.to_string(), "cluster `test-cluster` not found");
}

#[tokio::test]
async fn other_errors_need_an_operator() {
    let denied = mock!(aws_sdk_ecs::Client::list_container_instances).then_http_response(|| {
        http_error(
            400,
            r#"{"__type":"AccessDeniedException","message":"not allowed"}"#,
        )
    });
    let deps = make_deps(&[&denied], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(
        error.to_string().contains("AccessDeniedException"),
        "{error}"
    );
}

#[tokio::test]
async fn the_handler_rejects_bad_input_before_calling_aws() {
    let list = list_rule(3);
    let deps = make_deps(&[&list], &[]);
    let event = LambdaEvent::new(
        serde_json::json!({"cluster_name": "c"}),
        lambda_runtime::Context::default(),
    );
    let error = handler(&deps, event).await.unwrap_err();
    assert_eq!(error.name(), "Misconfigured");
    assert!(error.to_string().contains("service_name"));
    assert_eq!(list.num_calls(), 0);
}
