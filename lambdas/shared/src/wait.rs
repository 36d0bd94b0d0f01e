//! How long `WaitForDrain` waits before the next check.
//!
//! The Lambdas know when most of a drain should end: a load balancer finishes draining
//! its timeout after we deregistered the instance, and ECS stops a service task after
//! the target group's deregistration delay. So the first wait lasts until just after
//! that expected end, and a drain completes within about a second of its real end
//! without polling every second. Past the expected end (a replacement task that takes
//! long to place, a standalone task we wait for), the wait grows with the overdue time
//! (each check at most doubles the time waited so far), up to [`MAX_WAIT_SECONDS`]. Each
//! wait is then lengthened by a small, per-instance [`jitter`], so that drains that started
//! together do not all wake in the same second.
//! It never runs past the deadline, nor past the point where the lifecycle hook needs its
//! next heartbeat (the last heartbeat plus [`heartbeat_interval`]), nor past the moment a
//! registration left to ECS is due to be taken over; and while one waits for its service's
//! replacement, no wait is longer than [`crate::left_to_ecs::REPLACEMENT_RECHECK_SECONDS`].
//!
//! This bounds the loop: after a few rounds every wait is [`MAX_WAIT_SECONDS`], so a
//! 48-hour drain takes about 600 rounds (about 5,400 history events, far inside Step
//! Functions' 25,000), and a hook with a short heartbeat timeout also has a short limit
//! (100 x heartbeat timeout), which keeps its rounds below 250.

use chrono::{DateTime, Utc};

use crate::state::{DrainState, StandaloneTasks};

/// The longest wait between two checks.
pub const MAX_WAIT_SECONDS: u64 = 300;
/// The shortest heartbeat timeout a lifecycle hook can have.
pub const MIN_HEARTBEAT_TIMEOUT_SECONDS: u64 = 30;
/// How far past the expected end the first check comes.
const MARGIN_SECONDS: u64 = 1;

/// When what still remains of the drain is expected to be done.
pub fn expected_end(state: &DrainState) -> DateTime<Utc> {
    let balancers_end = state
        .load_balancers
        .as_ref()
        .and_then(|balancers| balancers.expected_drained_at());
    let mut end =
        if state.remaining.classic_elbs.is_empty() && state.remaining.target_groups.is_empty() {
            state.started_at
        } else {
            balancers_end.unwrap_or(state.started_at)
        };
    // ECS stops a service task once its replacement is healthy in every load balancer of
    // the service and the old task's registrations have drained; without service load
    // balancers, after the drain time of the ones we deregistered.
    let service_tasks_end = state
        .load_balancers
        .as_ref()
        .and_then(|balancers| balancers.expected_service_tasks_stopped_at())
        .or(balancers_end)
        .unwrap_or(state.started_at);
    for arn in &state.remaining.tasks {
        let standalone = state
            .tasks
            .iter()
            .find(|task| &task.arn == arn)
            .is_some_and(|task| task.service.is_none());
        let task_end = match (standalone, state.settings.standalone_tasks) {
            (false, _) => service_tasks_end,
            (true, StandaloneTasks::Stop) => {
                state.started_at
                    + crate::state::seconds(state.settings.standalone_task_grace_seconds)
            }
            (true, StandaloneTasks::Wait) => state.started_at,
        };
        end = end.max(task_end);
    }
    // A registration left to ECS ends as a service task's would, if a task is behind it.
    if !state.remaining.left_to_ecs.is_empty() {
        end = end.max(service_tasks_end);
    }
    end
}

/// Seconds to wait before the next check, given what `state.remaining` still holds.
pub fn next_wait(state: &DrainState, now: DateTime<Utc>) -> u64 {
    if state.remaining.is_empty() {
        return 0;
    }
    let end = expected_end(state);
    let base = if end > now {
        ceil_seconds(end - now) + MARGIN_SECONDS
    } else {
        ceil_seconds(now - end).max(1)
    }
    .clamp(1, MAX_WAIT_SECONDS);
    let mut wait = base + jitter(state, base);
    if state.request.trigger.lifecycle_action().is_some() && !state.heartbeat.action_gone {
        // Until a check has read the hook's timeout, assume the shortest AWS allows.
        let timeout = state
            .heartbeat
            .timeout_seconds
            .unwrap_or(MIN_HEARTBEAT_TIMEOUT_SECONDS);
        // The next check comes when the next heartbeat is due: the hook's timer restarted
        // at the last heartbeat (or when the instance entered `Terminating:Wait`).
        let last = state.heartbeat.last_at.unwrap_or(state.request.event_time);
        let due = last + crate::state::seconds(heartbeat_interval(timeout));
        wait = wait.min(if due > now {
            ceil_seconds(due - now)
        } else {
            1
        });
    }
    if state.deadline_at > now {
        wait = wait.min(ceil_seconds(state.deadline_at - now));
    }
    if let Some(due) = crate::left_to_ecs::next_due(state, now) {
        wait = wait.min(ceil_seconds(due - now) + MARGIN_SECONDS);
    }
    if crate::left_to_ecs::awaiting_replacement(state)
        .next()
        .is_some()
    {
        wait = wait.min(crate::left_to_ecs::REPLACEMENT_RECHECK_SECONDS);
    }
    wait.max(1)
}

