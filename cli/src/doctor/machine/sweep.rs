//! The sweeper's period: from the stack's sweeper schedule (EventBridge Scheduler) when a
//! stack is given and has one, else `--sweep-period`, else infra's default.

use std::collections::BTreeMap;

use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::ScheduleState;
use task_scaler::ScalerInput;

use super::functions::{self, Use};
use crate::doctor::{readable, Check, Clients, Options};
use crate::CliError;

const SCHEDULE: &str = "AWS::Scheduler::Schedule";

/// A schedule of the stack that runs the task scaler, and the service whose count it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalerSchedule {
    pub schedule: String,
    pub cluster: String,
    pub service: String,
}

/// How often the sweeper looks for instances whose lifecycle event was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    pub seconds: u64,
    pub source: String,
}

impl Default for Sweep {
    fn default() -> Self {
        Self {
            seconds: crate::doctor::DEFAULT_SWEEP_PERIOD_SECONDS,
            source: "default".to_string(),
        }
    }
}

/// `rate(5 minutes)`, `rate(1 hour)`, ... in seconds; `None` for a cron or anything else.
pub fn parse_rate(expression: &str) -> Option<u64> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.trim().parse().ok()?;
    let unit = match unit.trim().trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    value.checked_mul(unit).filter(|s| *s > 0)
}

/// The sweep period, with a `sweeper-schedule` check when a stack was given, and the stack's
/// task scaler schedules (`None` without a stack, or when its schedules cannot be read).
pub async fn check(
    clients: &Clients,
    options: &Options,
    checks: &mut Vec<Check>,
) -> (Sweep, Option<Vec<ScalerSchedule>>) {
    let fallback = super::flag_sweep(options);
    let Some(stack) = &options.stack else {
        return (fallback, None);
    };
    let names = schedules(clients, stack).await;
    let Some(names) = readable(names, "sweeper-schedule", Some(stack), checks) else {
        return (fallback, None);
    };
    let scalers = scheduled_functions(clients, &names, checks).await;
    (
        sweep(clients, stack, names, fallback, checks).await,
        Some(scalers),
    )
}

/// The sweep period the stack's sweeper schedule (of `names`) runs at, with its check.
async fn sweep(
    clients: &Clients,
    stack: &str,
    names: Vec<(String, String)>,
    fallback: Sweep,
    checks: &mut Vec<Check>,
) -> Sweep {
    let Some(name) = names
        .into_iter()
        .find(|(logical, _)| is_sweeper(logical))
        .map(|(_, physical)| physical)
    else {
        checks.push(Check::warn(
            "sweeper-schedule",
            Some(stack),
            format!(
                "no sweeper schedule in the stack: a lost lifecycle event is never recovered \
                 (assuming a sweep every {} s for the hook checks)",
                fallback.seconds
            ),
            "deploy infra's EcsSingleTaskAutoscaling construct, which schedules the sweeper",
        ));
        return fallback;
    };
    let schedule = schedule(clients, &name).await;
    let Some(schedule) = readable(schedule, "sweeper-schedule", Some(&name), checks) else {
        return fallback;
    };
    let expression = schedule.schedule_expression().unwrap_or_default();
    let Some(seconds) = parse_rate(expression) else {
        checks.push(Check::warn(
            "sweeper-schedule",
            Some(&name),
            format!(
                "cannot tell the period of {expression:?}: assuming {} s",
                fallback.seconds
            ),
            "give --sweep-period with the sweeper's real period",
        ));
        return fallback;
    };
    checks.push(match schedule.state() {
        Some(ScheduleState::Disabled) => Check::fail(
            "sweeper-schedule",
            Some(&name),
            format!("{expression} but DISABLED: a lost lifecycle event is never recovered"),
            format!("enable it: aws scheduler update-schedule --name {name} --state ENABLED (with its other settings)"),
        ),
        _ => Check::pass(
            "sweeper-schedule",
            Some(&name),
            format!("{expression}: a lost lifecycle event is found within {seconds} s"),
        ),
    });
    Sweep {
        seconds,
        source: format!("stack schedule {name}"),
    }
}

fn is_sweeper(logical_id: &str) -> bool {
    logical_id.to_ascii_lowercase().contains("sweep")
}

fn is_scaler(logical_id: &str) -> bool {
    logical_id.to_ascii_lowercase().contains("scaler")
}

/// What goes undone while the function a schedule invokes cannot run.
fn undone(logical_id: &str) -> &'static str {
    if is_sweeper(logical_id) {
        "a lifecycle event that was lost is never found, and its instance's action expires undrained"
    } else if is_scaler(logical_id) {
        "the service's desired count is not kept at usable instances minus N"
    } else {
        "its function does not run"
    }
}

/// A `function` check for each Lambda function the stack's schedules invoke (once a function,
/// naming every schedule that invokes it); a schedule that cannot be read is a FAIL naming it.
/// The task scaler schedules among them, with the service their input names.
async fn scheduled_functions(
    clients: &Clients,
    schedules: &[(String, String)],
    checks: &mut Vec<Check>,
) -> Vec<ScalerSchedule> {
    let mut functions: BTreeMap<String, (Vec<String>, &'static str)> = BTreeMap::new();
    let mut scalers = Vec::new();
    for (logical, name) in schedules {
        let Some(schedule) = readable(
            schedule(clients, name).await,
            "function",
            Some(name),
            checks,
        ) else {
            continue;
        };
        let Some(target) = schedule.target() else {
            continue;
        };
        // A disabled schedule runs nothing: its service's count is not the task scaler's.
        if is_scaler(logical) && schedule.state() != Some(&ScheduleState::Disabled) {
            match scaler_input(target.input()) {
                Ok(input) => scalers.push(ScalerSchedule {
                    schedule: name.clone(),
                    cluster: input.cluster_name,
                    service: input.service_name,
                }),
                Err(error) => checks.push(Check::fail(
                    "task-scaler-input",
                    Some(name),
                    format!("every run fails on its input: {error}"),
                    "correct the schedule's input (infra: the TaskScaler's props)",
                )),
            }
        }
        let arn = target.arn();
        if arn.starts_with("arn:aws:lambda:") {
            let entry = functions
                .entry(arn.to_string())
                .or_insert_with(|| (Vec::new(), undone(logical)));
            entry.0.push(name.clone());
        }
    }
    for (function, (names, undone)) in functions {
        let by = Use::Schedules {
            names,
            undone: undone.to_string(),
        };
        checks.push(functions::scheduled(clients, &function, &by).await);
    }
    scalers
}

/// A task scaler schedule's input, read as the task scaler reads it.
fn scaler_input(input: Option<&str>) -> Result<ScalerInput, String> {
    let value = serde_json::from_str(input.unwrap_or_default())
        .map_err(|error| format!("not JSON: {error}"))?;
    ScalerInput::parse(&value).map_err(|error| error.to_string())
}

/// The schedule `name` (`GetSchedule`).
async fn schedule(clients: &Clients, name: &str) -> Result<GetScheduleOutput, CliError> {
    clients
        .scheduler
        .get_schedule()
        .name(name)
        .send()
        .await
        .map_err(CliError::from)
}

/// (logical id, physical id) of every Scheduler schedule in `stack` and its nested stacks.
async fn schedules(clients: &Clients, stack: &str) -> Result<Vec<(String, String)>, CliError> {
    Ok(crate::stack::resources(&clients.cloudformation, stack)
        .await?
        .into_iter()
        .filter(|resource| resource.kind == SCHEDULE)
        .map(|resource| (resource.logical_id, resource.physical_id))
        .collect())
}
