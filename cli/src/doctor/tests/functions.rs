//! The functions the state machine invokes, and what their Lambda state means for a drain.

use super::*;
use crate::doctor::machine::functions::{invoked, judge, FunctionState, Use};

const DRAIN_FUNCTIONS: [&str; 4] = [
    "drain-ecs",
    "deregister-lb",
    "check-drained",
    "complete-lifecycle",
];

fn state(state: &str, code: Option<&str>, last_update: Option<&str>) -> FunctionState {
    FunctionState {
        state: Some(state.to_string()),
        reason_code: code.map(str::to_string),
        reason: code.map(|code| format!("{code} said by Lambda")),
        last_update_status: last_update.map(str::to_string),
        last_update_reason: last_update.map(|status| format!("update {status}")),
    }
}

#[tokio::test]
async fn every_function_the_state_machine_invokes_is_checked_once() {
    let report = run(&Fixture::default()).await;
    for name in DRAIN_FUNCTIONS {
        let found = check(&report, "function", Some(name));
        assert_eq!(found.status, Status::Pass, "{found:#?}");
    }
    // one function, invoked by two states, is read once and names both
    let complete = check(&report, "function", Some("complete-lifecycle"));
    assert!(
        complete
            .detail
            .contains("CompleteLifecycleAction, CompleteLifecycleActionAfterDeadline"),
        "{complete:#?}"
    );
}

#[test]
fn invoked_functions_are_read_from_tasks_at_any_depth() {
    let functions = invoked(&definition(3000));
    let names: Vec<_> = functions
        .keys()
        .map(|arn| arn.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "check-drained",
            "complete-lifecycle",
            "deregister-lb",
            "drain-ecs"
        ]
    );
    let nested = serde_json::json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-west-2:1:function:legacy"}}}]},
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "B", "States": {
            "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "by-name"}}}}},
        "D": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName.$": "$.function"}},
        "S": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish"}
    }});
    let functions = invoked(&nested.to_string());
    assert_eq!(
        functions.into_iter().collect::<Vec<_>>(),
        [
            (
                "arn:aws:lambda:us-west-2:1:function:legacy".to_string(),
                vec!["A".to_string()]
            ),
            ("by-name".to_string(), vec!["B".to_string()]),
        ]
    );
    assert!(invoked("not json").is_empty());
}

#[test]
fn each_state_is_judged_by_what_it_means_for_a_drain() {
    let states = ["DrainContainerInstance".to_string()];
    for (state, status, words) in [
        (
            state("Active", None, Some("Successful")),
            Status::Pass,
            &["Active", "DrainContainerInstance"][..],
        ),
        (
            state("Active", None, Some("InProgress")),
            Status::Pass,
            &["Active"],
        ),
        (
            FunctionState::default(),
            Status::Pass,
            &["Active"], // no State: a function from before states were reported
        ),
        (
            state("Active", None, Some("Failed")),
            Status::Warn,
            &["last update failed", "update Failed", "from before it"],
        ),
        (
            state("Inactive", Some("Idle"), None),
            Status::Pass,
            &["Inactive (idle", "wakes it at DrainContainerInstance"],
        ),
        (
            state("Inactive", Some("SubnetOutOfIPAddresses"), None),
            Status::Fail,
            &[
                "could not recreate",
                "SubnetOutOfIPAddresses: SubnetOutOfIPAddresses said by Lambda",
                "every drain FAILS at DrainContainerInstance",
                "free addresses in its subnets",
            ],
        ),
        (
            state("Pending", Some("Restoring"), None),
            Status::Warn,
            &[
                "Pending (Restoring",
                "get-function-configuration --function-name drain-ecs",
            ],
        ),
        (
            state("Failed", Some("InvalidSecurityGroup"), None),
            Status::Fail,
            &["Failed (InvalidSecurityGroup", "delete and create"],
        ),
        (
            state("Deactivated", None, None),
            Status::Warn,
            &["Deactivated: not Active"],
        ),
    ] {
        let check = judge("drain-ecs", &Use::Drain(states.to_vec()), &state);
        assert_eq!(check.status, status, "{state:?}: {check:#?}");
        assert_eq!(check.subject.as_deref(), Some("drain-ecs"));
        for word in words {
            let text = format!("{} {}", check.detail, check.fix.clone().unwrap_or_default());
            assert!(text.contains(word), "{word:?} not in {check:#?}");
        }
        assert_eq!(check.fix.is_some(), status != Status::Pass, "{check:#?}");
    }
}

