use serde::Serialize;
use std::fmt;

use crate::input::ScalerInput;

/// How the cluster's container instances were counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InstanceCounts {
    /// Every container instance ECS lists (all but INACTIVE).
    pub registered: u64,
    /// ACTIVE, agent connected and (with an ASG) InService there.
    pub usable: u64,
    /// DRAINING: a drain in progress (with an ASG, waiting on its way out or back to its
    /// warm pool, or serving; retained, in standby or without an ASG, agent connected).
    pub draining: u64,
    /// DRAINING, but with an ASG gone from the group, its action completed, resting in its
    /// warm pool or terminating from it, or (where only the agent tells) with a disconnected
    /// agent (the EC2 instance stopped or gone): a record ECS keeps, not a drain in progress.
    pub stale_draining: u64,
    /// ACTIVE and (with an ASG) InService there, but with its agent disconnected: it takes no
    /// new task.
    pub disconnected: u64,
    /// Of those, the ones running a task of the service that ECS still wants RUNNING: the
    /// agent disconnects and reconnects in its normal work, and the task keeps serving. Never
    /// a reason to lower the desired count.
    pub serving_while_away: u64,
    /// ACTIVE but not InService in the given ASG (or not in it at all).
    pub outside_asg: u64,
    /// REGISTERING, DEREGISTERING, REGISTRATION_FAILED.
    pub other: u64,
}

/// What the scaler decided and why: the Lambda's output and its one log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub cluster: String,
    pub service: String,
    pub asg: Option<String>,
    pub instances: InstanceCounts,
    pub n_count: u64,
    pub min_task_count: u64,
    pub max_task_count: Option<u64>,
    pub current_desired_count: i32,
    /// clamp(usable - n_count, min_task_count, max_task_count)
    pub target_desired_count: u64,
    pub new_desired_count: i32,
    pub changed: bool,
    pub dry_run: bool,
    pub reason: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match (self.changed, self.dry_run) {
            (true, false) => "changed",
            (true, true) => "would change (dry run)",
            (false, _) => "unchanged",
        };
        write!(
            f,
            "{}/{}: desired {} -> {} {verb}; instances usable {}, draining {}, disconnected {}",
            self.cluster,
            self.service,
            self.current_desired_count,
            self.new_desired_count,
            self.instances.usable,
            self.instances.draining,
            self.instances.disconnected,
        )?;
        if self.instances.serving_while_away > 0 {
            write!(f, " ({} serving)", self.instances.serving_while_away)?;
        }
        if let Some(asg) = &self.asg {
            write!(f, ", outside {asg} {}", self.instances.outside_asg)?;
        }
        if self.instances.stale_draining > 0 {
            write!(
                f,
                ", stale draining {} (not a drain in progress)",
                self.instances.stale_draining
            )?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Applies N+1 and the draining hold (see the crate documentation).
pub fn decide(input: &ScalerInput, counts: InstanceCounts, current: i32) -> Decision {
    let max = input.max_task_count.unwrap_or(u64::MAX);
    let target = counts
        .usable
        .saturating_sub(input.n_count)
        .clamp(input.min_task_count, max.max(input.min_task_count));
    let target_i32 = i32::try_from(target).unwrap_or(i32::MAX);
    // The instances in service, those whose agent is away while their task serves counted: an
    // agent that disconnects for a moment must not make ECS stop a serving task.
    let present = counts.usable + counts.serving_while_away;
    let away = present
        .saturating_sub(input.n_count)
        .clamp(input.min_task_count, max.max(input.min_task_count));
    let current_u64 = u64::try_from(current).unwrap_or(0);
    let (new, reason) = if target_i32 == current {
        (current, "desired count already matches".to_string())
    } else if target < current_u64 && counts.draining > 0 && present > target {
        // Held while an instance drains, but never above the instances in service: a task
        // that cannot move would hold its drain until the deadline.
        let held = present.min(current_u64);
        let reason = if held == current_u64 {
            format!(
                "holding at {current} instead of lowering to {target}: {} instance(s) draining, their tasks need the spare capacity",
                counts.draining
            )
        } else {
            format!(
                "lowering to {held}, the instances in service, not to {target}: {} instance(s) draining, and {current} tasks cannot all have an instance",
                counts.draining
            )
        };
        (i32::try_from(held).unwrap_or(i32::MAX), reason)
    } else if target < current_u64 && away > target {
        // Lowered only as far as the instances in service allow, agents away counted.
        let kept = away.min(current_u64);
        let reason = format!(
            "{verb} {kept}, not {target}: {} instance(s) serving with their agent away (it disconnects and reconnects in its normal work)",
            counts.serving_while_away,
            verb = if kept == current_u64 { "keeping" } else { "lowering to" },
        );
        (i32::try_from(kept).unwrap_or(i32::MAX), reason)
    } else {
        let wanted = counts.usable.saturating_sub(input.n_count);
        let why = if wanted < target {
            format!("floor min_task_count {}", input.min_task_count)
        } else if wanted > target && max < input.min_task_count {
            format!(
                "ceiling max_task_count {max} is below min_task_count {}: the floor wins",
                input.min_task_count
            )
        } else if wanted > target {
            format!("ceiling max_task_count {target}")
        } else {
            format!("{} usable - n_count {}", counts.usable, input.n_count)
        };
        (target_i32, format!("set to {target}: {why}"))
    };
    Decision {
        cluster: input.cluster_name.clone(),
        service: input.service_name.clone(),
        asg: input.asg_name.clone(),
        instances: counts,
        n_count: input.n_count,
        min_task_count: input.min_task_count,
        max_task_count: input.max_task_count,
        current_desired_count: current,
        target_desired_count: target,
        new_desired_count: new,
        changed: new != current,
        dry_run: input.dry_run,
        reason,
    }
}

#[cfg(test)]
mod tests;
