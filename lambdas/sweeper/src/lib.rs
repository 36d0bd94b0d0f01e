//! No forgotten instance. EventBridge delivers events on a best-effort basis, so a lost
//! lifecycle event would leave an instance in `Terminating:Wait` until the hook times
//! out, and then terminate it undrained. On a schedule, the sweeper lists the instances
//! waiting in our Auto Scaling groups and starts a drain for each one that has no
//! execution:
//!
//! - an instance with a RUNNING execution is being drained;
//! - one with a FAILED, TIMED_OUT or ABORTED execution is left to the operator, who
//!   redrives it (`ecs-sta replay`): starting another drain would hide the failure;
//! - one with a SUCCEEDED execution is about to terminate;
//! - otherwise it starts an execution named from the instance
//!   ([`execution_name`]), so that Step Functions itself refuses a second one.
//!
//! The event it starts the drain with has the shape of the lifecycle event, with our own
//! `source` and without the token, which no API returns: the drain completes and
//! heartbeats the action by instance id.

use std::collections::HashMap;

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};
use sta_shared::config::{list, optional_string, ProcessEnv, Source};
use sta_shared::error::{aws_error, error_code};
use sta_shared::event::{execution_name, LIFECYCLE_DETAIL_TYPE, SWEEPER_SOURCE, TERMINATING};
use sta_shared::metrics::{self, Unit};
use sta_shared::StepError;
use tracing::instrument;

/// Executions older than this cannot belong to an instance still waiting: the hook's
/// wait is capped at 48 hours.
const LOOKBACK_HOURS: i64 = 49;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweeperConfig {
    /// `STATE_MACHINE_ARN`: the drain state machine.
    pub state_machine_arn: String,
    /// `MANAGED_ASG_NAMES`: the groups whose waiting instances are swept.
    pub asg_names: Vec<String>,
    /// `LIFECYCLE_HOOK_NAME`: our terminate hook in those groups.
    pub hook_name: String,
    /// `ECS_CLUSTER`: named in the event's notification metadata.
    pub cluster: Option<String>,
}

impl SweeperConfig {
    pub fn from_source(source: &(impl Source + ?Sized)) -> Result<Self, StepError> {
        let required = |name: &str| {
            optional_string(source, name)
                .ok_or_else(|| StepError::misconfigured(name, "must be set"))
        };
        let asg_names = list(source, "MANAGED_ASG_NAMES")?;
        if asg_names.is_empty() {
            return Err(StepError::misconfigured(
                "MANAGED_ASG_NAMES",
                "must name at least one Auto Scaling group",
            ));
        }
        let state_machine_arn = required("STATE_MACHINE_ARN")?;
        if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
            return Err(StepError::misconfigured(
                "STATE_MACHINE_ARN",
                format!("`{state_machine_arn}` is not a state machine ARN"),
            ));
        }
        Ok(Self {
            state_machine_arn,
            asg_names,
            hook_name: required("LIFECYCLE_HOOK_NAME")?,
            cluster: optional_string(source, "ECS_CLUSTER"),
        })
    }

    pub fn from_env() -> Result<Self, StepError> {
        Self::from_source(&ProcessEnv)
    }
}

#[derive(Debug, Clone)]
pub struct Deps {
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub config: SweeperConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub instance_id: String,
    pub asg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub instance_id: String,
    pub execution_arn: String,
    pub status: String,
}

/// What a sweep saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Instances in `Terminating:Wait` in our groups.
    pub waiting: Vec<Waiting>,
    /// Drains this sweep started (their events were lost).
    pub started: Vec<Found>,
    /// Instances whose drain is running or has just succeeded.
    pub in_hand: Vec<Found>,
    /// Instances whose drain failed: an operator must redrive it.
    pub failed: Vec<Found>,
    /// Instances this sweeper already started a drain for (refused by name).
    pub already_started: Vec<String>,
}

pub async fn handler(deps: &Deps, _event: LambdaEvent<Value>) -> Result<SweepReport, StepError> {
    let report = sweep(deps, Utc::now()).await?;
    let cluster = deps.config.cluster.clone().unwrap_or_default();
    metrics::emit(
        &cluster,
        Utc::now(),
        &[(
            "SweeperExecutionsStarted",
            report.started.len() as f64,
            Unit::Count,
        )],
    );
    Ok(report)
}

#[instrument(skip(deps))]
pub async fn sweep(deps: &Deps, now: DateTime<Utc>) -> Result<SweepReport, StepError> {
    let waiting = waiting_instances(deps).await?;
    let mut report = SweepReport {
        waiting: waiting.clone(),
        ..SweepReport::default()
    };
    if waiting.is_empty() {
        tracing::info!("no instance waiting in Terminating:Wait");
        return Ok(report);
    }
    let executions = recent_executions(deps, now).await?;
    for instance in waiting {
        let mine = executions
            .get(&instance.instance_id)
            .cloned()
            .unwrap_or_default();
        let with = |status: &ExecutionStatus| {
            mine.iter()
                .find(|found| found.status == status.as_str())
                .cloned()
        };
        if let Some(found) =
            with(&ExecutionStatus::Running).or_else(|| with(&ExecutionStatus::Succeeded))
        {
            report.in_hand.push(found);
            continue;
        }
        if let Some(found) = mine.first() {
            tracing::warn!(instance = %instance.instance_id, execution = %found.execution_arn, status = %found.status, "drain did not succeed: redrive it");
            report.failed.push(found.clone());
            continue;
        }
        match start(deps, &instance, now).await? {
            Some(execution_arn) => {
                tracing::warn!(instance = %instance.instance_id, execution = %execution_arn, "lifecycle event was lost: started a drain");
                report.started.push(Found {
                    instance_id: instance.instance_id,
                    execution_arn,
                    status: ExecutionStatus::Running.as_str().to_string(),
                });
            }
            None => report.already_started.push(instance.instance_id),
        }
    }
    Ok(report)
}

