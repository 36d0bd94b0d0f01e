use super::late_agent::check_joined_counting;
use super::*;

#[tokio::test]
async fn an_instance_that_joined_counting_a_task_no_listing_shows_is_not_released_then() {
    // A DAEMON's task placed on it at once, not listed yet (ECS is eventually consistent).
    let (world, state) = check_joined_counting(&[], 1).await;
    assert_eq!(
        world.ecs[3].num_calls(),
        2,
        "listed once, both desired statuses"
    );
    let unlisted = state.remaining.unlisted.unwrap();
    assert_eq!((unlisted.count, unlisted.counted_at), (1, at(63)));
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(state.wait_seconds <= 15, "listed again soon");
}

/// A drain with everything else done, whose container instance counted one task more than
/// the listing showed, at `counted` s.
fn counted_one_more(counted: i64) -> DrainState {
    let mut state = deregistered();
    state.remaining = Remaining {
        unlisted: UnlistedTasks::beyond(2, 1, at(counted)),
        ..Remaining::default()
    };
    state
}

/// DescribeTasks: `agent` STOPPED at 30 s (since the drain began), the others STOPPED before.
fn agent_stopped_since() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
        let tasks = req.tasks().iter().map(|arn| {
            let task = Task::builder().task_arn(arn).last_status("STOPPED");
            let stopped_at = if arn == &task_arn("agent") { 30 } else { -60 };
            task.stopped_at(aws_smithy_types::DateTime::from_secs(
                at(stopped_at).timestamp(),
            ))
            .build()
        });
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.collect()))
            .build()
    })
}

/// The check at `offset` s of [`counted_one_more`] at 20 s, in the world where the recorded
/// task stopped and the balancers drained, ListTasks showing `listed` on the instance.
async fn check_listing(listed: &'static [&'static str], offset: i64) -> (MockRules, DrainState) {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = agent_stopped_since();
    world.ecs[2] = listed_again(listed);
    let state = check(&world.clients(), counted_one_more(20), at(offset))
        .await
        .unwrap();
    (world, state)
}

#[tokio::test]
async fn a_listing_that_shows_a_task_for_the_first_time_settles_one_counted() {
    // Shown stopped by now (desired STOPPED): nothing to wait for, and nothing unlisted left.
    let (_, state) = check_listing(&["web", "agent"], 40).await;
    assert_eq!(state.remaining.unlisted, None);
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn until_a_listing_shows_it_the_drain_lists_again_soon() {
    // A task that stopped before the drain began, shown on every listing, stands in for none.
    let (world, state) = check_listing(&["web", "old"], 40).await;
    assert_eq!(world.ecs[2].num_calls(), 2, "listed");
    assert_eq!(state.remaining.unlisted.map(|u| u.count), Some(1));
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(state.wait_seconds <= 15);
}

#[tokio::test]
async fn one_no_listing_showed_five_minutes_after_the_count_is_given_up() {
    let (_, state) = check_listing(&["web"], 320).await;
    assert_eq!(state.remaining.unlisted, None);
    assert_eq!(state.status, DrainStatus::Drained);
}

#[test]
fn counted_tasks_beyond_those_listed_are_settled_one_by_one() {
    assert_eq!(UnlistedTasks::beyond(2, 2, at(0)), None);
    assert_eq!(UnlistedTasks::beyond(1, 3, at(0)), None);
    let two = UnlistedTasks::beyond(3, 1, at(5)).unwrap();
    assert_eq!((two.count, two.counted_at), (2, at(5)));
    assert_eq!(two.settled_by(0), Some(two));
    assert_eq!(two.settled_by(1).map(|left| left.count), Some(1));
    assert_eq!(two.settled_by(2), None);
    assert!(two.may_still_show(at(304)));
    assert!(!two.may_still_show(at(305)));
}
