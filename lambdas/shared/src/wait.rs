//! How long `WaitForDrain` waits before the next check.
//!
//! The Lambdas know when most of a drain should end: a load balancer finishes draining
//! its timeout after we deregistered the instance, and ECS stops a service task after
//! the target group's deregistration delay. So the first wait lasts until just after
//! that expected end, and a drain completes within about a second of its real end
//! without polling every second. Past the expected end (a replacement task that takes
//! long to place, a standalone task we wait for), the wait grows with the overdue time
//! (each check at most doubles the time waited so far), up to [`MAX_WAIT_SECONDS`].
//! It never runs past the deadline, nor past the point where the lifecycle hook needs a
//! heartbeat.
//!
//! This bounds the loop: after a few rounds every wait is [`MAX_WAIT_SECONDS`], so a
//! 48-hour drain takes about 600 rounds (about 5,400 history events, far inside Step
//! Functions' 25,000), and a hook with a short heartbeat timeout also has a short limit
//! (100 x heartbeat timeout), which keeps its rounds below 250.

use chrono::{DateTime, Utc};

use crate::state::{DrainKind, DrainState, StandaloneTasks};

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
    for arn in &state.remaining.tasks {
        let standalone = state
            .tasks
            .iter()
            .find(|task| &task.arn == arn)
            .is_some_and(|task| task.service.is_none());
        let task_end = match (standalone, state.settings.standalone_tasks) {
            (false, _) => balancers_end.unwrap_or(state.started_at),
            (true, StandaloneTasks::Stop) => {
                state.started_at
                    + crate::state::seconds(state.settings.standalone_task_grace_seconds)
            }
            (true, StandaloneTasks::Wait) => state.started_at,
        };
        end = end.max(task_end);
    }
    end
}

/// Seconds to wait before the next check, given what `state.remaining` still holds.
pub fn next_wait(state: &DrainState, now: DateTime<Utc>) -> u64 {
    if state.remaining.is_empty() {
        return 0;
    }
    let end = expected_end(state);
    let mut wait = if end > now {
        ceil_seconds(end - now) + MARGIN_SECONDS
    } else {
        ceil_seconds(now - end).max(1)
    };
    if state.request.kind == DrainKind::LifecycleAction && !state.heartbeat.action_gone {
        // Until a check has read the hook's timeout, assume the shortest AWS allows.
        let timeout = state
            .heartbeat
            .timeout_seconds
            .unwrap_or(MIN_HEARTBEAT_TIMEOUT_SECONDS);
        wait = wait.min(heartbeat_interval(timeout));
    }
    if state.deadline_at > now {
        wait = wait.min(ceil_seconds(state.deadline_at - now));
    }
    wait.clamp(1, MAX_WAIT_SECONDS)
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
        DrainState {
            request: DrainRequest {
                kind: DrainKind::LifecycleAction,
                instance_id: "i-0123456789abcdef0".into(),
                cluster: "c".into(),
                asg_name: Some("asg".into()),
                hook_name: Some("hook".into()),
                token: Some("t".into()),
                event_time: at(0),
            },
            settings: Settings {
                drain_deadline_seconds: 3600,
                deadline_result: LifecycleResult::Continue,
                standalone_tasks: standalone,
                standalone_task_grace_seconds: 600,
            },
            execution_id: None,
            started_at: at(0),
            deadline_at: at(3600),
            container_instance_arn: Some("ci".into()),
            tasks: vec![
                TrackedTask {
                    arn: "svc".into(),
                    service: Some("web".into()),
                    last_status: "RUNNING".into(),
                },
                TrackedTask {
                    arn: "job".into(),
                    service: None,
                    last_status: "RUNNING".into(),
                },
            ],
            load_balancers: Some(LoadBalancers {
                classic: vec![],
                target_groups: vec![TargetGroup {
                    arn: "tg".into(),
                    ports: vec![80],
                    draining_seconds: delay,
                }],
                deregistered_at: Some(at(2)),
            }),
            heartbeat: Heartbeat {
                timeout_seconds: Some(3600),
                last_at: Some(at(0)),
                sent: 0,
                action_gone: false,
            },
            status: DrainStatus::Draining,
            wait_seconds: 0,
            checks: 0,
            remaining: Remaining {
                tasks: vec!["svc".into()],
                classic_elbs: vec![],
                target_groups: vec!["tg".into()],
            },
            stopped_tasks: vec![],
            orphaned_tasks: vec![],
            drained_at: None,
            tasks_stopped_at: None,
            balancers_drained_at: None,
            drain_timed_out: false,
            completion: None,
        }
    }

    #[test]
    fn first_wait_ends_just_after_the_expected_drain_end() {
        let state = state(120, StandaloneTasks::Wait);
        assert_eq!(next_wait(&state, at(3)), 120);
    }

    #[test]
    fn overdue_waits_grow_geometrically_up_to_the_cap() {
        let state = state(30, StandaloneTasks::Wait);
        assert_eq!(next_wait(&state, at(33)), 1);
        assert_eq!(next_wait(&state, at(36)), 4);
        assert_eq!(next_wait(&state, at(100)), 68);
        assert_eq!(next_wait(&state, at(2000)), MAX_WAIT_SECONDS);
    }

    #[test]
    fn never_past_the_deadline_nor_the_heartbeat() {
        let mut state = state(3000, StandaloneTasks::Wait);
        assert_eq!(next_wait(&state, at(3500)), 100);
        state.heartbeat.timeout_seconds = Some(60);
        assert_eq!(next_wait(&state, at(10)), 24);
        state.heartbeat.action_gone = true;
        assert_eq!(next_wait(&state, at(10)), MAX_WAIT_SECONDS);
    }

    #[test]
    fn standalone_tasks_to_stop_are_expected_after_the_grace_period() {
        let mut state = state(30, StandaloneTasks::Stop);
        state.remaining = Remaining {
            tasks: vec!["job".into()],
            ..Remaining::default()
        };
        assert_eq!(next_wait(&state, at(100)), 300);
        assert_eq!(next_wait(&state, at(590)), 11);
    }

    #[test]
    fn before_the_hook_is_read_the_wait_assumes_the_shortest_heartbeat_timeout() {
        let mut state = state(45, StandaloneTasks::Wait);
        state.heartbeat.timeout_seconds = None;
        assert_eq!(next_wait(&state, at(3)), 12);
        state.request.kind = DrainKind::SpotInterruption;
        assert_eq!(next_wait(&state, at(3)), 45);
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
            rounds += 1;
        }
        // Wait + Task + Choice add about 9 history events a round.
        assert!(rounds * 9 < 6_000, "{rounds} rounds");
    }
}
