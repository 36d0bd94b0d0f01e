//! The operator commands of `ecs-sta` that read and replay drain executions. Each command
//! is a free async fn taking a Step Functions client and returning a typed result that
//! renders as a table (`Display`-like `render` fns) or as JSON (`serde`).

pub mod args;
pub mod doctor;
pub mod drill;
pub mod error;
pub mod executions;
pub mod format;
pub mod input;
pub mod replay;
pub mod stack;
pub mod timeline;

pub use error::CliError;

#[cfg(test)]
mod testing;

/// Reports what a long-running command is doing (a progress line on stderr in `main`).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// A progress reporter that says nothing (tests, `--json` pipelines that want silence).
pub fn quiet(_: &str) {}
