use aws_sdk_ecs::operation::deregister_container_instance::DeregisterContainerInstanceOutput;

use super::*;

/// DeregisterContainerInstance of the drained instance, which must be forced.
fn deregistered_by_force() -> Rule {
    mock!(aws_sdk_ecs::Client::deregister_container_instance).then_compute_output(|req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(req.container_instance(), Some(CI));
        assert_eq!(
            req.force(),
            Some(true),
            "ECS refuses it unforced while a task runs"
        );
        DeregisterContainerInstanceOutput::builder().build()
    })
}

/// A drain of an instance going back to the warm pool, its balancers drained, whose task
/// `task` reads and whose DeregisterContainerInstance `deregister` answers.
async fn back_to_the_pool(
    task: &'static str,
    deregister: Rule,
) -> (MockRules, Result<DrainState, StepError>) {
    let mut world = rules_for(task, "OutOfService", UNUSED);
    world.ecs.push(deregister);
    let mut state = deregistered();
    state.request.destination = Destination::WarmPool;
    state.container_instance_arn = Some(CI.into());
    let result = check(&world.clients(), state, at(63)).await;
    (world, result)
}

#[tokio::test]
async fn a_drained_instance_going_back_to_the_pool_is_deregistered_by_force() {
    let (world, state) = back_to_the_pool("STOPPED", deregistered_by_force()).await;
    let state = state.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert!(state.container_instance_deregistered);
    assert_eq!(world.ecs[3].num_calls(), 1);
}

#[tokio::test]
async fn a_task_given_up_does_not_keep_the_instance_draining_in_the_pool() {
    // Its agent disconnected long ago: ECS still reports the task RUNNING, the drain no longer
    // waits for it, and an unforced deregistration would be refused with the task on it.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    world.ecs.push(deregistered_by_force());
    let mut state = deregistered();
    state.request.destination = Destination::WarmPool;
    state.container_instance_arn = Some(CI.into());
    state.agent_disconnected_at = Some(at(0));
    let state = check(&world.clients(), state, at(200)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert!(state.container_instance_deregistered);
    assert_eq!(world.ecs[3].num_calls(), 1);
}

#[tokio::test]
async fn a_container_instance_already_deregistered_or_a_cluster_gone_counts_as_released() {
    for code in ["InvalidParameterException", "ClusterNotFoundException"] {
        let gone = mock!(aws_sdk_ecs::Client::deregister_container_instance)
            .then_http_response(move || json_error(400, code));
        let (_, state) = back_to_the_pool("STOPPED", gone).await;
        assert!(state.unwrap().container_instance_deregistered, "{code}");
    }
}

#[tokio::test]
async fn a_failed_deregistration_is_retried_or_named() {
    for (code, name) in [
        ("ThrottlingException", "Retryable"),
        ("AccessDeniedException", "AwsRequestFailed"),
    ] {
        let failing = mock!(aws_sdk_ecs::Client::deregister_container_instance)
            .then_http_response(move || json_error(400, code));
        let (_, state) = back_to_the_pool("STOPPED", failing).await;
        let error = state.unwrap_err();
        assert_step_error(&error, name, "DeregisterContainerInstance");
    }
}
