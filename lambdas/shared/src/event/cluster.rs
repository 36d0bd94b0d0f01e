//! The cluster a lifecycle action is drained in: the one the hook's `NotificationMetadata`
//! names (`{"cluster": "..."}`), else the configured one (`ECS_CLUSTER`). The metadata is
//! the user's free text: a hook made for something else, or AWS's documented example
//! (`"additional-info"`), carries metadata that is not ours, and that is no reason to let
//! the instance go undrained.

use serde_json::Value;

use super::envelope::{HookMetadata, NotificationMetadata};
use super::{clip, note};
use crate::config::DrainConfig;
use crate::read::type_name;
use crate::StepError;

/// Why the metadata names no cluster.
enum NotOurs {
    Absent,
    NotAString(&'static str),
    NotJson(String),
    NotAnObject(&'static str),
    NoCluster,
    BadCluster(String),
}

impl NotOurs {
    /// The field, under `detail`, that the reason is about.
    fn field(&self) -> &'static str {
        match self {
            Self::NoCluster | Self::BadCluster(_) => "NotificationMetadata.cluster",
            _ => "NotificationMetadata",
        }
    }

    fn reason(&self) -> String {
        match self {
            Self::Absent => "is absent".into(),
            Self::NotAString(kind) => format!("is {kind}, not a string"),
            Self::NotJson(text) => format!("is not JSON (\"{}\")", clip(text, 40)),
            Self::NotAnObject(kind) => format!("is JSON but {kind}, not an object"),
            Self::NoCluster => "is missing".into(),
            Self::BadCluster(why) => why.clone(),
        }
    }
}

fn from_metadata(metadata: Option<&NotificationMetadata>) -> Result<String, NotOurs> {
    let text = match metadata {
        None => return Err(NotOurs::Absent),
        Some(NotificationMetadata::Text(text)) if text.trim().is_empty() => {
            return Err(NotOurs::Absent)
        }
        Some(NotificationMetadata::Text(text)) => text,
        Some(NotificationMetadata::Other(other)) => {
            return Err(NotOurs::NotAString(type_name(other)))
        }
    };
    let value: Value =
        serde_json::from_str(text).map_err(|_| NotOurs::NotJson(text.to_string()))?;
    if !value.is_object() {
        return Err(NotOurs::NotAnObject(type_name(&value)));
    }
    match serde_json::from_value::<HookMetadata>(value) {
        Ok(HookMetadata { cluster: None }) => Err(NotOurs::NoCluster),
        Ok(HookMetadata {
            cluster: Some(name),
        }) if name.trim().is_empty() => Err(NotOurs::BadCluster("is blank".into())),
        Ok(HookMetadata {
            cluster: Some(name),
        }) => Ok(name.trim().to_string()),
        Err(error) => Err(NotOurs::BadCluster(format!(
            "must be a non-empty string ({error})"
        ))),
    }
}

/// The cluster named in the hook's notification metadata, else the configured one. When
/// both are present they must agree: an event for a cluster this deployment does not
/// manage is refused. Refused too when neither names one: there is nowhere to drain.
pub(super) fn cluster(
    metadata: Option<&NotificationMetadata>,
    config: &DrainConfig,
    notes: &mut Vec<String>,
) -> Result<String, StepError> {
    match (from_metadata(metadata), &config.cluster) {
        (Ok(named), Some(managed)) if !same_cluster(&named, managed) => Err(StepError::invalid_event(
            "detail.NotificationMetadata.cluster",
            format!("is {named}, which this deployment does not manage (ECS_CLUSTER: {managed})"),
        )),
        (Ok(named), _) => Ok(named),
        (Err(not_ours), Some(managed)) => {
            note(
                notes,
                format!(
                    "`detail.{}` {}: drained in the configured cluster {managed} (ECS_CLUSTER)",
                    not_ours.field(),
                    not_ours.reason()
                ),
            );
            Ok(managed.clone())
        }
        (Err(not_ours), None) => Err(StepError::invalid_event(
            format!("detail.{}", not_ours.field()),
            format!(
                "{}, and ECS_CLUSTER is not set: no cluster to drain in (the hook's metadata may name it: {{\"cluster\": \"<cluster name>\"}})",
                not_ours.reason()
            ),
        )),
    }
}

/// A cluster may be given by name or ARN.
fn same_cluster(a: &str, b: &str) -> bool {
    let name = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    name(a) == name(b)
}
