use super::*;

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
