use super::*;

/// DescribeTasks: the drain's own task STOPPED; `batch` MISSING (not visible yet) while
/// `visible` is false, else RUNNING as a task of the service `batch`.
fn batch_described(visible: bool) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |req| {
        let (batch, others): (Vec<_>, Vec<_>) = req
            .tasks()
            .iter()
            .partition(|arn| **arn == task_arn("batch"));
        let mut tasks: Vec<_> = others
            .iter()
            .map(|arn| {
                Task::builder()
                    .task_arn(*arn)
                    .last_status("STOPPED")
                    .build()
            })
            .collect();
        let mut failures = Vec::new();
        for arn in batch {
            if visible {
                let task = Task::builder().task_arn(arn).last_status("RUNNING");
                tasks.push(task.group("service:batch").build());
            } else {
                failures.push(Failure::builder().arn(arn).reason("MISSING").build());
            }
        }
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks))
            .set_failures(Some(failures))
            .build()
    })
}

/// A drain whose own task has stopped and whose balancers drained, its instance listed again
/// with `batch`, which DescribeTasks describes as [`batch_described`] says.
fn world(visible: bool) -> MockRules {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = batch_described(visible);
    world.ecs[2] = listed_again(&["web", "batch"]);
    world
}

/// The drain after the check at 600 s that listed `batch` while DescribeTasks did not know it.
fn listed_not_described() -> DrainState {
    let mut state = deregistered();
    state.container_instance_arn = Some(CI.into());
    state.tasks.push(TrackedTask {
        arn: task_arn("batch"),
        service: None,
        last_status: NOT_YET_DESCRIBED.into(),
        unseen_since: Some(at(600)),
    });
    state.remaining.tasks = vec![task_arn("batch")];
    state
}

#[tokio::test]
async fn a_task_listed_late_that_describe_tasks_does_not_know_yet_is_waited_for() {
    // ECS is eventually consistent: the listing may show a task DescribeTasks answers MISSING.
    let world = world(false);
    let mut state = deregistered();
    state.container_instance_arn = Some(CI.into());
    let state = check(&world.clients(), state, at(600)).await.unwrap();
    assert_eq!(world.ecs[2].num_calls(), 2, "listed again");
    assert_eq!(state.remaining.tasks, [task_arn("batch")]);
    let batch = state.tasks.iter().find(|t| t.arn == task_arn("batch"));
    assert_eq!(batch, listed_not_described().tasks.last());
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(state.wait_seconds <= 15, "checked again soon");
}

#[tokio::test]
async fn a_task_not_described_yet_is_waited_for_until_described_then_known_by_its_service() {
    let state = check(&world(false).clients(), listed_not_described(), at(700))
        .await
        .unwrap();
    assert_eq!(state.remaining.tasks, [task_arn("batch")], "still MISSING");
    assert_eq!(state.status, DrainStatus::Draining);

    let state = check(&world(true).clients(), state, at(710)).await.unwrap();
    assert_eq!(state.remaining.tasks, [task_arn("batch")], "RUNNING");
    let batch = state.tasks.iter().find(|t| t.arn == task_arn("batch"));
    let batch = batch.unwrap();
    assert_eq!(batch.service.as_deref(), Some("batch"));
    assert_eq!(
        (batch.last_status.as_str(), batch.unseen_since),
        ("RUNNING", None)
    );
}

#[tokio::test]
async fn a_task_still_missing_five_minutes_after_it_was_listed_is_taken_for_gone() {
    let world = world(false);
    let state = check(&world.clients(), listed_not_described(), at(899))
        .await
        .unwrap();
    assert_eq!(state.remaining.tasks, [task_arn("batch")]);
    let state = check(&world.clients(), listed_not_described(), at(900))
        .await
        .unwrap();
    assert!(state.remaining.tasks.is_empty());
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_task_not_described_yet_is_never_stopped_as_standalone() {
    // It may be a service's, which ECS stops itself once it replaced it.
    let mut world = world(false);
    world.ecs.push(
        mock!(aws_sdk_ecs::Client::stop_task).then_output(|| StopTaskOutput::builder().build()),
    );
    let mut state = listed_not_described();
    state.settings.standalone_tasks = StandaloneTasks::Stop;
    state.settings.standalone_task_grace_seconds = 0;
    let state = check(&world.clients(), state, at(700)).await.unwrap();
    assert_eq!(world.ecs[3].num_calls(), 0);
    assert!(state.report.stopped_tasks.is_empty());
    assert_eq!(state.remaining.tasks, [task_arn("batch")]);
}
