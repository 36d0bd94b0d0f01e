//! The sweeper's period: from the stack's sweeper schedule (EventBridge Scheduler) when a
//! stack is given and has one, else `--sweep-period`, else infra's default.

use std::collections::VecDeque;

use aws_sdk_scheduler::types::ScheduleState;

use crate::doctor::{Check, Clients, Options};
use crate::CliError;

const SCHEDULE: &str = "AWS::Scheduler::Schedule";
const NESTED_STACK: &str = "AWS::CloudFormation::Stack";
/// How many stacks (the stack and its nested stacks) are searched at most.
const MAX_STACKS: usize = 50;

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

/// The sweep period, with a `sweeper-schedule` check when a stack was given.
pub async fn check(clients: &Clients, options: &Options, checks: &mut Vec<Check>) -> Sweep {
    let fallback = super::flag_sweep(options);
    let Some(stack) = &options.stack else {
        return fallback;
    };
    let names = match schedules(clients, stack).await {
        Ok(names) => names,
        Err(error) => {
            checks.push(Check::unreadable("sweeper-schedule", Some(stack), &error));
            return fallback;
        }
    };
    let Some(name) = names
        .into_iter()
        .find(|(logical, _)| logical.to_ascii_lowercase().contains("sweep"))
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
    let schedule = match clients.scheduler.get_schedule().name(&name).send().await {
        Ok(schedule) => schedule,
        Err(error) => {
            let error = CliError::aws("GetSchedule", error);
            checks.push(Check::unreadable("sweeper-schedule", Some(&name), &error));
            return fallback;
        }
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

/// (logical id, physical id) of every Scheduler schedule in `stack` and its nested stacks.
async fn schedules(clients: &Clients, stack: &str) -> Result<Vec<(String, String)>, CliError> {
    let mut found = Vec::new();
    let mut stacks = VecDeque::from([stack.to_string()]);
    let mut searched = 0;
    while let Some(current) = stacks.pop_front() {
        searched += 1;
        if searched > MAX_STACKS {
            break;
        }
        let resources = clients
            .cloudformation
            .list_stack_resources()
            .stack_name(&current)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| CliError::aws("ListStackResources", e))?;
        for resource in resources {
            let (Some(kind), Some(physical)) =
                (resource.resource_type(), resource.physical_resource_id())
            else {
                continue;
            };
            match kind {
                SCHEDULE => found.push((
                    resource
                        .logical_resource_id()
                        .unwrap_or_default()
                        .to_string(),
                    physical.to_string(),
                )),
                NESTED_STACK => stacks.push_back(physical.to_string()),
                _ => {}
            }
        }
    }
    Ok(found)
}
