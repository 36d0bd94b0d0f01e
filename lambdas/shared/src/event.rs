//! The first step's input: the raw EventBridge event the rule delivered, plus the
//! settings and execution facts the state machine adds. Parsed and validated once into
//! a [`DrainRequest`] and [`Settings`].
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
mod execution;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::DrainConfig;
use crate::input::{reject_event, reject_setting, type_name, Fields};
use crate::state::{
    Destination, DrainKind, DrainRequest, LifecycleResult, Settings, StandaloneTasks,
};
use crate::StepError;

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

/// The first step's input, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainInput {
    pub request: DrainRequest,
    pub settings: Settings,
    pub execution_id: Option<String>,
    /// What the parser did without, in words for the output (each also logged): e.g.
    /// "`detail.NotificationMetadata` is not JSON ...: drained in the configured cluster".
    pub notes: Vec<String>,
}

impl DrainInput {
    pub fn parse(input: &Value, config: &DrainConfig) -> Result<Self, StepError> {
        let root = Fields::root(input, "input", reject_event)?;
        let execution_start = root
            .optional_string("execution_start_time")?
            .map(|text| {
                parse_time(&text)
                    .ok_or_else(|| root.fail("execution_start_time", "is not an RFC 3339 time"))
            })
            .transpose()?;
        let event = input
            .get("event")
            .filter(|value| !value.is_null())
            .ok_or_else(|| root.fail("event", "is missing"))?;
        let mut notes = Vec::new();
        Ok(Self {
            request: parse_event(event, config, execution_start, &mut notes)?,
            settings: parse_settings(input.get("settings").unwrap_or(&Value::Null))?,
            execution_id: root.optional_string("execution_id")?,
            notes,
        })
    }
}

pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|time| time.with_timezone(&Utc))
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

/// Validates the settings the state machine substitutes.
pub fn parse_settings(value: &Value) -> Result<Settings, StepError> {
    let root = Fields::root(value, "settings", reject_setting)?;
    let path = |key: &str| format!("settings.{key}");
    let deadline = root
        .count("drain_deadline_seconds")
        .map_err(|error| rename(error, &path("drain_deadline_seconds")))?;
    if deadline == 0 || deadline > MAX_DRAIN_DEADLINE_SECONDS {
        return Err(StepError::misconfigured(
            path("drain_deadline_seconds"),
            format!(
                "must be between 1 and {MAX_DRAIN_DEADLINE_SECONDS} (48 hours), got {deadline}"
            ),
        ));
    }
    let deadline_result = match root
        .string("deadline_result")
        .map_err(|error| rename(error, &path("deadline_result")))?
        .as_str()
    {
        "CONTINUE" => LifecycleResult::Continue,
        "ABANDON" => LifecycleResult::Abandon,
        other => {
            return Err(StepError::misconfigured(
                path("deadline_result"),
                format!("must be CONTINUE or ABANDON, got \"{other}\""),
            ))
        }
    };
    let standalone_tasks = match root
        .optional_string("standalone_tasks")
        .map_err(|error| rename(error, &path("standalone_tasks")))?
        .as_deref()
    {
        None | Some("wait") => StandaloneTasks::Wait,
        Some("stop") => StandaloneTasks::Stop,
        Some(other) => {
            return Err(StepError::misconfigured(
                path("standalone_tasks"),
                format!("must be wait or stop, got \"{other}\""),
            ))
        }
    };
    let grace = root
        .optional_count("standalone_task_grace_seconds")
        .map_err(|error| rename(error, &path("standalone_task_grace_seconds")))?
        .unwrap_or(300);
    Ok(Settings {
        drain_deadline_seconds: deadline,
        deadline_result,
        standalone_tasks,
        standalone_task_grace_seconds: grace,
    })
}

fn rename(error: StepError, field: &str) -> StepError {
    match error {
        StepError::Misconfigured { reason, .. } => StepError::misconfigured(field, reason),
        other => other,
    }
}

