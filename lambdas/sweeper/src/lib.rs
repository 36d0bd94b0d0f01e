//! No forgotten instance. EventBridge delivers events on a best-effort basis, so a lost
//! lifecycle event would leave an instance in `Terminating:Wait` until the hook times
//! out, and then terminate it undrained. On a schedule, the sweeper lists the instances
//! waiting in our Auto Scaling groups and starts a drain for each one whose lifecycle
//! action has no execution.
//!
//! **Which action.** An instance reused from a warm pool is terminated again with the same
//! id, so an instance does not identify an action; its token would, but no API returns it.
//! The sweeper identifies the action by the start of the instance's termination activity:
//! the newest scaling activity of the group (`DescribeScalingActivities`) that names the
//! instance and is not its launch ("Terminating EC2 instance: i-..."). That time is the
//! same at every sweep of one action, and later than every earlier action of the instance.
//! An instance without such an activity is reported `unidentified` and left to the next
//! sweep: a drain that cannot tell its action from an older one could heartbeat or
//! complete the wrong one.
//!
//! **The hook's clock.** The event the sweeper starts a drain with carries that start as
//! its `time`. Auto Scaling starts the termination activity, deregisters the instance from
//! the group's load balancers, and only then puts it in `Terminating:Wait`, so the hook's
//! heartbeat timer started no earlier than the activity: the drain's clock, counted from
//! the activity's start, errs on the safe side (it heartbeats early, never late), however
//! long after the wait began the sweep found the instance. The sweep time would err the
//! other way by the whole sweep lag.
//!
//! **Already handled.** The executions of the action are those whose input names the
//! instance and its group and whose event time (or, for an input without one, start) is
//! not before the activity's start; executions of an older action of the same instance,
//! and Spot warnings (which complete no lifecycle action), do not count. Then:
//!
//! - an action with a RUNNING execution is being drained;
//! - one with a SUCCEEDED execution is about to go;
//! - one with a FAILED, TIMED_OUT or ABORTED execution is left to the operator, who
//!   redrives it (`ecs-sta replay`): starting another drain would hide the failure;
//! - otherwise the sweeper starts an execution named from the instance and the
//!   activity's start ([`execution_name`]), so that Step Functions itself refuses a second
//!   one for the same action, and accepts the one for the instance's next action.
//!
//! **What it reads.** First the RUNNING executions (`ListExecutions` with that status
//! filter; each one's input read once with `DescribeExecution`): an action being drained is
//! found there however long ago it began. Only for the other waiting actions are all the
//! executions listed, back to the oldest of their starts, so that one long drain (a
//! standalone task waited for hours) does not make every sweep read every execution since.
//!
//! **Retained instances.** An instance whose action was abandoned (the hook timed out with
//! ABANDON before any drain, its event lost) is kept `Terminating:Retained`, still running its
//! tasks, when its group's instance lifecycle policy retains; it is terminated later with no
//! hook. It is swept as a waiting instance: a drain is started for it unless one exists
//! (a FAILED one is left to the operator), with the sweep's time as the event's, and no
//! heartbeat is recorded for it (there is no action left).
//!
//! **Keeping drains alive.** Each sweep also records a heartbeat for the action of every
//! waiting instance whose drain is running, so that an action outlives a drain whose
//! functions cannot run yet ([`keepalive`]).
//!
//! **Back from the warm pool.** Last, each sweep sets ACTIVE again the container instances a
//! drain marked on their way back to the warm pool whose instance is back in service, and
//! unmarks them ([`returned`]): the ECS agent reconnects to its DRAINING record and never
//! sets it ACTIVE itself.
//!
//! The event has the shape of the lifecycle event, with our own `source` and without the
//! token: the drain completes and heartbeats the action by instance id. Its `Destination`
//! is `WarmPool` when the group returns instances to its warm pool on scale in (or the
//! activity says the instance goes to the warm pool), else `EC2`.

mod executions;
mod groups;
mod keepalive;
mod returned;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use sta_shared::config::{list, optional_string, ProcessEnv, Source};
use sta_shared::error::{aws_error, error_code};
use sta_shared::event::envelope::{
    EventBridgeEvent, EventTime, LifecycleDetail, LifecycleEvent, NotificationMetadata,
};
use sta_shared::event::{execution_name, LIFECYCLE_DETAIL_TYPE, SWEEPER_SOURCE, TERMINATING};
use sta_shared::metrics::{self, Unit};
use sta_shared::StepError;
use tracing::instrument;

pub use groups::Waiting;

