//! Where a failed, timed-out or aborted drain stopped, and what remains to do: the state
//! it stopped in, how far the drain had come, and what a replay does.

use serde::Serialize;
use sta_shared::state::{DrainStatus, Trigger};

use super::{StateVisit, Timeline};
use crate::format::timestamp;

/// Where an execution that did not succeed stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// The state it stopped in (`None` when it stopped between states).
    pub state: Option<String>,
    /// The error a `Catch` took it to that state with, and the state that raised it.
    pub caught: Option<(String, String)>,
    /// How far the drain had come: `after the instance drained`, ...
    pub during: String,
    /// What remains to do.
    pub remains: String,
    /// What `ecs-sta replay` does for it.
    pub replay: String,
}

impl Stop {
    /// `at CompleteLifecycleAction, after the instance drained`.
    pub fn place(&self) -> String {
        let mut text = match &self.state {
            Some(state) => format!("at {state}"),
            None => "between states".to_string(),
        };
        if let Some((error, raised_in)) = &self.caught {
            text.push_str(&format!(" ({error} caught in {raised_in})"));
        }
        format!("{text}, {}", self.during)
    }
}

/// Where the execution stopped, if it failed, timed out or was aborted.
pub(super) fn stop(timeline: &Timeline) -> Option<Stop> {
    if !matches!(timeline.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return None;
    }
    let visits: Vec<&StateVisit> = timeline.visits().collect();
    let at = visits.iter().rposition(|visit| visit.failed.is_some());
    let state = at.map(|index| visits[index]);
    // A Fail state fails again when redriven; reached through a Catch (`InvalidEvent` into
    // `RejectInvalidEvent`), the event was refused before anything was done.
    let fail_state = state.is_some_and(|visit| visit.state_type == "Fail");
    let caught = at
        .filter(|_| fail_state)
        .and_then(|index| visits[..index].iter().rev().find(|v| v.caught.is_some()))
        .and_then(|visit| Some((visit.caught.clone()?, visit.name.clone())));
    let refused = caught.is_some();
    let state = state.map(|visit| visit.name.clone());
    let replay = replay(timeline, state.as_deref(), fail_state, refused);
    Some(Stop {
        during: during(timeline.drain_status),
        remains: remains(timeline, refused),
        replay,
        state,
        caught,
    })
}

fn during(status: Option<DrainStatus>) -> String {
    match status {
        None => "before the drain started",
        Some(DrainStatus::Draining) => "while the instance was draining",
        Some(DrainStatus::Drained) => "after the instance drained",
        Some(DrainStatus::DeadlinePassed) => "after the drain deadline passed",
        Some(DrainStatus::ActionEnded) => "after finding the lifecycle action ended",
        Some(DrainStatus::NotInCluster) => "for an instance outside the cluster",
    }
    .into()
}

fn remains(timeline: &Timeline, refused: bool) -> String {
    let phases = &timeline.phases;
    if refused {
        return "nothing: the event was refused, nothing was drained or completed".into();
    }
    if let Some(completion) = &timeline.completion {
        return format!("nothing: the lifecycle action is {}", completion.text());
    }
    let status = timeline.drain_status;
    if matches!(
        status,
        Some(DrainStatus::ActionEnded | DrainStatus::NotInCluster)
    ) {
        return "nothing: the drain had nothing to do".into();
    }
    let draining = match status {
        None => Some("the container instance may not be DRAINING yet".to_string()),
        Some(DrainStatus::Draining) => Some(format!(
            "the drain is not finished ({} task(s) and {} load balancer(s) left at the last check)",
            phases.remaining_tasks, phases.remaining_balancers
        )),
        _ => None,
    };
    if phases.kind == Some(Trigger::SpotInterruption.kind()) {
        return draining.unwrap_or_else(|| {
            "nothing: the instance drained (a Spot interruption has no lifecycle action)".into()
        });
    }
    let mut parts: Vec<String> = draining.into_iter().collect();
    let mut action = "the lifecycle action is not completed".to_string();
    if let (Some(timeout), Some(last)) =
        (phases.heartbeat_timeout_seconds, phases.last_heartbeat_at)
    {
        let expires = last + sta_shared::state::seconds(timeout);
        action.push_str(&if expires > timeline.read_at {
            format!(
                " (the hook's heartbeat timeout ends it at {} with the hook's default result)",
                timestamp(expires)
            )
        } else {
            format!(
                " (the hook's heartbeat timeout passed at {}: Auto Scaling ended it with the \
                 hook's default result)",
                timestamp(expires)
            )
        });
    }
    parts.push(action);
    parts.join("; ")
}

fn replay(timeline: &Timeline, state: Option<&str>, fail_state: bool, refused: bool) -> String {
    if refused {
        return "a replay fails there again: the event cannot be identified".into();
    }
    if fail_state {
        return "a replay fails there again: it is a Fail state".into();
    }
    let place = match state {
        Some(state) => format!("resumes at {state}"),
        None => "resumes where it stopped".into(),
    };
    let mut text = format!("`ecs-sta replay` {place}");
    if timeline.completion.is_some() {
        text.push_str(" (the action then counts as already completed)");
    }
    text
}

#[cfg(test)]
mod tests;
