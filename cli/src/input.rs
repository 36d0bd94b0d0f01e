//! What an execution drains, read from its input: the raw EventBridge event (a terminate
//! lifecycle action or a Spot interruption warning).

use serde::Serialize;
use serde_json::Value;

/// The instance and group an execution drains. `token` is the lifecycle action token:
/// used to name restarts, never printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainTarget {
    pub instance_id: Option<String>,
    pub asg_name: Option<String>,
    #[serde(skip)]
    pub token: Option<String>,
}

impl DrainTarget {
    /// Reads `detail.EC2InstanceId`, `detail.AutoScalingGroupName` and
    /// `detail.LifecycleActionToken` (lifecycle action) or `detail.instance-id` (Spot
    /// warning). Anything else leaves the fields empty: the input may be what the first
    /// step refused.
    pub fn from_input(input: Option<&str>) -> Self {
        let Some(value) = input.and_then(|text| serde_json::from_str::<Value>(text).ok()) else {
            return Self::default();
        };
        let detail = &value["detail"];
        let text = |key: &str| {
            detail
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        Self {
            instance_id: text("EC2InstanceId").or_else(|| text("instance-id")),
            asg_name: text("AutoScalingGroupName"),
            token: text("LifecycleActionToken"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sta_shared::testing::{lifecycle_event, spot_event, ASG, INSTANCE_ID, TOKEN};

    #[test]
    fn reads_the_lifecycle_event() {
        let target = DrainTarget::from_input(Some(&lifecycle_event().to_string()));
        assert_eq!(target.instance_id.as_deref(), Some(INSTANCE_ID));
        assert_eq!(target.asg_name.as_deref(), Some(ASG));
        assert_eq!(target.token.as_deref(), Some(TOKEN));
        let json = serde_json::to_string(&target).unwrap();
        assert!(!json.contains(TOKEN), "the token is never printed: {json}");
    }

    #[test]
    fn reads_the_spot_warning() {
        let target = DrainTarget::from_input(Some(&spot_event().to_string()));
        assert_eq!(target.instance_id.as_deref(), Some(INSTANCE_ID));
        assert_eq!(target.asg_name, None);
        assert_eq!(target.token, None);
    }

    #[test]
    fn anything_else_is_empty() {
        for input in [None, Some("not json"), Some("{}"), Some("{\"detail\": 5}")] {
            assert_eq!(DrainTarget::from_input(input), DrainTarget::default());
        }
    }
}
