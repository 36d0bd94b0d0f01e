//! `ecs-sta drill`: a game day in one command. Runs doctor's checks (refusing while any
//! fails unless forced), terminates one instance that runs a task of the service through
//! Auto Scaling without lowering the desired capacity (the group replaces it), follows the
//! drain execution its lifecycle event started, samples the service's load-balancer
//! target health meanwhile, and judges: the drain completed, our CompleteLifecycleAction
//! ended the action (not a timeout, not the deadline), and serving capacity never dropped
//! below the service's minimum.
//!
//! Ctrl-C (the `interrupt` future) stops the following, never the drain: nothing here
//! stops an execution or touches the lifecycle action.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::doctor::{self, Status};
use crate::{CliError, Progress};

mod follow;
mod judge;
mod pick;
mod sample;

pub use judge::{render, Capacity, DrillReport, Verdict};
pub use pick::Target;
pub use sample::{Watched, WatchedKind};

/// Where the live lines go (stdout, or stderr under `--json`).
pub type Out<'a> = &'a (dyn Fn(&str) + Sync);

#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub doctor: doctor::Options,
    pub instance: Option<String>,
    /// How long to follow the drain at most.
    pub timeout: Duration,
    pub dry_run: bool,
    pub force: bool,
    pub sample_every: Duration,
    /// How long to wait for the execution the lifecycle event starts.
    pub start_timeout: Duration,
    /// How long to wait, after the drain, for the instance to leave the group.
    pub leave_timeout: Duration,
}

impl DrillOptions {
    pub fn validate(&self) -> Result<(), CliError> {
        self.doctor.validate()?;
        if self.doctor.state_machine_arn.is_none() {
            return Err(CliError::input(
                "the drill follows the drain: give --state-machine ARN or --stack NAME \
                 (or ECS_STA_STATE_MACHINE_ARN / ECS_STA_STACK)",
            ));
        }
        if self.doctor.services.is_empty() && self.instance.is_none() {
            return Err(CliError::input(
                "give --service S (the drill picks an instance running one of its tasks) or --instance i-...",
            ));
        }
        if self.sample_every.is_zero() || self.timeout.is_zero() || self.start_timeout.is_zero() {
            return Err(CliError::input(
                "--sample-every, --timeout and --start-timeout must be above zero",
            ));
        }
        Ok(())
    }
}

/// Runs the drill. `interrupt` resolving (Ctrl-C) stops the following.
pub async fn drill(
    clients: &doctor::Clients,
    options: &DrillOptions,
    interrupt: &mut (dyn Future<Output = ()> + Unpin + Send),
    out: Out<'_>,
    progress: Progress<'_>,
) -> Result<DrillReport, CliError> {
    let mut report = DrillReport::new(options);
    let checked = doctor::doctor(clients, &options.doctor, progress).await;
    report.doctor_failures = checked
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .cloned()
        .collect();
    if !report.doctor_failures.is_empty() {
        if !options.force {
            return Ok(report.refused());
        }
        report.forced = true;
        out(&format!(
            "!!! --force: starting the drill DESPITE {} failing doctor check(s): {}",
            report.doctor_failures.len(),
            report
                .doctor_failures
                .iter()
                .map(|c| format!("{} ({})", c.name, c.subject.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    progress("choosing the instance");
    let target = pick::choose(clients, options).await?;
    report.set_target(&target);
    let mut watched = sample::watch(&target);
    out(&pick::plan(&target, &watched, options));
    if options.dry_run {
        report.verdict = Verdict::DryRun;
        return Ok(report);
    }
    let cluster = &options.doctor.cluster;
    sample::sample(clients, cluster, &mut watched, &target.instance_id, None).await;
    let terminated_at = Utc::now();
    let started = Instant::now();
    report.activity_id = terminate(clients, &target.instance_id).await?;
    report.terminated_at = Some(terminated_at);
    out(&format!(
        "{}  TerminateInstanceInAutoScalingGroup {} (desired capacity kept: the group replaces it)",
        crate::format::timestamp(terminated_at),
        target.instance_id
    ));
    let mut run = follow::Run {
        clients,
        options,
        target: &target,
        watched: &mut watched,
        terminated_at,
        started,
        out,
        interrupt,
    };
    let outcome = run.follow().await?;
    report.load_balancers = watched.iter().map(Capacity::from).collect();
    Ok(report.judged(outcome, &watched))
}

/// The exit code of a drill: 0 only when it passed or was a dry run.
pub fn exit_code(report: &DrillReport) -> u8 {
    match report.verdict {
        Verdict::Passed | Verdict::DryRun => 0,
        _ => 1,
    }
}

/// Seconds since `started`, for the live lines.
fn elapsed(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

/// `TerminateInstanceInAutoScalingGroup`, keeping the desired capacity; the activity id.
async fn terminate(clients: &doctor::Clients, instance: &str) -> Result<Option<String>, CliError> {
    let answer = clients
        .autoscaling
        .terminate_instance_in_auto_scaling_group()
        .instance_id(instance)
        .should_decrement_desired_capacity(false)
        .send()
        .await?;
    Ok(answer
        .activity()
        .and_then(|a| a.activity_id())
        .map(str::to_string))
}

#[cfg(test)]
mod tests;
