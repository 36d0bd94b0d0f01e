//! `ecs-sta doctor`: reads a live deployment (read-only calls only) and reports each
//! configuration a drain depends on as PASS, WARN or FAIL, with what to do about it.
//!
//! The checks come in areas, one module each, run in order because later ones use what
//! earlier ones learnt: the drain state machine, its rule and settings ([`machine`]),
//! the Auto Scaling groups and their hooks ([`hooks`]), the cluster, its capacity
//! providers and container instances ([`fleet`]), the services' N+1 and deployment
//! configuration ([`services`]) and their load balancers ([`balancers`]). A call that
//! fails becomes a FAIL naming the call, never a crash: the other checks still run.

use std::future::Future;

use serde::Serialize;
use sta_shared::batches::{in_batches, DESCRIBE_BATCH};

use crate::{CliError, Progress};

pub mod args;
pub mod balancers;
pub mod fleet;
pub mod hooks;
pub mod machine;
pub mod services;

/// What the sweeper's period is assumed to be when the stack does not say (infra's default).
pub const DEFAULT_SWEEP_PERIOD_SECONDS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One finding: `name` says which check (stable, for scripts), `subject` what it is about
/// (a group, a service, a load balancer), `fix` what to do when it is not a PASS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub subject: Option<String>,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, subject: Option<&str>, detail: impl Into<String>) -> Self {
        Self::new(name, subject, Status::Pass, detail.into(), None)
    }

    pub fn warn(
        name: &'static str,
        subject: Option<&str>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(name, subject, Status::Warn, detail.into(), Some(fix.into()))
    }

    pub fn fail(
        name: &'static str,
        subject: Option<&str>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(name, subject, Status::Fail, detail.into(), Some(fix.into()))
    }

    /// A call the check needed failed: the check cannot say PASS.
    pub fn unreadable(name: &'static str, subject: Option<&str>, error: &crate::CliError) -> Self {
        Self::fail(
            name,
            subject,
            format!("could not read it: {error}"),
            "allow the operator's credentials the read-only calls README.md lists for `ecs-sta doctor`, \
             or retry when the service answers",
        )
    }

    fn new(
        name: &'static str,
        subject: Option<&str>,
        status: Status,
        detail: String,
        fix: Option<String>,
    ) -> Self {
        Self {
            name,
            subject: subject.map(str::to_string),
            status,
            detail,
            fix,
        }
    }
}

/// What a read answered, or `None` after adding to `checks` that check `name` (about
/// `subject`) could not read it.
pub fn readable<T>(
    answer: Result<T, crate::CliError>,
    name: &'static str,
    subject: Option<&str>,
    checks: &mut Vec<Check>,
) -> Option<T> {
    match answer {
        Ok(answer) => Some(answer),
        Err(error) => {
            checks.push(Check::unreadable(name, subject, &error));
            None
        }
    }
}

/// The answers of a Describe call for every id a List call pages through, [`DESCRIBE_BATCH`]
/// ids a call (ListContainerInstances then DescribeContainerInstances, ListTasks then
/// DescribeTasks).
pub async fn listed_and_described<O, L, D, F>(
    list: impl Future<Output = Result<Vec<String>, L>>,
    describe: impl FnMut(Vec<String>) -> F,
) -> Result<Vec<O>, CliError>
where
    F: Future<Output = Result<O, D>>,
    CliError: From<L> + From<D>,
{
    let ids = list.await?;
    Ok(in_batches(&ids, DESCRIBE_BATCH, describe).await?)
}

/// The AWS clients doctor reads with.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sfn: aws_sdk_sfn::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub application_autoscaling: aws_sdk_applicationautoscaling::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            sfn: aws_sdk_sfn::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            application_autoscaling: aws_sdk_applicationautoscaling::Client::new(config),
        }
    }
}

/// The name in a name or an ARN (`arn:aws:ecs:...:cluster/prod` names `prod`; a service's
/// `.../service/prod/web`, `web`).
pub fn short_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    pub cluster: String,
    pub asgs: Vec<String>,
    /// Empty: every service of the cluster.
    pub services: Vec<String>,
    pub state_machine_arn: Option<String>,
    /// The stack that deployed it (for the sweeper's schedule and the replay command).
    pub stack: Option<String>,
    /// The sweeper's period when the stack does not tell it (`None`: infra's default).
    pub sweep_period_seconds: Option<u64>,
    /// N of N+1.
    pub n_count: u64,
    /// Our terminate hook's name, when the rule's pattern does not say.
    pub hook: Option<String>,
}

