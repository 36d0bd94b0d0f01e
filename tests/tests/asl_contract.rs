//! The contract between the state machine definition and the Lambdas: names, paths,
//! error names and retries. No services needed.

use std::collections::BTreeSet;

use integration_tests::repo_root;
use serde_json::Value;
use sta_shared::aws_lambda_errors::{
    FAILED_RUN_ERRORS, NOT_ACTIVE_ERRORS, TRANSIENT_LAMBDA_SERVICE_ERRORS, VPC_SETUP_ERRORS,
};
use sta_shared::error::ERROR_NAMES;
use sta_shared::state::DrainStatus;

/// What every Task retries: AWS's transient Lambda service errors, a failed run of the
/// function, and our own `Retryable`, each list from the one place that keeps it.
fn retried_by_every_task() -> Vec<&'static str> {
    let retryable = sta_shared::StepError::Retryable {
        operation: String::new(),
        message: String::new(),
    }
    .name();
    TRANSIENT_LAMBDA_SERVICE_ERRORS
        .into_iter()
        .chain(FAILED_RUN_ERRORS)
        .chain([retryable])
        .collect()
}

/// How long a retrier keeps retrying at the most: its delays, each capped, summed.
fn reach_seconds(retrier: &Value) -> f64 {
    let interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let rate = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
    let cap = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::MAX);
    let attempts = retrier["MaxAttempts"].as_i64().unwrap_or(3);
    (0..attempts)
        .map(|n| (interval * rate.powi(n as i32)).min(cap))
        .sum()
}

fn asl_text() -> String {
    std::fs::read_to_string(repo_root().join("statemachine/drain.asl.json")).expect("the ASL file")
}

fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

fn states(asl: &Value) -> &serde_json::Map<String, Value> {
    asl["States"].as_object().expect("States is an object")
}

fn asl() -> Value {
    serde_json::from_str(&asl_text()).expect("the ASL is JSON (placeholders sit inside strings)")
}

fn next_states(state: &Value) -> Vec<String> {
    let mut next: Vec<String> = ["Next", "Default"]
        .iter()
        .filter_map(|key| state[*key].as_str().map(str::to_string))
        .collect();
    for list in ["Choices", "Catch"] {
        for item in state[list].as_array().into_iter().flatten() {
            next.extend(item["Next"].as_str().map(str::to_string));
        }
    }
    next
}

#[test]
fn every_transition_leads_to_a_state_and_every_state_is_reachable() {
    let asl = asl();
    let states = states(&asl);
    let start = asl["StartAt"].as_str().expect("StartAt");
    assert!(states.contains_key(start));
    let mut reached = BTreeSet::from([start.to_string()]);
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        for next in next_states(&states[&name]) {
            assert!(
                states.contains_key(&next),
                "{name} -> {next}: no such state"
            );
            if reached.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    let all: BTreeSet<String> = states.keys().cloned().collect();
    assert_eq!(reached, all, "unreachable states");
    assert!(asl.get("QueryLanguage").is_none_or(|q| q == "JSONPath"));
}

#[test]
fn every_task_invokes_one_of_our_functions_and_retries_transient_errors_with_jitter() {
    let asl = asl();
    let functions = [
        "${DrainEcsFunctionArn}",
        "${DeregisterLbFunctionArn}",
        "${CheckDrainedFunctionArn}",
        "${CompleteLifecycleFunctionArn}",
    ];
    for (name, state) in states(&asl).iter().filter(|(_, s)| s["Type"] == "Task") {
        assert_eq!(
            state["Resource"], "arn:aws:states:::lambda:invoke",
            "{name}"
        );
        let function = state["Parameters"]["FunctionName"]
            .as_str()
            .unwrap_or_default();
        assert!(functions.contains(&function), "{name} invokes {function}");
        assert_eq!(
            state["OutputPath"], "$.Payload",
            "{name} passes the state on"
        );
        let retry = state["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Retry"));
        let named: Vec<&str> = retry
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let retried: BTreeSet<&str> = named.iter().copied().collect();
        // The first retrier that names an error is the one that retries it.
        assert_eq!(retried.len(), named.len(), "{name} names an error twice");
        for error in retried_by_every_task() {
            assert!(retried.contains(error), "{name} does not retry {error}");
        }
        // A function waking from Inactive stays Pending for minutes, and a VPC set-up
        // that failed may clear: retried for longer.
        let not_active = retry
            .iter()
            .find(|r| r["ErrorEquals"][0] == NOT_ACTIVE_ERRORS[0])
            .unwrap_or_else(|| panic!("{name} does not retry a function that is not Active"));
        let not_ready: Vec<&str> = NOT_ACTIVE_ERRORS
            .into_iter()
            .chain(VPC_SETUP_ERRORS)
            .collect();
        assert_eq!(not_active["ErrorEquals"], serde_json::json!(not_ready));
        // Full jitter waits a random part of each delay: half the sum, on average.
        assert!(
            reach_seconds(not_active) / 2.0 >= 300.0,
            "{name}: a Pending function is retried for less than 5 minutes on average"
        );
        for rule in retry {
            assert_eq!(rule["JitterStrategy"], "FULL", "{name}");
            assert!(
                rule["BackoffRate"].as_f64().unwrap_or(1.0) > 1.0,
                "{name}: exponential"
            );
            assert!(rule["MaxDelaySeconds"].is_u64(), "{name}: bounded delay");
        }
        assert!(state["TimeoutSeconds"].is_u64(), "{name} has a timeout");
    }
}

