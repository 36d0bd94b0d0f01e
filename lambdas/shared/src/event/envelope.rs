//! The raw events as serde types: the EventBridge envelope, generic over its `detail`, and
//! the two details a drain starts from. AWS sends them, our sweeper builds the same type
//! and serializes it, the sweeper and `ecs-sta` read execution inputs with it.
//!
//! These types say what the JSON looks like, not what it means: that an action is a
//! termination, an id an instance id, a `time` a time, is checked by the parser
//! (`super::request`). Fields whose every shape has a meaning stay open: AWS's documented
//! examples carry placeholders (`"time": "yyyy-mm-ddThh:mm:ssZ"`,
//! `"NotificationMetadata": "additional-info"`) and a hook's metadata is the user's text.
//!
//! `aws_lambda_events::eventbridge::EventBridgeEvent` has the envelope but reads `time` as
//! a strict time (a documented example would be refused), and no lifecycle or Spot detail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{LIFECYCLE_DETAIL_TYPE, SPOT_DETAIL_TYPE, SWEEPER_SOURCE};
use crate::read::{read, type_name};
use crate::state::Destination;
use crate::StepError;

/// An EventBridge event with a typed `detail`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBridgeEvent<D> {
    pub version: Option<String>,
    pub id: Option<String>,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: Option<String>,
    pub time: Option<EventTime>,
    pub region: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: D,
}

/// "EC2 Instance-terminate Lifecycle Action" (Amazon EC2 Auto Scaling event reference;
/// `Origin` and `Destination` from "Warm pool example events and patterns").
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleDetail {
    /// AWS always sends it; our sweeper cannot know it (no API returns it).
    pub lifecycle_action_token: Option<String>,
    pub auto_scaling_group_name: String,
    pub lifecycle_hook_name: String,
    #[serde(rename = "EC2InstanceId")]
    pub ec2_instance_id: String,
    pub lifecycle_transition: String,
    pub notification_metadata: Option<NotificationMetadata>,
    /// `EC2`, `AutoScalingGroup` or `WarmPool`; it changes nothing we do.
    pub origin: Option<String>,
    /// Absent in events of groups without a warm pool: terminated.
    pub destination: Option<Destination>,
}

/// "EC2 Spot Instance Interruption Warning" (Amazon EC2 User Guide).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotDetail {
    #[serde(rename = "instance-id")]
    pub instance_id: String,
    /// `terminate`, `stop` or `hibernate`: the instance goes either way.
    #[serde(rename = "instance-action")]
    pub instance_action: Option<String>,
}

pub type LifecycleEvent = EventBridgeEvent<LifecycleDetail>;
pub type SpotEvent = EventBridgeEvent<SpotDetail>;

/// An event's `time`: a time, or whatever else the event carried there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventTime {
    At(DateTime<Utc>),
    Unreadable(Value),
}

impl EventTime {
    /// The time, if it is one.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::At(time) => Some(*time),
            Self::Unreadable(_) => None,
        }
    }
}

/// A hook's `NotificationMetadata`: a string AWS passes through unchanged, ours when it
/// is the JSON of [`HookMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NotificationMetadata {
    Text(String),
    /// Not a string: not ours either.
    Other(Value),
}

/// What our hooks put in their metadata: the cluster to drain in. Other keys are the
/// user's and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookMetadata {
    #[serde(default)]
    pub cluster: Option<String>,
}

impl NotificationMetadata {
    /// The metadata naming `cluster`.
    pub fn naming(cluster: &str) -> Self {
        let metadata = HookMetadata {
            cluster: Some(cluster.to_string()),
        };
        Self::Text(serde_json::to_string(&metadata).unwrap_or_default())
    }
}

/// A drain's raw event, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Lifecycle(LifecycleEvent),
    Spot(SpotEvent),
}

