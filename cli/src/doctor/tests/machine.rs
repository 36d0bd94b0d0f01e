//! The state machine, its settings, the rules, recent failures and the sweeper's schedule.

use super::*;
use serde_json::json;

#[tokio::test]
async fn no_state_machine_given_fails_and_says_how_to_give_it() {
    let f = Fixture::default();
    let mut options = f.options();
    options.state_machine_arn = None;
    let report = run_with(&f, options).await;
    assert_check(
        &report,
        "state-machine",
        Status::Fail,
        &["--state-machine ARN or --stack NAME"],
    );
    assert_skipped(&report, "rule"); // no rule can be looked up
                                     // the hook is then recognised by its NotificationMetadata naming the cluster
    assert_check(&report, "hook", Status::Pass, &[HOOK]);
    assert_check(
        &report,
        "hook-deadline",
        Status::Warn,
        &["deadline is unknown"],
    );
}

#[tokio::test]
async fn a_missing_or_express_state_machine_fails() {
    let missing = Fixture {
        machine_exists: false,
        ..Fixture::default()
    };
    let express = Fixture {
        machine_type: "EXPRESS".to_string(),
        ..Fixture::default()
    };
    for (f, words) in [
        (missing, ["does not exist", "StateMachineDoesNotExist"]),
        (express, ["EXPRESS", "redriven"]),
    ] {
        f.doctor_says("state-machine", Status::Fail, &words).await;
    }
}

#[tokio::test]
async fn unreadable_settings_warn_and_skip_the_deadline_checks() {
    let f = Fixture {
        definition: r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#.to_string(),
        ..Fixture::default()
    };
    let report = f
        .doctor_says(
            "drain-settings",
            Status::Warn,
            &["Parameters.Payload.settings"],
        )
        .await;
    assert_check(&report, "hook-deadline", Status::Warn, &["unknown"]);
    assert!(
        check(&report, "lb-draining", Some("web / target group web-tg"))
            .detail
            .contains("unknown")
    );
}

#[test]
fn settings_are_read_from_the_first_state_of_the_real_definition() {
    let settings = crate::doctor::machine::settings(&definition(1234)).unwrap();
    assert_eq!(settings.drain_deadline_seconds, 1234);
    assert!(crate::doctor::machine::settings("not json")
        .unwrap_err()
        .contains("not an ASL definition"));
}

#[tokio::test]
async fn a_disabled_rule_fails_with_the_command_to_enable_it() {
    let mut f = Fixture::default();
    f.rules[0].state = "DISABLED".to_string();
    let report = f
        .doctor_says(
            "rule",
            Status::Fail,
            &[
                "DISABLED",
                "start no drain",
                "aws events enable-rule --name drain-terminate",
            ],
        )
        .await;
    assert_skipped(&report, "rule-coverage");
    // its pattern still says which hook is ours
    assert_check(&report, "hook", Status::Pass, &[HOOK]);
}

#[tokio::test]
async fn no_rule_fails() {
    let mut f = Fixture::default();
    f.rules.clear();
    f.doctor_says("rule", Status::Fail, &["no EventBridge rule"])
        .await;
}

#[tokio::test]
async fn a_rule_without_a_role_fails() {
    let mut f = Fixture::default();
    f.rules[0].role = false;
    f.doctor_says("rule", Status::Fail, &["no role"]).await;
}

#[tokio::test]
async fn a_group_the_rule_does_not_match_fails() {
    let mut f = Fixture::default();
    f.rules[0].pattern = terminate_pattern(&["other-asg"], &[HOOK]);
    f.doctor_says("rule-coverage", Status::Fail, &["no enabled rule matches"])
        .await;
    f.rules[0].pattern["detail"]["AutoScalingGroupName"] = json!([{"prefix": "test-cluster-"}]);
    f.doctor_says("rule-coverage", Status::Pass, &[RULE]).await;
}

