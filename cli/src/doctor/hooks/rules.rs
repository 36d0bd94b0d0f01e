//! The judgement of one group's terminate hooks, from what was read (no AWS calls).

use crate::doctor::short_name;
use sta_shared::wait::heartbeat_interval;

use crate::doctor::machine::Drain;
use crate::doctor::{Check, Options};

/// Auto Scaling's cap on a lifecycle wait: min(48 h, 100 x heartbeat timeout).
pub const MAX_WAIT_SECONDS: u64 = 48 * 3600;
/// Between our heartbeat (0.4 x the timeout) and the hook's timeout, a check may be
/// retried through transient errors (the ASL's Retry backs off up to about 50 s in all):
/// less room than this warns.
pub const HEARTBEAT_SLACK_SECONDS: u64 = 60;
/// EventBridge Scheduler invokes a target "with 60 second precision": a sweep due at 1:00 comes
/// up to 1:00:59 ("Schedule types in EventBridge Scheduler").
pub const SCHEDULER_PRECISION_SECONDS: u64 = 60;
/// A sweep finds a lost event at most one period and the scheduler's minute after its wait
/// began; less room than this between that and the hook's timeout (the sweeper's run, the
/// first step) warns.
pub const SWEEP_MARGIN_SECONDS: u64 = 60;
/// Infra's default heartbeat timeout, suggested in fixes.
const SUGGESTED_TIMEOUT_SECONDS: u64 = 600;

/// A terminate lifecycle hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub heartbeat_timeout: Option<u64>,
    pub global_timeout: Option<u64>,
    pub default_result: String,
    /// The cluster its `NotificationMetadata` names.
    pub cluster: Option<String>,
}

/// Whether `named` (a cluster name or ARN) is the cluster `cluster` names.
fn same_cluster(named: &str, cluster: &str) -> bool {
    short_name(named) == short_name(cluster)
}

/// Our hook among the group's terminate hooks: by name when the rule (or `--hook`) names
/// it, else the one whose `NotificationMetadata` names the cluster.
fn split<'a>(hooks: &'a [Hook], drain: &Drain, cluster: &str) -> (Option<&'a Hook>, Vec<&'a Hook>) {
    let is_ours = |h: &Hook| {
        if drain.hook_names.is_empty() {
            h.cluster
                .as_deref()
                .is_some_and(|c| same_cluster(c, cluster))
        } else {
            drain.hook_names.contains(&h.name)
        }
    };
    let ours = hooks.iter().find(|h| is_ours(h));
    let others = hooks
        .iter()
        .filter(|h| Some(h.name.as_str()) != ours.map(|o| o.name.as_str()))
        .collect();
    (ours, others)
}

/// Every hook check of group `asg`.
/// `retains`: the group's instance lifecycle policy retains an instance whose terminate
/// action was abandoned.
pub fn hook_checks(
    asg: &str,
    hooks: &[Hook],
    drain: &Drain,
    options: &Options,
    retains: bool,
) -> Vec<Check> {
    let (ours, others) = split(hooks, drain, &options.cluster);
    let mut checks = vec![presence(asg, ours, drain, options)];
    if let Some(hook) = ours {
        let timeout = hook.heartbeat_timeout.unwrap_or(3600);
        checks.push(heartbeat(
            asg,
            timeout,
            drain.sweep.seconds,
            &drain.sweep.source,
        ));
        checks.push(deadline(asg, hook, timeout, drain));
        checks.push(default_result(asg, hook, !others.is_empty(), retains));
    }
    checks.push(other_hooks(asg, &others));
    checks
}

