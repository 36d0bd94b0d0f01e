//! The first step's input: the raw EventBridge event the rule delivered, plus the
//! settings and execution facts the state machine adds. Parsed and validated once into
//! a [`DrainRequest`] and [`Settings`]; anything we cannot identify is refused with
//! `InvalidEvent` naming the field.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::DrainConfig;
use crate::input::{reject_event, reject_setting, Fields};
use crate::state::{DrainKind, DrainRequest, LifecycleResult, Settings, StandaloneTasks};
use crate::StepError;

pub const LIFECYCLE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
pub const SPOT_DETAIL_TYPE: &str = "EC2 Spot Instance Interruption Warning";
pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";
/// The `source` of the lifecycle events our sweeper makes for instances whose event was
/// lost (EventBridge delivers on a best-effort basis).
pub const SWEEPER_SOURCE: &str = "ecs-single-task-autoscaling.sweeper";

/// Auto Scaling's lifecycle wait is capped at 48 hours.
pub const MAX_DRAIN_DEADLINE_SECONDS: u64 = 48 * 3600;

/// The name our own starters (the sweeper, `ecs-sta replay --restart`) give an execution:
/// made from the instance and the lifecycle token, so that Step Functions itself refuses a
/// second execution for the same action (`ExecutionAlreadyExists`; names are unique per
/// state machine for 90 days). Without a token (the sweeper cannot know it) the instance
/// alone names it: an instance is terminated once.
pub fn execution_name(instance_id: &str, token: Option<&str>) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    let name = match token {
        Some(token) => format!("{}-{}", clean(instance_id), clean(token)),
        None => format!("{}-sweep", clean(instance_id)),
    };
    // Step Functions allows 80 characters.
    name.chars().take(80).collect()
}

/// The first step's input, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainInput {
    pub request: DrainRequest,
    pub settings: Settings,
    pub execution_id: Option<String>,
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
        Ok(Self {
            request: parse_event(event, config, execution_start)?,
            settings: parse_settings(input.get("settings").unwrap_or(&Value::Null))?,
            execution_id: root.optional_string("execution_id")?,
        })
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
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

