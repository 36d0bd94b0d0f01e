//! The command-line options doctor and drill share: which deployment to check.

use std::time::Duration;

use super::Options;
use crate::args::{parse_duration, Machine};
use crate::{CliError, Progress};

#[derive(Debug, Clone, clap::Args)]
pub struct DeploymentArgs {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The managed Auto Scaling groups (comma-separated, or the option repeated).
    #[arg(long = "asg", value_delimiter = ',', required = true)]
    pub asgs: Vec<String>,
    /// The services to check (repeatable; default: every service of the cluster).
    #[arg(long = "service", value_delimiter = ',')]
    pub services: Vec<String>,
    /// How often the sweeper runs, when the stack's schedule does not say (default 5m).
    #[arg(long, value_parser = parse_duration)]
    pub sweep_period: Option<Duration>,
    /// N of N+1: instances kept free for a draining task.
    #[arg(long, default_value_t = 1)]
    pub n_count: u64,
    /// Our terminate hook's name, when the rule's pattern does not name it.
    #[arg(long)]
    pub hook: Option<String>,
    #[command(flatten)]
    pub machine: Machine,
}

impl DeploymentArgs {
    /// The deployment's options, its state machine looked up in its stack when a stack is
    /// given (see [`Machine::arn_and_stack`]).
    pub async fn options(
        self,
        config: &aws_config::SdkConfig,
        progress: Progress<'_>,
    ) -> Result<Options, CliError> {
        let (state_machine_arn, stack) = self.machine.arn_and_stack(config, progress).await?;
        Ok(Options {
            cluster: self.cluster,
            asgs: self.asgs,
            services: self.services,
            state_machine_arn,
            stack,
            sweep_period_seconds: self.sweep_period.map(|d| d.as_secs()),
            n_count: self.n_count,
            hook: self.hook,
        })
    }
}

/// The drill's own options.
#[derive(Debug, Clone, clap::Args)]
pub struct DrillArgs {
    /// The instance to terminate (default: the first InService instance running a task of the service).
    #[arg(long)]
    pub instance: Option<String>,
    /// How long to follow the drain at most.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Say what would be done, do nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start even though doctor reports failures.
    #[arg(long)]
    pub force: bool,
    /// How often the load balancers' target health (and the execution) is read.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub sample_every: Duration,
    /// How long to wait for the lifecycle event to start a drain execution.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub start_timeout: Duration,
    /// After the drain, how long to wait for the instance to leave the group.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub leave_timeout: Duration,
}

impl DrillArgs {
    pub fn options(&self, doctor: Options) -> crate::drill::DrillOptions {
        crate::drill::DrillOptions {
            doctor,
            instance: self.instance.clone(),
            timeout: self.timeout,
            dry_run: self.dry_run,
            force: self.force,
            sample_every: self.sample_every,
            start_timeout: self.start_timeout,
            leave_timeout: self.leave_timeout,
        }
    }
}
