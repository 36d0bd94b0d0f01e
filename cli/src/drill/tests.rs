//! The drill's decisions against the mocked deployment of doctor's fixture.

// Each test starts from a correct deployment and changes the one field it is about.
#![allow(clippy::field_reassign_with_default)]

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use sta_shared::state::{Completion, CompletionOutcome, DrainStatus, LifecycleResult};

use super::*;
use crate::doctor::tests::fixture::*;
use crate::testing::assert_contains;

fn options(f: &Fixture) -> DrillOptions {
    DrillOptions {
        doctor: f.options(),
        instance: None,
        timeout: Duration::from_secs(10),
        dry_run: false,
        force: false,
        sample_every: Duration::from_millis(1),
        start_timeout: Duration::from_millis(300),
        leave_timeout: Duration::from_millis(300),
    }
}

/// The drain's output: completed by us (or `outcome`), with 2 heartbeats sent.
fn output(outcome: CompletionOutcome, timed_out: bool) -> Value {
    let mut state = sta_shared::testing::drain_state();
    state.request.instance_id = instance(1);
    state.status = if timed_out {
        DrainStatus::DeadlinePassed
    } else {
        DrainStatus::Drained
    };
    state.heartbeat.sent = 2;
    state.report.completion = Some(Completion {
        result: Some(LifecycleResult::Continue),
        outcome,
        at: chrono::Utc::now() + chrono::Duration::seconds(30),
    });
    serde_json::to_value(state).unwrap()
}

/// A deployment whose drain of instance 1 goes well: a replacement on instance 3 becomes
/// healthy before the old target goes.
fn passing() -> Fixture {
    let mut f = Fixture::default();
    f.drill = FDrill {
        executions: vec![
            ("someone-else".to_string(), instance(9)),
            ("the-drain".to_string(), instance(1)),
        ],
        running_polls: 2,
        final_status: "SUCCEEDED".to_string(),
        output: Some(output(CompletionOutcome::Completed, false)),
        target_health: vec![
            vec![instance(1), instance(2)],
            vec![instance(1), instance(2)],
            vec![instance(1), instance(2), instance(3)],
            vec![instance(2), instance(3)],
        ],
        strangers: Vec::new(),
        still_in_group: false,
    };
    f
}

async fn run(
    f: &Fixture,
    options: &DrillOptions,
    interrupt: bool,
) -> (Result<DrillReport, CliError>, Vec<String>) {
    let lines = Mutex::new(Vec::new());
    let out = |line: &str| lines.lock().unwrap().push(line.to_string());
    let report = if interrupt {
        drill(
            &f.clients(),
            options,
            &mut std::future::ready(()),
            &out,
            &crate::quiet,
        )
        .await
    } else {
        drill(
            &f.clients(),
            options,
            &mut std::future::pending(),
            &out,
            &crate::quiet,
        )
        .await
    };
    (report, lines.into_inner().unwrap())
}

/// The report of an uninterrupted drill of `f` with the default options.
async fn report(f: &Fixture) -> DrillReport {
    run(f, &options(f), false).await.0.unwrap()
}

/// Whether one of the report's reasons says all of `words`.
fn says(report: &DrillReport, words: &[&str]) -> bool {
    report
        .reasons
        .iter()
        .any(|reason| words.iter().all(|word| reason.contains(word)))
}

/// Asserts that the drill failed, one of its reasons saying all of `words`.
#[track_caller]
fn assert_failed_saying(report: &DrillReport, words: &[&str]) {
    assert_eq!(report.verdict, Verdict::Failed, "{report:#?}");
    assert!(says(report, words), "{words:?} in {:#?}", report.reasons);
}

