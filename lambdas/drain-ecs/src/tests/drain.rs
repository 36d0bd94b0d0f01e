use super::*;

#[tokio::test]
async fn sets_an_active_instance_draining_and_records_its_tasks() {
    let ci = Instance::registered("ACTIVE");
    let (tasks, describe_t) = (
        list_tasks(&["web-1", "job-1"], &["web-0", "stopped-1", "deleted-1"]),
        describe_tasks(),
    );
    let deps = deps(&ci.and(&[&tasks, &describe_t]));

    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();

    assert_eq!(ci.update.num_calls(), 1);
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
    assert_eq!(
        state.remaining.unlisted, None,
        "it counts no task beyond those"
    );
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
async fn a_task_listed_but_not_described_yet_is_recorded_and_waited_for() {
    // ECS is eventually consistent: DescribeTasks may not know a task ListTasks shows.
    let ci = Instance::registered("ACTIVE");
    let (tasks, describe_t) = (list_tasks(&["web-1", "new-1"], &[]), describe_tasks());
    let deps = deps(&ci.and(&[&tasks, &describe_t]));

    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();

    let new = state
        .tasks
        .iter()
        .find(|t| t.arn.ends_with("/new-1"))
        .unwrap();
    assert_eq!(new.last_status, "MISSING");
    assert_eq!(
        (new.service.as_deref(), new.unseen_since),
        (None, Some(at(1)))
    );
    let web = state
        .tasks
        .iter()
        .find(|t| t.arn.ends_with("/web-1"))
        .unwrap();
    assert_eq!(web.unseen_since, None);
    assert_eq!(state.remaining.tasks.len(), 2, "both waited for");
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn tasks_the_container_instance_counts_beyond_those_listed_are_listed_for_again() {
    // ECS is eventually consistent: ListTasks may not show yet a task the container
    // instance already counts (3 running and 1 pending; 3 listed, one of them stopping).
    // One that stopped before the drain began, listed too, stands in for none.
    let mut ci = Instance::registered("ACTIVE");
    ci.describe = describing_container_instance(
        aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn(CI_ARN)
            .ec2_instance_id(INSTANCE_ID)
            .status("ACTIVE")
            .running_tasks_count(3)
            .pending_tasks_count(1)
            .build(),
    );
    let (tasks, describe_t) = (
        list_tasks(&["web-1", "job-1"], &["web-0", "stopped-1"]),
        describe_tasks(),
    );
    let deps = deps(&ci.and(&[&tasks, &describe_t]));

    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();

    let unlisted = state.remaining.unlisted.unwrap();
    assert_eq!((unlisted.count, unlisted.counted_at), (1, at(1)));
    assert!(!state.remaining.is_empty());
    assert_eq!(state.status, DrainStatus::Draining);
}
