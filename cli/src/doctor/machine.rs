//! The drain state machine, the EventBridge rules that start it, its recent failures, and
//! the sweeper's period.
//!
//! Rules are found from the state machine (`ListRuleNamesByTarget`), so a deployment made
//! by hand is checked as well as one made by infra; a rule's event pattern names the
//! groups and the terminate hook that are ours. The drain settings (the deadline) are read
//! from the first state's `Payload.settings` in the definition, parsed by the same code
//! the first Lambda uses.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineStatus, StateMachineType};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sta_shared::state::Settings;

use super::{Check, Clients, Options, DEFAULT_SWEEP_PERIOD_SECONDS};
use crate::executions::{in_window, listed_past_window};
use crate::CliError;

pub const TERMINATE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
pub const SPOT_DETAIL_TYPE: &str = "EC2 Spot Instance Interruption Warning";
/// How far back failed executions count as recent.
pub const RECENT_HOURS: i64 = 24;

mod dead_letters;
pub mod functions;
mod rules;
mod sweep;

pub use rules::{matches, RuleFacts};
pub use sweep::{parse_rate, ScalerSchedule, Sweep};

/// What the state machine side of the deployment says.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    pub state_machine_arn: Option<String>,
    pub settings: Option<Settings>,
    /// The functions its Tasks invoke, each with the states that invoke it.
    pub functions: BTreeMap<String, Vec<String>>,
    /// Our terminate hook's names: `--hook`, else those the rules' patterns name.
    pub hook_names: BTreeSet<String>,
    pub rules: Vec<RuleFacts>,
    pub sweep: Sweep,
    /// The stack's task scaler schedules (`None` without a stack).
    pub scalers: Option<Vec<ScalerSchedule>>,
}

/// Checks the state machine, its rules, its recent failures and the sweeper's schedule.
pub async fn check(
    clients: &Clients,
    options: &Options,
    now: DateTime<Utc>,
    checks: &mut Vec<Check>,
) -> Drain {
    let mut drain = Drain {
        state_machine_arn: options.state_machine_arn.clone(),
        ..Drain::default()
    };
    match &options.state_machine_arn {
        None => checks.push(Check::fail(
            "state-machine",
            None,
            "no drain state machine given: the rule, the drain settings and recent drains cannot be checked",
            "give --state-machine ARN or --stack NAME (or ECS_STA_STATE_MACHINE_ARN / ECS_STA_STACK)",
        )),
        Some(arn) => {
            if state_machine(clients, arn, &mut drain, checks).await {
                functions::check(clients, &drain.functions, checks).await;
                drain.rules = rules::check(clients, arn, options, checks).await;
                checks.push(recent_failures(clients, arn, options, now).await);
            }
        }
    }
    drain.hook_names = match &options.hook {
        Some(hook) => BTreeSet::from([hook.clone()]),
        None => drain
            .rules
            .iter()
            .filter(|rule| rule.terminate)
            .flat_map(|rule| rule.hooks.iter().cloned())
            .collect(),
    };
    (drain.sweep, drain.scalers) = sweep::check(clients, options, checks).await;
    dead_letters::check(clients, options, checks).await;
    drain
}

/// `DescribeStateMachine`: it exists, is a Standard workflow, and its definition holds
/// readable drain settings. False when it does not exist (nothing else to check there).
async fn state_machine(
    clients: &Clients,
    arn: &str,
    drain: &mut Drain,
    checks: &mut Vec<Check>,
) -> bool {
    let name = arn.rsplit(':').next().unwrap_or(arn);
    let described = match clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) => {
            let error = CliError::from(error);
            let missing = matches!(
                error.code(),
                Some("StateMachineDoesNotExist" | "InvalidArn")
            );
            checks.push(if missing {
                Check::fail(
                    "state-machine",
                    Some(name),
                    format!("{arn} does not exist (in this account and region): {error}"),
                    "give the ARN of the deployed drain state machine, or --stack with the stack that deployed it",
                )
            } else {
                Check::unreadable("state-machine", Some(name), &error)
            });
            return false;
        }
    };
    let status = described.status().map(|s| s.as_str()).unwrap_or("ACTIVE");
    checks.push(match (described.r#type(), described.status()) {
        (StateMachineType::Standard, None | Some(StateMachineStatus::Active)) => Check::pass(
            "state-machine",
            Some(name),
            format!("STANDARD, {status}"),
        ),
        (StateMachineType::Standard, _) => Check::fail(
            "state-machine",
            Some(name),
            format!("STANDARD but {status}: it starts no drain"),
            "redeploy the stack",
        ),
        (other, _) => Check::fail(
            "state-machine",
            Some(name),
            format!("{} workflow: drains outlive an Express workflow's 5 minutes and cannot be redriven", other.as_str()),
            "deploy the drain as a STANDARD state machine (infra does)",
        ),
    });
    drain.functions = functions::invoked(described.definition());
    match settings(described.definition()) {
        Ok(settings) => {
            checks.push(Check::pass(
                "drain-settings",
                Some(name),
                format!(
                    "deadline {} s, then the action is completed with {}; standalone tasks: {}",
                    settings.drain_deadline_seconds,
                    settings.deadline_result.as_str(),
                    serde_json::to_value(settings.standalone_tasks)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            ));
            drain.settings = Some(settings);
        }
        Err(why) => checks.push(Check::warn(
            "drain-settings",
            Some(name),
            format!("cannot read the drain settings from the definition ({why}): the deadline checks are skipped"),
            "is this the state machine from statemachine/drain.asl.json? give the right --state-machine or --stack",
        )),
    }
    true
}

