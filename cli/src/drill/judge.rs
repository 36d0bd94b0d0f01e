//! The drill's report and verdict: passed only when the drain completed, our
//! CompleteLifecycleAction ended the action (not a timeout, not the deadline), and no
//! watched load balancer served fewer healthy registrations than the service's minimum.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::state::{CompletionOutcome, DrainState};

use super::follow::{Execution, Outcome, TERMINATED};
use super::pick::Target;
use super::sample::Watched;
use super::DrillOptions;
use crate::doctor::Check;
use crate::format::duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// Until it is judged, a drill has not passed.
    #[default]
    Failed,
    /// Doctor found failures and `--force` was not given: nothing was done.
    Refused,
    DryRun,
    /// Ctrl-C: following stopped, the drain went on.
    Interrupted,
}

/// The serving capacity one load balancer kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    pub service: String,
    pub load_balancer: String,
    /// The service's minimum: ceil(minimumHealthyPercent x desired / 100).
    pub minimum: u64,
    pub fewest_healthy: Option<u64>,
    pub samples: u32,
    pub replacement_healthy_after_seconds: Option<f64>,
    pub sample_errors: usize,
}

impl From<&Watched> for Capacity {
    fn from(w: &Watched) -> Self {
        Self {
            service: w.service.clone(),
            load_balancer: w.label.clone(),
            minimum: w.minimum,
            fewest_healthy: w.fewest,
            samples: w.samples,
            replacement_healthy_after_seconds: w.replacement_after,
            sample_errors: w.errors.len(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrillReport {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub forced: bool,
    pub doctor_failures: Vec<Check>,
    pub dry_run: bool,
    pub instance_id: Option<String>,
    pub asg: Option<String>,
    pub services: Vec<String>,
    pub activity_id: Option<String>,
    pub terminated_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub execution: Execution,
    /// From the termination to a new registration healthy in every watched load balancer.
    pub replacement_healthy_after_seconds: Option<f64>,
    pub load_balancers: Vec<Capacity>,
    #[serde(flatten)]
    pub drain: Drained,
}

/// What the drain's final state (the execution's output) says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drained {
    pub heartbeats_sent: Option<u32>,
    /// `completed` (by us), `already_completed` (someone else, or a timeout), ...
    pub completion_outcome: Option<String>,
    pub completion_result: Option<String>,
    pub completed_by_us: bool,
    pub drain_timed_out: Option<bool>,
}

impl From<&DrainState> for Drained {
    fn from(state: &DrainState) -> Self {
        let completion = state.report.completion.as_ref();
        Self {
            heartbeats_sent: Some(state.heartbeat.sent),
            completion_outcome: completion.map(|c| c.outcome.as_str().to_string()),
            completion_result: completion
                .and_then(|c| c.result)
                .map(|r| r.as_str().to_string()),
            completed_by_us: completion.is_some_and(|c| c.outcome == CompletionOutcome::Completed),
            drain_timed_out: Some(state.timed_out()),
        }
    }
}

impl DrillReport {
    pub fn new(options: &DrillOptions) -> Self {
        Self {
            dry_run: options.dry_run,
            ..Self::default()
        }
    }

    pub fn refused(mut self) -> Self {
        self.verdict = Verdict::Refused;
        self.reasons.push(format!(
            "doctor found {} failing check(s): fix them first (`ecs-sta doctor`), or give --force",
            self.doctor_failures.len()
        ));
        self
    }

    pub fn set_target(&mut self, target: &Target) {
        self.instance_id = Some(target.instance_id.clone());
        self.asg = Some(target.asg.clone());
        self.services = target.services.iter().map(|s| s.name.clone()).collect();
    }

    /// Takes in what following found and decides.
    pub fn judged(mut self, outcome: Outcome, watched: &[Watched]) -> Self {
        self.execution = outcome.execution.clone();
        self.replacement_healthy_after_seconds = replacement(watched);
        if let Some(state) = &outcome.state {
            self.drain = Drained::from(state);
        }
        self.reasons = reasons(&outcome, &self, watched);
        self.verdict = if outcome.interrupted {
            Verdict::Interrupted
        } else if self.reasons.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        };
        self
    }
}

/// A replacement is healthy once every watched load balancer has one.
fn replacement(watched: &[Watched]) -> Option<f64> {
    let balancers: Vec<_> = watched
        .iter()
        .filter(|w| !matches!(w.kind, super::WatchedKind::Tasks(_)))
        .collect();
    if balancers.is_empty() {
        return None;
    }
    balancers
        .iter()
        .map(|w| w.replacement_after)
        .try_fold(0.0_f64, |latest, after| after.map(|a| latest.max(a)))
}

/// Why the drill did not pass (empty: it passed).
fn reasons(outcome: &Outcome, report: &DrillReport, watched: &[Watched]) -> Vec<String> {
    let mut reasons = Vec::new();
    if outcome.interrupted {
        reasons.push(match &outcome.execution.arn {
            Some(arn) => {
                format!("interrupted: stopped following; the drain goes on (`ecs-sta show {arn}`)")
            }
            None => "interrupted: stopped following before a drain execution was found".to_string(),
        });
        return reasons;
    }
    let Some(arn) = &outcome.execution.arn else {
        reasons.push(
            "no drain execution started for the instance: the rule, the hook or the event delivery is broken \
             (run `ecs-sta doctor`); the instance waits in Terminating:Wait until the sweeper starts a drain or \
             the hook's heartbeat timeout applies its default result"
                .to_string(),
        );
        return reasons;
    };
    match outcome.execution.status.as_deref() {
        Some("SUCCEEDED") => {}
        Some(status) => {
            reasons.push(format!(
            "the drain execution ended {status}{}: see `ecs-sta show {arn}`, then `ecs-sta replay`",
            outcome.execution.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        ))
        }
        None if outcome.timed_out => reasons.push(format!(
            "the drain was still running when the drill's --timeout passed: `ecs-sta show {arn}`"
        )),
        None => reasons.push("the drain's end was not seen".to_string()),
    }
    if let Some(error) = &outcome.output_error {
        reasons.push(format!("cannot read the drain's output: {error}"));
    }
    if outcome.execution.status.as_deref() == Some("SUCCEEDED") {
        if report.drain.drain_timed_out == Some(true) {
            reasons.push("the drain reached its deadline: the action was completed without the instance being drained".to_string());
            if report.replacement_healthy_after_seconds.is_none()
                && !report.load_balancers.is_empty()
            {
                reasons.push(
                    "no replacement became healthy in the service's load balancers, so ECS kept the old task \
                     until the deadline: does the health check pass on the free instances?"
                        .to_string(),
                );
            }
        }
        if !report.drain.completed_by_us {
            reasons.push(format!(
                "our CompleteLifecycleAction did not end the action (completion: {}): it ended otherwise (a timeout, another hook, someone else)",
                report.drain.completion_outcome.as_deref().unwrap_or("none")
            ));
        }
    }
    for w in watched {
        if let Some(fewest) = w.fewest.filter(|f| *f < w.minimum) {
            reasons.push(format!(
                "{}: {fewest} healthy serving at the lowest, below the service's minimum {}",
                w.label, w.minimum
            ));
        }
        // A sample not taken may have been the lowest: what was not seen is not passed.
        if let Some(first) = w.errors.first() {
            reasons.push(format!(
                "{}: {} of {} samples could not be taken, so serving was not watched throughout (first: {first})",
                w.label,
                w.errors.len(),
                w.errors.len() + w.samples as usize,
            ));
        }
    }
    reasons
}

/// The report in words.
pub fn render(report: &DrillReport) -> String {
    let mut lines = vec![String::new()];
    if let Some(instance) = &report.instance_id {
        lines.push(format!(
            "instance            {instance} ({})",
            report.asg.as_deref().unwrap_or("-")
        ));
    }
    if !report.dry_run && report.verdict != Verdict::Refused {
        lines.extend(drain_lines(report));
    }
    for failure in &report.doctor_failures {
        lines.push(format!(
            "doctor FAIL         {} {}: {}",
            failure.name,
            failure.subject.as_deref().unwrap_or(""),
            failure.detail
        ));
    }
    let verdict = match report.verdict {
        Verdict::Passed => "PASSED: drained, completed by us, capacity kept".to_string(),
        Verdict::DryRun => "DRY RUN: nothing was done".to_string(),
        Verdict::Refused => "REFUSED".to_string(),
        Verdict::Failed => "FAILED".to_string(),
        Verdict::Interrupted => "INTERRUPTED".to_string(),
    };
    lines.push(format!("\n{verdict}"));
    lines.extend(report.reasons.iter().map(|r| format!("  - {r}")));
    if report
        .execution
        .instance_final_state
        .as_deref()
        .is_some_and(|s| s != TERMINATED)
        && report.verdict == Verdict::Passed
    {
        lines.push("  (the instance had not left the group yet)".to_string());
    }
    lines.join("\n") + "\n"
}

/// What the drain did: its execution, how long it and the replacement took, the serving
/// capacity seen, the heartbeats and the lifecycle action.
fn drain_lines(report: &DrillReport) -> Vec<String> {
    let secs = |v: Option<f64>| v.map(duration).unwrap_or_else(|| "-".to_string());
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let mut lines = vec![
        format!(
            "execution           {} {}",
            report.execution.arn.as_deref().unwrap_or("none"),
            report.execution.status.as_deref().unwrap_or("")
        ),
        format!(
            "drain completed     {} after the termination",
            secs(report.execution.completed_after_seconds)
        ),
        format!(
            "replacement healthy {} after the termination",
            secs(report.replacement_healthy_after_seconds)
        ),
    ];
    for lb in &report.load_balancers {
        lines.push(format!(
            "serving             {}: fewest healthy {} (minimum {}, {} samples)",
            lb.load_balancer,
            or_dash(lb.fewest_healthy.map(|f| f.to_string())),
            lb.minimum,
            lb.samples
        ));
    }
    lines.push(format!(
        "heartbeats sent     {}",
        or_dash(report.drain.heartbeats_sent.map(|h| h.to_string()))
    ));
    lines.push(format!(
        "lifecycle action    {}{}",
        report.drain.completion_outcome.as_deref().unwrap_or("-"),
        if report.drain.completed_by_us {
            " by our CompleteLifecycleAction"
        } else {
            ""
        }
    ));
    lines.push(format!(
        "instance now        {}",
        report
            .execution
            .instance_final_state
            .as_deref()
            .unwrap_or("-")
    ));
    lines
}
