//! The command-line options of `scale-tasks`, `executions`, `show` and `replay`, parsed by
//! clap (durations by humantime, statuses from the SDK's own list), and what they become:
//! the scaler's input, a [`Filter`], [`ReplayOptions`]. A wrong value is clap's usage error
//! (exit code 2) naming the flag.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use task_scaler::ScalerInput;

use crate::executions::Filter;
use crate::replay::{default_statuses, ReplayOptions};
use crate::{stack, CliError, Progress};

/// The longest `--since` window: ten years (humantime's `10y`, of 365.25 days each).
const MAX_SINCE: Duration = Duration::from_secs(10 * 31_557_600);

/// A duration on the command line: `90s`, `5m`, `1h 30m`, `500ms` (humantime's format).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (e.g. 90s, 5m, 1h)"))
}

/// `--since`: executions started or stopped within a window back from now, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    All,
    Within(Duration),
}

impl Since {
    /// The earliest start time the window takes in, `None` for `all`.
    pub fn start(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::All => None,
            Self::Within(window) => Some(
                chrono::Duration::from_std(window)
                    .ok()
                    .and_then(|window| now.checked_sub_signed(window))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
        }
    }
}

/// Parses `--since`: a humantime duration (`90s`, `30m`, `24h`, `7d`, `2w`) or `all`.
pub fn parse_since(text: &str) -> Result<Since, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(Since::All);
    }
    let window = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (e.g. 24h, 7d, 2w, or `all`)"))?;
    if window.is_zero() || window > MAX_SINCE {
        return Err(
            "expected more than 0 and at most 10 years (e.g. 24h, 7d, 2w, or `all`)".into(),
        );
    }
    Ok(Since::Within(window))
}

/// One execution status from the SDK's list of Step Functions' statuses; with
/// `ignore_case` on the argument, in any case.
pub fn status_parser() -> impl TypedValueParser<Value = ExecutionStatus> {
    PossibleValuesParser::new(ExecutionStatus::values())
        .map(|status| ExecutionStatus::from(status.to_ascii_uppercase().as_str()))
}

/// `scale-tasks`: the scaler's input, as the scheduled Lambda gets it.
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleTasksArgs {
    /// The ECS cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// The service whose desired count is kept at usable instances minus N.
    #[arg(long)]
    pub service: String,
    /// The floor of the desired count.
    #[arg(long)]
    pub min_task_count: u64,
    /// N: how many usable instances to keep free.
    #[arg(long, default_value_t = 1)]
    pub n_count: u64,
    /// The ceiling of the desired count.
    #[arg(long)]
    pub max_task_count: Option<u64>,
    /// Count only instances InService in this Auto Scaling group.
    #[arg(long)]
    pub asg: Option<String>,
    /// Decide and print, but do not update the service.
    #[arg(long)]
    pub dry_run: bool,
}

impl From<ScaleTasksArgs> for ScalerInput {
    fn from(args: ScaleTasksArgs) -> Self {
        Self {
            cluster_name: args.cluster,
            service_name: args.service,
            min_task_count: args.min_task_count,
            n_count: args.n_count,
            max_task_count: args.max_task_count,
            dry_run: args.dry_run,
            asg_name: args.asg,
        }
    }
}

/// `executions`: which executions to list.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutionsArgs {
    /// Only these statuses (comma-separated or repeated; any case).
    #[arg(long, value_delimiter = ',', ignore_case = true, value_parser = status_parser())]
    pub status: Vec<ExecutionStatus>,
    /// Only executions started or stopped within this time (90s, 30m, 24h, 7d, 2w) or `all`.
    #[arg(long, default_value = "24h", value_parser = parse_since)]
    pub since: Since,
}

impl ExecutionsArgs {
    /// The filter of the state machine's executions these options ask for.
    pub fn filter(self, state_machine_arn: String, now: DateTime<Utc>) -> Filter {
        Filter {
            state_machine_arn,
            statuses: self.status,
            since: self.since.start(now),
        }
    }
}

/// `replay`: which executions to replay, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Only executions started or stopped within this time (90s, 30m, 24h, 7d, 2w) or `all`.
    #[arg(long, default_value = "24h", value_parser = parse_since)]
    pub since: Since,
    /// The statuses to replay (comma-separated or repeated; any case).
    #[arg(
        long,
        value_delimiter = ',',
        ignore_case = true,
        value_parser = status_parser(),
        default_values_t = default_statuses()
    )]
    pub status: Vec<ExecutionStatus>,
    /// Say what would be done, do nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start a new execution with the original input (named from the instance and the
    /// lifecycle token, so a second restart is refused) instead of redriving.
    #[arg(long)]
    pub restart: bool,
}

impl ReplayArgs {
    pub fn options(self, state_machine_arn: String, now: DateTime<Utc>) -> ReplayOptions {
        ReplayOptions {
            filter: Filter {
                state_machine_arn,
                statuses: self.status,
                since: self.since.start(now),
            },
            dry_run: self.dry_run,
            restart: self.restart,
        }
    }
}

/// The drain state machine, by ARN or by the CloudFormation stack that deployed it. The
/// command line wins over the environment, so an exported ARN never conflicts with a
/// `--stack` given for one command.
#[derive(Debug, Clone, clap::Args)]
#[group(multiple = false)]
pub struct Machine {
    /// The drain state machine's ARN [env: ECS_STA_STATE_MACHINE_ARN].
    #[arg(long)]
    pub state_machine: Option<String>,
    /// The CloudFormation stack that deployed it: its one state machine, nested stacks
    /// included [env: ECS_STA_STACK].
    #[arg(long)]
    pub stack: Option<String>,
}

impl Machine {
    /// The ARN and the stack given on the command line, else in the environment.
    fn given(self) -> (Option<String>, Option<String>) {
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        match (self.state_machine, self.stack) {
            (None, None) => (env("ECS_STA_STATE_MACHINE_ARN"), env("ECS_STA_STACK")),
            given => given,
        }
    }

    /// The state machine's ARN, if one was given (looked up in the stack when a stack was).
    pub async fn arn(
        self,
        config: &aws_config::SdkConfig,
        progress: Progress<'_>,
    ) -> Result<Option<String>, CliError> {
        Ok(self.arn_and_stack(config, progress).await?.0)
    }

    /// The state machine's ARN (as [`Machine::arn`]) and the stack's name, when one was given.
    pub async fn arn_and_stack(
        self,
        config: &aws_config::SdkConfig,
        progress: Progress<'_>,
    ) -> Result<(Option<String>, Option<String>), CliError> {
        match self.given() {
            (Some(arn), stack) => Ok((Some(arn), stack)),
            (None, Some(stack)) => {
                progress(&format!("finding the state machine of stack {stack}"));
                let client = aws_sdk_cloudformation::Client::new(config);
                let arn = stack::state_machine_arn(&client, &stack).await?;
                Ok((Some(arn), Some(stack)))
            }
            (None, None) => Ok((None, None)),
        }
    }

    /// As [`Machine::arn`], for the commands that cannot do without it.
    pub async fn required_arn(
        self,
        config: &aws_config::SdkConfig,
        progress: Progress<'_>,
    ) -> Result<String, CliError> {
        self.arn(config, progress).await?.ok_or_else(|| {
            CliError::input(
                "give the drain state machine: --state-machine ARN or --stack NAME \
                 (or ECS_STA_STATE_MACHINE_ARN or ECS_STA_STACK)",
            )
        })
    }
}

#[cfg(test)]
mod tests;
