//! The termination activity of each waiting instance: its start identifies the lifecycle
//! action the instance waits in.

use std::collections::HashMap;

use crate::error::aws_error;
use crate::StepError;
use aws_sdk_autoscaling::types::{Activity, ScalingActivityStatusCode};
use chrono::{DateTime, Utc};

/// The activity that is taking an instance out of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub started: DateTime<Utc>,
    pub description: String,
}

impl Termination {
    /// Whether the activity says the instance goes back to the warm pool.
    pub fn to_warm_pool(&self) -> bool {
        self.description.to_ascii_lowercase().contains("warm pool")
    }
}

/// Whether `text` names `instance_id` as a whole id (`i-12345678` is not named by
/// `i-12345678abcdef012`).
pub fn names_instance(text: &str, instance_id: &str) -> bool {
    text.match_indices(instance_id).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + instance_id.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

fn finished(activity: &Activity) -> bool {
    matches!(
        activity.status_code(),
        Some(
            ScalingActivityStatusCode::Successful
                | ScalingActivityStatusCode::Failed
                | ScalingActivityStatusCode::Cancelled
        )
    )
}

fn started(activity: &Activity) -> Option<DateTime<Utc>> {
    let time = activity.start_time()?;
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

/// For each of `instances` (waiting in `asg`), the newest activity of the group that names
/// it (in its description or details) and is not its launch. Auto Scaling lists the
/// activities in progress first, then the others newest first, so the listing stops once
/// every instance is found or the finished activities reach back past `since`.
pub async fn terminations(
    autoscaling: &aws_sdk_autoscaling::Client,
    asg: &str,
    instances: &[&str],
    since: DateTime<Utc>,
) -> Result<HashMap<String, Termination>, StepError> {
    let mut found: HashMap<String, Termination> = HashMap::new();
    let mut pages = autoscaling
        .describe_scaling_activities()
        .auto_scaling_group_name(asg)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| aws_error("DescribeScalingActivities", error))?;
        let mut past = false;
        for activity in page.activities() {
            let Some(started) = started(activity) else {
                continue;
            };
            if finished(activity) && started < since {
                past = true;
                continue;
            }
            let description = activity.description().unwrap_or_default();
            if description.trim_start().starts_with("Launching") {
                continue;
            }
            let details = activity.details().unwrap_or_default();
            for instance in instances {
                if !names_instance(description, instance) && !names_instance(details, instance) {
                    continue;
                }
                let newer = found
                    .get(*instance)
                    .is_none_or(|known| started > known.started);
                if newer {
                    found.insert(
                        instance.to_string(),
                        Termination {
                            started,
                            description: description.to_string(),
                        },
                    );
                }
            }
        }
        if past
            || instances
                .iter()
                .all(|instance| found.contains_key(*instance))
        {
            break;
        }
    }
    Ok(found)
}

/// Whether a newer lifecycle action of `instance_id` has replaced the one that began at
/// `began`: the instance's newest termination activity started later (by more than the
/// second an event time is rounded to). A drain without a token (the sweeper cannot know
/// it) names its action by the instance id, which also names any newer action of the same
/// instance (a warm-pool instance reused since); before it heartbeats or completes by
/// instance id, this tells a stale drain from a current one. No termination activity for
/// the instance means no newer action either.
pub async fn action_superseded(
    autoscaling: &aws_sdk_autoscaling::Client,
    asg: &str,
    instance_id: &str,
    began: DateTime<Utc>,
) -> Result<bool, StepError> {
    let found = terminations(autoscaling, asg, &[instance_id], began).await?;
    Ok(found
        .get(instance_id)
        .is_some_and(|termination| termination.started > began + chrono::Duration::seconds(1)))
}

#[cfg(test)]
mod tests;
