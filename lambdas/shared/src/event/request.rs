//! What a raw event means for the drain: the checks the serde types cannot make (a
//! termination, an instance id, a managed group, a cluster, a time), from [`Event`] to
//! [`DrainRequest`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::envelope::{Event, EventTime, LifecycleEvent, SpotEvent};
use super::{clip, cluster, note, ORIGINS, SWEEPER_SOURCE, TERMINATING};
use crate::config::DrainConfig;
use crate::read::type_name;
use crate::state::{Destination, DrainRequest, LifecycleAction, Trigger};
use crate::StepError;

/// The length of every lifecycle action token (CompleteLifecycleAction's API reference).
const TOKEN_LENGTH: usize = 36;

/// Checks `event` into a [`DrainRequest`]; what it did without is added to `notes`.
pub(super) fn request(
    event: Event,
    config: &DrainConfig,
    execution_start: Option<DateTime<Utc>>,
    notes: &mut Vec<String>,
) -> Result<DrainRequest, StepError> {
    let mut intake = Intake {
        config,
        execution_start,
        notes,
    };
    match event {
        Event::Lifecycle(event) => intake.lifecycle(event),
        Event::Spot(event) => intake.spot(event),
    }
}

/// What checking an event needs besides the event.
struct Intake<'a> {
    config: &'a DrainConfig,
    execution_start: Option<DateTime<Utc>>,
    notes: &'a mut Vec<String>,
}

impl Intake<'_> {
    fn lifecycle(&mut self, event: LifecycleEvent) -> Result<DrainRequest, StepError> {
        let config = self.config;
        let detail = &event.detail;
        let transition = detail.lifecycle_transition.trim();
        if transition != TERMINATING {
            return Err(StepError::invalid_event(
                "detail.LifecycleTransition",
                format!("is {transition}; only {TERMINATING} is drained"),
            ));
        }
        let instance_id = instance_id(&detail.ec2_instance_id, "detail.EC2InstanceId")?;
        let asg_name = required(
            &detail.auto_scaling_group_name,
            "detail.AutoScalingGroupName",
        )?;
        if !config.managed_asg_names.is_empty() && !config.managed_asg_names.contains(&asg_name) {
            return Err(StepError::invalid_event(
                "detail.AutoScalingGroupName",
                format!(
                    "is {asg_name}, which this deployment does not manage (MANAGED_ASG_NAMES: {})",
                    config.managed_asg_names.join(",")
                ),
            ));
        }
        let hook_name = required(&detail.lifecycle_hook_name, "detail.LifecycleHookName")?;
        // AWS always sends the token. Our sweeper cannot know it (no API returns it): its
        // events name the instance, which completes and heartbeats the action too.
        let token = detail
            .lifecycle_action_token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(str::to_string);
        if token.is_none() && event.source != SWEEPER_SOURCE {
            return Err(StepError::invalid_event(
                "detail.LifecycleActionToken",
                "is missing",
            ));
        }
        // Auto Scaling refuses any other length (its API reference: "Length Constraints: Fixed
        // length of 36"), and a heartbeat or completion refused as invalid would fail the drain
        // only after it had begun; AWS's own example tokens are not all hexadecimal.
        if let Some(length) = token.as_ref().map(|token| token.chars().count()) {
            if length != TOKEN_LENGTH {
                return Err(StepError::invalid_event(
                    "detail.LifecycleActionToken",
                    format!(
                    "is {length} characters long, not the {TOKEN_LENGTH} of Auto Scaling's tokens"
                ),
                ));
            }
        }
        origin(detail.origin.as_deref(), self.notes);
        let destination = destination(detail.destination)?;
        let cluster = cluster::cluster(detail.notification_metadata.as_ref(), config, self.notes)?;
        let event_time = self.event_time(event.time.as_ref())?;
        Ok(DrainRequest {
            trigger: Trigger::LifecycleAction(LifecycleAction {
                asg_name,
                hook_name,
                token,
            }),
            instance_id,
            cluster,
            event_time,
            destination,
        })
    }

    fn spot(&mut self, event: SpotEvent) -> Result<DrainRequest, StepError> {
        let instance_id = instance_id(&event.detail.instance_id, "detail.instance-id")?;
        let cluster = self.config.cluster.clone().ok_or_else(|| {
            StepError::misconfigured(
                "ECS_CLUSTER",
                "must be set to drain on Spot interruption warnings (they name no cluster)",
            )
        })?;
        let event_time = self.event_time(event.time.as_ref())?;
        let destination = spot_destination(event.detail.instance_action.as_deref(), self.notes);
        Ok(DrainRequest {
            trigger: Trigger::SpotInterruption,
            instance_id,
            cluster,
            event_time,
            destination,
        })
    }

    /// The event's `time`. When it is missing or no time (AWS's documented examples say
    /// `yyyy-mm-ddThh:mm:ssZ`), the execution's start stands in: later than the wait's start,
    /// so the first step's immediate heartbeat is what keeps the hook alive.
    fn event_time(&mut self, time: Option<&EventTime>) -> Result<DateTime<Utc>, StepError> {
        let problem = match time {
            Some(EventTime::At(time)) => return Ok(*time),
            Some(EventTime::Unreadable(Value::String(text))) => {
                format!("is \"{}\", not an RFC 3339 time", clip(text, 40))
            }
            None | Some(EventTime::Unreadable(Value::Null)) => "is missing".to_string(),
            Some(EventTime::Unreadable(other)) => {
                format!("must be a string, got {}", type_name(other))
            }
        };
        match self.execution_start {
            Some(start) => {
                note(
                    self.notes,
                    format!(
                    "`time` {problem}: the drain counts from the execution's start ({}) instead",
                    start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
                );
                Ok(start)
            }
            None => Err(StepError::invalid_event("time", problem)),
        }
    }
}

