use super::*;
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::ContainerInstanceStatus;

#[tokio::test]
async fn service_tasks_orphaned_by_a_forced_deregistration_are_not_waited_for() {
    // Someone deregistered the container instance (force) mid-drain: its task still shows
    // RUNNING, but ECS no longer manages it. The load balancers are still waited for.
    for status in [None, Some("INACTIVE")] {
        let mut world = rules_for("RUNNING", "OutOfService", DRAINING);
        world.ecs[1] = container_instance(status);
        let state = check_deregistered(&world, 50).await.unwrap();
        assert_eq!(world.ecs[1].num_calls(), 1);
        assert!(state.remaining.tasks.is_empty(), "{status:?}");
        assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
        assert_eq!(state.report.tasks_stopped_at, Some(at(50)));
        assert_eq!(
            state.status,
            DrainStatus::Draining,
            "the target still drains"
        );
        assert_eq!(state.remaining.target_groups, [TG]);

        // Once the target group has drained, the drain is done; the orphan is kept once.
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs[1] = container_instance(status);
        let state = check(&world.clients(), state, at(63)).await.unwrap();
        assert_eq!(state.status, DrainStatus::Drained);
        assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
    }
}

/// UpdateContainerInstancesState of the drained instance back to DRAINING, answered with
/// `failure` (none: done).
fn drained_again(failure: Option<&'static str>) -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(move |req| {
        assert_eq!(req.container_instances(), [CI]);
        assert_eq!(req.status(), Some(&ContainerInstanceStatus::Draining));
        let output = UpdateContainerInstancesStateOutput::builder();
        match failure {
            Some(reason) => output.failures(Failure::builder().arn(CI).reason(reason).build()),
            None => output,
        }
        .build()
    })
}

#[tokio::test]
async fn a_container_instance_still_in_the_cluster_keeps_its_tasks_waited_for() {
    // ACTIVE: someone set it so mid-drain (an operator, or the sweeper returning a warm-pool
    // instance a new scale-in took at the same moment): DRAINING again.
    for (status, set_again) in [("DRAINING", 0), ("ACTIVE", 1)] {
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs[1] = container_instance(Some(status));
        world.ecs.push(drained_again(None));
        let state = check_deregistered(&world, 70).await.unwrap();
        assert_eq!(state.remaining.tasks, [task_arn("web")], "{status}");
        assert!(state.report.orphaned_tasks.is_empty());
        assert_eq!(world.ecs[3].num_calls(), set_again, "{status}");
    }
}

#[tokio::test]
async fn one_set_active_and_then_deregistered_orphans_its_tasks() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = container_instance(Some("ACTIVE"));
    world.ecs.push(drained_again(Some("MISSING")));
    let state = check_deregistered(&world, 70).await.unwrap();
    assert!(state.remaining.tasks.is_empty());
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
}

/// A running task's world whose DescribeContainerInstances answers the error `code`.
fn instance_read_failing(code: &'static str) -> MockRules {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = mock!(aws_sdk_ecs::Client::describe_container_instances)
        .then_http_response(move || json_error(400, code));
    world
}

#[tokio::test]
async fn a_failed_container_instance_read_is_retried_or_named() {
    let world = instance_read_failing("ThrottlingException");
    let error = check_deregistered(&world, 70).await.unwrap_err();
    assert_eq!(error.name(), "Retryable");

    let world = instance_read_failing("AccessDeniedException");
    let error = check_deregistered(&world, 70).await.unwrap_err();
    assert_step_error(&error, "AwsRequestFailed", "DescribeContainerInstances");

    // The cluster itself is gone: nothing of it is left to wait for.
    let world = instance_read_failing("ClusterNotFoundException");
    let state = check_deregistered(&world, 70).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}