/// What is read before the kind is known.
#[derive(Deserialize)]
struct Header {
    /// Set in the test message Auto Scaling sends to a new SQS or SNS target.
    #[serde(rename = "Event", default)]
    notification: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(rename = "detail-type", default)]
    detail_type: Option<String>,
    /// An object: a sequence would pass for a struct.
    #[serde(default)]
    detail: Option<Map<String, Value>>,
}

/// `autoscaling:TEST_NOTIFICATION`: the test message of a new SQS or SNS target.
const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";

impl Event {
    /// Reads a raw event by its `source` and `detail-type`. Rejections are `InvalidEvent`
    /// naming the field (`detail.EC2InstanceId`), or `event` for a value that is no object.
    pub fn from_value(value: &Value) -> Result<Self, StepError> {
        if !value.is_object() {
            return Err(StepError::invalid_event(
                "event",
                format!("must be a JSON object, got {}", type_name(value)),
            ));
        }
        let header: Header = read(value, "event")?;
        if header.notification.as_deref().map(str::trim) == Some(TEST_NOTIFICATION) {
            return Err(StepError::invalid_event(
                "Event",
                format!("is {TEST_NOTIFICATION}: the test message Auto Scaling sends to a new SQS/SNS target, not a lifecycle action (nothing to drain)"),
            ));
        }
        let missing = |field: &str| StepError::invalid_event(field, "is missing");
        let detail_type = header.detail_type.ok_or_else(|| missing("detail-type"))?;
        let source = header.source.ok_or_else(|| missing("source"))?;
        if header.detail.is_none() {
            return Err(missing("detail"));
        }
        match (source.as_str(), detail_type.as_str()) {
            ("aws.autoscaling" | SWEEPER_SOURCE, LIFECYCLE_DETAIL_TYPE) => {
                Ok(Self::Lifecycle(read(value, "event")?))
            }
            ("aws.ec2", SPOT_DETAIL_TYPE) => Ok(Self::Spot(read(value, "event")?)),
            ("aws.autoscaling" | SWEEPER_SOURCE | "aws.ec2", other) => Err(StepError::invalid_event(
                "detail-type",
                format!("is \"{other}\"; expected \"{LIFECYCLE_DETAIL_TYPE}\" or \"{SPOT_DETAIL_TYPE}\""),
            )),
            (other, _) => Err(StepError::invalid_event(
                "source",
                format!("is \"{other}\"; expected aws.autoscaling or aws.ec2 (or {SWEEPER_SOURCE})"),
            )),
        }
    }

    /// Reads an execution's input (a JSON text): `None` when it is not such an event.
    pub fn from_input(input: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(input).ok()?;
        Self::from_value(&value).ok()
    }

