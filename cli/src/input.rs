//! What an execution drains, read from its input: the raw EventBridge event (a terminate
//! lifecycle action or a Spot interruption warning).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::event::ActionRef;

/// The instance and group an execution drains. `token` is the lifecycle action token:
/// used to name restarts, never printed; `event_time` names restarts of token-less drains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainTarget {
    pub instance_id: Option<String>,
    pub asg_name: Option<String>,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub event_time: Option<DateTime<Utc>>,
}

impl DrainTarget {
    /// Reads `detail.EC2InstanceId`, `detail.AutoScalingGroupName` and
    /// `detail.LifecycleActionToken` (lifecycle action) or `detail.instance-id` (Spot
    /// warning), and the event's `time` ([`ActionRef`]). Anything else leaves the fields
    /// empty: the input may be what the first step refused.
    pub fn from_input(input: Option<&str>) -> Self {
        let action = input.map(ActionRef::from_input).unwrap_or_default();
        Self {
            instance_id: action.instance_id,
            asg_name: action.asg_name,
            token: action.token,
            event_time: action.time,
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
        assert_eq!(target.event_time, Some(sta_shared::testing::event_time()));
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