/// Validates the raw EventBridge event into a [`DrainRequest`]; what it did without is
/// added to `notes`.
pub fn parse_event(
    event: &Value,
    config: &DrainConfig,
    execution_start: Option<DateTime<Utc>>,
    notes: &mut Vec<String>,
) -> Result<DrainRequest, StepError> {
    let root = Fields::root(event, "event", reject_event)?;
    if root.optional_string("Event")?.as_deref() == Some("autoscaling:TEST_NOTIFICATION") {
        return Err(root.fail(
            "Event",
            "is autoscaling:TEST_NOTIFICATION: the test message Auto Scaling sends to a new SQS/SNS target, not a lifecycle action (nothing to drain)",
        ));
    }
    let detail_type = root.string("detail-type")?;
    let source = root.string("source")?;
    let detail = root.object("detail", "detail")?;
    match (source.as_str(), detail_type.as_str()) {
        ("aws.autoscaling" | SWEEPER_SOURCE, LIFECYCLE_DETAIL_TYPE) => {
            let transition = detail.string("LifecycleTransition")?;
            if transition != TERMINATING {
                return Err(detail.fail(
                    "LifecycleTransition",
                    format!("is {transition}; only {TERMINATING} is drained"),
                ));
            }
            let instance_id = instance_id(&detail, "EC2InstanceId")?;
            let asg_name = detail.string("AutoScalingGroupName")?;
            if !config.managed_asg_names.is_empty() && !config.managed_asg_names.contains(&asg_name)
            {
                return Err(detail.fail(
                    "AutoScalingGroupName",
                    format!(
                        "is {asg_name}, which this deployment does not manage (MANAGED_ASG_NAMES: {})",
                        config.managed_asg_names.join(",")
                    ),
                ));
            }
            let hook_name = detail.string("LifecycleHookName")?;
            // AWS always sends the token. Our sweeper cannot know it (no API returns it):
            // its events name the instance, which completes and heartbeats the action too.
            let token = if source == SWEEPER_SOURCE {
                detail.optional_string("LifecycleActionToken")?
            } else {
                Some(detail.string("LifecycleActionToken")?)
            };
            origin(&detail, notes)?;
            let destination = destination(&detail)?;
            let cluster = cluster::cluster(&detail, config, notes)?;
            let event_time = event_time(&root, execution_start, notes)?;
            Ok(DrainRequest {
                kind: DrainKind::LifecycleAction,
                instance_id,
                cluster,
                asg_name: Some(asg_name),
                hook_name: Some(hook_name),
                token,
                event_time,
                destination,
            })
        }
        ("aws.ec2", SPOT_DETAIL_TYPE) => {
            let instance_id = instance_id(&detail, "instance-id")?;
            let cluster = config.cluster.clone().ok_or_else(|| {
                StepError::misconfigured(
                    "ECS_CLUSTER",
                    "must be set to drain on Spot interruption warnings (they name no cluster)",
                )
            })?;
            let event_time = event_time(&root, execution_start, notes)?;
            Ok(DrainRequest {
                kind: DrainKind::SpotInterruption,
                instance_id,
                cluster,
                asg_name: None,
                hook_name: None,
                token: None,
                event_time,
                destination: Destination::Ec2,
            })
        }
        ("aws.autoscaling" | SWEEPER_SOURCE, _) | ("aws.ec2", _) => Err(root.fail(
            "detail-type",
            format!("is \"{detail_type}\"; expected \"{LIFECYCLE_DETAIL_TYPE}\" or \"{SPOT_DETAIL_TYPE}\""),
        )),
        _ => Err(root.fail(
            "source",
            format!("is \"{source}\"; expected aws.autoscaling or aws.ec2 (or {SWEEPER_SOURCE})"),
        )),
    }
}

/// The event's `time`. When it is missing or no time (AWS's documented examples say
/// `yyyy-mm-ddThh:mm:ssZ`), the execution's start stands in: later than the wait's start,
/// so the first step's immediate heartbeat is what keeps the hook alive.
fn event_time(
    root: &Fields<'_>,
    execution_start: Option<DateTime<Utc>>,
    notes: &mut Vec<String>,
) -> Result<DateTime<Utc>, StepError> {
    let problem = match root.value("time") {
        Some(Value::String(text)) => match parse_time(text) {
            Some(time) => return Ok(time),
            None => format!("is \"{}\", not an RFC 3339 time", clip(text, 40)),
        },
        None | Some(Value::Null) => "is missing".to_string(),
        Some(other) => format!("must be a string, got {}", type_name(other)),
    };
    match execution_start {
        Some(start) => {
            note(
                notes,
                format!(
                    "`time` {problem}: the drain counts from the execution's start ({}) instead",
                    start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
            );
            Ok(start)
        }
        None => Err(root.fail("time", problem)),
    }
}

/// `Origin` changes nothing we do; a value AWS does not document is noted, not refused.
fn origin(detail: &Fields<'_>, notes: &mut Vec<String>) -> Result<(), StepError> {
    match detail.optional_string("Origin")? {
        Some(origin) if !ORIGINS.contains(&origin.as_str()) => {
            note(
                notes,
                format!(
                    "`detail.Origin` is \"{}\", which AWS does not document ({}): ignored",
                    clip(&origin, 40),
                    ORIGINS.join(", ")
                ),
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Where the instance goes once the action completes. Absent means terminated: events of
/// groups without a warm pool may not carry it.
fn destination(detail: &Fields<'_>) -> Result<Destination, StepError> {
    match detail.optional_string("Destination")?.as_deref() {
        None | Some("EC2") => Ok(Destination::Ec2),
        Some("WarmPool") => {
            tracing::info!(
                "the instance goes back to the warm pool: drained all the same, to be reused"
            );
            Ok(Destination::WarmPool)
        }
        Some(other) => Err(detail.fail(
            "Destination",
            format!(
                "is \"{}\"; a terminate lifecycle action goes to EC2 (terminated) or WarmPool (stopped into the warm pool)",
                clip(other, 40)
            ),
        )),
    }
}

fn instance_id(detail: &Fields<'_>, key: &str) -> Result<String, StepError> {
    let id = detail.string(key)?;
    let valid = id.strip_prefix("i-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if valid {
        Ok(id)
    } else {
        Err(detail.fail(key, format!("is \"{id}\", not an EC2 instance id (i-...)")))
    }
}