#[tokio::test]
async fn a_function_that_cannot_run_fails_doctor_and_names_where_the_drain_fails() {
    let mut f = Fixture::default();
    f.functions.insert(
        "check-drained",
        Some(state("Inactive", Some("EniLimitExceeded"), None)),
    );
    f.functions.insert("deregister-lb", None);
    let report = run(&f).await;
    assert!(!report.ok(false));
    let woken = check(&report, "function", Some("check-drained"));
    assert_eq!(woken.status, Status::Fail, "{woken:#?}");
    assert!(
        woken.detail.contains("EniLimitExceeded") && woken.detail.contains("CheckDrained"),
        "{woken:#?}"
    );
    let missing = check(&report, "function", Some("deregister-lb"));
    assert_eq!(missing.status, Status::Fail, "{missing:#?}");
    assert!(
        missing.detail.contains("does not exist")
            && missing.detail.contains("DeregisterFromLoadBalancers"),
        "{missing:#?}"
    );
    assert_eq!(
        check(&report, "function", Some("drain-ecs")).status,
        Status::Pass
    );
}

#[tokio::test]
async fn an_unreadable_function_fails_naming_the_call() {
    let report = run_failing("GetFunctionConfiguration", "AccessDeniedException").await;
    for name in DRAIN_FUNCTIONS {
        let found = check(&report, "function", Some(name));
        assert_eq!(found.status, Status::Fail, "{found:#?}");
        assert!(
            found
                .detail
                .contains("GetFunctionConfiguration: AccessDeniedException"),
            "{found:#?}"
        );
    }
    // the other checks still ran
    assert_check(&report, "rule", Status::Pass, &["start the drain"]);
}

#[tokio::test]
async fn the_functions_the_stacks_schedules_invoke_are_checked_once_each() {
    let mut f = Fixture::default();
    f.schedules = vec![
        schedule("DrainSweeperSchedule1", "sweeper"),
        schedule("TaskScalerSchedule1", "scaler"),
    ];
    f.functions.insert(
        "sweeper-fn",
        Some(state("Failed", Some("InvalidSubnet"), None)),
    );
    f.functions.insert("scaler-fn", None);
    let options = f.stack_options();
    let report = run_with(&f, options.clone()).await;
    let sweeper = check(&report, "function", Some("sweeper-fn"));
    assert_eq!(sweeper.status, Status::Fail, "{sweeper:#?}");
    assert!(
        sweeper.detail.contains(
            "every run of schedule sweeper fails: a lifecycle event that was lost is never found"
        ),
        "{sweeper:#?}"
    );
    let scaler = check(&report, "function", Some("scaler-fn"));
    assert_eq!(scaler.status, Status::Fail, "{scaler:#?}");
    assert!(
        scaler
            .detail
            .contains("does not exist: every run of schedule scaler fails")
            && scaler.detail.contains("desired count"),
        "{scaler:#?}"
    );

    f.functions.clear();
    let report = run_with(&f, options).await;
    let sweeper = check(&report, "function", Some("sweeper-fn"));
    assert_eq!(sweeper.status, Status::Pass, "{sweeper:#?}");
    assert!(
        sweeper.detail.contains("invoked by schedule sweeper"),
        "{sweeper:#?}"
    );
    assert_skipped(&run(&f).await, "sweeper-schedule"); // schedules are read with --stack only
}
