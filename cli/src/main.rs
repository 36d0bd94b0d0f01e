//! `ecs-sta`: the operator's command line of ecs-single-task-autoscaling. It uses the
//! standard AWS configuration chain, so `AWS_ENDPOINT_URL=http://127.0.0.1:5000` points
//! it at a local emulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
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
                .map_err(|error| format!("{} ({})", error, error.name()))?;
            if json {
                let text = serde_json::to_string_pretty(&decision).map_err(|e| e.to_string())?;
                println!("{text}");
            } else {
                println!("{decision}");
            }
            Ok(())
        }
    }
}
