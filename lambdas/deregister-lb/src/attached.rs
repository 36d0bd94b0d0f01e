//! The load balancers attached to an Auto Scaling group, read once a minute at most per
//! execution environment.
//!
//! Every drain of a lifecycle action reads its group's attachments, and a scale-in drains
//! many instances of one group at once: without the cache, a fleet of N drains makes N
//! `DescribeAutoScalingGroups` calls against the Auto Scaling account bucket that its
//! heartbeats and `CompleteLifecycleAction` calls share (and are throttled by). Auto Scaling
//! itself takes the instance out of these load balancers before `Terminating:Wait`, so a
//! minute-old answer costs at most a deregistration that was already done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use sta_shared::group::describe_group;
use sta_shared::StepError;

/// How long an answer is used again.
pub const FRESH_FOR_SECONDS: i64 = 60;

/// The Classic ELB names and target group ARNs attached to a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    pub classic: Vec<String>,
    pub target_groups: Vec<String>,
}

/// The groups' attachments read in this execution environment, by group name, with when
/// each was read. Lives in the function's `Deps`, from cold start.
#[derive(Debug, Clone, Default)]
pub struct AttachedCache(Arc<Mutex<HashMap<String, Read>>>);

/// One group's answer and when it was read.
#[derive(Debug, Clone)]
struct Read {
    at: DateTime<Utc>,
    attached: Attached,
}

impl AttachedCache {
    /// The map, also after a panic while it was held: each entry is written whole, so what
    /// a panicking invocation left is still a complete answer.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Read>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh(&self, asg: &str, now: DateTime<Utc>) -> Option<Attached> {
        let cache = self.lock();
        let read = cache.get(asg)?;
        let age = now - read.at;
        (age >= Duration::zero() && age < Duration::seconds(FRESH_FOR_SECONDS))
            .then(|| read.attached.clone())
    }

    fn keep(&self, asg: &str, now: DateTime<Utc>, attached: &Attached) {
        let read = Read {
            at: now,
            attached: attached.clone(),
        };
        self.lock().insert(asg.to_string(), read);
    }
}

/// The load balancers attached to the group (by name and as traffic sources); a group that
/// no longer exists has none (and is not remembered).
pub async fn attached_to_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    cache: &AttachedCache,
    asg: &str,
    now: DateTime<Utc>,
) -> Result<Attached, StepError> {
    if let Some(attached) = cache.fresh(asg, now) {
        tracing::debug!(asg = %asg, "group's load balancers read less than a minute ago");
        return Ok(attached);
    }
    let Some(group) = describe_group(autoscaling, asg).await? else {
        tracing::warn!(asg = %asg, "Auto Scaling group not found; no attached load balancers");
        return Ok(Attached::default());
    };
    let mut attached = Attached {
        classic: group.load_balancer_names().to_vec(),
        target_groups: group.target_group_arns().to_vec(),
    };
    for source in group.traffic_sources() {
        match (source.r#type(), source.identifier()) {
            (Some("elb"), Some(name)) => attached.classic.push(name.to_string()),
            (Some("elbv2"), Some(arn)) => attached.target_groups.push(arn.to_string()),
            _ => {}
        }
    }
    cache.keep(asg, now, &attached);
    Ok(attached)
}
