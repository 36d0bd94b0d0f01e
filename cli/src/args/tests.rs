use clap::Parser;

use super::*;
use crate::testing::at;

#[derive(Debug, Parser)]
struct Executions {
    #[command(flatten)]
    args: ExecutionsArgs,
}

#[derive(Debug, Parser)]
struct Replay {
    #[command(flatten)]
    args: ReplayArgs,
}

#[derive(Debug, Parser)]
struct ScaleTasks {
    #[command(flatten)]
    args: ScaleTasksArgs,
}

fn executions(args: &[&str]) -> Result<ExecutionsArgs, clap::Error> {
    Executions::try_parse_from([&["executions"], args].concat()).map(|parsed| parsed.args)
}

/// A usage error: clap's exit code 2 and a message naming `flag` (and the value, if any).
fn assert_rejected(error: clap::Error, flag: &str, value: &str) {
    let text = error.to_string();
    assert_eq!(error.exit_code(), 2, "{text}");
    assert!(text.contains(&format!("'{flag} <")), "{text}");
    assert!(
        value.is_empty() || text.contains(&format!("'{value}'")),
        "{text}"
    );
}

#[test]
fn since_takes_a_humantime_duration_or_all() {
    let since = |text: &str| executions(&["--since", text]).unwrap().since;
    assert_eq!(
        executions(&[]).unwrap().since,
        Since::Within(Duration::from_secs(86_400))
    );
    assert_eq!(since("90s"), Since::Within(Duration::from_secs(90)));
    assert_eq!(since("7d"), Since::Within(Duration::from_secs(7 * 86_400)));
    assert_eq!(since("2w"), Since::Within(Duration::from_secs(14 * 86_400)));
    assert_eq!(since("1h30m"), Since::Within(Duration::from_secs(5400)));
    assert_eq!(since("1h 30m"), Since::Within(Duration::from_secs(5400)));
    assert_eq!(since("all"), Since::All);
    assert_eq!(since("ALL"), Since::All);
    for bad in ["", "24", "h", "-1h", "0h", "11y", "99999999999999d", "soon"] {
        let error = executions(&[&format!("--since={bad}")]).unwrap_err();
        assert_rejected(error, "--since", bad);
    }
}

#[test]
fn since_starts_a_window_back_from_now() {
    assert_eq!(Since::All.start(at(0)), None);
    assert_eq!(
        Since::Within(Duration::from_secs(60)).start(at(100)),
        Some(at(40))
    );
    // The widest window the parser lets through still makes a time.
    assert_eq!(parse_since("10y"), Ok(Since::Within(MAX_SINCE)));
    assert!(Since::Within(MAX_SINCE).start(at(0)).is_some());
    let error = parse_since("11y").unwrap_err();
    assert!(error.contains("at most 10 years"), "{error}");
}

#[test]
fn statuses_are_the_sdk_values_in_any_case() {
    let parsed = executions(&["--status", "failed,TIMED_OUT", "--status", "Aborted"]).unwrap();
    assert_eq!(
        parsed.status,
        [
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted
        ]
    );
    assert_eq!(
        executions(&["--status", "pending_redrive"]).unwrap().status,
        [ExecutionStatus::PendingRedrive]
    );
    assert!(executions(&[]).unwrap().status.is_empty(), "every status");
    for bad in ["BROKEN", "FAILED,BROKEN", ""] {
        let error = executions(&["--status", bad]).unwrap_err();
        let value = bad.rsplit(',').next().unwrap();
        let text = error.to_string();
        assert_rejected(error, "--status", value);
        assert!(
            text.contains("SUCCEEDED") && text.contains("TIMED_OUT"),
            "{text}"
        );
    }
}

#[test]
fn replay_defaults_to_the_stopped_statuses() {
    let parsed = Replay::try_parse_from(["replay"]).unwrap().args;
    assert_eq!(parsed.status, default_statuses());
    let options = parsed.options("arn:machine".into(), at(86_400));
    assert_eq!(options.filter.since, Some(at(0)));
    assert_eq!(options.filter.state_machine_arn, "arn:machine");
    assert!(!options.dry_run && !options.restart);
    let parsed = Replay::try_parse_from([
        "replay",
        "--status",
        "failed",
        "--since",
        "all",
        "--restart",
    ])
    .unwrap()
    .args;
    let options = parsed.options("arn:machine".into(), at(0));
    assert_eq!(options.filter.statuses, [ExecutionStatus::Failed]);
    assert_eq!(options.filter.since, None);
    assert!(options.restart);
    let error = Replay::try_parse_from(["replay", "--status", "DONE"]).unwrap_err();
    assert_rejected(error, "--status", "DONE");
}

#[test]
fn executions_options_make_the_filter() {
    let filter = executions(&["--status", "running", "--since", "1h"])
        .unwrap()
        .filter("arn:machine".into(), at(3600));
    assert_eq!(filter.statuses, [ExecutionStatus::Running]);
    assert_eq!(filter.since, Some(at(0)));
}

#[test]
fn scale_tasks_options_are_the_scaler_input() {
    let args = ScaleTasks::try_parse_from([
        "scale-tasks",
        "--cluster",
        "prod",
        "--service",
        "web",
        "--min-task-count",
        "2",
        "--asg",
        "web-asg",
        "--dry-run",
    ])
    .unwrap()
    .args;
    let input = ScalerInput::from(args);
    assert_eq!(input.cluster_name, "prod");
    assert_eq!(input.service_name, "web");
    assert_eq!((input.min_task_count, input.n_count), (2, 1));
    assert_eq!(input.max_task_count, None);
    assert_eq!(input.asg_name.as_deref(), Some("web-asg"));
    assert!(input.dry_run);
    let error = ScaleTasks::try_parse_from([
        "scale-tasks",
        "--cluster",
        "c",
        "--service",
        "s",
        "--min-task-count",
        "-1",
    ])
    .unwrap_err();
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn durations_parse_with_humantime() {
    assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
    assert_eq!(parse_duration(" 90s ").unwrap().as_secs(), 90);
    assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
    assert!(parse_duration("five").unwrap_err().contains("e.g. 90s"));
}