/// Where a Spot interruption sends the instance: `terminate` (or no action) terminates it;
/// `stop` and `hibernate` stop it, and EC2 may start it again later ("Behavior of Spot Instance
/// interruptions"). An action AWS does not document is noted and taken for a stop: marking an
/// instance that then terminates does no harm, leaving one DRAINING that comes back does.
fn spot_destination(action: Option<&str>, notes: &mut Vec<String>) -> Destination {
    match action.map(str::trim) {
        None | Some("") | Some("terminate") => Destination::Ec2,
        Some("stop") | Some("hibernate") => Destination::Stopped,
        Some(other) => {
            note(
                notes,
                format!(
                    "`detail.instance-action` is \"{}\", which AWS does not document (terminate, stop, \
                     hibernate): drained as for a stop, to be set ACTIVE if the instance runs again",
                    clip(other, 40)
                ),
            );
            Destination::Stopped
        }
    }
}

/// A string the drain needs: blank counts as missing.
fn required(text: &str, field: &str) -> Result<String, StepError> {
    match text.trim() {
        "" => Err(StepError::invalid_event(field, "is missing")),
        text => Ok(text.to_string()),
    }
}

/// `Origin` changes nothing we do; a value AWS does not document is noted, not refused.
fn origin(origin: Option<&str>, notes: &mut Vec<String>) {
    match origin.map(str::trim) {
        Some(origin) if !origin.is_empty() && !ORIGINS.contains(&origin) => note(
            notes,
            format!(
                "`detail.Origin` is \"{}\", which AWS does not document ({}): ignored",
                clip(origin, 40),
                ORIGINS.join(", ")
            ),
        ),
        _ => {}
    }
}

/// Where the instance goes once the action completes: `EC2` or `WarmPool` (`Stopped` is ours,
/// a Spot interruption's, never Auto Scaling's). Absent means terminated: events of groups
/// without a warm pool may not carry it.
fn destination(destination: Option<Destination>) -> Result<Destination, StepError> {
    let destination = destination.unwrap_or_default();
    match destination {
        Destination::Stopped => Err(StepError::invalid_event(
            "detail.Destination",
            "is \"Stopped\", not EC2 or WarmPool",
        )),
        Destination::WarmPool => {
            tracing::info!(
                "the instance goes back to the warm pool: drained all the same, to be reused"
            );
            Ok(destination)
        }
        Destination::Ec2 => Ok(destination),
    }
}

fn instance_id(id: &str, field: &str) -> Result<String, StepError> {
    let id = required(id, field)?;
    let valid = id.strip_prefix("i-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if valid {
        Ok(id)
    } else {
        Err(StepError::invalid_event(
            field,
            format!("is \"{}\", not an EC2 instance id (i-...)", clip(&id, 40)),
        ))
    }
}
