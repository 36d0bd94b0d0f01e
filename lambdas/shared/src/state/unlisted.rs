//! Tasks a container instance counts that no listing has shown yet.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::seconds;

/// Tasks the container instance counted (`runningTasksCount` + `pendingTasksCount`, read just
/// before the drain set it DRAINING) beyond those ListTasks then showed: the ECS API is
/// eventually consistent, and a task placed on the instance a moment before (a DAEMON's, at
/// once on an instance that just joined) can be missing from the listing. Each task a later
/// listing shows for the first time settles one; the checks list again until none is left,
/// or until [`crate::left_to_ecs::LISTING_LAG_SECONDS`] after `counted_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlistedTasks {
    pub count: u32,
    pub counted_at: DateTime<Utc>,
}

impl UnlistedTasks {
    /// Those of `counted` tasks the `listed` ones do not account for, counted at `now`; none
    /// when the listing shows as many.
    pub fn beyond(counted: u32, listed: usize, now: DateTime<Utc>) -> Option<Self> {
        let listed = u32::try_from(listed).unwrap_or(u32::MAX);
        (counted > listed).then(|| Self {
            count: counted - listed,
            counted_at: now,
        })
    }

    /// What is left once a listing showed `found` tasks for the first time.
    pub fn settled_by(self, found: usize) -> Option<Self> {
        let found = u32::try_from(found).unwrap_or(u32::MAX);
        (self.count > found).then(|| Self {
            count: self.count - found,
            ..self
        })
    }

    /// Whether a listing may still show them at `now`.
    pub fn may_still_show(&self, now: DateTime<Utc>) -> bool {
        now < self.counted_at + seconds(crate::left_to_ecs::LISTING_LAG_SECONDS)
    }
}