fn presence(asg: &str, ours: Option<&Hook>, drain: &Drain, options: &Options) -> Check {
    let Some(hook) = ours else {
        let (what, fix_name) = if drain.hook_names.is_empty() {
            (
                format!(
                    "no terminate hook of ours: the rule names none and no hook's NotificationMetadata names cluster {}",
                    options.cluster
                ),
                "<hook>".to_string(),
            )
        } else {
            let names: Vec<_> = drain.hook_names.iter().cloned().collect();
            (
                format!("no terminate hook named {}", names.join(" or ")),
                names[0].clone(),
            )
        };
        return Check::fail(
            "hook",
            Some(asg),
            format!("{what}: its instances are terminated without a drain"),
            format!(
                "redeploy the stack, or: aws autoscaling put-lifecycle-hook --auto-scaling-group-name {asg} \
                 --lifecycle-hook-name {fix_name} --lifecycle-transition {} --heartbeat-timeout {SUGGESTED_TIMEOUT_SECONDS} \
                 --default-result CONTINUE --notification-metadata '{{\"cluster\":\"{}\"}}'",
                super::TERMINATING,
                options.cluster
            ),
        );
    };
    if let Some(other) = hook
        .cluster
        .as_deref()
        .filter(|c| !same_cluster(c, &options.cluster))
    {
        return Check::fail(
            "hook",
            Some(asg),
            format!(
                "{}: its NotificationMetadata names cluster {other}, not {}: the drain refuses its events",
                hook.name, options.cluster
            ),
            format!("set its NotificationMetadata to {{\"cluster\":\"{}\"}}", options.cluster),
        );
    }
    Check::pass("hook", Some(asg), format!("{} is on the group", hook.name))
}

/// The heartbeat timeout against the sweep period and our heartbeat interval.
pub fn heartbeat(asg: &str, timeout: u64, sweep: u64, sweep_source: &str) -> Check {
    let interval = heartbeat_interval(timeout);
    let slack = timeout.saturating_sub(interval);
    // the latest a sweep can find a lost event, counted from when its wait began
    let latest = sweep + SCHEDULER_PRECISION_SECONDS;
    let fix = format!(
        "raise the hook's heartbeat timeout (infra: heartbeatTimeout; default {SUGGESTED_TIMEOUT_SECONDS} s) \
         to at least {} s, or sweep more often (infra: sweepRate)",
        (latest + SWEEP_MARGIN_SECONDS).max(100)
    );
    if timeout <= latest {
        return Check::fail(
            "hook-heartbeat",
            Some(asg),
            format!(
                "heartbeat timeout {timeout} s is not longer than the sweep period {sweep} s ({sweep_source}) \
                 plus EventBridge Scheduler's {SCHEDULER_PRECISION_SECONDS} s precision: when a lifecycle event \
                 is lost, or the drain's functions are waking from Inactive, the action can time out (default \
                 result: terminated undrained) before the sweeper finds the instance or heartbeats it"
            ),
            fix,
        );
    }
    let mut worries = Vec::new();
    if timeout < latest + SWEEP_MARGIN_SECONDS {
        worries.push(format!(
            "only {} s between the latest sweep ({sweep} s, {sweep_source}, plus the scheduler's \
             {SCHEDULER_PRECISION_SECONDS} s) and the timeout: a late sweep misses a lost event",
            timeout - latest
        ));
    }
    if slack < HEARTBEAT_SLACK_SECONDS {
        worries.push(format!(
            "our heartbeat comes {interval} s after the last (0.4 x the timeout), leaving {slack} s: a check \
             retried through transient errors can miss it and the action times out mid-drain"
        ));
    }
    if worries.is_empty() {
        Check::pass(
            "hook-heartbeat",
            Some(asg),
            format!(
                "heartbeat timeout {timeout} s: we heartbeat every {interval} s ({slack} s to spare); a sweep \
                 every {sweep} s ({sweep_source}) finds a lost event, and keeps a running drain's action \
                 alive while its functions wake, at least {} s before it expires",
                timeout - latest
            ),
        )
    } else {
        Check::warn(
            "hook-heartbeat",
            Some(asg),
            format!("heartbeat timeout {timeout} s: {}", worries.join("; ")),
            fix,
        )
    }
}