/// Nothing older than this can belong to an instance still waiting: the hook's wait is
/// capped at 48 hours, and Auto Scaling's deregistration from the group's load balancers
/// before it lasts at most an hour.
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
    /// `DescribeInstances`: whether an instance a Spot interruption stopped runs again.
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub config: SweeperConfig,
}

impl Deps {
    /// The clients and the configuration, from the function's environment (once, at cold start).
    pub async fn from_env() -> Result<Self, StepError> {
        let config = SweeperConfig::from_env()?;
        let aws = sta_shared::clients::load_config().await;
        Ok(Self {
            autoscaling: aws_sdk_autoscaling::Client::new(&aws),
            ec2: aws_sdk_ec2::Client::new(&aws),
            ecs: aws_sdk_ecs::Client::new(&aws),
            sfn: aws_sdk_sfn::Client::new(&aws),
            config,
        })
    }
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
    /// Instances in `Terminating:Wait` in our groups, and those retained.
    pub waiting: Vec<Waiting>,
    /// Drains this sweep started (their events were lost).
    pub started: Vec<Found>,
    /// Instances whose drain is running or has just succeeded.
    pub in_hand: Vec<Found>,
    /// Instances whose drain failed: an operator must redrive it.
    pub failed: Vec<Found>,
    /// Instances this sweeper already started a drain for (refused by name).
    pub already_started: Vec<String>,
    /// Instances no scaling activity names: their action is unknown, so no drain was
    /// started (the next sweep looks again).
    pub unidentified: Vec<String>,
    /// Instances whose running drain's action this sweep heartbeated ([`keepalive`]).
    pub kept_alive: Vec<String>,
    /// Instances back in service from the warm pool whose container instance this sweep
    /// set ACTIVE again ([`returned`]).
    pub reactivated: Vec<String>,
    /// The first error setting them ACTIVE: the sweep fails with it once the rest is done.
    #[serde(skip)]
    pub reactivation_error: Option<StepError>,
}

pub async fn handler(deps: &Deps, _event: LambdaEvent<Value>) -> Result<SweepReport, StepError> {
    let mut report = sweep(deps, Utc::now()).await?;
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
    match report.reactivation_error.take() {
        Some(error) => Err(error),
        None => Ok(report),
    }
}

/// One sweep: starts a drain for each waiting action whose event was lost, keeps the
/// actions of the running drains alive, then sets ACTIVE the container instances of the
/// instances back from the warm pool.
#[instrument(skip(deps))]
pub async fn sweep(deps: &Deps, now: DateTime<Utc>) -> Result<SweepReport, StepError> {
    let mut report = survey(deps, now).await?;
    report.kept_alive = keepalive::running_drains(deps, &report).await?;
    (report.reactivated, report.reactivation_error) = returned::reactivate(deps).await;
    Ok(report)
}

/// What the waiting actions' drains are, starting those whose event was lost.
async fn survey(deps: &Deps, now: DateTime<Utc>) -> Result<SweepReport, StepError> {
    let since = now - chrono::Duration::hours(LOOKBACK_HOURS);
    let waiting = groups::waiting_instances(deps, since).await?;
    let mut report = SweepReport {
        waiting: waiting.clone(),
        ..SweepReport::default()
    };
    if waiting.is_empty() {
        tracing::info!("no instance waiting in Terminating:Wait");
        return Ok(report);
    }
    let identified = identify(waiting, &mut report.unidentified);
    if identified.is_empty() {
        return Ok(report);
    }
    // The running drains first, of every waiting action however old: a long drain (its
    // action began hours ago) must not make every sweep read every execution since.
    let running = executions::recent(
        deps,
        Some(ExecutionStatus::Running),
        since,
        &Default::default(),
    )
    .await?;
    let mut unmatched = Vec::new();
    for (instance, began) in identified {
        match running
            .of_action(&instance.instance_id, &instance.asg, began)
            .into_iter()
            .next()
        {
            Some(found) => report.in_hand.push(found),
            None => unmatched.push((instance, began)),
        }
    }
    // No execution started before the oldest of the other actions began can be for any of
    // them.
    let Some(oldest) = unmatched.iter().map(|(_, began)| *began).min() else {
        return Ok(report);
    };
    let executions = executions::recent(
        deps,
        None,
        executions::listed_since(oldest, since),
        &running,
    )
    .await?;
    for (instance, began) in unmatched {
        let mine = executions.of_action(&instance.instance_id, &instance.asg, began);
        settle(deps, &mut report, instance, began, &mine, now).await?;
    }
    Ok(report)
}

