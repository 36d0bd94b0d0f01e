//! Which executions are the drain of a waiting instance's current lifecycle action.

use aws_smithy_mocks::Rule;
use chrono::{DateTime, Utc};
use serde_json::json;
use sta_shared::event::SWEEPER_SOURCE;
use sta_shared::state::Destination;
use sta_shared::testing::{at, spot_event, terminating_since};

use crate::tests::{
    arn, began, deps, executions, groups, history, lifecycle_execution, serving_execution,
    start_ok, Execution, NAME, WAITING,
};
use crate::{sweep, SweepReport};

/// A sweep at `at(0)` of the fixture's group, with `WAITING` waiting in it (`history`: its
/// scaling activities), `items` the executions listed, and a drain to EC2 started if need be;
/// with the Step Functions rules, to count their calls.
struct Swept {
    report: SweepReport,
    list: Rule,
    describe: Rule,
    start: Rule,
}

async fn swept(history: Rule, items: Vec<Execution>) -> Swept {
    let (asg, start) = (groups(true), start_ok(Destination::Ec2));
    let (list, describe) = executions(items);
    let report = sweep(&deps(&[&asg, &history], &[&list, &describe, &start]), at(0))
        .await
        .unwrap();
    Swept {
        report,
        list,
        describe,
        start,
    }
}

#[tokio::test]
async fn a_running_or_failed_drain_of_the_action_is_left_alone() {
    for (status, running) in [
        ("RUNNING", true),
        ("SUCCEEDED", true),
        ("FAILED", false),
        ("TIMED_OUT", false),
        ("ABORTED", false),
    ] {
        // Delivered late, two minutes into the wait.
        let Swept { report, start, .. } = swept(
            history(),
            vec![lifecycle_execution(
                "for-waiting",
                status,
                began() + chrono::Duration::seconds(120),
            )],
        )
        .await;
        assert_eq!(start.num_calls(), 0, "{status}");
        if running {
            assert_eq!(report.in_hand[0].status, status);
            assert_eq!(report.in_hand[0].instance_id, WAITING);
        } else {
            assert_eq!(report.failed[0].status, status);
            assert_eq!(report.failed[0].instance_id, WAITING);
        }
    }
}

#[tokio::test]
async fn the_sweepers_own_drain_of_the_action_counts() {
    // Its event's time is the activity's start, which has a fraction of a second.
    let mut own = lifecycle_execution(NAME, "RUNNING", began());
    own.input["source"] = json!(SWEEPER_SOURCE);
    own.input["time"] = json!("2026-11-26T23:50:00Z");
    let Swept { report, start, .. } = swept(history(), vec![own]).await;
    assert_eq!(report.in_hand.len(), 1);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_drain_of_an_older_action_of_the_same_instance_does_not_hide_the_new_one() {
    // The instance went back to the warm pool three hours ago (that drain succeeded; an
    // earlier one failed and was left), came back, and is terminating again.
    for (status, name) in [
        ("SUCCEEDED", "i-0aaaaaaaaaaaaaaa1-20261126T210000Z"),
        ("FAILED", "an-eventbridge-execution"),
    ] {
        let Swept {
            report,
            describe,
            start,
            ..
        } = swept(
            history(),
            vec![lifecycle_execution(name, status, at(-3 * 3600 + 30))],
        )
        .await;
        assert_eq!(start.num_calls(), 1, "{status}");
        assert_eq!(report.started.len(), 1, "{status}");
        assert!(report.in_hand.is_empty() && report.failed.is_empty());
        assert_eq!(describe.num_calls(), 0, "started before the action began");
    }
    // Listed because it started after the action began, but its event is the old one (a
    // replay of the old action's event): still not this action's drain.
    let mut replayed = lifecycle_execution("replayed", "SUCCEEDED", at(-3 * 3600 + 30));
    replayed.started = at(-60);
    let Swept {
        report, describe, ..
    } = swept(history(), vec![replayed]).await;
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(report.started.len(), 1);
}

#[tokio::test]
async fn a_spot_warning_drain_completes_no_lifecycle_action_so_it_does_not_count() {
    let mut input = spot_event();
    input["detail"]["instance-id"] = json!(WAITING);
    input["time"] = json!(at(-30).to_rfc3339());
    let Swept { report, .. } = swept(
        history(),
        vec![Execution {
            name: "spot",
            status: "RUNNING",
            started: at(-29),
            input,
        }],
    )
    .await;
    assert_eq!(report.started.len(), 1);
}

#[tokio::test]
async fn executions_started_before_the_action_began_are_not_read() {
    let Swept {
        report, describe, ..
    } = swept(
        history(),
        vec![
            serving_execution(at(-60)),
            serving_execution_named("older", at(-2 * 3600)),
            serving_execution_named("oldest", at(-50 * 3600)),
        ],
    )
    .await;
    assert_eq!(
        describe.num_calls(),
        1,
        "only the one after the action began"
    );
    assert_eq!(report.started.len(), 1);
}

fn serving_execution_named(name: &'static str, started: DateTime<Utc>) -> Execution {
    Execution {
        name,
        ..serving_execution(started)
    }
}

#[tokio::test]
async fn a_long_drain_does_not_make_the_sweep_read_every_execution_since_it_began() {
    // The waiting instance's drain has run for ten hours (a standalone task it waits for);
    // fifty drains of other instances came and went since. The running drains are listed
    // first, and the waiting action is found among them.
    let long_ago = at(-10 * 3600);
    let history = terminating_since(WAITING, long_ago);
    let mut items = vec![lifecycle_execution("long-drain", "RUNNING", long_ago)];
    items.extend((0..50).map(|n| Execution {
        name: Box::leak(format!("other-{n}").into_boxed_str()),
        ..serving_execution(at(-9 * 3600 + n * 60))
    }));
    let Swept {
        report,
        list,
        describe,
        start,
    } = swept(history, items).await;
    assert_eq!(report.in_hand[0].execution_arn, arn("long-drain"));
    assert_eq!(describe.num_calls(), 1, "only the running drain is read");
    assert_eq!((list.num_calls(), start.num_calls()), (1, 0));
}

#[tokio::test]
async fn a_running_drain_read_first_is_not_read_again() {
    // The waiting instance's event was lost; another instance's drain is running.
    let Swept {
        report,
        list,
        describe,
        ..
    } = swept(
        history(),
        vec![Execution {
            status: "RUNNING",
            ..serving_execution(began() + chrono::Duration::seconds(30))
        }],
    )
    .await;
    assert_eq!(report.started.len(), 1);
    assert_eq!(
        list.num_calls(),
        2,
        "the running drains, then every recent one"
    );
    assert_eq!(describe.num_calls(), 1);
}
