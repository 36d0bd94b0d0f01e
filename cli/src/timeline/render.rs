//! The text of `ecs-sta show`: a summary, the chart, then one line per state visit and
//! redrive.

use chrono::{DateTime, Utc};
use sta_shared::pool_return::ATTRIBUTE;
use sta_shared::state::DrainStatus;

use super::bars::bars;
use super::{Chart, Entry, Timeline};
use crate::format::{cause_message, duration, seconds_between, table, timestamp};

/// The whole text of `ecs-sta show`.
pub fn render(timeline: &Timeline) -> String {
    let mut out = summary(timeline);
    out.push('\n');
    if let Some(chart) = Chart::of(timeline) {
        out.push_str(&bars(&chart));
        out.push('\n');
    }
    out.push_str(&visits(timeline));
    out
}

/// `name        value` lines; empty values are left out.
fn summary(timeline: &Timeline) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        ("execution", timeline.execution_arn.clone()),
        (
            "instance",
            format!(
                "{}  asg {}",
                timeline.target.instance_id.as_deref().unwrap_or("-"),
                timeline.target.asg_name.as_deref().unwrap_or("-")
            ),
        ),
        ("status", status(timeline)),
    ];
    if let Some(stop) = &timeline.stop {
        fields.push(("to do", format!("{}; {}", stop.remains, stop.replay)));
    }
    fields.push(("time", time(timeline)));
    fields.push((
        "drain",
        format!(
            "{} checks, waited {}, {} heartbeats, {} retries, {} redrives",
            timeline.counts.checks,
            duration(timeline.counts.waited_seconds),
            timeline.counts.heartbeats,
            timeline.counts.retries,
            timeline.counts.redrives
        ),
    ));
    fields.extend(notes(timeline));
    if let Some(completion) = &timeline.completion {
        fields.push(("completion", completion.text()));
    }
    if let Some(error) = &timeline.error {
        fields.push(("error", error.clone()));
    }
    if let Some(cause) = &timeline.cause {
        fields.push(("cause", cause_message(cause).replace('\n', " ")));
    }
    fields
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name:<12}{value}\n"))
        .collect()
}

/// `SUCCEEDED  drain drained`, or where a stopped execution stopped.
pub(super) fn status(timeline: &Timeline) -> String {
    if let Some(stop) = &timeline.stop {
        return format!("{} {}", timeline.status, stop.place());
    }
    let mut status = timeline.status.clone();
    if let Some(drain) = timeline.drain_status {
        status.push_str(&format!("  drain {}", drain.as_str()));
    }
    if timeline.drain_status == Some(DrainStatus::DeadlinePassed) {
        status.push_str("  (deadline passed)");
    }
    status
}

fn time(timeline: &Timeline) -> String {
    let Some(started) = timeline.started else {
        return String::new();
    };
    let mut text = timestamp(started);
    if let Some(stopped) = timeline.stopped {
        text.push_str(&format!(" -> {}", timestamp(stopped)));
    }
    if let Some(seconds) = timeline.duration_seconds {
        text.push_str(&format!("  ({})", duration(seconds)));
    }
    text
}

/// What is unusual about the drain: orphaned tasks, an action already ended, the warm pool.
fn notes(timeline: &Timeline) -> Vec<(&'static str, String)> {
    let mut notes = Vec::new();
    if !timeline.orphaned_tasks.is_empty() {
        notes.push((
            "orphaned",
            format!(
                "{} service task(s) not waited for: the container instance was deregistered \
                 mid-drain ({})",
                timeline.orphaned_tasks.len(),
                timeline.orphaned_tasks.join(", ")
            ),
        ));
    }
    if timeline.drain_status == Some(DrainStatus::ActionEnded) {
        let note = match (timeline.phases.draining_from, timeline.phases.superseded) {
            (None, _) => {
                "the lifecycle action had already ended when the drain began (a late or \
                 repeated event, or the instance gone): nothing was changed"
            }
            (Some(_), false) => {
                "the lifecycle action ended mid-drain and the instance was no longer leaving \
                 (back in service from a warm pool, in standby, or detaching): the drain stopped \
                 there and changed nothing more; its container instance may still be DRAINING \
                 (ecs-sta doctor lists it)"
            }
            (Some(_), true) => {
                "the lifecycle action ended mid-drain and the instance was leaving under a newer \
                 one (reused from a warm pool), which has a drain of its own: this drain stopped \
                 there and changed nothing more"
            }
        };
        notes.push(("note", note.to_string()));
    }
    if timeline.phases.unconfirmed && timeline.phases.drained_at.is_none() {
        notes.push((
            "note",
            "Auto Scaling has taken none of the drain's heartbeats (\"No active Lifecycle Action \
             found\" while the instance still waits): it may not show the action yet, or an \
             earlier execution of the same event completed it while another terminate hook holds \
             the instance. The drain checks again, heartbeating, until a heartbeat is taken, the \
             instance stops waiting, or the hook's heartbeat timeout has passed since the action \
             began"
                .to_string(),
        ));
    }
    if timeline.phases.back_to_warm_pool {
        notes.push((
            "warm pool",
            format!(
                "the instance goes back to the warm pool: its container instance stays \
                 registered, DRAINING, marked {ATTRIBUTE} for the sweeper to set it ACTIVE \
                 once the instance is back in service"
            ),
        ));
    }
    notes
}

/// One line per state visit and redrive.
fn visits(timeline: &Timeline) -> String {
    let start = timeline.started;
    let offset = |at: DateTime<Utc>| match start {
        Some(start) => format!("+{}", duration(seconds_between(start, at))),
        None => timestamp(at),
    };
    let rows: Vec<Vec<String>> = timeline
        .entries
        .iter()
        .map(|entry| match entry {
            Entry::State(visit) => vec![
                offset(visit.entered),
                visit.name.clone(),
                duration(visit.duration_seconds),
                visit.note(),
            ],
            Entry::Redriven { at, redrive_count } => vec![
                offset(*at),
                "(redriven)".into(),
                String::new(),
                match redrive_count {
                    Some(count) => format!("redrive {count}: resumes at the state that failed"),
                    None => "resumes at the state that failed".into(),
                },
            ],
        })
        .collect();
    table(&["AT", "STATE", "DURATION", "NOTE"], &rows)
}
