//! The functions the drain state machine invokes, and (with `--stack`) those the stack's
//! schedules invoke (the sweeper, the task scaler): each must exist and be able to run.
//!
//! Lambda's `State` ("Lambda function states", Lambda Developer Guide; the
//! GetFunctionConfiguration API reference): Active functions run. A function idle long
//! enough for Lambda to reclaim its resources is Inactive (`StateReasonCode` Idle): its
//! first invocation fails and sets it Pending until the resources are recreated, which the
//! state machine's retrier waits out. "If Lambda fails to recreate the resources, the
//! function returns to the inactive state", with the reason, and AWS's advice is to resolve
//! it and redeploy: until then no drain gets past it. A Failed function could not be created. The drain's
//! functions run only on a scale-in, so these states show nowhere else until a drain fails; a
//! scheduled function that cannot run fails each run, which nothing but its schedule's dead-letter
//! queue shows.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::doctor::{Check, Clients};
use crate::CliError;

const NAME: &str = "function";

/// The function of each Task that invokes one (`arn:aws:states:::lambda:invoke` with a
/// fixed `Parameters.FunctionName`, or a Lambda ARN as `Resource`), with the states that
/// invoke it; nested states (Parallel branches, Map processors) included.
pub fn invoked(definition: &str) -> BTreeMap<String, Vec<String>> {
    let mut functions = BTreeMap::new();
    if let Ok(Value::Object(root)) = serde_json::from_str::<Value>(definition) {
        collect(&root, &mut functions);
    }
    functions
}

fn collect(machine: &Map<String, Value>, functions: &mut BTreeMap<String, Vec<String>>) {
    let Some(Value::Object(states)) = machine.get("States") else {
        return;
    };
    for (name, state) in states {
        if let Some(function) = function_of(state) {
            functions
                .entry(function.to_string())
                .or_default()
                .push(name.clone());
        }
        let nested = state.get("Branches").and_then(Value::as_array);
        for inner in nested.into_iter().flatten().chain(
            ["ItemProcessor", "Iterator"]
                .iter()
                .filter_map(|key| state.get(*key)),
        ) {
            if let Value::Object(inner) = inner {
                collect(inner, functions);
            }
        }
    }
}

fn function_of(state: &Value) -> Option<&str> {
    let resource = state.get("Resource")?.as_str()?;
    if resource.starts_with("arn:aws:states:::lambda:invoke") {
        state.pointer("/Parameters/FunctionName")?.as_str()
    } else if resource.starts_with("arn:aws:lambda:") {
        Some(resource)
    } else {
        None
    }
}

/// What GetFunctionConfiguration says of a function's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionState {
    pub state: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub last_update_status: Option<String>,
    pub last_update_reason: Option<String>,
}

/// Who invokes a function, in the words of its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// The drain's states that invoke it.
    Drain(Vec<String>),
    /// The schedules that invoke it, and what goes undone while it cannot run.
    Schedules { names: Vec<String>, undone: String },
}

impl Use {
    fn by(&self) -> String {
        match self {
            Self::Drain(states) => states.join(", "),
            Self::Schedules { names, .. } => format!("schedule {}", names.join(", ")),
        }
    }

    /// What fails while the function cannot run.
    fn fails(&self) -> String {
        match self {
            Self::Drain(states) => format!("every drain FAILS at {}", states.join(", ")),
            Self::Schedules { undone, .. } => format!("every run of {} fails: {undone}", self.by()),
        }
    }

    /// Who waits for it while it is Pending.
    fn waits(&self) -> String {
        match self {
            Self::Drain(states) => format!("a drain now waits for it at {}", states.join(", ")),
            Self::Schedules { .. } => format!("a run of {} now waits for it", self.by()),
        }
    }

    /// Who wakes it when it is Inactive after idling.
    fn wakes(&self) -> String {
        match self {
            Self::Drain(states) => format!(
                "the next drain wakes it at {}, and the state machine retries while it is Pending, for minutes",
                states.join(", ")
            ),
            Self::Schedules { .. } => format!("the next run of {} wakes it", self.by()),
        }
    }
}

