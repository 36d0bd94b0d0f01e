//! Doctor against mocked AWS: each check through the fixture's deployment (a correct one
//! by default, then misconfigured one thing at a time), and each error path.

// Each test starts from a correct deployment and changes the one field it is about.
#![allow(clippy::field_reassign_with_default)]

pub(crate) mod fixture;

mod balancers;
mod fleet;
mod functions;
mod hooks;
mod machine;
mod services;

use fixture::*;

use super::*;

pub async fn run(f: &Fixture) -> Report {
    run_with(f, f.options()).await
}

pub async fn run_with(f: &Fixture, options: Options) -> Report {
    doctor(&f.clients(), &options, &crate::quiet).await
}

/// Doctor against the correct deployment, with `operation` failing with `code`.
pub async fn run_failing(operation: &'static str, code: &'static str) -> Report {
    let mut f = Fixture::default();
    f.errors.insert(operation, code);
    run(&f).await
}

/// Doctor (with `options`) against `f` with `operation` failing with `code`: check `name`
/// fails, naming the call and the code.
pub async fn assert_read_error_fails(
    f: &Fixture,
    options: Options,
    operation: &'static str,
    code: &'static str,
    name: &str,
) {
    let mut f = f.clone();
    f.errors.insert(operation, code);
    let call = format!("{operation}: {code}");
    assert_check(&run_with(&f, options).await, name, Status::Fail, &[&call]);
}

/// Asserts that check `name` did not run.
pub fn assert_skipped(report: &Report, name: &str) {
    assert!(
        report.checks.iter().all(|c| c.name != name),
        "{name} ran: {report:#?}"
    );
}

impl Fixture {
    /// Runs doctor against this deployment and asserts check `name` (see [`assert_check`]).
    pub async fn doctor_says(&self, name: &str, status: Status, words: &[&str]) -> Report {
        let report = run(self).await;
        assert_check(&report, name, status, words);
        report
    }
}

/// The one check `name` about `subject`.
pub fn check<'a>(report: &'a Report, name: &str, subject: Option<&str>) -> &'a Check {
    let found: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.name == name && (subject.is_none() || c.subject.as_deref() == subject))
        .collect();
    assert_eq!(found.len(), 1, "{name} {subject:?} in {report:#?}");
    found[0]
}

/// Asserts the status of check `name`, and that its detail mentions `words`.
pub fn assert_check(report: &Report, name: &str, status: Status, words: &[&str]) {
    assert_check_of(report, name, None, status, words);
}

/// [`assert_check`] of the check `name` about `subject`.
pub fn assert_check_of(
    report: &Report,
    name: &str,
    subject: Option<&str>,
    status: Status,
    words: &[&str],
) {
    let found = check(report, name, subject);
    assert_eq!(found.status, status, "{found:#?}");
    for word in words {
        assert!(
            found.detail.contains(word) || found.fix.as_deref().unwrap_or_default().contains(word),
            "{word:?} not in {found:#?}"
        );
    }
    if status != Status::Pass {
        assert!(
            found.fix.is_some(),
            "a {status:?} says what to do: {found:#?}"
        );
    }
}

#[tokio::test]
async fn a_correct_deployment_passes_every_check() {
    let report = run(&Fixture::default()).await;
    let not_pass: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    assert!(not_pass.is_empty(), "{not_pass:#?}");
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    for name in [
        "state-machine",
        "drain-settings",
        "function",
        "rule",
        "rule-coverage",
        "recent-drains",
        "hook",
        "hook-heartbeat",
        "hook-deadline",
        "hook-default-result",
        "other-terminate-hooks",
        "scale-in-protection",
        "scaling-policies",
        "cluster",
        "capacity-provider",
        "container-instances-draining",
        "container-instances-agent",
        "n-plus-1",
        "deployment-configuration",
        "service-auto-scaling",
        "lb-draining",
        "lb-replacement-health",
        "lb-zones",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(report.ok(false) && report.ok(true));
    assert_eq!(report.drain_deadline_seconds, Some(3000));
    assert_eq!(report.hook_names, vec![HOOK.to_string()]);
    assert_eq!(report.sweep_period_seconds, DEFAULT_SWEEP_PERIOD_SECONDS);
    let text = render(&report, false);
    assert!(
        text.ends_with("0 FAIL, 0 WARN, 29 PASS: nothing fails\n"),
        "{text}"
    );
    assert!(!text.contains("fix:"), "{text}");
}

#[tokio::test]
async fn warnings_fail_only_with_strict() {
    let mut f = Fixture::default();
    f.instances[0].protected = true;
    let report = run(&f).await;
    assert_eq!(report.count(Status::Warn), 1, "{report:#?}");
    assert!(report.ok(false));
    assert!(!report.ok(true));
    assert_eq!(report.blocking(true).len(), 1);
    assert!(render(&report, true).contains("warnings fail (--strict)"));
    let json = serde_json::to_value(report.verdict(true)).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["warn"], 1);
    let warned = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "WARN")
        .unwrap();
    assert_eq!(warned["name"], "scale-in-protection");
    assert!(warned["detail"].as_str().unwrap().contains(&instance(1)));
    assert!(warned["fix"]
        .as_str()
        .unwrap()
        .contains("set-instance-protection"));
}

#[tokio::test]
async fn a_failure_fails_and_is_rendered_with_its_fix() {
    let mut f = Fixture::default();
    f.hooks.clear();
    let report = run(&f).await;
    assert!(!report.ok(false));
    let text = render(&report, false);
    assert!(text.contains("FAIL  hook"), "{text}");
    assert!(
        text.contains("fix: redeploy the stack, or: aws autoscaling put-lifecycle-hook"),
        "{text}"
    );
    assert!(text.contains("fix the FAIL lines"), "{text}");
}

#[tokio::test]
async fn a_read_error_fails_the_check_that_needed_it_naming_the_call() {
    let f = Fixture::default();
    for (operation, code, name) in [
        (
            "DescribeStateMachine",
            "AccessDeniedException",
            "state-machine",
        ),
        ("DescribeRule", "AccessDeniedException", "rule"),
        ("DescribeAutoScalingGroups", "Throttling", "asg"),
        ("DescribeLifecycleHooks", "AccessDenied", "hook"),
        (
            "ListContainerInstances",
            "ThrottlingException",
            "container-instances",
        ),
        ("DescribeServices", "AccessDeniedException", "service"),
        (
            "DescribeTaskDefinition",
            "AccessDeniedException",
            "deployment-configuration",
        ),
    ] {
        assert_read_error_fails(&f, f.options(), operation, code, name).await;
    }
}

#[test]
fn wrong_input_is_refused_before_any_call() {
    let f = Fixture::default();
    let mut options = f.options();
    options.asgs = vec![String::new()];
    assert_eq!(options.validate().unwrap_err().exit_code(), 2);
    let mut options = f.options();
    options.cluster = " ".to_string();
    assert_eq!(options.validate().unwrap_err().exit_code(), 2);
    let mut options = f.options();
    options.sweep_period_seconds = Some(0);
    assert_eq!(options.validate().unwrap_err().exit_code(), 2);
    assert!(f.options().validate().is_ok());
}
