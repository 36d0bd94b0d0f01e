use super::*;

/// A drain of an instance going back to the warm pool, its balancers drained. The rules
/// answer only the checks' own calls: a deregistration of its container instance (which the
/// agent would never get over: it exits on an inactive record) would find no rule and fail.
fn back_to_the_pool(mut state: DrainState) -> DrainState {
    state.request.destination = Destination::WarmPool;
    state.container_instance_arn = Some(CI.into());
    state
}

#[tokio::test]
async fn a_drained_instance_going_back_to_the_pool_keeps_its_container_instance() {
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = back_to_the_pool(deregistered());
    let state = check(&world.clients(), state, at(63)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.container_instance_arn.as_deref(), Some(CI));
}

#[tokio::test]
async fn a_task_given_up_leaves_the_container_instance_to_the_pool_as_it_is() {
    // Its agent disconnected long ago: ECS still reports the task RUNNING, the drain no longer
    // waits for it; ECS stops it when the instance's agent is back.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    let mut state = back_to_the_pool(deregistered());
    state.agent_disconnected_at = Some(at(0));
    let state = check(&world.clients(), state, at(200)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.orphaned_tasks.len(), 1);
}