/// The waiting instances with the start of their action; those no activity names go to
/// `unidentified`.
fn identify(
    waiting: Vec<Waiting>,
    unidentified: &mut Vec<String>,
) -> Vec<(Waiting, DateTime<Utc>)> {
    let mut identified = Vec::new();
    for instance in waiting {
        match instance.action_started {
            Some(began) => identified.push((instance, began)),
            None if instance.retained => {
                // retained longer than the activities read (LOOKBACK_HOURS): its drain, if
                // any, is older too; doctor's retained-instances check reports it
                tracing::info!(instance = %instance.instance_id, "retained instance whose termination is older than the sweep reads");
                unidentified.push(instance.instance_id);
            }
            None => {
                tracing::error!(instance = %instance.instance_id, "no scaling activity names the waiting instance: its lifecycle action is unknown, no drain started");
                unidentified.push(instance.instance_id);
            }
        }
    }
    identified
}

/// One waiting action no running drain has, given the executions of its action (`mine`):
/// in hand (running or succeeded), failed (left to the operator), or a drain to start.
async fn settle(
    deps: &Deps,
    report: &mut SweepReport,
    instance: Waiting,
    began: DateTime<Utc>,
    mine: &[Found],
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let with = |status: &ExecutionStatus| {
        mine.iter()
            .find(|found| found.status == status.as_str())
            .cloned()
    };
    if let Some(found) =
        with(&ExecutionStatus::Running).or_else(|| with(&ExecutionStatus::Succeeded))
    {
        report.in_hand.push(found);
        return Ok(());
    }
    if let Some(found) = mine.first() {
        tracing::warn!(instance = %instance.instance_id, execution = %found.execution_arn, status = %found.status, "drain did not succeed: redrive it");
        report.failed.push(found.clone());
        return Ok(());
    }
    match start(deps, &instance, began, now).await? {
        Some(execution_arn) => {
            tracing::warn!(instance = %instance.instance_id, execution = %execution_arn, action_started = %began, "no drain listed for the action (its lifecycle event lost, or its drain just started and not listed yet): started a drain");
            report.started.push(Found {
                instance_id: instance.instance_id,
                execution_arn,
                status: ExecutionStatus::Running.as_str().to_string(),
            });
        }
        None => report.already_started.push(instance.instance_id),
    }
    Ok(())
}

/// The lifecycle event the lost one would have been, minus the token; its `time` is the
/// start of the instance's termination activity (see the crate's documentation), or, for a
/// retained instance, `now`: its action has ended, no hook's timer runs any more, and the
/// drain's deadline counts from when it starts.
pub fn sweeper_event(
    config: &SweeperConfig,
    instance: &Waiting,
    began: DateTime<Utc>,
    now: DateTime<Utc>,
) -> LifecycleEvent {
    EventBridgeEvent {
        version: Some("0".into()),
        id: Some(format!(
            "sweep-{}",
            execution_name(&instance.instance_id, None, began)
        )),
        detail_type: LIFECYCLE_DETAIL_TYPE.into(),
        source: SWEEPER_SOURCE.into(),
        account: None,
        time: Some(EventTime::At(if instance.retained { now } else { began })),
        region: None,
        resources: Vec::new(),
        detail: LifecycleDetail {
            lifecycle_action_token: None,
            auto_scaling_group_name: instance.asg.clone(),
            lifecycle_hook_name: config.hook_name.clone(),
            ec2_instance_id: instance.instance_id.clone(),
            lifecycle_transition: TERMINATING.into(),
            notification_metadata: config.cluster.as_deref().map(NotificationMetadata::naming),
            origin: Some(
                if instance.from_warm_pool {
                    "WarmPool"
                } else {
                    "AutoScalingGroup"
                }
                .into(),
            ),
            destination: Some(instance.destination),
        },
    }
}

/// Starts a drain; `None` when Step Functions refuses the name (already started).
async fn start(
    deps: &Deps,
    instance: &Waiting,
    began: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StepError> {
    let event = serde_json::to_string(&sweeper_event(&deps.config, instance, began, now)).map_err(
        |error| StepError::AwsRequestFailed {
            operation: "StartExecution".into(),
            message: format!("the event could not be written: {error}"),
        },
    )?;
    let started = deps
        .sfn
        .start_execution()
        .state_machine_arn(&deps.config.state_machine_arn)
        .name(execution_name(&instance.instance_id, None, began))
        .input(event)
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
