use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::ContainerInstanceStatus;

use super::*;

/// ListContainerInstances of the drained instance (by its `ec2InstanceId`): `found` or none.
fn listed(found: bool) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(
            req.filter(),
            Some(format!("ec2InstanceId == {INSTANCE_ID}").as_str())
        );
        let arns = if found { vec![CI.to_string()] } else { vec![] };
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some(arns))
            .build()
    })
}

fn set_draining() -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(|req| {
        assert_eq!(req.container_instances(), [CI]);
        assert_eq!(req.status(), Some(&ContainerInstanceStatus::Draining));
        UpdateContainerInstancesStateOutput::builder().build()
    })
}

/// DescribeContainerInstances of the instance that joined: ACTIVE, then DRAINING once the
/// check set it so (its first answer), counting `running` tasks.
pub(super) fn joined_then_draining(running: i32) -> Rule {
    let described = std::sync::atomic::AtomicUsize::new(0);
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
        let first = described.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI)
                    .ec2_instance_id(INSTANCE_ID)
                    .status(if first { "ACTIVE" } else { "DRAINING" })
                    .running_tasks_count(running)
                    .agent_connected(true)
                    .build(),
            )
            .build()
    })
}

/// A drain whose first step found no container instance for the instance, its balancers
/// drained: it has nothing of ECS to wait for.
fn not_in_the_cluster_yet() -> DrainState {
    let mut state = deregistered();
    state.container_instance_arn = None;
    state.tasks.clear();
    state.remaining.tasks.clear();
    state
}

/// The check at 63 s of a drain whose instance has joined the cluster, ListTasks showing
/// `on_it` there (described RUNNING) and the instance counting as many; the world's rules
/// with their calls, and the state.
async fn check_joined(on_it: &'static [&'static str]) -> (MockRules, DrainState) {
    let running = i32::try_from(on_it.len()).unwrap();
    check_joined_counting(on_it, running).await
}

/// The same, the container instance counting `running` tasks.
pub(super) async fn check_joined_counting(
    on_it: &'static [&'static str],
    running: i32,
) -> (MockRules, DrainState) {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs = vec![
        listed(true),
        // the instance that joined: ACTIVE, its agent connected; DRAINING once set so
        joined_then_draining(running),
        set_draining(),
        listed_again(on_it),
        tasks("RUNNING"),
    ];
    let state = check(&world.clients(), not_in_the_cluster_yet(), at(63))
        .await
        .unwrap();
    assert_eq!(state.container_instance_arn.as_deref(), Some(CI));
    assert_eq!(world.ecs[2].num_calls(), 1, "set DRAINING");
    (world, state)
}

#[tokio::test]
async fn an_instance_whose_agent_registered_mid_drain_is_drained_and_its_tasks_waited_for() {
    let (_, state) = check_joined(&["agent"]).await;
    assert_eq!(state.remaining.tasks, [task_arn("agent")]);
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.report.tasks_stopped_at, None);
}

#[tokio::test]
async fn an_instance_that_joined_with_no_task_is_drained_its_tasks_listed_once() {
    let (world, state) = check_joined(&[]).await;
    assert_eq!(world.ecs[3].num_calls(), 2, "both desired statuses, once");
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn an_instance_still_not_in_the_cluster_is_looked_for_on_each_check_only() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs = vec![listed(false)];
    let state = check(&world.clients(), not_in_the_cluster_yet(), at(63))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.container_instance_arn, None);
    assert_eq!(world.ecs[0].num_calls(), 1);
}

#[tokio::test]
async fn an_instance_registering_in_the_cluster_is_looked_for_again_until_active() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs = vec![
        listed(true),
        container_instance_described(CI, INSTANCE_ID, "REGISTERING"),
    ];
    let state = check(&world.clients(), not_in_the_cluster_yet(), at(63))
        .await
        .unwrap();
    assert_eq!(state.container_instance_arn, None, "not joined yet");
    assert_eq!(
        state.status,
        DrainStatus::Drained,
        "nothing of ECS runs on it"
    );
    assert_eq!(world.ecs[1].num_calls(), 1);
}

#[tokio::test]
async fn a_failed_look_for_the_container_instance_is_retried_or_named() {
    for (code, name) in [
        ("ThrottlingException", "Retryable"),
        ("AccessDeniedException", "AwsRequestFailed"),
    ] {
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs = vec![mock!(aws_sdk_ecs::Client::list_container_instances)
            .then_http_response(move || json_error(400, code))];
        let error = check(&world.clients(), not_in_the_cluster_yet(), at(63))
            .await
            .unwrap_err();
        assert_step_error(&error, name, "ListContainerInstances");
    }
}