/// A `function` check for each function the state machine invokes.
pub async fn check(
    clients: &Clients,
    functions: &BTreeMap<String, Vec<String>>,
    checks: &mut Vec<Check>,
) {
    for (function, states) in functions {
        checks.push(function_check(clients, function, &Use::Drain(states.clone())).await);
    }
}

/// A `function` check for a function the stack's schedules invoke.
pub async fn scheduled(clients: &Clients, function: &str, by: &Use) -> Check {
    function_check(clients, function, by).await
}

async fn function_check(clients: &Clients, function: &str, by: &Use) -> Check {
    let subject = short(function);
    let answer = clients
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await;
    match answer {
        Ok(config) => judge(
            subject,
            by,
            &FunctionState {
                state: config.state().map(|s| s.as_str().to_string()),
                reason_code: config.state_reason_code().map(|c| c.as_str().to_string()),
                reason: config.state_reason().map(str::to_string),
                last_update_status: config.last_update_status().map(|s| s.as_str().to_string()),
                last_update_reason: config.last_update_status_reason().map(str::to_string),
            },
        ),
        Err(error) => {
            let error = CliError::from(error);
            if error.code() == Some("ResourceNotFoundException") {
                Check::fail(
                    NAME,
                    Some(subject),
                    format!("{function} does not exist: {}", by.fails()),
                    "redeploy the stack, or give the state machine of the stack that deployed the functions",
                )
            } else {
                Check::unreadable(NAME, Some(subject), &error)
            }
        }
    }
}

/// The check for a function in `state`, invoked `by`.
pub fn judge(subject: &str, by: &Use, state: &FunctionState) -> Check {
    let because = |state: &FunctionState| {
        let code = state.reason_code.as_deref().unwrap_or("no reason code");
        match &state.reason {
            Some(reason) => format!("{code}: {reason}"),
            None => code.to_string(),
        }
    };
    match state.state.as_deref().unwrap_or("Active") {
        "Active" if state.last_update_status.as_deref() == Some("Failed") => Check::warn(
            NAME,
            Some(subject),
            format!(
                "Active, but its last update failed ({}): it runs the code and configuration from before it",
                state.last_update_reason.as_deref().unwrap_or("no reason given")
            ),
            "fix the cause and deploy the stack again",
        ),
        "Active" => Check::pass(NAME, Some(subject), format!("Active (invoked by {})", by.by())),
        "Inactive" if matches!(state.reason_code.as_deref(), None | Some("Idle")) => Check::pass(
            NAME,
            Some(subject),
            format!("Inactive (idle: Lambda reclaimed its resources): {}", by.wakes()),
        ),
        "Inactive" => Check::fail(
            NAME,
            Some(subject),
            format!(
                "Inactive, and Lambda could not recreate its resources ({}): until it is restored, {}",
                because(state),
                by.fails()
            ),
            format!(
                "resolve the reason (free addresses in its subnets, its role's permissions, its KMS key, ...), \
                 then update the function to restore it: a deployment that changes nothing updates nothing, so \
                 change its configuration (`aws lambda update-function-configuration --function-name {subject} \
                 --description ...`)"
            ),
        ),
        "Pending" => Check::warn(
            NAME,
            Some(subject),
            format!(
                "Pending ({}): it cannot run until Active; {}",
                because(state),
                by.waits()
            ),
            format!("wait until `aws lambda get-function-configuration --function-name {subject}` says Active"),
        ),
        "Failed" => Check::fail(
            NAME,
            Some(subject),
            format!(
                "Failed ({}): Lambda could not create it, so {}",
                because(state),
                by.fails()
            ),
            "fix the reason, then delete and create the function again: a deployment replaces it only when \
             a property that forces a replacement changes, so delete it and deploy the stack",
        ),
        other => Check::warn(
            NAME,
            Some(subject),
            format!("{other}: not Active, so {} may fail", by.by()),
            format!("see `aws lambda get-function-configuration --function-name {subject}`"),
        ),
    }
}

/// `drain-ecs` of `arn:aws:lambda:REGION:ACCOUNT:function:drain-ecs[:QUALIFIER]`.
fn short(function: &str) -> &str {
    match function.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => function,
    }
}