    /// The event's `time`, when it is one.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Lifecycle(event) => event.time.as_ref().and_then(EventTime::at),
            Self::Spot(event) => event.time.as_ref().and_then(EventTime::at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn rejected(value: Value) -> String {
        let error = Event::from_value(&value).unwrap_err();
        assert_eq!(error.name(), "InvalidEvent", "{error}");
        error.to_string()
    }

    #[test]
    fn reads_the_lifecycle_event_and_writes_it_back_unchanged() {
        let value = fixture("lifecycle-terminate.json");
        let Event::Lifecycle(event) = Event::from_value(&value).unwrap() else {
            panic!("not a lifecycle event");
        };
        assert_eq!(event.detail.ec2_instance_id, "i-1234567890abcdef0");
        assert_eq!(event.detail.auto_scaling_group_name, "test-cluster-asg");
        assert_eq!(event.detail.origin.as_deref(), Some("AutoScalingGroup"));
        assert_eq!(event.detail.destination, Some(Destination::Ec2));
        assert_eq!(
            event.detail.notification_metadata,
            Some(NotificationMetadata::naming("test-cluster"))
        );
        assert_eq!(
            event.time,
            Some(EventTime::At("2026-11-27T00:00:00Z".parse().unwrap()))
        );
        assert_eq!(serde_json::to_value(&event).unwrap(), value);
    }

    #[test]
    fn keeps_the_placeholders_of_the_documented_examples() {
        let value = fixture("aws-doc-lifecycle-terminate.json");
        let Event::Lifecycle(event) = Event::from_value(&value).unwrap() else {
            panic!("not a lifecycle event");
        };
        assert_eq!(
            event.time,
            Some(EventTime::Unreadable(json!("yyyy-mm-ddThh:mm:ssZ")))
        );
        assert_eq!(
            event.detail.notification_metadata,
            Some(NotificationMetadata::Text("additional-info".into()))
        );
        assert_eq!(serde_json::to_value(&event).unwrap(), value);
        let warm_pool = fixture("aws-doc-lifecycle-terminate-warm-pool.json");
        let Event::Lifecycle(event) = Event::from_value(&warm_pool).unwrap() else {
            panic!("not a lifecycle event");
        };
        assert_eq!(event.detail.destination, Some(Destination::WarmPool));
    }

    #[test]
    fn reads_the_spot_warning() {
        for name in ["spot-interruption.json", "aws-doc-spot-interruption.json"] {
            let value = fixture(name);
            let Event::Spot(event) = Event::from_value(&value).unwrap() else {
                panic!("{name} is not a Spot warning");
            };
            assert_eq!(event.detail.instance_id, "i-1234567890abcdef0");
            assert_eq!(serde_json::to_value(&event).unwrap(), value, "{name}");
        }
    }

    #[test]
    fn rejections_name_the_field() {
        let lifecycle = fixture("lifecycle-terminate.json");
        for (field, value, named) in [
            ("EC2InstanceId", None, "`detail.EC2InstanceId` is missing"),
            (
                "LifecycleHookName",
                Some(Value::Null),
                "`detail.LifecycleHookName` is missing",
            ),
            (
                "AutoScalingGroupName",
                Some(json!(7)),
                "`detail.AutoScalingGroupName` invalid type",
            ),
            (
                "Destination",
                Some(json!("Elsewhere")),
                "`detail.Destination` unknown variant",
            ),
            (
                "Origin",
                Some(json!(["EC2"])),
                "`detail.Origin` invalid type",
            ),
            (
                "LifecycleTransition",
                Some(json!(1)),
                "`detail.LifecycleTransition`",
            ),
        ] {
            let mut event = lifecycle.clone();
            let detail = event["detail"].as_object_mut().unwrap();
            match value {
                Some(value) => detail.insert(field.into(), value),
                None => detail.remove(field),
            };
            let message = rejected(event);
            assert!(message.contains(named), "{field}: {message}");
        }
        let mut spot = fixture("spot-interruption.json");
        spot["detail"]["instance-id"] = json!(false);
        assert!(rejected(spot).contains("`detail.instance-id`"));
        let mut event = lifecycle.clone();
        event["detail"] = json!(["token", "asg", "hook", "i-1234567890abcdef0"]);
        assert!(rejected(event).contains("`detail` invalid type"));
        let mut event = lifecycle.clone();
        event.as_object_mut().unwrap().remove("source");
        assert!(rejected(event).contains("`source` is missing"));
        assert!(rejected(json!([1])).contains("`event` must be a JSON object, got an array"));
        assert!(rejected(fixture("sqs-test-notification.json"))
            .contains("`Event` is autoscaling:TEST_NOTIFICATION"));
    }

    #[test]
    fn execution_inputs_that_are_no_event_read_as_none() {
        for input in [
            "not json",
            "{}",
            "[1]",
            "{\"detail\": {\"EC2InstanceId\": \"i-b\"}}",
        ] {
            assert_eq!(Event::from_input(input), None, "{input}");
        }
        let text = fixture("lifecycle-terminate.json").to_string();
        assert!(matches!(
            Event::from_input(&text),
            Some(Event::Lifecycle(_))
        ));
    }
}
