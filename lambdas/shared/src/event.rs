//! The first step's input: the raw EventBridge event the rule delivered, plus the
//! settings and execution facts the state machine adds. Read once with the serde types of
//! [`envelope`] (errors name the field), then checked for meaning into a [`DrainRequest`]
//! ([`request`]) and [`Settings`].
//!
//! A genuine lifecycle event for our group and hook is never refused for something the
//! drain can do without. AWS's own documented examples carry placeholders
//! (`"time": "yyyy-mm-ddThh:mm:ssZ"`, `"NotificationMetadata": "additional-info"`), and a
//! hook's metadata is the user's, not necessarily ours:
//!
//! - a `time` that is missing or no time: the execution's start stands in for it;
//! - `NotificationMetadata` that is absent, not JSON, or JSON without our `cluster`:
//!   the configured cluster (`ECS_CLUSTER`) is used;
//! - an `Origin` AWS does not document: it changes nothing we do.
//!
//! Each such choice is logged and listed in [`DrainInput::notes`]. What the drain cannot do
//! without (the instance, the group, the hook, the token of an AWS event, a cluster from
//! one place or the other, where the instance goes) is refused with `InvalidEvent` naming
//! the field.

mod cluster;
pub mod envelope;
mod execution;
mod request;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::config::DrainConfig;
use crate::read::{count, optional_count, read, read_config, type_name};
use crate::state::{
    DrainRequest, LifecycleResult, Settings, StandaloneTasks, NLB_DEREGISTRATION_SECONDS,
};
use crate::StepError;

pub use envelope::Event;
pub use execution::{execution_name, ActionRef};

pub const LIFECYCLE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
pub const SPOT_DETAIL_TYPE: &str = "EC2 Spot Instance Interruption Warning";
pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";
/// The `source` of the lifecycle events our sweeper makes for instances whose event was
/// lost (EventBridge delivers on a best-effort basis).
pub const SWEEPER_SOURCE: &str = "ecs-single-task-autoscaling.sweeper";

/// The values of a lifecycle event's `Origin` and `Destination` (Amazon EC2 Auto Scaling
/// User Guide, "Warm pool example events and patterns").
pub const ORIGINS: [&str; 3] = ["EC2", "AutoScalingGroup", "WarmPool"];

/// Auto Scaling's lifecycle wait is capped at 48 hours.
pub const MAX_DRAIN_DEADLINE_SECONDS: u64 = 48 * 3600;

/// The longest `settings.nlb_deregistration_seconds` (the deregistration delay's own maximum).
pub const MAX_NLB_DEREGISTRATION_SECONDS: u64 = 3600;

/// The first step's input, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainInput {
    pub request: DrainRequest,
    pub settings: Settings,
    /// What the parser did without, in words for the output (each also logged): e.g.
    /// "`detail.NotificationMetadata` is not JSON ...: drained in the configured cluster".
    pub notes: Vec<String>,
}

/// The first step's input as the state machine builds it.
#[derive(Deserialize)]
struct StepInput {
    #[serde(default)]
    event: Option<Value>,
    /// `$$.Execution.StartTime`: stands in for an event without a time.
    #[serde(default)]
    execution_start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    settings: Value,
}

impl DrainInput {
    pub fn parse(input: &Value, config: &DrainConfig) -> Result<Self, StepError> {
        if !input.is_object() {
            return Err(StepError::invalid_event(
                "input",
                format!("must be a JSON object, got {}", type_name(input)),
            ));
        }
        let input: StepInput = read(input, "input")?;
        let event = input
            .event
            .ok_or_else(|| StepError::invalid_event("event", "is missing"))?;
        let mut notes = Vec::new();
        let request = request::request(
            Event::from_value(&event)?,
            config,
            input.execution_start_time,
            &mut notes,
        )?;
        Ok(Self {
            request,
            settings: parse_settings(&input.settings)?,
            notes,
        })
    }
}

/// Records what the parser did without: logged now, shown in the output later.
fn note(notes: &mut Vec<String>, text: String) {
    tracing::info!(note = %text, "event accepted");
    notes.push(text);
}

/// At most `max` characters of someone else's text, for a message.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(max).collect::<String>())
    }
}

/// The settings as the state machine substitutes them: its substitutions are strings.
#[derive(Deserialize)]
struct RawSettings {
    #[serde(deserialize_with = "count")]
    drain_deadline_seconds: u64,
    deadline_result: LifecycleResult,
    #[serde(default)]
    standalone_tasks: Option<StandaloneTasks>,
    #[serde(default, deserialize_with = "optional_count")]
    standalone_task_grace_seconds: Option<u64>,
    #[serde(default, deserialize_with = "optional_count")]
    nlb_deregistration_seconds: Option<u64>,
}

/// Reads the settings the state machine substitutes, then checks the deadline's range.
pub fn parse_settings(value: &Value) -> Result<Settings, StepError> {
    let raw: RawSettings = read_config(value, "settings", "settings.")?;
    let deadline = raw.drain_deadline_seconds;
    if deadline == 0 || deadline > MAX_DRAIN_DEADLINE_SECONDS {
        return Err(StepError::misconfigured(
            "settings.drain_deadline_seconds",
            format!(
                "must be between 1 and {MAX_DRAIN_DEADLINE_SECONDS} (48 hours), got {deadline}"
            ),
        ));
    }
    let nlb = raw
        .nlb_deregistration_seconds
        .unwrap_or(NLB_DEREGISTRATION_SECONDS);
    if nlb > MAX_NLB_DEREGISTRATION_SECONDS {
        return Err(StepError::misconfigured(
            "settings.nlb_deregistration_seconds",
            format!("must be at most {MAX_NLB_DEREGISTRATION_SECONDS} (1 hour), got {nlb}"),
        ));
    }
    Ok(Settings {
        drain_deadline_seconds: deadline,
        deadline_result: raw.deadline_result,
        standalone_tasks: raw.standalone_tasks.unwrap_or(StandaloneTasks::Wait),
        standalone_task_grace_seconds: raw.standalone_task_grace_seconds.unwrap_or(300),
        nlb_deregistration_seconds: nlb,
    })
}
