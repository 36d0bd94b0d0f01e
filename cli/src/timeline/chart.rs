//! The drain on a time scale: one row per phase (each Task state, the waits, the task
//! replacement, each load balancer's draining, the heartbeats, the redrives), each with
//! its marks in seconds from the execution's start. The terminal (`bars`) and the SVG
//! file (`svg`) draw the same chart.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::drain::{Balancer, BalancerKind, Phases};
use super::{StateVisit, Timeline};
use crate::format::{clip, duration, seconds_between};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// The execution's start: second 0.
    pub start: DateTime<Utc>,
    /// Seconds from `start` to the right edge (the execution's end or the last mark).
    pub span_seconds: f64,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub label: String,
    pub marks: Vec<Mark>,
    pub note: String,
}

/// A span (or, `from == to`, a moment) in seconds from the chart's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mark {
    pub from: f64,
    pub to: f64,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// A Task state ran (one of our Lambdas, with its retries).
    Step,
    /// A Wait state.
    Wait,
    /// The tasks moving off the instance: from DRAINING until every one was seen stopped.
    Tasks,
    /// A load balancer draining the instance, for its configured timeout.
    Draining,
    /// A replacement task becoming healthy in a load balancer left to ECS (expected from
    /// its health check).
    Healthy,
    /// A moment: a heartbeat, a redrive, everything seen drained, a deregistration.
    Point,
    /// Where the execution failed.
    Failed,
}

impl MarkKind {
    /// What the kind means, for the legends.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Step => "step ran",
            Self::Wait => "wait",
            Self::Tasks => "tasks moving",
            Self::Draining => "draining (its timeout)",
            Self::Healthy => "replacement getting healthy (expected)",
            Self::Point => "event",
            Self::Failed => "failed",
        }
    }

    pub const ALL: [MarkKind; 7] = [
        Self::Step,
        Self::Wait,
        Self::Tasks,
        Self::Draining,
        Self::Healthy,
        Self::Point,
        Self::Failed,
    ];
}

impl Chart {
    /// The chart of a timeline that has started.
    pub fn of(timeline: &Timeline) -> Option<Chart> {
        let start = timeline.started?;
        let end = seconds_between(start, timeline.end());
        let at = |time: DateTime<Utc>| seconds_between(start, time);
        let mut rows = phase_rows(timeline, &at, end);
        rows.extend(state_rows(timeline, &at, end));
        rows.extend(moment_rows(timeline, &at));
        rows.retain(|row| !row.marks.is_empty());
        // A waterfall: rows in the order their first mark starts (on a tie, a phase before
        // the state that starts with it).
        rows.sort_by(|a, b| a.first().total_cmp(&b.first()));
        let last = rows.iter().flat_map(|row| &row.marks).map(|mark| mark.to);
        let span = last.fold(end, f64::max).max(1.0);
        Some(Chart {
            start,
            span_seconds: span,
            rows,
        })
    }
}

impl Row {
    fn new(label: impl Into<String>, note: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            marks: Vec::new(),
            note: note.into(),
        }
    }

    fn first(&self) -> f64 {
        self.marks
            .iter()
            .map(|mark| mark.from)
            .fold(f64::MAX, f64::min)
    }

    fn mark(&mut self, from: f64, to: f64, kind: MarkKind) {
        self.marks.push(Mark {
            from,
            to: to.max(from),
            kind,
        });
    }

    fn point(&mut self, at: f64) {
        self.mark(at, at, MarkKind::Point);
    }
}

