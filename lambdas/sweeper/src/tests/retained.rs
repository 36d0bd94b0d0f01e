//! An instance its group retains after an abandoned action (`Terminating:Retained`) is swept
//! as a waiting one: a drain is started for it unless one exists, timed at the sweep, and no
//! heartbeat is recorded for it (no action is left).

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::primitives::DateTime as SfnTime;
use aws_smithy_mocks::mock;
use serde_json::Value;
use sta_shared::config::DrainConfig;
use sta_shared::event::DrainInput;
use sta_shared::state::Destination;
use sta_shared::testing::{at, step_input};

use crate::tests::{
    arn, executions, groups_in, heartbeat_ok, history, lifecycle_execution, serving_execution,
    sweep_now, NAME, WAITING,
};

fn retained() -> aws_smithy_mocks::Rule {
    groups_in(Some(LifecycleState::TerminatingRetained), false)
}

/// StartExecution of a retained instance's drain: named after its action, timed at the sweep.
pub(crate) fn start_at_the_sweep() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(|req| {
        assert_eq!(
            req.name(),
            Some(NAME),
            "named after its action, as any other"
        );
        let input: Value = serde_json::from_str(req.input().unwrap()).unwrap();
        let parsed = DrainInput::parse(&step_input(input), &DrainConfig::default()).unwrap();
        assert_eq!(parsed.request.instance_id, WAITING);
        assert_eq!(
            parsed.request.event_time,
            at(0),
            "the drain's clock starts now"
        );
        assert_eq!(parsed.request.destination, Destination::Ec2);
        StartExecutionOutput::builder()
            .execution_arn(arn(NAME))
            .start_date(SfnTime::from_secs(0))
            .build()
            .unwrap()
    })
}

#[tokio::test]
async fn a_retained_instance_without_a_drain_gets_one_timed_at_the_sweep() {
    let (asg, history, heartbeat) = (retained(), history(), heartbeat_ok());
    let start = start_at_the_sweep();
    let (list, describe) = executions(vec![serving_execution(at(-60))]);
    let report = sweep_now(&[&asg, &history, &heartbeat], &[&list, &describe, &start])
        .await
        .unwrap();
    assert!(report.waiting[0].retained);
    assert_eq!(report.started.len(), 1);
    assert_eq!(start.num_calls(), 1);
    assert!(report.kept_alive.is_empty(), "no action left to keep alive");
    assert_eq!(heartbeat.num_calls(), 0);
}

#[tokio::test]
async fn a_retained_instance_whose_drain_failed_is_left_to_the_operator() {
    let (asg, history, heartbeat) = (retained(), history(), heartbeat_ok());
    let began = crate::tests::began() + chrono::Duration::seconds(5);
    for (status, started, failed) in [("FAILED", 0, 1), ("SUCCEEDED", 0, 0), ("RUNNING", 0, 0)] {
        let (list, describe) = executions(vec![lifecycle_execution("mine", status, began)]);
        let report = sweep_now(&[&asg, &history, &heartbeat], &[&list, &describe])
            .await
            .unwrap();
        assert_eq!(report.started.len(), started, "{status}");
        assert_eq!(report.failed.len(), failed, "{status}");
        assert!(report.kept_alive.is_empty(), "{status}");
    }
    assert_eq!(heartbeat.num_calls(), 0);
}