/// Validates the raw EventBridge event into a [`DrainRequest`].
pub fn parse_event(
    event: &Value,
    config: &DrainConfig,
    execution_start: Option<DateTime<Utc>>,
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
    let event_time = match root.optional_string("time")? {
        Some(text) => {
            parse_time(&text).ok_or_else(|| root.fail("time", "is not an RFC 3339 time"))?
        }
        None => execution_start.ok_or_else(|| root.fail("time", "is missing"))?,
    };
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
            let cluster = cluster(&detail, config)?;
            Ok(DrainRequest {
                kind: DrainKind::LifecycleAction,
                instance_id,
                cluster,
                asg_name: Some(asg_name),
                hook_name: Some(hook_name),
                token,
                event_time,
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
            Ok(DrainRequest {
                kind: DrainKind::SpotInterruption,
                instance_id,
                cluster,
                asg_name: None,
                hook_name: None,
                token: None,
                event_time,
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

/// The cluster named in the hook's notification metadata, else the configured one.
/// When both are present they must agree: an event for a cluster this deployment does
/// not manage is refused.
fn cluster(detail: &Fields<'_>, config: &DrainConfig) -> Result<String, StepError> {
    let from_metadata = match detail.optional_string("NotificationMetadata")? {
        None => None,
        Some(text) => {
            let metadata: Value = serde_json::from_str(&text).map_err(|_| {
                detail.fail(
                    "NotificationMetadata",
                    "is not JSON; expected {\"cluster\": \"<cluster name>\"}",
                )
            })?;
            match metadata.get("cluster") {
                None | Some(Value::Null) => None,
                Some(Value::String(name)) if !name.trim().is_empty() => {
                    Some(name.trim().to_string())
                }
                Some(_) => {
                    return Err(
                        detail.fail("NotificationMetadata.cluster", "must be a non-empty string")
                    )
                }
            }
        }
    };
    match (from_metadata, &config.cluster) {
        (Some(named), Some(managed)) if !same_cluster(&named, managed) => Err(detail.fail(
            "NotificationMetadata.cluster",
            format!("is {named}, which this deployment does not manage (ECS_CLUSTER: {managed})"),
        )),
        (Some(named), _) => Ok(named),
        (None, Some(managed)) => Ok(managed.clone()),
        (None, None) => Err(detail.fail(
            "NotificationMetadata.cluster",
            "is missing and ECS_CLUSTER is not set: no cluster to drain in",
        )),
    }
}

/// A cluster may be given by name or ARN.
fn same_cluster(a: &str, b: &str) -> bool {
    let name = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    name(a) == name(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIFECYCLE: &str = include_str!("../../../tests/fixtures/lifecycle-terminate.json");
    const SPOT: &str = include_str!("../../../tests/fixtures/spot-interruption.json");
    const SQS_TEST: &str = include_str!("../../../tests/fixtures/sqs-test-notification.json");

    fn settings() -> Value {
        json!({"drain_deadline_seconds": "3000", "deadline_result": "CONTINUE",
               "standalone_tasks": "wait", "standalone_task_grace_seconds": "300"})
    }

    fn input(event: Value) -> Value {
        json!({"event": event, "execution_id": "arn:exec", "execution_start_time": "2026-11-27T00:00:01Z", "settings": settings()})
    }

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn parse(event: Value, config: &DrainConfig) -> Result<DrainInput, StepError> {
        DrainInput::parse(&input(event), config)
    }

    #[test]
    fn parses_the_lifecycle_fixture() {
        let parsed = parse(fixture(LIFECYCLE), &DrainConfig::default()).unwrap();
        let request = parsed.request;
        assert_eq!(request.kind, DrainKind::LifecycleAction);
        assert_eq!(request.instance_id, "i-1234567890abcdef0");
        assert_eq!(request.cluster, "test-cluster");
        assert_eq!(request.asg_name.as_deref(), Some("test-cluster-asg"));
        assert_eq!(request.hook_name.as_deref(), Some("ecsTermination"));
        assert_eq!(
            request.token.as_deref(),
            Some("87654321-4321-4321-4321-210987654321")
        );
        assert_eq!(request.event_time.to_rfc3339(), "2026-11-27T00:00:00+00:00");
        assert_eq!(parsed.settings.drain_deadline_seconds, 3000);
        assert_eq!(parsed.execution_id.as_deref(), Some("arn:exec"));
    }

    #[test]
    fn parses_the_spot_fixture_with_the_configured_cluster() {
        let config = DrainConfig {
            cluster: Some("prod".into()),
            ..DrainConfig::default()
        };
        let request = parse(fixture(SPOT), &config).unwrap().request;
        assert_eq!(request.kind, DrainKind::SpotInterruption);
        assert_eq!(request.instance_id, "i-1234567890abcdef0");
        assert_eq!(request.cluster, "prod");
        assert_eq!(request.token, None);

        let error = parse(fixture(SPOT), &DrainConfig::default()).unwrap_err();
        assert_eq!(error.name(), "Misconfigured");
        assert!(error.to_string().contains("ECS_CLUSTER"));
    }

    fn rejected(event: Value, config: &DrainConfig) -> String {
        let error = parse(event, config).unwrap_err();
        assert_eq!(error.name(), "InvalidEvent", "{error}");
        error.to_string()
    }

    #[test]
    fn refuses_the_sqs_test_notification() {
        let message = rejected(fixture(SQS_TEST), &DrainConfig::default());
        assert!(
            message.contains("`Event`") && message.contains("TEST_NOTIFICATION"),
            "{message}"
        );
    }

    #[test]
    fn refuses_a_launch_lifecycle_event() {
        let mut event = fixture(LIFECYCLE);
        event["detail"]["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
        let message = rejected(event, &DrainConfig::default());
        assert!(
            message.contains("`detail.LifecycleTransition`"),
            "{message}"
        );
    }

    #[test]
    fn refuses_missing_or_bad_fields_naming_them() {
        for (field, value, named) in [
            (
                "LifecycleActionToken",
                Value::Null,
                "detail.LifecycleActionToken",
            ),
            (
                "LifecycleActionToken",
                json!(""),
                "detail.LifecycleActionToken",
            ),
            ("EC2InstanceId", json!("web-1"), "detail.EC2InstanceId"),
            (
                "AutoScalingGroupName",
                json!(7),
                "detail.AutoScalingGroupName",
            ),
            ("LifecycleHookName", Value::Null, "detail.LifecycleHookName"),
            (
                "NotificationMetadata",
                json!("{not json"),
                "detail.NotificationMetadata",
            ),
            (
                "NotificationMetadata",
                json!("{\"cluster\": 5}"),
                "detail.NotificationMetadata.cluster",
            ),
            (
                "NotificationMetadata",
                json!("{}"),
                "detail.NotificationMetadata.cluster",
            ),
        ] {
            let mut event = fixture(LIFECYCLE);
            event["detail"][field] = value;
            let message = rejected(event, &DrainConfig::default());
            assert!(
                message.contains(&format!("`{named}`")),
                "{field}: {message}"
            );
        }
        let mut event = fixture(LIFECYCLE);
        event["detail"] = json!([]);
        assert!(rejected(event, &DrainConfig::default()).contains("`detail`"));
        let mut event = fixture(LIFECYCLE);
        event["source"] = json!("my.app");
        assert!(rejected(event, &DrainConfig::default()).contains("`source`"));
        let mut event = fixture(LIFECYCLE);
        event["detail-type"] = json!("EC2 Instance Launch Successful");
        assert!(rejected(event, &DrainConfig::default()).contains("`detail-type`"));
        assert!(rejected(json!(null), &DrainConfig::default()).contains("`event`"));
        let error = DrainInput::parse(&json!({"settings": settings()}), &DrainConfig::default())
            .unwrap_err();
        assert!(error.to_string().contains("`event`"));
    }

    #[test]
    fn refuses_foreign_groups_and_clusters() {
        let config = DrainConfig {
            cluster: Some("other".into()),
            managed_asg_names: vec!["test-cluster-asg".into()],
            ..DrainConfig::default()
        };
        let message = rejected(fixture(LIFECYCLE), &config);
        assert!(
            message.contains("`detail.NotificationMetadata.cluster`"),
            "{message}"
        );
        let config = DrainConfig {
            managed_asg_names: vec!["another-asg".into()],
            ..DrainConfig::default()
        };
        let message = rejected(fixture(LIFECYCLE), &config);
        assert!(
            message.contains("`detail.AutoScalingGroupName`"),
            "{message}"
        );
        let config = DrainConfig {
            cluster: Some("arn:aws:ecs:us-west-2:123456789012:cluster/test-cluster".into()),
            ..DrainConfig::default()
        };
        assert_eq!(
            parse(fixture(LIFECYCLE), &config).unwrap().request.cluster,
            "test-cluster"
        );
    }

    #[test]
    fn sweeper_events_may_lack_the_token_aws_events_may_not() {
        let mut event = fixture(LIFECYCLE);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("LifecycleActionToken");
        let message = rejected(event.clone(), &DrainConfig::default());
        assert!(
            message.contains("`detail.LifecycleActionToken`"),
            "{message}"
        );
        event["source"] = json!(SWEEPER_SOURCE);
        let request = parse(event, &DrainConfig::default()).unwrap().request;
        assert_eq!(request.token, None);
        assert_eq!(request.kind, DrainKind::LifecycleAction);
    }

    #[test]
    fn falls_back_to_the_configured_cluster() {
        let mut event = fixture(LIFECYCLE);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("NotificationMetadata");
        let config = DrainConfig {
            cluster: Some("prod".into()),
            ..DrainConfig::default()
        };
        assert_eq!(parse(event, &config).unwrap().request.cluster, "prod");
    }

    #[test]
    fn execution_names_come_from_the_instance_and_the_token() {
        assert_eq!(
            execution_name(
                "i-1234567890abcdef0",
                Some("87654321-4321-4321-4321-210987654321")
            ),
            "i-1234567890abcdef0-87654321-4321-4321-4321-210987654321"
        );
        assert_eq!(
            execution_name("i-1234567890abcdef0", None),
            "i-1234567890abcdef0-sweep"
        );
        let long = execution_name("i-1234567890abcdef0", Some(&"x".repeat(200)));
        assert_eq!(long.len(), 80);
        assert_eq!(execution_name("i-1", Some("a b/c")), "i-1-abc");
    }

    #[test]
    fn validates_settings_naming_them() {
        for (key, value) in [
            ("drain_deadline_seconds", json!("0")),
            ("drain_deadline_seconds", json!("172801")),
            ("drain_deadline_seconds", json!("soon")),
            ("deadline_result", json!("DEFAULT")),
            ("standalone_tasks", json!("kill")),
            ("standalone_task_grace_seconds", json!(-1)),
        ] {
            let mut settings = settings();
            settings[key] = value;
            let error = parse_settings(&settings).unwrap_err();
            assert_eq!(error.name(), "Misconfigured");
            assert!(
                error.to_string().contains(&format!("`settings.{key}`")),
                "{error}"
            );
        }
        let mut settings = settings();
        settings.as_object_mut().unwrap().remove("deadline_result");
        assert!(parse_settings(&settings)
            .unwrap_err()
            .to_string()
            .contains("settings.deadline_result"));
        assert!(parse_settings(&Value::Null)
            .unwrap_err()
            .to_string()
            .contains("`settings`"));
    }
}