async fn waiting_instances(deps: &Deps) -> Result<Vec<Waiting>, StepError> {
    let pages = deps
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(deps.config.asg_names.clone()))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| aws_error("DescribeAutoScalingGroups", error))?;
    let mut waiting = Vec::new();
    for group in pages.iter().flat_map(|page| page.auto_scaling_groups()) {
        let asg = group.auto_scaling_group_name().unwrap_or_default();
        for instance in group.instances() {
            if instance.lifecycle_state() == Some(&LifecycleState::TerminatingWait) {
                if let Some(id) = instance.instance_id() {
                    waiting.push(Waiting {
                        instance_id: id.to_string(),
                        asg: asg.to_string(),
                    });
                }
            }
        }
    }
    Ok(waiting)
}

/// The instance a drain execution is for, from its input (the raw event).
pub fn instance_of(input: &str) -> Option<String> {
    let event: Value = serde_json::from_str(input).ok()?;
    let detail = event.get("detail")?;
    detail
        .get("EC2InstanceId")
        .or_else(|| detail.get("instance-id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The executions of the last [`LOOKBACK_HOURS`], by instance, newest first.
async fn recent_executions(
    deps: &Deps,
    now: DateTime<Utc>,
) -> Result<HashMap<String, Vec<Found>>, StepError> {
    let since = now - chrono::Duration::hours(LOOKBACK_HOURS);
    let mut pages = deps
        .sfn
        .list_executions()
        .state_machine_arn(&deps.config.state_machine_arn)
        .into_paginator()
        .send();
    let mut by_instance: HashMap<String, Vec<Found>> = HashMap::new();
    'pages: while let Some(page) = pages.next().await {
        let page = page.map_err(|error| aws_error("ListExecutions", error))?;
        for execution in page.executions() {
            let started = execution.start_date().secs();
            if started < since.timestamp() {
                // ListExecutions returns the newest first.
                break 'pages;
            }
            let described = deps
                .sfn
                .describe_execution()
                .execution_arn(execution.execution_arn())
                .send()
                .await;
            let described = match described {
                Err(error) if error_code(&error) == Some("ExecutionDoesNotExist") => continue,
                Err(error) => return Err(aws_error("DescribeExecution", error)),
                Ok(described) => described,
            };
            if let Some(instance) = described.input().and_then(instance_of) {
                by_instance.entry(instance).or_default().push(Found {
                    instance_id: String::new(),
                    execution_arn: execution.execution_arn().to_string(),
                    status: execution.status().as_str().to_string(),
                });
            }
        }
    }
    for (instance, found) in by_instance.iter_mut() {
        for entry in found.iter_mut() {
            entry.instance_id.clone_from(instance);
        }
    }
    Ok(by_instance)
}

/// The lifecycle event the lost one would have been, minus the token.
pub fn sweeper_event(config: &SweeperConfig, instance: &Waiting, now: DateTime<Utc>) -> Value {
    let metadata = config
        .cluster
        .as_ref()
        .map(|cluster| json!({ "cluster": cluster }).to_string());
    json!({
        "version": "0",
        "id": format!("sweep-{}", instance.instance_id),
        "detail-type": LIFECYCLE_DETAIL_TYPE,
        "source": SWEEPER_SOURCE,
        "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "resources": [],
        "detail": {
            "AutoScalingGroupName": instance.asg,
            "LifecycleHookName": config.hook_name,
            "EC2InstanceId": instance.instance_id,
            "LifecycleTransition": TERMINATING,
            "NotificationMetadata": metadata,
            "Origin": "AutoScalingGroup",
            "Destination": "EC2",
        }
    })
}

/// Starts a drain; `None` when Step Functions refuses the name (already started).
async fn start(
    deps: &Deps,
    instance: &Waiting,
    now: DateTime<Utc>,
) -> Result<Option<String>, StepError> {
    let event = sweeper_event(&deps.config, instance, now);
    let started = deps
        .sfn
        .start_execution()
        .state_machine_arn(&deps.config.state_machine_arn)
        .name(execution_name(&instance.instance_id, None))
        .input(event.to_string())
        .send()
        .await;
    match started {
        Ok(output) => Ok(Some(output.execution_arn().to_string())),
        Err(error) if error_code(&error) == Some("ExecutionAlreadyExists") => Ok(None),
        Err(error) => Err(aws_error("StartExecution", error)),
    }
}

#[cfg(test)]
mod tests;