#[test]
fn every_error_name_in_retry_and_catch_is_one_we_raise_or_an_aws_one() {
    let asl = asl();
    for (name, state) in states(&asl) {
        for list in ["Retry", "Catch"] {
            for rule in state[list].as_array().into_iter().flatten() {
                for error in rule["ErrorEquals"].as_array().into_iter().flatten() {
                    let error = error.as_str().unwrap();
                    let known = ERROR_NAMES.contains(&error)
                        || ["States.", "Lambda.", "Sandbox.", "Runtime."]
                            .iter()
                            .any(|prefix| error.starts_with(prefix));
                    assert!(
                        known,
                        "{name}: {error} is not in sta_shared::error::ERROR_NAMES"
                    );
                }
            }
        }
    }
}

#[test]
fn only_invalid_events_are_caught_so_that_every_other_failure_is_redrivable() {
    // RedriveExecution resumes at the state that failed. A Task whose errors are caught
    // into a Fail state would make that Fail state the one a redrive resumes at.
    let asl = asl();
    let states = states(&asl);
    for (name, state) in states {
        for rule in state["Catch"].as_array().into_iter().flatten() {
            assert_eq!(
                rule["ErrorEquals"],
                serde_json::json!(["InvalidEvent"]),
                "{name}"
            );
            assert_eq!(
                name, "DrainContainerInstance",
                "only the first step rejects input"
            );
            let target = &states[rule["Next"].as_str().unwrap()];
            assert_eq!(target["Type"], "Fail");
            assert!(target["ErrorPath"].is_string() && target["CausePath"].is_string());
        }
    }
}

#[test]
fn choices_compare_statuses_the_lambdas_produce() {
    let produced: BTreeSet<String> = [
        DrainStatus::Draining,
        DrainStatus::Drained,
        DrainStatus::DeadlinePassed,
        DrainStatus::NotInCluster,
        DrainStatus::ActionEnded,
    ]
    .iter()
    .map(|status| {
        serde_json::to_value(status)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect();
    let asl = asl();
    let mut compared = BTreeSet::new();
    for state in states(&asl).values().filter(|s| s["Type"] == "Choice") {
        for choice in state["Choices"].as_array().unwrap() {
            assert_eq!(choice["Variable"], "$.status");
            compared.insert(choice["StringEquals"].as_str().unwrap().to_string());
        }
    }
    let draining = serde_json::to_value(DrainStatus::Draining).unwrap();
    compared.insert(draining.as_str().unwrap().to_string());
    assert_eq!(
        compared, produced,
        "every status has a branch (draining is the default)"
    );
}

#[test]
fn the_wait_reads_the_seconds_the_lambdas_choose() {
    let asl = asl();
    let waits: Vec<&Value> = states(&asl)
        .values()
        .filter(|s| s["Type"] == "Wait")
        .collect();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0]["SecondsPath"], "$.wait_seconds");
    let state = serde_json::to_value(sta_shared::testing::drain_state()).unwrap();
    assert!(state["wait_seconds"].is_u64());
    assert!(state["status"].is_string());
}

#[test]
fn every_placeholder_is_documented_for_those_who_fill_it() {
    let found = placeholders(&asl_text());
    let readme = std::fs::read_to_string(repo_root().join("statemachine/README.md")).unwrap();
    let documented: BTreeSet<String> = placeholders(&readme);
    assert_eq!(found, documented);
    let expected: BTreeSet<String> = [
        "DrainEcsFunctionArn",
        "DeregisterLbFunctionArn",
        "CheckDrainedFunctionArn",
        "CompleteLifecycleFunctionArn",
        "DrainDeadlineSeconds",
        "DeadlineResult",
        "StandaloneTasks",
        "StandaloneTaskGraceSeconds",
        "NlbDeregistrationSeconds",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(found, expected);
}