/// One row per state that takes time or fails (not Choice, Pass, Succeed), in the order
/// first entered; every visit of the state on its row.
fn state_rows(timeline: &Timeline, at: &dyn Fn(DateTime<Utc>) -> f64, end: f64) -> Vec<Row> {
    let mut names: Vec<&str> = Vec::new();
    for visit in timeline.visits() {
        if matches!(visit.state_type.as_str(), "Task" | "Wait" | "Fail")
            && !names.contains(&visit.name.as_str())
        {
            names.push(&visit.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let visits: Vec<&StateVisit> = timeline.visits().filter(|v| v.name == name).collect();
            let mut row = Row::new(name, state_note(&visits));
            for visit in &visits {
                let from = at(visit.entered);
                let to = visit.exited.map_or(end, at);
                let kind = match visit.state_type.as_str() {
                    "Wait" => MarkKind::Wait,
                    _ => MarkKind::Step,
                };
                row.mark(from, to, kind);
                if visit.failed.is_some() {
                    row.mark(to, to, MarkKind::Failed);
                }
            }
            row
        })
        .collect()
}

fn state_note(visits: &[&StateVisit]) -> String {
    let total = duration(visits.iter().map(|visit| visit.duration_seconds).sum());
    match visits {
        [] => String::new(),
        [only] if only.state_type == "Wait" => only.note(),
        [only] => match only.note() {
            note if note.is_empty() => total,
            note => clip(&format!("{total}; {note}"), 70),
        },
        [.., last] if last.state_type == "Wait" => {
            format!("{} waits, {total} in all", visits.len())
        }
        [.., last] => clip(
            &format!(
                "{} runs, {total} in all; last: {}",
                visits.len(),
                last.note()
            ),
            70,
        ),
    }
}

/// The task replacement and each load balancer's draining, from the drain state.
fn phase_rows(timeline: &Timeline, at: &dyn Fn(DateTime<Utc>) -> f64, end: f64) -> Vec<Row> {
    let phases = &timeline.phases;
    let mut rows: Vec<Row> = task_row(phases, at, end).into_iter().collect();
    let Some(base) = phases.deregistered_at.or(phases.draining_from) else {
        return rows;
    };
    let drained = phases.balancers_drained_at.map(at);
    rows.extend(
        phases
            .balancers
            .iter()
            .map(|balancer| balancer_row(balancer, at(base), drained)),
    );
    rows
}

/// From DRAINING until every task recorded at the start was seen stopped.
fn task_row(phases: &Phases, at: &dyn Fn(DateTime<Utc>) -> f64, end: f64) -> Option<Row> {
    let from = phases.draining_from.filter(|_| phases.tasks > 0)?;
    let note = match phases.tasks_stopped_at {
        Some(stopped) => format!(
            "{} task(s) seen stopped {} after DRAINING",
            phases.tasks,
            duration(seconds_between(from, stopped))
        ),
        None => format!(
            "{} of {} task(s) left",
            phases.remaining_tasks, phases.tasks
        ),
    };
    let mut row = Row::new("task replacement", note);
    row.mark(
        at(from),
        phases.tasks_stopped_at.map_or(end, at),
        MarkKind::Tasks,
    );
    Some(row)
}

/// A load balancer's draining from `base` (its deregistration) for its timeout; for one
/// left to ECS, after the replacement's expected health-check time.
fn balancer_row(balancer: &Balancer, base: f64, drained: Option<f64>) -> Row {
    let draining = balancer.draining_seconds as f64;
    let mut row = Row::new(balancer.label(), "");
    if let Some(healthy) = balancer.healthy_after_seconds {
        let healthy = healthy as f64;
        row.mark(base, base + healthy, MarkKind::Healthy);
        row.mark(
            base + healthy,
            base + healthy + draining,
            MarkKind::Draining,
        );
        row.note = format!(
            "left to ECS: replacement healthy after ~{}, then draining {}",
            duration(healthy),
            duration(draining)
        );
    } else {
        row.mark(base, base + draining, MarkKind::Draining);
        row.note = format!("draining {}", duration(draining));
        if let Some(drained) = drained.filter(|_| balancer.kind != BalancerKind::ServiceManaged) {
            row.point(drained);
            row.note
                .push_str(&format!("; all seen drained at +{}", duration(drained)));
        }
    }
    if balancer.connections_outlive_delay {
        row.note
            .push_str("; NLB: open connections outlive the delay");
    }
    row
}

/// Heartbeats, redrives and a passed deadline.
fn moment_rows(timeline: &Timeline, at: &dyn Fn(DateTime<Utc>) -> f64) -> Vec<Row> {
    let mut heartbeats = Row::new("heartbeats", format!("{} sent", timeline.counts.heartbeats));
    for visit in timeline.visits().filter(|visit| visit.new_heartbeats > 0) {
        heartbeats.point(at(visit.exited.unwrap_or(visit.entered)));
    }
    let mut redrives = Row::new(
        "redriven",
        format!("{} redrive(s)", timeline.counts.redrives),
    );
    for entry in &timeline.entries {
        if let super::Entry::Redriven { at: when, .. } = entry {
            redrives.point(at(*when));
        }
    }
    let mut rows = vec![heartbeats, redrives];
    let phases = &timeline.phases;
    if let Some(deadline) = phases
        .deadline_at
        .filter(|deadline| *deadline <= timeline.end())
    {
        let mut row = Row::new("deadline", format!("passed at +{}", duration(at(deadline))));
        row.point(at(deadline));
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests;
