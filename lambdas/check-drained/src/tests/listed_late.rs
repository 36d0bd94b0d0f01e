use super::*;

/// ListTasks of the drained container instance: the recorded task and one it did not show.
fn listed_with_a_late_one() -> Rule {
    listed_again(&["web", "batch"])
}

/// A drain whose container instance's tasks were listed when it began.
fn drained_instance() -> DrainState {
    let mut state = deregistered();
    state.container_instance_arn = Some(CI.into());
    state
}

/// DescribeTasks: the recorded task STOPPED, the one the first listing missed RUNNING.
fn the_late_one_running() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
        let tasks = req.tasks().iter().map(|arn| {
            let status = if arn == &task_arn("batch") {
                "RUNNING"
            } else {
                "STOPPED"
            };
            Task::builder().task_arn(arn).last_status(status).build()
        });
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.collect()))
            .build()
    })
}

/// The rules of a drain whose recorded task has stopped and whose balancers drained, with
/// a task the first listing missed still running.
fn world_with_a_late_task() -> MockRules {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = the_late_one_running();
    world.ecs[2] = listed_with_a_late_one();
    world
}

#[tokio::test]
async fn the_check_that_finds_the_rest_drained_lists_again_and_waits_for_a_task_it_missed() {
    // However long after the first listing: that one decides the release.
    for offset in [32, 600] {
        let world = world_with_a_late_task();
        let state = check(&world.clients(), drained_instance(), at(offset))
            .await
            .unwrap();
        assert_eq!(world.ecs[2].num_calls(), 2, "both desired statuses");
        assert_eq!(state.remaining.tasks, [task_arn("batch")]);
        assert!(state.tasks.iter().any(|t| t.arn == task_arn("batch")));
        assert_eq!(state.status, DrainStatus::Draining);
        assert_eq!(state.report.tasks_stopped_at, None);
        assert!(state.wait_seconds <= 15, "checked again soon: {offset}");
    }
}

/// The check at 600 s, long after the first listing, of a drain `with` its own settings.
async fn check_late(world: &MockRules, with: impl FnOnce(&mut DrainState)) -> DrainState {
    let mut state = drained_instance();
    with(&mut state);
    check(&world.clients(), state, at(600)).await.unwrap()
}

#[tokio::test]
async fn a_standalone_task_found_late_past_its_grace_period_is_stopped_at_once() {
    let mut world = world_with_a_late_task();
    world.ecs.push(
        mock!(aws_sdk_ecs::Client::stop_task).then_compute_output(|req| {
            assert_eq!(req.task(), Some(task_arn("batch").as_str()));
            StopTaskOutput::builder().build()
        }),
    );
    let state = check_late(&world, |state| {
        state.settings.standalone_tasks = StandaloneTasks::Stop;
        state.settings.standalone_task_grace_seconds = 120;
    })
    .await;
    assert_eq!(world.ecs[3].num_calls(), 1);
    assert_eq!(state.report.stopped_tasks, [task_arn("batch")]);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn a_task_found_late_on_a_lost_agent_is_not_waited_for() {
    // The agent disconnected for longer than an agent restart takes: ECS can no longer stop
    // the task.
    let mut world = world_with_a_late_task();
    world.ecs[1] = disconnected();
    let state = check_late(&world, |state| state.agent_disconnected_at = Some(at(300))).await;
    assert_eq!(world.ecs[2].num_calls(), 2);
    assert_eq!(state.report.orphaned_tasks, [task_arn("batch")]);
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_check_that_waits_for_a_task_anyway_does_not_list_again() {
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let state = check(&world.clients(), drained_instance(), at(30))
        .await
        .unwrap();
    assert_eq!(world.ecs[2].num_calls(), 0);
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn a_failed_listing_is_retried_or_named_and_a_gone_cluster_or_instance_has_nothing_left() {
    for (code, name) in [
        ("ThrottlingException", Some("Retryable")),
        ("AccessDeniedException", Some("AwsRequestFailed")),
        ("ClusterNotFoundException", None),
        // a container instance ECS no longer takes as a filter (deregistered meanwhile)
        ("InvalidParameterException", None),
    ] {
        let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
        world.ecs[2] = mock!(aws_sdk_ecs::Client::list_tasks)
            .then_http_response(move || json_error(400, code));
        // whatever the container instance counted but no listing showed yet is gone with them
        let mut state = drained_instance();
        state.remaining.unlisted = UnlistedTasks::beyond(1, 0, at(20));
        let result = check(&world.clients(), state, at(32)).await;
        match name {
            Some(name) => assert_step_error(&result.unwrap_err(), name, "ListTasks"),
            None => assert_eq!(result.unwrap().status, DrainStatus::Drained, "{code}"),
        }
    }
}
