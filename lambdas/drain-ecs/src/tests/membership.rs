use super::*;

#[tokio::test]
async fn an_instance_already_draining_is_not_updated_again() {
    let ci = Instance::registered("DRAINING");
    let (tasks, describe_t) = (list_tasks(&[], &["web-1"]), describe_tasks());
    let deps = deps(&ci.and(&[&tasks, &describe_t]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(ci.update.num_calls(), 0);
    // A task ECS is already stopping (desired STOPPED) is still waited for.
    assert_eq!(state.remaining.tasks, [task_arn("web-1")]);
}

#[tokio::test]
async fn an_instance_not_in_the_cluster_has_nothing_to_drain() {
    let ci = Instance::absent();
    let deps = deps(&ci.and(&[]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);
    assert!(state.tasks.is_empty());
    assert_eq!(ci.describe.num_calls(), 0);
    assert_eq!(ci.update.num_calls(), 0);
}

#[tokio::test]
async fn an_instance_not_active_yet_or_never_to_be_counts_as_not_in_the_cluster_yet() {
    // ECS takes DRAINING only from ACTIVE: REGISTERING (its trunk network interface being
    // provisioned), REGISTRATION_FAILED, DEREGISTERING. The checks look for it again.
    for status in ["REGISTERING", "REGISTRATION_FAILED", "DEREGISTERING"] {
        let ci = Instance::registered(status);
        let deps = deps(&ci.and(&[]));
        let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
        assert_eq!(state.container_instance_arn, None, "{status}");
        assert!(state.tasks.is_empty());
        assert_eq!(ci.update.num_calls(), 0, "{status}");
        assert_eq!(state.status, DrainStatus::Draining);
    }
}

#[tokio::test]
async fn a_filter_result_for_another_instance_is_never_drained() {
    let ci = Instance {
        describe: describe_instance("i-0000000000000000f", "ACTIVE"),
        ..Instance::registered("ACTIVE")
    };
    let deps = deps(&ci.and(&[]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);
    assert_eq!(ci.update.num_calls(), 0);
}

#[tokio::test]
async fn an_instance_deregistered_meanwhile_has_nothing_to_drain() {
    let missing = Instance {
        update: update_failure("MISSING", None),
        ..Instance::registered("ACTIVE")
    };
    let deps = deps(&missing.and(&[]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.container_instance_arn, None);

    let refused = Instance {
        update: update_failure("INVALID_STATE", Some("in transition")),
        ..Instance::registered("ACTIVE")
    };
    let deps = self::deps(&refused.and(&[]));
    let error = drain(&deps, lifecycle_input(), at(1)).await.unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "INVALID_STATE (in transition)");
}

#[tokio::test]
async fn many_tasks_are_described_100_at_a_time() {
    let ci = Instance::registered("ACTIVE");
    let names: Vec<String> = (0..150).map(|i| format!("web-{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (tasks, describe_t) = (list_tasks(&names, &[]), describe_tasks());
    let deps = deps(&ci.and(&[&tasks, &describe_t]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(describe_t.num_calls(), 2);
    assert_eq!(state.tasks.len(), 150);
}