/// A step chooses its wait at `chosen`, the time it started (its heartbeat's), but the
/// state machine's Wait begins only when the step returns, at `returned`. A slow step (its
/// calls throttled and retried by the SDK) would push the next check past a due heartbeat
/// or the deadline by the time it took: so the wait is shortened by that time, never below
/// 1 s (a finished drain's 0 stays 0).
pub fn waits_from_return(
    mut state: DrainState,
    chosen: DateTime<Utc>,
    returned: DateTime<Utc>,
) -> DrainState {
    if state.wait_seconds > 0 {
        let taken = u64::try_from((returned - chosen).num_seconds()).unwrap_or(0);
        state.wait_seconds = state.wait_seconds.saturating_sub(taken).max(1);
    }
    state
}

/// The most a wait is lengthened to spread wake-ups.
pub const MAX_JITTER_SECONDS: u64 = 15;

/// Spreads wake-ups that would coincide. Drains that start together (a scheduled scale-in,
/// an instance refresh, a Spot storm) have the same drain times, so without it they would
/// all check in the same second and call the same APIs against the account's per-API token
/// buckets. A wait of `base` seconds grows by up to a tenth of itself (at least 1 s, at
/// most [`MAX_JITTER_SECONDS`]), by an amount fixed by the instance and the check number:
/// a retried step chooses the same wait. It never delays a due heartbeat or the deadline
/// (those caps apply after it).
pub fn jitter(state: &DrainState, base: u64) -> u64 {
    if base < 2 {
        return 0;
    }
    let spread = (base / 10).clamp(1, MAX_JITTER_SECONDS);
    // FNV-1a over the instance id and the check number.
    let hash = state
        .request
        .instance_id
        .bytes()
        .chain(state.checks.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    hash % (spread + 1)
}

/// A heartbeat is sent once this long has passed since the hook's timer restarted, and
/// no wait is longer, so the timer never runs out between two checks.
pub fn heartbeat_interval(timeout_seconds: u64) -> u64 {
    (timeout_seconds * 2 / 5).max(1)
}

fn ceil_seconds(duration: chrono::Duration) -> u64 {
    let millis = duration.num_milliseconds().max(0) as u64;
    millis.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::*;

    fn at(offset: i64) -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::seconds(offset)
    }

    fn state(delay: u64, standalone: StandaloneTasks) -> DrainState {
        let request = DrainRequest {
            trigger: Trigger::LifecycleAction(LifecycleAction {
                asg_name: "asg".into(),
                hook_name: "hook".into(),
                token: Some("t".into()),
            }),
            instance_id: "i-0123456789abcdef0".into(),
            cluster: "c".into(),
            event_time: at(0),
            destination: Destination::Ec2,
        };
        let settings = Settings {
            drain_deadline_seconds: 3600,
            deadline_result: LifecycleResult::Continue,
            standalone_tasks: standalone,
            standalone_task_grace_seconds: 600,
            nlb_deregistration_seconds: 300,
        };
        DrainState {
            container_instance_arn: Some("ci".into()),
            tasks: vec![
                TrackedTask {
                    arn: "svc".into(),
                    service: Some("web".into()),
                    last_status: "RUNNING".into(),
                    unseen_since: None,
                },
                TrackedTask {
                    arn: "job".into(),
                    service: None,
                    last_status: "RUNNING".into(),
                    unseen_since: None,
                },
            ],
            load_balancers: Some(LoadBalancers {
                classic: vec![],
                target_groups: vec![TargetGroup::new("tg", vec![80], delay)],
                service_managed: vec![],
                deregistered_at: Some(at(2)),
            }),
            heartbeat: Heartbeat {
                timeout_seconds: Some(3600),
                last_at: Some(at(0)),
                sent: 0,
                ..Heartbeat::default()
            },
            remaining: Remaining {
                tasks: vec!["svc".into()],
                target_groups: vec!["tg".into()],
                ..Remaining::default()
            },
            ..DrainState::new(request, settings, Vec::new())
        }
    }

    #[test]
    fn jitter_spreads_drains_that_started_together() {
        let mut waits = std::collections::BTreeSet::new();
        for index in 0..200 {
            let mut state = state(300, StandaloneTasks::Wait);
            state.request.instance_id = format!("i-{index:017x}");
            let wait = next_wait(&state, at(2));
            // 300 s of draining from 2 s, checked a second after: 301, capped at 300.
            crate::testing::assert_wait(wait, MAX_WAIT_SECONDS);
            // Repeatable: a retried step chooses the same wait.
            assert_eq!(next_wait(&state, at(2)), wait);
            waits.insert(wait);
        }
        // 200 drains spread over every second of the 15 s window.
        assert_eq!(waits.len(), 16, "{waits:?}");
    }

    #[test]
    fn first_wait_ends_just_after_the_expected_drain_end() {
        let state = state(120, StandaloneTasks::Wait);
        crate::testing::assert_wait(next_wait(&state, at(3)), 120);
    }

    #[test]
    fn overdue_waits_grow_geometrically_up_to_the_cap() {
        let state = state(30, StandaloneTasks::Wait);
        assert_eq!(next_wait(&state, at(33)), 1, "under 2 s: no jitter");
        crate::testing::assert_wait(next_wait(&state, at(36)), 4);
        crate::testing::assert_wait(next_wait(&state, at(100)), 68);
        // (The check at 2000 s heartbeated: 1440 s had passed since the last one.)
        let mut state = state;
        state.heartbeat.last_at = Some(at(2000));
        crate::testing::assert_wait(next_wait(&state, at(2000)), MAX_WAIT_SECONDS);
    }

    #[test]
    fn never_past_the_deadline_nor_the_heartbeat() {
        let mut state = state(3000, StandaloneTasks::Wait);
        state.heartbeat.last_at = Some(at(3490));
        assert_eq!(next_wait(&state, at(3500)), 100);
        state.heartbeat.last_at = Some(at(0));
        state.heartbeat.timeout_seconds = Some(60);
        // The next heartbeat is due 24 s (0.4 x 60) after the last one, at 0.
        assert_eq!(next_wait(&state, at(10)), 14);
        state.heartbeat.last_at = Some(at(8));
        assert_eq!(next_wait(&state, at(10)), 22);
        // Overdue (a late check): check again at once.
        assert_eq!(next_wait(&state, at(40)), 1);
        state.heartbeat.action_gone = true;
        crate::testing::assert_wait(next_wait(&state, at(10)), MAX_WAIT_SECONDS);
    }

    #[test]
    fn a_wait_begins_when_the_step_returns() {
        let mut state = state(3000, StandaloneTasks::Wait);
        state.heartbeat.last_at = Some(at(0));
        state.heartbeat.timeout_seconds = Some(60);
        state.wait_seconds = next_wait(&state, at(10));
        assert_eq!(state.wait_seconds, 14, "the heartbeat due at 24 s");
        // Its calls throttled, the step returned 9.5 s after it chose the wait.
        let returned = at(19) + chrono::Duration::milliseconds(500);
        let state = waits_from_return(state, at(10), returned);
        assert_eq!(state.wait_seconds, 5, "still the check at 24 s");
        // A step that outlasted its whole wait: check again at once; a finished drain's 0 stays.
        assert_eq!(
            waits_from_return(state.clone(), at(0), at(60)).wait_seconds,
            1
        );
        let mut drained = state;
        drained.wait_seconds = 0;
        assert_eq!(waits_from_return(drained, at(0), at(60)).wait_seconds, 0);
    }

    #[test]
    fn standalone_tasks_to_stop_are_expected_after_the_grace_period() {
        let mut state = state(30, StandaloneTasks::Stop);
        state.remaining = Remaining {
            tasks: vec!["job".into()],
            ..Remaining::default()
        };
        crate::testing::assert_wait(next_wait(&state, at(100)), 300);
        crate::testing::assert_wait(next_wait(&state, at(590)), 11);
    }

    #[test]
    fn before_the_hook_is_read_the_wait_assumes_the_shortest_heartbeat_timeout() {
        let mut state = state(45, StandaloneTasks::Wait);
        state.heartbeat.timeout_seconds = None;
        assert_eq!(next_wait(&state, at(3)), 9);
        state.request.trigger = Trigger::SpotInterruption;
        crate::testing::assert_wait(next_wait(&state, at(3)), 45);
    }

    #[test]
    fn service_tasks_are_expected_once_a_replacement_is_healthy_and_drained() {
        let mut state = state(30, StandaloneTasks::Wait);
        state.remaining.target_groups.clear();
        let balancers = state.load_balancers.as_mut().unwrap();
        balancers.service_managed =
            vec![crate::testing::service_balancer("web", "tg-web", 20, 150)];
        state.heartbeat.timeout_seconds = Some(7200);
        // Deregistered at 2: healthy at 152, drained at 172; checked just after.
        crate::testing::assert_wait(next_wait(&state, at(3)), 170);
    }

    /// Nothing else remains: the task stopped, the target group drained; the api target
    /// group, `balancer`, is left to ECS.
    fn left_to_ecs_only(balancer: ServiceBalancer) -> DrainState {
        let mut state = state(30, StandaloneTasks::Wait);
        state.remaining.tasks.clear();
        state.remaining.target_groups.clear();
        state.remaining.left_to_ecs = vec!["tg-api".into()];
        state.heartbeat.timeout_seconds = Some(7200);
        state.heartbeat.last_at = Some(at(200));
        state.load_balancers.as_mut().unwrap().service_managed = vec![balancer];
        state
    }

    #[test]
    fn a_registration_left_to_ecs_is_checked_again_when_it_is_due_to_be_taken_over() {
        let mut state = left_to_ecs_only(ServiceBalancer {
            registered_without_task: true,
            network: false,
            ..crate::testing::service_balancer("api", "tg-api", 20, 10)
        });
        // Long overdue at 250 s (a replacement was expected by 32 s), but due to be taken
        // over at 300 s, and then at the latest 20 s (its draining) and 15 s before the
        // deadline.
        assert_eq!(next_wait(&state, at(250)), 51);
        state.deadline_at = at(400);
        assert_eq!(next_wait(&state, at(310)), 56);
    }

    /// A drain whose api task was orphaned (not stopped, no longer waited for), its api
    /// target group left to ECS while it waits for the service's replacement.
    fn awaiting_replacement(network: bool) -> DrainState {
        let mut state = left_to_ecs_only(ServiceBalancer {
            network,
            ..crate::testing::service_balancer("api", "tg-api", 20, 10)
        });
        state.tasks[0].service = Some("api".into());
        state.tasks[0].last_status = "RUNNING".into();
        state
    }

    #[test]
    fn a_registration_awaiting_its_services_replacement_is_looked_at_again_soon() {
        // Long overdue at 250 s: without it the wait would be about 250 s.
        let mut state = awaiting_replacement(false);
        crate::testing::assert_wait(next_wait(&state, at(250)), 15);
        // Its last moment (20 s of draining and 15 s before the deadline) comes first.
        state.deadline_at = at(290);
        assert_eq!(next_wait(&state, at(250)), 6);
        // No task left unstopped: nothing to look at again for (ECS ends the registration).
        let mut stopped = awaiting_replacement(false);
        stopped.tasks[0].last_status = "STOPPED".into();
        assert!(next_wait(&stopped, at(250)) > 200);
    }

    #[test]
    fn a_network_load_balancers_registration_is_taken_over_before_its_routing_would_outlast_the_deadline(
    ) {
        // 20 s of draining, but a Network Load Balancer may route to it for 300 s once
        // deregistered: its last moment is 315 s before the deadline.
        let mut state = awaiting_replacement(true);
        state.deadline_at = at(1000);
        let balancer = &state.load_balancers.as_ref().unwrap().service_managed[0];
        assert_eq!(
            crate::left_to_ecs::must_take_over_at(&state, balancer),
            at(685)
        );
        assert_eq!(next_wait(&state, at(680)), 6);
        state.load_balancers.as_mut().unwrap().service_managed[0].network = false;
        let balancer = &state.load_balancers.as_ref().unwrap().service_managed[0];
        assert_eq!(
            crate::left_to_ecs::must_take_over_at(&state, balancer),
            at(965)
        );
    }

    #[test]
    fn nothing_remaining_means_no_wait() {
        let mut state = state(30, StandaloneTasks::Wait);
        state.remaining = Remaining::default();
        assert_eq!(next_wait(&state, at(5)), 0);
    }

    #[test]
    fn a_48_hour_drain_stays_far_inside_the_history_limit() {
        let mut state = state(300, StandaloneTasks::Wait);
        state.deadline_at = at(48 * 3600);
        state.heartbeat.timeout_seconds = Some(7200);
        let mut now = at(3);
        let mut rounds = 0;
        while now < state.deadline_at {
            now += chrono::Duration::seconds(next_wait(&state, now) as i64);
            // The check heartbeats when one is due.
            if now >= state.heartbeat.last_at.unwrap() + chrono::Duration::seconds(2880) {
                state.heartbeat.last_at = Some(now);
            }
            rounds += 1;
        }
        // Wait + Task + Choice add about 9 history events a round.
        assert!(rounds * 9 < 6_000, "{rounds} rounds");
    }
}
