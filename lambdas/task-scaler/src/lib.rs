//! The N+1 task scaler: keeps the desired count of a service whose tasks each need an
//! instance of their own at "usable instances minus `n_count`", clamped to
//! `[min_task_count, max_task_count]`, so that a task on a draining instance always has
//! a free instance to move to.
//!
//! Usable instances are container instances that are ACTIVE with a connected agent and,
//! when `asg_name` is given, InService in that Auto Scaling group. DRAINING instances are
//! not capacity.
//!
//! An ACTIVE instance (InService in `asg_name`, when given) whose agent is disconnected counts
//! as `disconnected`; those of them running a task of the service that ECS still wants
//! RUNNING, as `serving_while_away`: the agent "disconnects and reconnects as a normal part of
//! its function" (amazon-ecs-agent issue 618), the instance takes no new task meanwhile, and
//! its own keeps serving. They never raise the count, and the count is never lowered below
//! N+1 of the usable and serving-while-away instances together: lowered on a blip, it would
//! make ECS stop a serving task, and mid-drain take away the spare the drained task needs. A
//! spare whose agent is away (or gone for good) holds nothing of the service and is not
//! counted, so a dead agent never keeps the count up.
//!
//! While any instance of the cluster is being drained the scaler does not lower the desired
//! count below the instances in service, usable or serving while away (it still raises it). Being drained means DRAINING
//! and, when `asg_name` is given, waiting on its way out of that group or back to its warm
//! pool, or serving there (a Spot warning's drain), whether or not the agent is connected
//! at that moment (it disconnects and reconnects in its normal work); retained or in
//! standby, and without `asg_name`, DRAINING with a connected agent. A DRAINING record whose
//! instance has left the group, completed its action (`*:Proceed`), rests in its warm pool
//! or terminates from it, or (where only the agent tells) whose agent is disconnected (its
//! EC2 instance stopped or terminated: ECS deregisters neither), is not a drain in
//! progress: it is counted as `stale_draining` and never holds the count up. ECS moves the draining instance's task to a free instance; lowering the count at
//! that moment would make ECS stop a healthy task elsewhere, or take away the free
//! instance the replacement needs. Once the drained instance is gone, the next tick lowers
//! the count. The hold never keeps more tasks than there are instances in service: when more
//! instances drain at once than there are spare ones, the tasks that cannot move would
//! keep their drains waiting until the deadline, and the instances would then terminate
//! with those tasks still serving. Lowered to the instances in service, the count lets ECS stop
//! them, after their load balancers drained.

mod decision;
mod handler;
mod input;

pub use decision::{Decision, InstanceCounts};
pub use handler::{handler, scale, Deps};
pub use input::{ScalerInput, KNOWN_KEYS};
