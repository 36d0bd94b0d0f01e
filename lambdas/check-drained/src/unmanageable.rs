//! The tasks ECS can no longer stop or move, which the drain stops waiting for.

use aws_sdk_ecs::types::ContainerInstanceStatus;
use chrono::{DateTime, Utc};
use sta_shared::ecs_status::set_status;
use sta_shared::own_container_instance::{describe_own, Described};
use sta_shared::state::{seconds, DrainState};
use sta_shared::StepError;

fn is_service_task(state: &DrainState, arn: &str) -> bool {
    state
        .tasks
        .iter()
        .any(|task| task.arn == arn && task.service.is_some())
}

/// Tasks ECS can no longer stop or move are not waited for:
/// - the container instance was deregistered (INACTIVE while ECS still describes it,
///   MISSING after; a forced deregistration leaves its tasks running unmanaged, so
///   `DescribeTasks` may never report them STOPPED): its service tasks are orphaned (ECS
///   replaces them and takes them out of their load balancers);
/// - its agent is disconnected (the EC2 instance stopped, terminated, or cut off; ECS
///   deregisters neither and reports its tasks RUNNING): once that has lasted
///   [`AGENT_LOST_AFTER_SECONDS`], or at once when the lifecycle action is gone and the
///   instance on its way out (released: its group deleted with `ForceDelete`, the hook
///   deleted, the action expired), every task on it is given up.
///
/// Either way the load balancers' draining is still waited for.
pub(crate) async fn drop_unmanageable(
    ecs: &aws_sdk_ecs::Client,
    state: &mut DrainState,
    still_running: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StepError> {
    let (given_up, kept): (Vec<String>, Vec<String>) = match container_instance(ecs, state).await? {
        Standing::Deregistered => {
            let (orphaned, rest): (Vec<String>, Vec<String>) = still_running
                .into_iter()
                .partition(|arn| is_service_task(state, arn));
            if !orphaned.is_empty() {
                tracing::warn!(
                    container_instance = ?state.container_instance_arn,
                    tasks = ?orphaned,
                    "the container instance was deregistered mid-drain: its service tasks are orphaned \
                     (ECS replaces them and takes them out of their load balancers); not waiting for them"
                );
            }
            (orphaned, rest)
        }
        Standing::AgentDisconnected => {
            let since = *state.agent_disconnected_at.get_or_insert(now);
            if state.heartbeat.action_gone || now >= since + seconds(AGENT_LOST_AFTER_SECONDS) {
                tracing::warn!(
                    container_instance = ?state.container_instance_arn,
                    since = %since,
                    action_gone = state.heartbeat.action_gone,
                    tasks = ?still_running,
                    "the container instance's agent is disconnected: ECS can no longer stop or move its tasks; not waiting for them"
                );
                (still_running, Vec::new())
            } else {
                (Vec::new(), still_running)
            }
        }
        Standing::Connected => {
            state.agent_disconnected_at = None;
            (Vec::new(), still_running)
        }
    };
    for arn in given_up {
        if !state.report.orphaned_tasks.contains(&arn) {
            state.report.orphaned_tasks.push(arn);
        }
    }
    Ok(kept)
}

/// How long a disconnected agent is waited for before its tasks are given up: long enough
/// for an agent restart (an update, a crash) to reconnect.
pub const AGENT_LOST_AFTER_SECONDS: u64 = 120;

/// What ECS says of the drained container instance.
enum Standing {
    /// In the cluster with its agent connected.
    Connected,
    /// In the cluster, DRAINING or ACTIVE, with its agent disconnected.
    AgentDisconnected,
    /// Deregistered (INACTIVE, MISSING, or the cluster deleted).
    Deregistered,
}

/// What ECS says of the drained container instance, set DRAINING again when someone set it
/// ACTIVE mid-drain (an operator, or the sweeper returning a warm-pool instance that a new
/// scale-in took at the same moment): ECS would place tasks there, and stop replacing those
/// the drain waits for.
async fn container_instance(
    ecs: &aws_sdk_ecs::Client,
    state: &DrainState,
) -> Result<Standing, StepError> {
    let described = describe_own(ecs, state).await?;
    if let Described::Found(instance) = &described {
        if instance.status() == Some("ACTIVE") {
            let arn = instance.container_instance_arn().unwrap_or_default();
            tracing::warn!(container_instance = %arn, "set ACTIVE mid-drain: DRAINING again");
            let cluster = &state.request.cluster;
            if !set_status(ecs, cluster, arn, ContainerInstanceStatus::Draining).await? {
                return Ok(Standing::Deregistered);
            }
        }
    }
    Ok(match described {
        Described::Gone => Standing::Deregistered,
        Described::Found(instance) if instance.status() == Some("INACTIVE") => {
            Standing::Deregistered
        }
        Described::Found(instance) if !instance.agent_connected() => Standing::AgentDisconnected,
        Described::Found(_) | Described::Unknown => Standing::Connected,
    })
}