#[tokio::test]
async fn a_disabled_spot_rule_warns() {
    let mut f = Fixture::default();
    f.rules.push(FRule {
        name: "drain-spot".to_string(),
        state: "DISABLED".to_string(),
        pattern: json!({"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}),
        role: true,
    });
    let report = run(&f).await;
    let spot = check(&report, "rule", Some("drain-spot"));
    assert_eq!(spot.status, Status::Warn, "{spot:#?}");
    assert_eq!(check(&report, "rule", Some(RULE)).status, Status::Pass);
}

#[tokio::test]
async fn recent_failed_drains_warn_with_the_replay_to_run() {
    let mut f = Fixture::default();
    f.failed = vec![
        ("i-1-abc".to_string(), "FAILED".to_string()),
        ("i-2-def".to_string(), "TIMED_OUT".to_string()),
    ];
    let report = f
        .doctor_says(
            "recent-drains",
            Status::Warn,
            &["2 drain(s)", "i-1-abc (FAILED)", "i-2-def (TIMED_OUT)"],
        )
        .await;
    let fix = check(&report, "recent-drains", None).fix.clone().unwrap();
    assert!(
        fix.contains(&format!(
            "ecs-sta replay --state-machine {MACHINE} --since 24h"
        )),
        "{fix}"
    );
    let options = f.stack_options();
    let fix = check(&run_with(&f, options).await, "recent-drains", None)
        .fix
        .clone()
        .unwrap();
    assert!(
        fix.contains(&format!("ecs-sta replay --stack {STACK} --since 24h")),
        "{fix}"
    );
}

#[tokio::test]
async fn the_sweep_period_comes_from_the_stack_schedule() {
    let mut f = Fixture::default();
    f.schedules = vec![
        (
            "TaskScalerScheduleABC".to_string(),
            "scaler".to_string(),
            "rate(1 minute)".to_string(),
            "ENABLED".to_string(),
        ),
        (
            "DrainSweeperSchedule123".to_string(),
            "sweeper".to_string(),
            "rate(10 minutes)".to_string(),
            "ENABLED".to_string(),
        ),
    ];
    let mut options = f.stack_options();
    options.sweep_period_seconds = Some(60); // the stack wins
    let report = run_with(&f, options.clone()).await;
    assert_eq!(report.sweep_period_seconds, 600);
    assert_check(
        &report,
        "sweeper-schedule",
        Status::Pass,
        &["rate(10 minutes)"],
    );
    // 600 s heartbeat timeout, a sweep every 600 s: a lost event expires before it is found
    assert_check(
        &report,
        "hook-heartbeat",
        Status::Fail,
        &[
            "not longer than the sweep period 600 s",
            "stack schedule sweeper",
        ],
    );

    f.schedules[1].3 = "DISABLED".to_string();
    assert_check(
        &run_with(&f, options.clone()).await,
        "sweeper-schedule",
        Status::Fail,
        &["DISABLED"],
    );
    f.schedules.truncate(1);
    let report = run_with(&f, options.clone()).await;
    assert_check(
        &report,
        "sweeper-schedule",
        Status::Warn,
        &["no sweeper schedule"],
    );
    assert_eq!(report.sweep_period_seconds, 60, "then --sweep-period");
    assert_read_error_fails(
        &f,
        options,
        "ListStackResources",
        "ValidationError",
        "sweeper-schedule",
    )
    .await;
}

#[tokio::test]
async fn the_stacks_dead_letter_queue_warns_while_it_holds_undelivered_events() {
    const URL: &str = "https://sqs.us-west-2.amazonaws.com/123456789012/drain-stack-dlq";
    let mut f = Fixture::default();
    f.queues = vec![(URL.to_string(), 0)];
    assert_skipped(&run(&f).await, "dead-letter-queue"); // read only with --stack
    let options = f.stack_options();
    assert_check(
        &run_with(&f, options.clone()).await,
        "dead-letter-queue",
        Status::Pass,
        &["empty"],
    );

    f.queues[0].1 = 2;
    let report = run_with(&f, options.clone()).await;
    assert_check(
        &report,
        "dead-letter-queue",
        Status::Warn,
        &["2 message(s)", "could not deliver", "sweeper"],
    );
    let check = check(&report, "dead-letter-queue", Some(URL));
    let fix = check.fix.as_deref().unwrap_or_default();
    assert!(
        fix.contains(&format!("aws sqs receive-message --queue-url {URL}")),
        "{fix}"
    );

    assert_read_error_fails(
        &f,
        options,
        "GetQueueAttributes",
        "AccessDenied",
        "dead-letter-queue",
    )
    .await;
}

#[test]
fn rates_parse() {
    use crate::doctor::machine::parse_rate;
    assert_eq!(parse_rate("rate(5 minutes)"), Some(300));
    assert_eq!(parse_rate("rate(1 minute)"), Some(60));
    assert_eq!(parse_rate("rate(2 hours)"), Some(7200));
    assert_eq!(parse_rate("cron(0/5 * * * ? *)"), None);
    assert_eq!(parse_rate("rate(0 minutes)"), None);
}
