use super::*;

#[tokio::test]
async fn tasks_of_a_lost_agent_are_given_up_once_the_loss_lasts() {
    // ECS reports the tasks of a disconnected agent RUNNING forever: waiting for them
    // would only end at the deadline. An agent restart reconnects within a minute or two.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    let state = check_deregistered(&world, 70).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.agent_disconnected_at, Some(at(70)));
    assert!(
        state.wait_seconds <= 121,
        "checks again when the tasks are given up"
    );
    let state = check(&world.clients(), state, at(120)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining, "not yet 120 s");
    let state = check(&world.clients(), state, at(190)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);

    // Reconnected in time: the clock starts over.
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let mut input = deregistered();
    input.agent_disconnected_at = Some(at(10));
    let state = check(&world.clients(), input, at(190)).await.unwrap();
    assert_eq!(state.agent_disconnected_at, None);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn tasks_of_a_disconnected_agent_are_given_up_at_once_when_the_action_is_gone() {
    // The group was deleted with ForceDelete (or the hook deleted): the instance is being
    // released; nothing will stop its tasks through ECS.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    world.autoscaling.push(auto_scaling_instance(None));
    let mut input = deregistered();
    input.heartbeat.action_gone = true;
    let state = check(&world.clients(), input, at(70)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
}

#[tokio::test]
async fn past_the_deadline_the_drain_gives_up_waiting() {
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let mut input = deregistered();
    input.deadline_at = at(100);
    let state = check(&world.clients(), input, at(101)).await.unwrap();
    assert_eq!(state.status, DrainStatus::DeadlinePassed);
    assert!(state.timed_out());
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
}

/// A standalone task `job` under `policy` (grace period 120 s), beside the service task,
/// on an instance ECS describes with `instance` (see [`container_instance`]); StopTask of
/// the job is answered.
fn standalone(policy: StandaloneTasks, instance: Option<&'static str>) -> (MockRules, DrainState) {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = container_instance(instance);
    world.ecs.push(stop_rule());
    let mut state = deregistered();
    state.tasks.push(TrackedTask {
        arn: task_arn("job"),
        service: None,
        last_status: "RUNNING".into(),
        unseen_since: None,
    });
    state.remaining.tasks.push(task_arn("job"));
    state.settings.standalone_tasks = policy;
    state.settings.standalone_task_grace_seconds = 120;
    (world, state)
}

fn stop_rule() -> Rule {
    mock!(aws_sdk_ecs::Client::stop_task).then_compute_output(|req| {
        assert_eq!(req.task(), Some(task_arn("job").as_str()));
        assert!(req.reason().unwrap().contains("i-1234567890abcdef0"));
        StopTaskOutput::builder().build()
    })
}

#[tokio::test]
async fn standalone_tasks_are_waited_for_by_default() {
    // Orphaned by a forced deregistration too: a standalone task has no replacement and
    // no load balancer, so with `wait` it is waited for until it stops or the deadline.
    for instance in [Some("DRAINING"), None] {
        let (world, input) = standalone(StandaloneTasks::Wait, instance);
        let state = check(&world.clients(), input, at(500)).await.unwrap();
        assert_eq!(world.ecs[3].num_calls(), 0);
        assert!(state.remaining.tasks.contains(&task_arn("job")));
        assert!(state.report.stopped_tasks.is_empty());
        assert_eq!(state.status, DrainStatus::Draining);
        let orphaned = if instance.is_none() {
            vec![task_arn("web")]
        } else {
            vec![]
        };
        assert_eq!(state.report.orphaned_tasks, orphaned, "{instance:?}");
    }
}

#[tokio::test]
async fn standalone_tasks_are_stopped_after_the_grace_period_when_configured() {
    let (world, input) = standalone(StandaloneTasks::Stop, Some("DRAINING"));
    let state = check(&world.clients(), input, at(100)).await.unwrap();
    assert_eq!(world.ecs[3].num_calls(), 0, "inside the grace period");
    let state = check(&world.clients(), state, at(121)).await.unwrap();
    assert_eq!(world.ecs[3].num_calls(), 1);
    assert_eq!(state.report.stopped_tasks, [task_arn("job")]);
}