/// The first state's `Parameters.Payload.settings`, read as the first Lambda reads them.
pub fn settings(definition: &str) -> Result<Settings, String> {
    #[derive(Deserialize)]
    struct Definition {
        #[serde(rename = "StartAt")]
        start_at: String,
        #[serde(rename = "States")]
        states: serde_json::Map<String, Value>,
    }
    let definition: Definition =
        serde_json::from_str(definition).map_err(|e| format!("not an ASL definition: {e}"))?;
    let first = definition
        .states
        .get(&definition.start_at)
        .ok_or_else(|| format!("no state {:?}", definition.start_at))?;
    let value = first
        .pointer("/Parameters/Payload/settings")
        .ok_or_else(|| {
            format!(
                "state {} has no Parameters.Payload.settings",
                definition.start_at
            )
        })?;
    sta_shared::event::parse_settings(value).map_err(|e| e.to_string())
}

/// FAILED, TIMED_OUT and ABORTED drains of the last [`RECENT_HOURS`], with the replay to run.
async fn recent_failures(
    clients: &Clients,
    arn: &str,
    options: &Options,
    now: DateTime<Utc>,
) -> Check {
    let since = now - chrono::Duration::hours(RECENT_HOURS);
    let mut failed = Vec::new();
    for status in [
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
    ] {
        let mut items = clients
            .sfn
            .list_executions()
            .state_machine_arn(arn)
            .status_filter(status.clone())
            .into_paginator()
            .items()
            .send();
        // Newest first: one started too long before `since` to have stopped after it ends
        // the listing (a long drain that failed within the window started before it).
        loop {
            match items.next().await {
                None => break,
                Some(Err(error)) => {
                    let error = CliError::from(error);
                    return Check::unreadable("recent-drains", None, &error);
                }
                Some(Ok(item)) => {
                    let started = crate::format::time(item.start_date());
                    if listed_past_window(started, since) {
                        break;
                    }
                    if in_window(started, item.stop_date().map(crate::format::time), since) {
                        failed.push(format!("{} ({})", item.name(), status.as_str()));
                    }
                }
            }
        }
    }
    if failed.is_empty() {
        return Check::pass(
            "recent-drains",
            None,
            format!("no drain FAILED, TIMED_OUT or ABORTED in the last {RECENT_HOURS} h"),
        );
    }
    let machine = match &options.stack {
        Some(stack) => format!("--stack {stack}"),
        None => format!("--state-machine {arn}"),
    };
    let shown: Vec<_> = failed.iter().take(5).cloned().collect();
    let more = failed.len().saturating_sub(shown.len());
    Check::warn(
        "recent-drains",
        None,
        format!(
            "{} drain(s) did not end well in the last {RECENT_HOURS} h: {}{}; their instances may have \
             left undrained or still wait in Terminating:Wait",
            failed.len(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ),
        format!(
            "see why with `ecs-sta executions {machine} --status FAILED,TIMED_OUT,ABORTED --since {RECENT_HOURS}h`, \
             then run `ecs-sta replay {machine} --since {RECENT_HOURS}h`"
        ),
    )
}

/// The sweep period assumed without a stack schedule.
pub fn flag_sweep(options: &Options) -> Sweep {
    match options.sweep_period_seconds {
        Some(seconds) => Sweep {
            seconds,
            source: "--sweep-period".to_string(),
        },
        None => Sweep {
            seconds: DEFAULT_SWEEP_PERIOD_SECONDS,
            source: "infra's default sweepRate".to_string(),
        },
    }
}
