//! The EventBridge rules that target the drain state machine: enabled, with a role to
//! start executions, and matching the terminate lifecycle events of every managed group.

use serde::Deserialize;
use serde_json::Value;

use super::{SPOT_DETAIL_TYPE, TERMINATE_DETAIL_TYPE};
use crate::doctor::{readable, Check, Clients, Options};
use crate::CliError;

/// What one rule that targets the state machine does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFacts {
    pub name: String,
    pub state: String,
    pub enabled: bool,
    /// Its pattern matches the terminate lifecycle action / the Spot warning.
    pub terminate: bool,
    pub spot: bool,
    /// `detail.AutoScalingGroupName` matchers (`None`: any group).
    pub groups: Option<Vec<Value>>,
    /// The hook names `detail.LifecycleHookName` lists.
    pub hooks: Vec<String>,
    /// Its target for the state machine has a role (EventBridge needs one to start it).
    pub target_has_role: bool,
}

/// The part of an event pattern the drain cares about (EventBridge's pattern format).
#[derive(Debug, Default, Deserialize)]
struct Pattern {
    #[serde(rename = "detail-type", default)]
    detail_type: Option<Vec<Value>>,
    #[serde(default)]
    detail: Option<PatternDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct PatternDetail {
    #[serde(rename = "AutoScalingGroupName", default)]
    groups: Option<Vec<Value>>,
    #[serde(rename = "LifecycleHookName", default)]
    hooks: Option<Vec<Value>>,
}

/// Whether a pattern field's matchers (`None`: the field is not matched on) match `value`:
/// exact strings and `{"prefix": ...}`; other matchers are taken to match.
pub fn matches(matchers: Option<&Vec<Value>>, value: &str) -> bool {
    let Some(matchers) = matchers else {
        return true;
    };
    matchers.iter().any(|m| match m {
        Value::String(s) => s == value,
        Value::Object(o) => match o.get("prefix") {
            Some(Value::String(prefix)) => value.starts_with(prefix.as_str()),
            _ => true,
        },
        _ => false,
    })
}

/// Reads the rules and adds their checks, and a check per managed group its events reach.
pub async fn check(
    clients: &Clients,
    arn: &str,
    options: &Options,
    checks: &mut Vec<Check>,
) -> Vec<RuleFacts> {
    let Some(rules) = readable(read(clients, arn).await, "rule", None, checks) else {
        return Vec::new();
    };
    for rule in rules.iter().filter(|r| r.terminate || r.spot) {
        checks.push(rule_check(rule, options));
    }
    if !rules.iter().any(|r| r.terminate) {
        checks.push(Check::fail(
            "rule",
            None,
            format!(
                "no EventBridge rule sends \"{TERMINATE_DETAIL_TYPE}\" events to the state machine: no scale-in starts a drain"
            ),
            "deploy the stack (infra/README.md), or add a rule on the default bus with infra's pattern \
             (source aws.autoscaling, this detail-type, the groups and the hook) targeting the state machine",
        ));
    } else if rules.iter().any(|r| r.terminate && r.enabled) {
        for asg in &options.asgs {
            checks.push(coverage(&rules, asg));
        }
    }
    rules
}

fn rule_check(rule: &RuleFacts, options: &Options) -> Check {
    let subject = Some(rule.name.as_str());
    let what = if rule.terminate {
        let groups: Vec<_> = options
            .asgs
            .iter()
            .filter(|asg| matches(rule.groups.as_ref(), asg))
            .cloned()
            .collect();
        format!(
            "terminate lifecycle events of {} (hook {})",
            if groups.is_empty() {
                "none of the groups".to_string()
            } else {
                groups.join(", ")
            },
            if rule.hooks.is_empty() {
                "any".to_string()
            } else {
                rule.hooks.join(", ")
            }
        )
    } else {
        "Spot interruption warnings".to_string()
    };
    if !rule.enabled {
        let (check, consequence) = if rule.terminate {
            (
                Check::fail as fn(_, _, String, String) -> Check,
                "start no drain: each instance waits in Terminating:Wait until the sweeper finds it or the \
                 heartbeat timeout applies the default result (terminated undrained)",
            )
        } else {
            (
                Check::warn as fn(_, _, String, String) -> Check,
                "start no drain: Spot instances are interrupted undrained",
            )
        };
        return check(
            "rule",
            subject,
            format!("{}: {what} {consequence}", rule.state),
            format!("aws events enable-rule --name {}", rule.name),
        );
    }
    if !rule.target_has_role {
        return Check::fail(
            "rule",
            subject,
            format!("{} ({what}), but its target has no role: EventBridge cannot start the execution", rule.state),
            "redeploy the stack, or put the target again with a RoleArn allowed states:StartExecution on the state machine",
        );
    }
    Check::pass(
        "rule",
        subject,
        format!("{}: {what} start the drain", rule.state),
    )
}

/// Per managed group: an enabled terminate rule matches its events.
fn coverage(rules: &[RuleFacts], asg: &str) -> Check {
    let covering: Vec<_> = rules
        .iter()
        .filter(|r| r.terminate && r.enabled && matches(r.groups.as_ref(), asg))
        .map(|r| r.name.as_str())
        .collect();
    if covering.is_empty() {
        Check::fail(
            "rule-coverage",
            Some(asg),
            "no enabled rule matches this group's terminate lifecycle events: its scale-ins start no drain",
            "add the group to the rule's detail.AutoScalingGroupName (infra: autoScalingGroupNames) and redeploy",
        )
    } else {
        Check::pass(
            "rule-coverage",
            Some(asg),
            format!(
                "its terminate lifecycle events match {}",
                covering.join(", ")
            ),
        )
    }
}

/// Every rule on the default bus that targets `arn`, described.
async fn read(clients: &Clients, arn: &str) -> Result<Vec<RuleFacts>, CliError> {
    let mut facts = Vec::new();
    for name in rule_names(clients, arn).await? {
        let rule = clients.events.describe_rule().name(&name).send().await?;
        // A rule has at most 5 targets: one call lists them all.
        let targets = clients
            .events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await?;
        let target_has_role = targets
            .targets()
            .iter()
            .any(|t| t.arn() == arn && t.role_arn().is_some_and(|r| !r.is_empty()));
        let pattern: Pattern = rule
            .event_pattern()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let detail = pattern.detail.unwrap_or_default();
        let state = rule.state().map(|s| s.as_str()).unwrap_or("ENABLED");
        facts.push(RuleFacts {
            enabled: state.starts_with("ENABLED"),
            state: state.to_string(),
            terminate: matches(pattern.detail_type.as_ref(), TERMINATE_DETAIL_TYPE),
            spot: matches(pattern.detail_type.as_ref(), SPOT_DETAIL_TYPE),
            groups: detail.groups,
            hooks: detail
                .hooks
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            target_has_role,
            name,
        });
    }
    Ok(facts)
}

/// `ListRuleNamesByTarget`, every page. EventBridge's API model declares no paginator for
/// it (the SDK has no `into_paginator()`), so the `NextToken` loop is written here.
async fn rule_names(clients: &Clients, arn: &str) -> Result<Vec<String>, CliError> {
    let mut names = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = clients
            .events
            .list_rule_names_by_target()
            .target_arn(arn)
            .set_next_token(next_token.take())
            .send()
            .await?;
        names.extend(page.rule_names().iter().cloned());
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => return Ok(names),
        }
    }
}
