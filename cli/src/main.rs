//! `ecs-sta`: the operator's command line of ecs-single-task-autoscaling. It uses the
//! standard AWS configuration chain, so `AWS_ENDPOINT_URL=http://127.0.0.1:5000` points
//! it at a local emulator.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand};
use ecs_sta::args::{ExecutionsArgs, Machine, ReplayArgs, ScaleTasksArgs};
use ecs_sta::doctor::args::{DeploymentArgs, DrillArgs};
use ecs_sta::{doctor, drill, executions, replay, timeline, CliError};
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
        #[command(flatten)]
        scaler: ScaleTasksArgs,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the drain executions: instance, group, status, start, duration, current or failing state, error.
    Executions {
        #[command(flatten)]
        machine: Machine,
        #[command(flatten)]
        filter: ExecutionsArgs,
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
        #[command(flatten)]
        replay: ReplayArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a live deployment (read-only): hooks, rule, state machine, N+1, deployment
    /// configuration, load balancers, capacity providers, container instances.
    Doctor {
        #[command(flatten)]
        deployment: DeploymentArgs,
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
        drill: DrillArgs,
        /// Print the report as JSON (the live lines go to stderr).
        #[arg(long)]
        json: bool,
    },
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

/// Clears the progress line, then prints `value` as JSON (`--json`) or as its `table`.
fn print_output(
    json: bool,
    value: &impl serde::Serialize,
    table: impl FnOnce() -> String,
) -> Result<(), CliError> {
    clear_progress();
    if json {
        print_json(value)
    } else {
        print!("{}", table());
        Ok(())
    }
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

async fn run(command: Command) -> Result<u8, CliError> {
    match command {
        Command::ScaleTasks { scaler, json } => run_scale_tasks(scaler.into(), json).await,
        Command::Executions {
            machine,
            filter,
            json,
        } => run_executions(machine, filter, json).await,
        Command::Show {
            execution,
            machine,
            json,
            svg,
        } => run_show(&execution, machine, json, svg).await,
        Command::Replay {
            machine,
            replay,
            json,
        } => run_replay(machine, replay, json).await,
        Command::Doctor {
            deployment,
            json,
            strict,
        } => run_doctor(deployment, json, strict).await,
        Command::Drill {
            deployment,
            drill,
            json,
        } => run_drill(deployment, drill, json).await,
    }
}

async fn run_scale_tasks(input: ScalerInput, json: bool) -> Result<u8, CliError> {
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        ecs: clients.ecs,
        autoscaling: clients.autoscaling,
    };
    let decision = scale(&deps, &input)
        .await
        .map_err(|error| CliError::Failed(format!("{} ({})", error, error.name())))?;
    print_output(json, &decision, || format!("{decision}\n"))?;
    Ok(0)
}

async fn run_executions(
    machine: Machine,
    args: ExecutionsArgs,
    json: bool,
) -> Result<u8, CliError> {
    let config = operator_config().await;
    let filter = args.filter(machine.required_arn(&config, &progress).await?, Utc::now());
    let client = aws_sdk_sfn::Client::new(&config);
    let rows = executions::executions(&client, &filter, Utc::now(), &progress).await?;
    print_output(json, &rows, || executions::render(&rows))?;
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

async fn run_show(
    execution: &str,
    machine: Machine,
    json: bool,
    svg: Option<std::path::PathBuf>,
) -> Result<u8, CliError> {
    let config = operator_config().await;
    // The state machine (and the stack's lookup) is needed only for a name.
    let machine = if execution.starts_with("arn:") {
        None
    } else {
        machine.arn(&config, &progress).await?
    };
    let arn = executions::execution_arn(execution, machine.as_deref())?;
    let client = aws_sdk_sfn::Client::new(&config);
    let timeline = timeline::timeline(&client, &arn, Utc::now(), &progress).await?;
    print_output(json, &timeline, || timeline::render(&timeline))?;
    if let Some(path) = svg {
        std::fs::write(&path, timeline::svg(&timeline)).map_err(|error| {
            CliError::Failed(format!("cannot write {}: {error}", path.display()))
        })?;
        eprintln!("wrote {}", path.display());
    }
    Ok(0)
}

async fn run_replay(machine: Machine, args: ReplayArgs, json: bool) -> Result<u8, CliError> {
    let config = operator_config().await;
    let options = args.options(machine.required_arn(&config, &progress).await?, Utc::now());
    let client = aws_sdk_sfn::Client::new(&config);
    let report = replay::replay(&client, &options, Utc::now(), &progress).await?;
    print_output(json, &report, || replay::render(&report))?;
    Ok(if report.ok() { 0 } else { 1 })
}

/// The deployment that `doctor` checks and `drill` exercises: its options, validated, and
/// the clients of its services.
async fn deployment_checked(
    deployment: DeploymentArgs,
) -> Result<(doctor::Options, doctor::Clients), CliError> {
    let config = operator_config().await;
    let options = deployment.options(&config, &progress).await?;
    options.validate()?;
    Ok((options, doctor::Clients::new(&config)))
}

async fn run_drill(
    deployment: DeploymentArgs,
    args: DrillArgs,
    json: bool,
) -> Result<u8, CliError> {
    let (doctor_options, clients) = deployment_checked(deployment).await?;
    let options = args.options(doctor_options);
    options.validate()?;
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
    print_output(json, &report, || drill::render(&report))?;
    Ok(drill::exit_code(&report))
}

async fn run_doctor(deployment: DeploymentArgs, json: bool, strict: bool) -> Result<u8, CliError> {
    let (options, clients) = deployment_checked(deployment).await?;
    let report = doctor::doctor(&clients, &options, &progress).await;
    print_output(json, &report.verdict(strict), || {
        doctor::render(&report, strict)
    })?;
    Ok(if report.ok(strict) { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn wrong_values_are_usage_errors_naming_the_flag() {
        for (args, flag) in [
            (
                vec!["executions", "--status", "DONE"],
                "'--status <STATUS>'",
            ),
            (vec!["replay", "--since", "yesterday"], "'--since <SINCE>'"),
            (
                vec!["replay", "--status", "failed,nope"],
                "'--status <STATUS>'",
            ),
        ] {
            let error = Cli::try_parse_from([&["ecs-sta"], args.as_slice()].concat()).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
            assert!(error.to_string().contains(flag), "{args:?}: {error}");
        }
        let parsed = Cli::try_parse_from(["ecs-sta", "replay", "--status", "timed_out"]).unwrap();
        let Command::Replay { replay, .. } = parsed.command else {
            panic!("replay parses as replay");
        };
        assert_eq!(
            replay.status,
            [aws_sdk_sfn::types::ExecutionStatus::TimedOut]
        );
    }
}
