//! Which lifecycle action a drain execution is for, and the name our own starters (the
//! sweeper, `ecs-sta replay --restart`) give an execution so that Step Functions itself
//! refuses a second one for the same action (`ExecutionAlreadyExists`; names are unique
//! per state machine for 90 days).

use chrono::{DateTime, Utc};

use super::envelope::Event;

/// The name of an execution for one lifecycle action of `instance_id`: unique per action,
/// not per instance, because an instance reused from a warm pool is terminated (and
/// drained) again with the same id.
///
/// - With a token (every AWS lifecycle event has one): instance and token.
/// - Without (the sweeper cannot know the token, no API returns it; a Spot warning has
///   none): instance and `began`, the time the action began, to the second
///   (`i-1234567890abcdef0-20261127T000000Z`). For the sweeper's drains that is the start
///   of the instance's termination activity, for a Spot warning the warning's time: the
///   same for every sweep of one action, different for the next action of the instance.
///
/// Only letters, digits, `-` and `_`, at most 80 characters (Step Functions' limits).
pub fn execution_name(instance_id: &str, token: Option<&str>, began: DateTime<Utc>) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    let action = match token {
        Some(token) => clean(token),
        None => began.format("%Y%m%dT%H%M%SZ").to_string(),
    };
    format!("{}-{action}", clean(instance_id))
        .chars()
        .take(80)
        .collect()
}

/// What a drain execution's input (the raw event) says about the action it drains, read
/// with the event's serde types but without the first step's checks of meaning: the input
/// may be one the first step refused, and whoever reads it (the sweeper, the CLI) only
/// tells executions apart by it. An input that is no lifecycle event or Spot warning
/// names nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRef {
    /// `detail.EC2InstanceId` (lifecycle action) or `detail.instance-id` (Spot warning).
    pub instance_id: Option<String>,
    /// `detail.AutoScalingGroupName`: present for lifecycle actions only.
    pub asg_name: Option<String>,
    /// `detail.LifecycleActionToken`: absent in the sweeper's events and Spot warnings.
    pub token: Option<String>,
    /// The event's `time` when it is an RFC 3339 time: for the sweeper's events, the start
    /// of the instance's termination activity.
    pub time: Option<DateTime<Utc>>,
}

impl ActionRef {
    pub fn from_input(input: &str) -> Self {
        let text = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
        let Some(event) = Event::from_input(input) else {
            return Self::default();
        };
        let time = event.time();
        match event {
            Event::Lifecycle(event) => Self {
                instance_id: text(&event.detail.ec2_instance_id),
                asg_name: text(&event.detail.auto_scaling_group_name),
                token: event
                    .detail
                    .lifecycle_action_token
                    .as_deref()
                    .and_then(text),
                time,
            },
            Event::Spot(event) => Self {
                instance_id: text(&event.detail.instance_id),
                time,
                ..Self::default()
            },
        }
    }

    /// The name of a new execution for this action ([`execution_name`]); `started` (the
    /// original execution's start) stands in for an event without a time. `None` when the
    /// input names no instance.
    pub fn execution_name(&self, started: DateTime<Utc>) -> Option<String> {
        let instance_id = self.instance_id.as_deref()?;
        Some(execution_name(
            instance_id,
            self.token.as_deref(),
            self.time.unwrap_or(started),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFECYCLE: &str = include_str!("../../../../tests/fixtures/lifecycle-terminate.json");
    const SPOT: &str = include_str!("../../../../tests/fixtures/spot-interruption.json");
    const AWS_SPOT: &str =
        include_str!("../../../../tests/fixtures/aws-doc-spot-interruption.json");
    const EXECUTION_START: &str = "2026-11-27T00:00:01Z";

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn execution_names_identify_the_action() {
        let began = time("2026-11-27T00:00:00.750Z");
        assert_eq!(
            execution_name(
                "i-1234567890abcdef0",
                Some("87654321-4321-4321-4321-210987654321"),
                began
            ),
            "i-1234567890abcdef0-87654321-4321-4321-4321-210987654321"
        );
        assert_eq!(
            execution_name("i-1234567890abcdef0", None, began),
            "i-1234567890abcdef0-20261127T000000Z"
        );
        // The next action of the same instance (reused from a warm pool) gets another name.
        assert_ne!(
            execution_name("i-1234567890abcdef0", None, began),
            execution_name(
                "i-1234567890abcdef0",
                None,
                began + chrono::Duration::hours(3)
            )
        );
        let long = execution_name("i-1234567890abcdef0", Some(&"x".repeat(200)), began);
        assert_eq!(long.len(), 80);
        assert_eq!(execution_name("i-1", Some("a b/c"), began), "i-1-abc");
        let name = execution_name("i-1234567890abcdef0", None, began);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn an_execution_input_names_its_action() {
        let action = ActionRef::from_input(LIFECYCLE);
        assert_eq!(action.instance_id.as_deref(), Some("i-1234567890abcdef0"));
        assert_eq!(action.asg_name.as_deref(), Some("test-cluster-asg"));
        assert_eq!(
            action.token.as_deref(),
            Some("87654321-4321-4321-4321-210987654321")
        );
        assert_eq!(action.time, Some(time("2026-11-27T00:00:00Z")));

        let spot = ActionRef::from_input(SPOT);
        assert_eq!(spot.instance_id.as_deref(), Some("i-1234567890abcdef0"));
        assert_eq!((spot.asg_name, spot.token), (None, None));
        let started = time(EXECUTION_START);
        assert_eq!(
            ActionRef::from_input(SPOT)
                .execution_name(started)
                .as_deref(),
            Some("i-1234567890abcdef0-20261127T000000Z")
        );
        // AWS's example has no time: the execution's start names the action.
        assert_eq!(
            ActionRef::from_input(AWS_SPOT)
                .execution_name(started)
                .as_deref(),
            Some("i-1234567890abcdef0-20261127T000001Z")
        );
        for input in ["not json", "{}", "{\"detail\": 5}", "[1]"] {
            assert_eq!(ActionRef::from_input(input), ActionRef::default());
            assert_eq!(ActionRef::from_input(input).execution_name(started), None);
        }
    }
}
