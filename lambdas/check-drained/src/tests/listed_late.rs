use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;

use super::*;

/// ListTasks of the drained container instance: the recorded task and one it did not show.
fn listed_with_a_late_one() -> Rule {
    mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(|req| {
        assert_eq!(req.container_instance(), Some(CI));
        ListTasksOutput::builder()
            .task_arns(task_arn("web"))
            .task_arns(task_arn("batch"))
            .build()
    })
}

/// A drain whose tasks were listed when the drain began, at 2 s.
fn listed_at_the_start() -> DrainState {
    let mut state = deregistered();
    state.container_instance_arn = Some(CI.into());
    state.tasks_listed_at = Some(at(2));
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

#[tokio::test]
async fn a_task_the_first_listing_did_not_show_is_waited_for_too() {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = the_late_one_running();
    world.ecs.push(listed_with_a_late_one());
    let state = check(&world.clients(), listed_at_the_start(), at(30))
        .await
        .unwrap();
    assert_eq!(world.ecs[2].num_calls(), 2, "both desired statuses");
    assert_eq!(state.remaining.tasks, [task_arn("batch")]);
    assert!(state.tasks.iter().any(|t| t.arn == task_arn("batch")));
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.report.tasks_stopped_at, None);
}

#[tokio::test]
async fn no_listing_again_while_a_task_runs_nor_by_the_check_that_listed_nor_after_five_minutes() {
    for (task, listed, now, status) in [
        // a check that waits for a running task anyway
        ("RUNNING", 2, 30, DrainStatus::Draining),
        // tasks listed by this very check (an agent that registered mid-drain)
        ("STOPPED", 30, 30, DrainStatus::Drained),
        // five minutes after the first listing
        ("STOPPED", 2, 302, DrainStatus::Drained),
    ] {
        let mut world = rules_for(task, "OutOfService", UNUSED);
        world.ecs.push(listed_with_a_late_one());
        let mut state = listed_at_the_start();
        state.tasks_listed_at = Some(at(listed));
        let state = check(&world.clients(), state, at(now)).await.unwrap();
        let case = format!("{task}, listed at {listed} s, checked at {now} s");
        assert_eq!(world.ecs[2].num_calls(), 0, "{case}");
        assert_eq!(state.status, status, "{case}");
    }
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
        world.ecs.push(
            mock!(aws_sdk_ecs::Client::list_tasks)
                .then_http_response(move || json_error(400, code)),
        );
        let result = check(&world.clients(), listed_at_the_start(), at(30)).await;
        match name {
            Some(name) => assert_step_error(&result.unwrap_err(), name, "ListTasks"),
            None => assert_eq!(result.unwrap().status, DrainStatus::Drained, "{code}"),
        }
    }
}
