//! The table `ecs-sta replay` prints.

use super::{Action, ReplayReport};
use crate::format::{clip, table, timestamp};

/// The table of `ecs-sta replay`.
pub fn render(report: &ReplayReport) -> String {
    let rows: Vec<Vec<String>> = report
        .items
        .iter()
        .map(|item| {
            let mut detail = item.reason.clone().unwrap_or_default();
            if let Some(arn) = &item.new_execution_arn {
                detail = arn.clone();
            } else if item.action == Action::WouldRestart {
                detail = format!("as {}", item.new_execution_name.as_deref().unwrap_or("-"));
            }
            vec![
                item.target.instance_id.clone().unwrap_or_default(),
                item.target.asg_name.clone().unwrap_or_default(),
                item.status.clone(),
                timestamp(item.started),
                item.name.clone(),
                item.action.as_str().to_string(),
                clip(&detail, 140),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "INSTANCE", "ASG", "STATUS", "STARTED", "NAME", "RESULT", "DETAIL",
        ],
        &rows,
    );
    let count = |action: Action| report.items.iter().filter(|i| i.action == action).count();
    let mut summary: Vec<String> = [
        Action::Redriven,
        Action::WouldRedrive,
        Action::Restarted,
        Action::WouldRestart,
        Action::AlreadyRestarted,
        Action::NotRedrivable,
        Action::NotRestartable,
        Action::Skipped,
        Action::Failed,
    ]
    .into_iter()
    .filter(|action| count(*action) > 0)
    .map(|action| format!("{} {}", count(action), action.as_str()))
    .collect();
    if summary.is_empty() {
        summary.push("no execution to replay".into());
    }
    out.push_str(&format!(
        "{}{}\n",
        if report.dry_run { "dry run: " } else { "" },
        summary.join(", ")
    ));
    out
}