/// The drain deadline against the hook's limit on the whole wait.
fn deadline(asg: &str, hook: &Hook, timeout: u64, drain: &Drain) -> Check {
    let limit = hook
        .global_timeout
        .unwrap_or_else(|| MAX_WAIT_SECONDS.min(100 * timeout));
    let Some(settings) = drain.settings else {
        return Check::warn(
            "hook-deadline",
            Some(asg),
            format!(
                "the hook keeps an action open at most {limit} s; the drain deadline is unknown"
            ),
            "give --state-machine or --stack so the deadline can be read",
        );
    };
    let deadline = settings.drain_deadline_seconds;
    if deadline >= limit {
        return Check::fail(
            "hook-deadline",
            Some(asg),
            format!(
                "drain deadline {deadline} s is not below the hook's limit {limit} s (min(48 h, 100 x {timeout} s)): \
                 a long drain is cut off at the limit, before its deadline, and the instance leaves while \
                 it may still serve"
            ),
            format!(
                "lower the drain deadline (infra: drainDeadline) below {limit} s, or raise the heartbeat timeout \
                 to at least {} s",
                deadline / 100 + 1
            ),
        );
    }
    Check::pass(
        "hook-deadline",
        Some(asg),
        format!("drain deadline {deadline} s is below the hook's limit {limit} s"),
    )
}

/// The result Auto Scaling applies when our heartbeat stops (a FAILED drain). With a
/// retention policy ("Configure instance retention": ABANDON, or a timeout with default
/// result ABANDON, retains; CONTINUE never does) ABANDON keeps a FAILED drain's instance.
fn default_result(asg: &str, hook: &Hook, other_hooks: bool, retains: bool) -> Check {
    let name = "hook-default-result";
    match (hook.default_result.as_str(), other_hooks, retains) {
        ("ABANDON", true, _) => Check::warn(
            name,
            Some(asg),
            "ABANDON: when our action times out, Auto Scaling also skips the other terminate hooks of the group",
            format!("set {}'s default result to CONTINUE (infra: hookDefaultResult)", hook.name),
        ),
        ("ABANDON", false, true) => Check::pass(
            name,
            Some(asg),
            "ABANDON, and the group retains an instance whose action is abandoned: a FAILED drain's \
             instance stays Terminating:Retained, running, until a redrive drains it and you terminate it",
        ),
        (result, _, true) => Check::warn(
            name,
            Some(asg),
            format!(
                "{result}: the group retains an instance whose action is abandoned, but when a FAILED \
                 drain's action times out with {result} the instance terminates, undrained"
            ),
            format!(
                "set {}'s default result to ABANDON (infra: hookDefaultResult), so that the group keeps \
                 a FAILED drain's instance",
                hook.name
            ),
        ),
        (result, _, false) => Check::pass(
            name,
            Some(asg),
            format!(
                "{result}: applied if our heartbeat stops (a FAILED drain); for a terminate hook either \
                 result terminates the instance (the group retains none)"
            ),
        ),
    }
}

fn other_hooks(asg: &str, others: &[&Hook]) -> Check {
    if others.is_empty() {
        return Check::pass(
            "other-terminate-hooks",
            Some(asg),
            "no other terminate hook on the group",
        );
    }
    let listed: Vec<_> = others
        .iter()
        .map(|h| {
            format!(
                "{} (heartbeat timeout {} s, default result {})",
                h.name,
                h.heartbeat_timeout.unwrap_or(3600),
                h.default_result
            )
        })
        .collect();
    let abandon = others.iter().any(|h| h.default_result == "ABANDON");
    Check::warn(
        "other-terminate-hooks",
        Some(asg),
        format!(
            "{}: an ABANDON of theirs (by their owner{}) ends our action too, and the instance leaves mid-drain",
            listed.join(", "),
            if abandon { ", or their timeout" } else { "" }
        ),
        "make sure their owners complete them with CONTINUE and never time out (default result CONTINUE)",
    )
}