impl Options {
    /// Refuses what cannot be right before any call (exit code 2).
    pub fn validate(&self) -> Result<(), crate::CliError> {
        let input = crate::CliError::input;
        if self.cluster.trim().is_empty() {
            return Err(input("--cluster: the cluster name is empty"));
        }
        if self.asgs.is_empty() || self.asgs.iter().any(|name| name.trim().is_empty()) {
            return Err(input(
                "--asg: give the managed Auto Scaling groups, comma-separated (A,B)",
            ));
        }
        if self.services.iter().any(|name| name.trim().is_empty()) {
            return Err(input("--service: a service name is empty"));
        }
        if self.sweep_period_seconds == Some(0) {
            return Err(input("--sweep-period: must be at least 1s"));
        }
        Ok(())
    }
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub cluster: String,
    pub state_machine_arn: Option<String>,
    /// The drain deadline read from the state machine's definition.
    pub drain_deadline_seconds: Option<u64>,
    pub sweep_period_seconds: u64,
    /// Where the sweep period came from: the stack's schedule, `--sweep-period`, or the default.
    pub sweep_period_source: String,
    pub hook_names: Vec<String>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Whether nothing fails (with `strict`, nothing warns either).
    pub fn ok(&self, strict: bool) -> bool {
        let worst = if strict { Status::Warn } else { Status::Fail };
        !self.checks.iter().any(|check| check.status >= worst)
    }

    /// The checks that keep [`Report::ok`] false.
    pub fn blocking(&self, strict: bool) -> Vec<&Check> {
        let worst = if strict { Status::Warn } else { Status::Fail };
        self.checks.iter().filter(|c| c.status >= worst).collect()
    }
}

/// The report as `--json` prints it: the verdict, the counts, then every check.
#[derive(Debug, Serialize)]
pub struct Verdict<'a> {
    pub ok: bool,
    pub strict: bool,
    pub fail: usize,
    pub warn: usize,
    pub pass: usize,
    #[serde(flatten)]
    pub report: &'a Report,
}

impl Report {
    pub fn verdict(&self, strict: bool) -> Verdict<'_> {
        Verdict {
            ok: self.ok(strict),
            strict,
            fail: self.count(Status::Fail),
            warn: self.count(Status::Warn),
            pass: self.count(Status::Pass),
            report: self,
        }
    }
}

/// Runs every check against the live deployment `options` names.
pub async fn doctor(clients: &Clients, options: &Options, progress: Progress<'_>) -> Report {
    let now = chrono::Utc::now();
    let mut checks = Vec::new();
    progress("reading the drain state machine and its rules");
    let drain = machine::check(clients, options, now, &mut checks).await;
    progress("reading the Auto Scaling groups and their hooks");
    let groups = hooks::check(clients, options, &drain, &mut checks).await;
    progress("reading the cluster and its container instances");
    let fleet = fleet::check(clients, options, &groups, &mut checks).await;
    progress("reading the services");
    let scalers = drain.scalers.as_deref();
    let services = services::check(clients, options, &fleet, scalers, &mut checks).await;
    progress("reading the load balancers");
    balancers::check(clients, &drain, &services, &groups.found, &mut checks).await;
    Report {
        cluster: options.cluster.clone(),
        state_machine_arn: options.state_machine_arn.clone(),
        drain_deadline_seconds: drain.settings.map(|s| s.drain_deadline_seconds),
        sweep_period_seconds: drain.sweep.seconds,
        sweep_period_source: drain.sweep.source.clone(),
        hook_names: drain.hook_names.iter().cloned().collect(),
        checks,
    }
}

/// One line a check, its fix indented below it, then the counts.
pub fn render(report: &Report, strict: bool) -> String {
    let mut rows = Vec::new();
    for check in &report.checks {
        let subject = check
            .subject
            .as_deref()
            .map(|s| format!("{s}: "))
            .unwrap_or_default();
        rows.push(vec![
            check.status.as_str().to_string(),
            check.name.to_string(),
            format!("{subject}{}", check.detail),
        ]);
        if let (Some(fix), true) = (&check.fix, check.status != Status::Pass) {
            rows.push(vec![String::new(), String::new(), format!("fix: {fix}")]);
        }
    }
    let mut out = crate::format::aligned(rows);
    let (fail, warn, pass) = (
        report.count(Status::Fail),
        report.count(Status::Warn),
        report.count(Status::Pass),
    );
    let verdict = if report.ok(strict) {
        "nothing fails"
    } else if strict && fail == 0 {
        "warnings fail (--strict)"
    } else {
        "fix the FAIL lines"
    };
    out.push_str(&format!(
        "\n{fail} FAIL, {warn} WARN, {pass} PASS: {verdict}\n"
    ));
    out
}

#[cfg(test)]
pub(crate) mod tests;
