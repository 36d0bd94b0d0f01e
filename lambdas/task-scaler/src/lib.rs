//! The N+1 task scaler: keeps the desired count of a service whose tasks each need an
//! instance of their own at "usable instances minus `n_count`", clamped to
//! `[min_task_count, max_task_count]`, so that a task on a draining instance always has
//! a free instance to move to.
//!
//! Usable instances are container instances that are ACTIVE with a connected agent and,
//! when `asg_name` is given, InService in that Auto Scaling group. DRAINING instances are
//! not capacity.
//!
//! While any instance of the cluster is DRAINING the scaler never lowers the desired
//! count (it still raises it). ECS moves the draining instance's task to a free instance;
//! lowering the count at that moment would make ECS stop a healthy task elsewhere, or
//! take away the free instance the replacement needs. Once the drained instance is gone,
//! the next tick lowers the count.

mod decision;
mod handler;
mod input;

pub use decision::{Decision, InstanceCounts};
pub use handler::{handler, scale, Deps};
pub use input::ScalerInput;
