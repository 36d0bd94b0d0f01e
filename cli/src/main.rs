//! `ecs-sta`: the operator's command line of ecs-single-task-autoscaling. It uses the
//! standard AWS configuration chain, so `AWS_ENDPOINT_URL=http://127.0.0.1:5000` points
//! it at a local emulator.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand};
use ecs_sta::doctor::args::{DeploymentArgs, DrillArgs};
use ecs_sta::executions::{self, Filter};
use ecs_sta::replay::{self, ReplayOptions};
use ecs_sta::{doctor, drill, format, stack, timeline, CliError};
use task_scaler::{scale, Deps, ScalerInput};

#[derive(Debug, Parser)]
#[command(
    name = "ecs-sta",
    version,
    about = "Operate ecs-single-task-autoscaling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the N+1 task scaler once, exactly as the scheduled Lambda does, and print its decision.
    ScaleTasks {
        /// The ECS cluster (name or ARN).
        #[arg(long)]
        cluster: String,
        /// The service whose desired count is kept at usable instances minus N.
        #[arg(long)]
        service: String,
        /// The floor of the desired count.
        #[arg(long)]
        min_task_count: u64,
        /// N: how many usable instances to keep free.
        #[arg(long, default_value_t = 1)]
        n_count: u64,
        /// The ceiling of the desired count.
        #[arg(long)]
        max_task_count: Option<u64>,
        /// Count only instances InService in this Auto Scaling group.
        #[arg(long)]
        asg: Option<String>,
        /// Decide and print, but do not update the service.
        #[arg(long)]
        dry_run: bool,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the drain executions: instance, group, status, start, duration, current or failing state, error.
    Executions {
        #[command(flatten)]
        machine: Machine,
        /// Only these statuses (comma-separated: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE).
        #[arg(long)]
        status: Option<String>,
        /// Only executions started within this time (90s, 30m, 24h, 7d, 2w) or `all`.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Print the executions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the timeline of one drain: its phases to scale, then states, waits, heartbeats, retries, completion, error, redrives.
    Show {
        /// The execution ARN, or its name with --state-machine or --stack.
        execution: String,
        /// The drain state machine (needed only to name the execution by its name).
        #[command(flatten)]
        machine: Machine,
        /// Print the timeline as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the drain's timeline as an SVG picture to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<std::path::PathBuf>,
    },
    /// Redrive the drains that failed, timed out or were aborted (or restart them with --restart).
    Replay {
        #[command(flatten)]
        machine: Machine,
        /// Only executions started within this time (90s, 30m, 24h, 7d, 2w) or `all`.
        #[arg(long, default_value = "24h")]
        since: String,
        /// The statuses to replay (comma-separated).
        #[arg(long, default_value = "FAILED,TIMED_OUT,ABORTED")]
        status: String,
        /// Say what would be done, do nothing.
        #[arg(long)]
        dry_run: bool,
        /// Start a new execution with the original input (named from the instance and the
        /// lifecycle token, so a second restart is refused) instead of redriving.
        #[arg(long)]
        restart: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a live deployment (read-only): hooks, rule, state machine, N+1, deployment
    /// configuration, load balancers, capacity providers, container instances.
    Doctor {
        #[command(flatten)]
        deployment: DeploymentArgs,
        #[command(flatten)]
        machine: Machine,
        /// Print every check as JSON.
        #[arg(long)]
        json: bool,
        /// Warnings fail too (exit code 1).
        #[arg(long)]
        strict: bool,
    },
    /// A game day: terminate one instance running a task of the service through Auto Scaling
    /// (desired capacity kept), follow its drain, sample serving capacity, and judge it.
    Drill {
        #[command(flatten)]
        deployment: DeploymentArgs,
        #[command(flatten)]
        machine: Machine,
        #[command(flatten)]
        drill: DrillArgs,
        /// Print the report as JSON (the live lines go to stderr).
        #[arg(long)]
        json: bool,
    },
}

/// The drain state machine, by ARN or by the CloudFormation stack that deployed it. The
/// command line wins over the environment, so an exported ARN never conflicts with a
/// `--stack` given for one command.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
struct Machine {
    /// The drain state machine's ARN [env: ECS_STA_STATE_MACHINE_ARN].
    #[arg(long)]
    state_machine: Option<String>,
    /// The CloudFormation stack that deployed it: its one state machine, nested stacks
    /// included [env: ECS_STA_STACK].
    #[arg(long)]
    stack: Option<String>,
}

impl Machine {
    /// The state machine's ARN, if one was given (looked up in the stack when a stack was).
    async fn arn(self, config: &aws_config::SdkConfig) -> Result<Option<String>, CliError> {
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let (arn, stack) = match (self.state_machine, self.stack) {
            (None, None) => (env("ECS_STA_STATE_MACHINE_ARN"), env("ECS_STA_STACK")),
            given => given,
        };
        match (arn, stack) {
            (Some(arn), _) => Ok(Some(arn)),
            (None, Some(stack)) => {
                progress(&format!("finding the state machine of stack {stack}"));
                let client = aws_sdk_cloudformation::Client::new(config);
                stack::state_machine_arn(&client, &stack).await.map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    /// The state machine's ARN (as [`Machine::arn`]) and the stack's name, when one was given.
    async fn arn_and_stack(
        self,
        config: &aws_config::SdkConfig,
    ) -> Result<(Option<String>, Option<String>), CliError> {
        let stack = match (&self.state_machine, &self.stack) {
            (None, None) => std::env::var("ECS_STA_STACK")
                .ok()
                .filter(|v| !v.is_empty()),
            (_, stack) => stack.clone(),
        };
        Ok((self.arn(config).await?, stack))
    }

    /// As [`Machine::arn`], for the commands that cannot do without it.
    async fn required_arn(self, config: &aws_config::SdkConfig) -> Result<String, CliError> {
        self.arn(config).await?.ok_or_else(|| {
            CliError::input(
                "give the drain state machine: --state-machine ARN or --stack NAME \
                 (or ECS_STA_STATE_MACHINE_ARN or ECS_STA_STACK)",
            )
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            clear_progress();
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// The progress line: rewritten in place on a terminal, silent otherwise.
fn progress(message: &str) {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        // Best effort: a progress line that cannot be written is no error.
        write!(stderr, "\r\x1b[K{message}").ok();
        stderr.flush().ok();
    }
}

fn clear_progress() {
    progress("");
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::input(format!("cannot print JSON: {error}")))?;
    println!("{text}");
    Ok(())
}

/// The AWS configuration of the operator commands, from the standard chain. Reading
/// thousands of executions runs into Step Functions' request quotas (GetExecutionHistory
/// refills a few tokens a second), so throttled calls are retried up to 10 attempts
/// (exponential backoff with jitter) before a row reports them.
async fn operator_config() -> aws_config::SdkConfig {
    aws_config::from_env()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
        .load()
        .await
}

fn since(text: &str) -> Result<Option<chrono::DateTime<Utc>>, CliError> {
    Ok(format::parse_since(text)?.map(|window| Utc::now() - window))
}

async fn run(command: Command) -> Result<u8, CliError> {
    match command {
        Command::ScaleTasks {
            cluster,
            service,
            min_task_count,
            n_count,
            max_task_count,
            asg,
            dry_run,
            json,
        } => {
            let input = ScalerInput {
                cluster_name: cluster,
                service_name: service,
                min_task_count,
                n_count,
                max_task_count,
                dry_run,
                asg_name: asg,
            };
            let clients = sta_shared::Clients::from_env().await;
            let deps = Deps {
                ecs: clients.ecs,
                autoscaling: clients.autoscaling,
            };
            let decision = scale(&deps, &input)
                .await
                .map_err(|error| CliError::Failed(format!("{} ({})", error, error.name())))?;
            if json {
                print_json(&decision)?;
            } else {
                println!("{decision}");
            }
            Ok(0)
        }
        Command::Executions {
            machine,
            status,
            since: window,
            json,
        } => {
            let statuses = status
                .as_deref()
                .map(format::parse_statuses)
                .transpose()?
                .unwrap_or_default();
            let since = since(&window)?;
            let config = operator_config().await;
            let filter = Filter {
                state_machine_arn: machine.required_arn(&config).await?,
                statuses,
                since,
            };
            let client = aws_sdk_sfn::Client::new(&config);
            let rows = executions::executions(&client, &filter, Utc::now(), &progress).await?;
            clear_progress();
            if json {
                print_json(&rows)?;
            } else {
                print!("{}", executions::render(&rows));
            }
            let unreadable = rows
                .iter()
                .filter(|row| row.details_error.is_some())
                .count();
            if unreadable > 0 {
                eprintln!(
                    "error: the details of {unreadable} of {} executions could not be read",
                    rows.len()
                );
                return Ok(1);
            }
            Ok(0)
        }
        Command::Show {
            execution,
            machine,
            json,
            svg,
        } => {
            let config = operator_config().await;
            // The state machine (and the stack's lookup) is needed only for a name.
            let machine = if execution.starts_with("arn:") {
                None
            } else {
                machine.arn(&config).await?
            };
            let arn = executions::execution_arn(&execution, machine.as_deref())?;
            let client = aws_sdk_sfn::Client::new(&config);
            let timeline = timeline::timeline(&client, &arn, Utc::now(), &progress).await?;
            clear_progress();
            if json {
                print_json(&timeline)?;
            } else {
                print!("{}", timeline::render(&timeline));
            }
            if let Some(path) = svg {
                std::fs::write(&path, timeline::svg(&timeline)).map_err(|error| {
                    CliError::Failed(format!("cannot write {}: {error}", path.display()))
                })?;
                eprintln!("wrote {}", path.display());
            }
            Ok(0)
        }
        Command::Replay {
            machine,
            since: window,
            status,
            dry_run,
            restart,
            json,
        } => {
            let statuses = format::parse_statuses(&status)?;
            let since = since(&window)?;
            let config = operator_config().await;
            let options = ReplayOptions {
                filter: Filter {
                    state_machine_arn: machine.required_arn(&config).await?,
                    statuses,
                    since,
                },
                dry_run,
                restart,
            };
            let client = aws_sdk_sfn::Client::new(&config);
            let report = replay::replay(&client, &options, Utc::now(), &progress).await?;
            clear_progress();
            if json {
                print_json(&report)?;
            } else {
                print!("{}", replay::render(&report));
            }
            Ok(if report.ok() { 0 } else { 1 })
        }
        Command::Doctor {
            deployment,
            machine,
            json,
            strict,
        } => run_doctor(deployment, machine, json, strict).await,
        Command::Drill {
            deployment,
            machine,
            drill,
            json,
        } => run_drill(deployment, machine, drill, json).await,
    }
}

async fn run_drill(
    deployment: DeploymentArgs,
    machine: Machine,
    args: DrillArgs,
    json: bool,
) -> Result<u8, CliError> {
    let config = operator_config().await;
    let (arn, stack) = machine.arn_and_stack(&config).await?;
    let options = args.options(deployment.options(arn, stack));
    options.validate()?;
    let clients = doctor::Clients::new(&config);
    // Ctrl-C stops following; the drain goes on.
    let mut interrupt = Box::pin(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    let out = |line: &str| {
        clear_progress();
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let report = drill::drill(&clients, &options, &mut interrupt, &out, &progress).await?;
    clear_progress();
    if json {
        print_json(&report)?;
    } else {
        print!("{}", drill::render(&report));
    }
    Ok(drill::exit_code(&report))
}

async fn run_doctor(
    deployment: DeploymentArgs,
    machine: Machine,
    json: bool,
    strict: bool,
) -> Result<u8, CliError> {
    let config = operator_config().await;
    let (arn, stack) = machine.arn_and_stack(&config).await?;
    let options = deployment.options(arn, stack);
    options.validate()?;
    let clients = doctor::Clients::new(&config);
    let report = doctor::doctor(&clients, &options, &progress).await;
    clear_progress();
    if json {
        print_json(&report.verdict(strict))?;
    } else {
        print!("{}", doctor::render(&report, strict));
    }
    Ok(if report.ok(strict) { 0 } else { 1 })
}
