//! The instances a Spot interruption stopped: set ACTIVE once EC2 has run them again.

use super::*;

/// The Spot warning of the instance a Spot interruption stopped, in seconds since the epoch.
const WARNED: i64 = 1_796_000_000;

/// DescribeInstances (by an `instance-id` filter): `instances` as (id, state, launched at).
fn ec2_instances(instances: &'static [(&'static str, &'static str, i64)]) -> Rule {
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
    use aws_sdk_ec2::types::{Instance, InstanceState, InstanceStateName, Reservation};
    mock!(aws_sdk_ec2::Client::describe_instances).then_compute_output(move |req| {
        assert!(
            req.instance_ids().is_empty(),
            "a filter: an unknown id fails InstanceIds"
        );
        let [filter] = req.filters() else {
            panic!("one filter: {:?}", req.filters())
        };
        assert_eq!(filter.name(), Some("instance-id"));
        let found = instances
            .iter()
            .filter(|(id, _, _)| filter.values().iter().any(|v| v == id))
            .map(|(id, state, launched)| {
                Instance::builder()
                    .instance_id(*id)
                    .state(
                        InstanceState::builder()
                            .name(InstanceStateName::from(*state))
                            .build(),
                    )
                    .launch_time(aws_smithy_types::DateTime::from_secs(*launched))
                    .build()
            });
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .set_instances(Some(found.collect()))
                    .build(),
            )
            .build()
    })
}

/// A container instance in no group that a Spot interruption stopped: DRAINING, its agent
/// connected, marked with the warning's time.
fn stopped_by_spot(ec2: &'static str) -> Record {
    Record {
        stopped_at: Some(WARNED),
        ..record(ec2, "DRAINING", true)
    }
}

/// The unmark of one that carries the stop's time too: both in one call.
fn unmarked_with_its_stop() -> Rule {
    mock!(aws_sdk_ecs::Client::delete_attributes).then_compute_output(|req| {
        let names: Vec<_> = req
            .attributes()
            .iter()
            .map(|a| (a.name(), a.value()))
            .collect();
        assert_eq!(names, [(ATTRIBUTE, None), (STOPPED_AT, None)]);
        DeleteAttributesOutput::builder().build()
    })
}

#[tokio::test]
async fn an_instance_a_spot_interruption_stopped_is_set_active_once_ec2_ran_it_again() {
    // i-restarted launched again after the warning; i-waiting still runs from its first launch
    // (the two minutes of the warning); i-down is stopped.
    let ecs = Ecs {
        unmark: unmarked_with_its_stop(),
        ..Ecs::of(&[
            stopped_by_spot("i-restarted"),
            stopped_by_spot("i-waiting"),
            Record {
                connected: false,
                ..stopped_by_spot("i-down")
            },
        ])
    };
    let ec2 = ec2_instances(&[
        ("i-restarted", "running", WARNED + 300),
        ("i-waiting", "running", WARNED - 86_400),
        ("i-down", "stopped", WARNED - 86_400),
    ]);
    let report = ecs.sweep_in_no_group(&ec2).await.unwrap();
    assert_eq!(report.reactivated, ["i-restarted"]);
    assert_eq!(ecs.calls(), (1, 1));
    // only those in no group, connected, with the stop's time are asked about
    assert_eq!(ec2.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_look_at_the_stopped_instances_is_retried_or_named() {
    for (code, name) in [
        ("RequestLimitExceeded", "Retryable"),
        ("UnauthorizedOperation", "AwsRequestFailed"),
    ] {
        let ecs = Ecs::of(&[stopped_by_spot("i-restarted")]);
        let refused = mock!(aws_sdk_ec2::Client::describe_instances)
            .then_http_response(move || ec2_error(400, code));
        let error = failed(ecs.sweep_in_no_group(&refused).await.unwrap());
        assert_step_error(&error, name, "DescribeInstances");
        assert_eq!(ecs.calls(), (0, 0), "{code}");
    }
}