#[tokio::test]
async fn a_good_drain_passes() {
    let f = passing();
    let (report, lines) = run(&f, &options(&f), false).await;
    let report = report.unwrap();
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}\n{lines:#?}");
    assert_eq!(exit_code(&report), 0);
    assert_eq!(Calls::get(&f.calls.terminate), 1);
    assert_eq!(report.instance_id.as_deref(), Some(instance(1).as_str()));
    assert_eq!(report.asg.as_deref(), Some(ASG));
    assert!(report
        .execution
        .arn
        .as_deref()
        .unwrap()
        .ends_with(":the-drain"));
    assert_eq!(report.execution.status.as_deref(), Some("SUCCEEDED"));
    assert!(report.drain.completed_by_us);
    assert_eq!(
        report.drain.completion_outcome.as_deref(),
        Some("completed")
    );
    assert_eq!(report.drain.heartbeats_sent, Some(2));
    assert_eq!(report.drain.drain_timed_out, Some(false));
    assert_eq!(
        report.execution.instance_final_state.as_deref(),
        Some("terminated")
    );
    assert!(report.execution.completed_after_seconds.unwrap() >= 29.0);
    assert!(report.replacement_healthy_after_seconds.is_some());
    assert_eq!(report.load_balancers.len(), 2);
    for lb in &report.load_balancers {
        assert_eq!((lb.minimum, lb.fewest_healthy), (2, Some(2)), "{lb:#?}");
    }
    assert_contains(
        &lines.join("\n"),
        &[
            "terminating i-0000000000000001 in test-cluster-asg (runs web)",
            "TerminateInstanceInAutoScalingGroup i-0000000000000001",
            "execution the-drain started",
            "DrainContainerInstance",
            "DeregisterFromLoadBalancers",
        ],
    );
    assert!(render(&report).contains("PASSED"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "passed");
    assert_eq!(json["load_balancers"][0]["fewest_healthy"], 2);
}

#[tokio::test]
async fn a_failing_doctor_refuses_and_terminates_nothing() {
    let mut f = passing();
    f.hooks.clear();
    let report = report(&f).await;
    assert_eq!(report.verdict, Verdict::Refused);
    assert_eq!(exit_code(&report), 1);
    assert_eq!(Calls::get(&f.calls.terminate), 0);
    assert_eq!(report.doctor_failures[0].name, "hook");
    assert!(report.reasons[0].contains("--force"));
    assert!(render(&report).contains("doctor FAIL         hook"));
}

#[tokio::test]
async fn force_goes_on_and_says_so_loudly() {
    let mut f = passing();
    f.hooks.clear();
    let mut opts = options(&f);
    opts.force = true;
    let (report, lines) = run(&f, &opts, false).await;
    let report = report.unwrap();
    assert!(report.forced);
    assert_eq!(Calls::get(&f.calls.terminate), 1);
    assert!(
        lines[0].starts_with(
            "!!! --force: starting the drill DESPITE 1 failing doctor check(s): hook (test-cluster-asg)"
        ),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_do_and_does_nothing() {
    let f = passing();
    let mut opts = options(&f);
    opts.dry_run = true;
    let (report, lines) = run(&f, &opts, false).await;
    let report = report.unwrap();
    assert_eq!(report.verdict, Verdict::DryRun);
    assert_eq!(exit_code(&report), 0);
    assert_eq!(Calls::get(&f.calls.terminate), 0);
    assert!(
        lines
            .join("\n")
            .contains("would terminate i-0000000000000001"),
        "{lines:#?}"
    );
    assert!(lines.join("\n").contains("--dry-run: nothing was done"));
}

#[tokio::test]
async fn no_execution_means_the_rule_the_hook_or_delivery_is_broken() {
    let mut f = passing();
    f.drill.executions.pop();
    f.drill.still_in_group = true;
    let report = report(&f).await;
    assert_eq!(report.verdict, Verdict::Failed);
    assert!(report.execution.arn.is_none());
    assert!(
        report.reasons[0].contains("no drain execution started"),
        "{:#?}",
        report.reasons
    );
    assert!(report.reasons[0].contains("the rule, the hook or the event delivery"));
    assert_eq!(
        report.execution.instance_final_state.as_deref(),
        Some("Terminating:Wait")
    );
}

#[tokio::test]
async fn an_action_not_completed_by_us_fails() {
    let mut f = passing();
    f.drill.output = Some(output(CompletionOutcome::AlreadyCompleted, false));
    let report = report(&f).await;
    assert_failed_saying(
        &report,
        &["our CompleteLifecycleAction did not end the action (completion: already_completed)"],
    );
    assert!(!report.drain.completed_by_us);
}

#[tokio::test]
async fn a_drain_that_reached_its_deadline_fails() {
    let mut f = passing();
    f.drill.output = Some(output(CompletionOutcome::Completed, true));
    let no_replacement = ["no replacement became healthy"];
    let deadline = report(&f).await;
    assert_failed_saying(&deadline, &["reached its deadline"]);
    assert!(!says(&deadline, &no_replacement), "one became healthy");
    f.drill.target_health = vec![vec![instance(1), instance(2)]];
    let unreplaced = report(&f).await;
    assert!(
        says(&unreplaced, &no_replacement),
        "{:#?}",
        unreplaced.reasons
    );
}

#[tokio::test]
async fn a_failed_execution_fails() {
    let mut f = passing();
    f.drill.final_status = "FAILED".to_string();
    f.drill.output = None;
    assert_failed_saying(&report(&f).await, &["ended FAILED", "ecs-sta replay"]);
}

#[tokio::test]
async fn serving_capacity_below_the_minimum_fails() {
    let mut f = passing();
    f.drill.target_health = vec![
        vec![instance(1), instance(2)],
        vec![instance(2)],
        vec![instance(2), instance(3)],
    ];
    assert_failed_saying(
        &report(&f).await,
        &["web / target group web-tg: 1 healthy serving at the lowest, below the service's minimum 2"],
    );
}

#[tokio::test]
async fn only_the_services_own_targets_keep_its_floor_in_a_group_it_shares() {
    // Instance 3's target in the web service's group is a DAEMON's agent: it serves, but not
    // as a web task, and no replacement comes.
    let mut f = passing();
    f.drill.target_health = vec![
        vec![instance(1), instance(2), instance(3)],
        vec![instance(2), instance(3)],
    ];
    f.drill.strangers = vec![instance(3)];
    let report = report(&f).await;
    assert_failed_saying(
        &report,
        &["web / target group web-tg: 1 healthy serving at the lowest, below the service's minimum 2"],
    );
    assert_eq!(report.replacement_healthy_after_seconds, None);
}

#[tokio::test]
async fn a_sample_not_taken_fails_the_drill() {
    let mut f = passing();
    f.errors.insert("DescribeInstanceHealth", "AccessDenied");
    let report = report(&f).await;
    assert_failed_saying(
        &report,
        &["web / Classic ELB web-clb: 5 of 5 samples could not be taken, so serving was not watched throughout (first: DescribeInstanceHealth: AccessDenied"],
    );
    assert_eq!(report.load_balancers[1].sample_errors, 5);
}

#[tokio::test]
async fn ctrl_c_stops_following_never_the_drain() {
    let f = passing();
    let report = run(&f, &options(&f), true).await.0.unwrap();
    assert_eq!(report.verdict, Verdict::Interrupted);
    assert_eq!(exit_code(&report), 1);
    assert_eq!(
        Calls::get(&f.calls.terminate),
        1,
        "the termination was done before"
    );
    assert!(
        report.reasons[0].starts_with("interrupted"),
        "{:#?}",
        report.reasons
    );
}

#[tokio::test]
async fn the_instance_given_must_be_in_service_in_a_managed_group() {
    let f = passing();
    let mut opts = options(&f);
    opts.instance = Some("i-0000000000000099".to_string());
    let error = run(&f, &opts, false).await.0.unwrap_err();
    assert_eq!(error.exit_code(), 2, "{error}");
    assert_eq!(Calls::get(&f.calls.terminate), 0);
    opts.instance = Some(instance(2));
    let report = run(&f, &opts, false).await.0.unwrap();
    assert_eq!(report.instance_id.as_deref(), Some(instance(2).as_str()));
}

#[tokio::test]
async fn an_instance_with_a_replica_task_goes_before_one_with_only_a_daemons() {
    let mut f = Fixture::with_a_daemon();
    f.services[0].hosts = vec![2, 3];
    let mut opts = options(&f);
    opts.doctor.services = vec!["web".to_string(), "agent".to_string()]; // the agent runs on instance 1 too
    opts.dry_run = true;
    let report = run(&f, &opts, false).await.0.unwrap();
    assert_eq!(report.instance_id.as_deref(), Some(instance(2).as_str()));
    assert_eq!(report.services, ["web", "agent"]);
}

#[tokio::test]
async fn no_instance_with_a_task_is_an_error() {
    let mut f = passing();
    f.services[0].hosts.clear();
    f.services[0].desired = 0;
    f.drill.target_health = vec![Vec::new()];
    let error = run(&f, &options(&f), false).await.0.unwrap_err();
    assert_eq!(error.exit_code(), 1);
    assert!(error.to_string().contains("nothing to drill"), "{error}");
}

#[test]
fn wrong_input_is_refused() {
    let f = passing();
    let mut opts = options(&f);
    opts.doctor.state_machine_arn = None;
    assert_eq!(opts.validate().unwrap_err().exit_code(), 2);
    let mut opts = options(&f);
    opts.doctor.services.clear();
    assert_eq!(opts.validate().unwrap_err().exit_code(), 2);
    opts.instance = Some(instance(1));
    assert!(opts.validate().is_ok());
    let mut opts = options(&f);
    opts.sample_every = Duration::ZERO;
    assert_eq!(opts.validate().unwrap_err().exit_code(), 2);
}

#[test]
fn the_json_report_keeps_its_flat_keys() {
    let json = serde_json::to_value(DrillReport::default()).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "verdict",
        "reasons",
        "forced",
        "doctor_failures",
        "dry_run",
        "instance_id",
        "asg",
        "services",
        "activity_id",
        "terminated_at",
        "execution_arn",
        "execution_status",
        "execution_error",
        "execution_started_after_seconds",
        "completed_after_seconds",
        "instance_final_state",
        "replacement_healthy_after_seconds",
        "load_balancers",
        "heartbeats_sent",
        "completion_outcome",
        "completion_result",
        "completed_by_us",
        "drain_timed_out",
    ];
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
}
