use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;
use aws_sdk_ecs::operation::delete_attributes::DeleteAttributesOutput;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
use aws_sdk_ecs::types::{Attribute, ContainerInstance, ContainerInstanceStatus, Failure};
use sta_shared::pool_return::{ATTRIBUTE, STOPPED_AT, VALUE};

use super::*;

const BACK: &str = "i-0bbbbbbbbbbbbbbb1";

/// A container instance of the cluster: on `ec2`, `status`, its agent `connected`, carrying the
/// mark when `marked`.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub ec2: &'static str,
    pub status: &'static str,
    pub connected: bool,
    pub marked: bool,
    /// When a Spot interruption that stops the instance warned of it (seconds since the epoch).
    pub stopped_at: Option<i64>,
}

fn ci_arn(ec2: &str) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:container-instance/{CLUSTER}/ci-{ec2}")
}

fn record(ec2: &'static str, status: &'static str, connected: bool) -> Record {
    Record {
        ec2,
        status,
        connected,
        marked: true,
        stopped_at: None,
    }
}

/// ListContainerInstances with the mark as its filter, answering `records`' ARNs (the world may
/// answer more than the filter asks: each one's mark is checked again), and
/// DescribeContainerInstances describing them. Also the rule [`deps`] gives: nothing marked.
pub(crate) fn marked_instances(records: Vec<Record>) -> Rule {
    let arns: Vec<String> = records.iter().map(|r| ci_arn(r.ec2)).collect();
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(
            req.filter(),
            Some(format!("attribute:{ATTRIBUTE} == {VALUE}").as_str())
        );
        assert_eq!(req.status(), None, "ACTIVE and DRAINING ones");
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some(arns.clone()))
            .build()
    })
}

fn described(records: Vec<Record>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
        let instances = records.iter().map(|r| {
            let mut instance = ContainerInstance::builder()
                .container_instance_arn(ci_arn(r.ec2))
                .ec2_instance_id(r.ec2)
                .status(r.status)
                .agent_connected(r.connected);
            if r.marked {
                instance = instance.attributes(
                    Attribute::builder()
                        .name(ATTRIBUTE)
                        .value(VALUE)
                        .build()
                        .unwrap(),
                );
            }
            if let Some(at) = r.stopped_at {
                let at = Attribute::builder().name(STOPPED_AT).value(at.to_string());
                instance = instance.attributes(at.build().unwrap());
            }
            instance.build()
        });
        DescribeContainerInstancesOutput::builder()
            .set_container_instances(Some(instances.collect()))
            .build()
    })
}

/// DescribeAutoScalingInstances: each instance asked for in `states`.
fn in_groups(states: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances).then_compute_output(
        move |req| {
            let asked = req.instance_ids();
            assert!(asked.len() <= 50, "at most 50 ids a call");
            let found = states
                .iter()
                .filter(|(id, _)| asked.iter().any(|a| a == id))
                .map(|(id, state)| {
                    AutoScalingInstanceDetails::builder()
                        .instance_id(*id)
                        .auto_scaling_group_name(ASG)
                        .availability_zone("us-west-2a")
                        .lifecycle_state(*state)
                        .health_status("HEALTHY")
                        .protected_from_scale_in(false)
                        .build()
                });
            DescribeAutoScalingInstancesOutput::builder()
                .set_auto_scaling_instances(Some(found.collect()))
                .build()
        },
    )
}

fn set_active() -> Rule {
    mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(|req| {
        assert_eq!(req.status(), Some(&ContainerInstanceStatus::Active));
        assert_eq!(req.container_instances().len(), 1);
        UpdateContainerInstancesStateOutput::builder().build()
    })
}

fn unmarked() -> Rule {
    mock!(aws_sdk_ecs::Client::delete_attributes).then_compute_output(|req| {
        let [attribute] = req.attributes() else {
            panic!("one attribute: {:?}", req.attributes())
        };
        assert_eq!((attribute.name(), attribute.value()), (ATTRIBUTE, None));
        DeleteAttributesOutput::builder().build()
    })
}

/// ECS for the marked container instances `records`: listed and described, ACTIVE and the
/// unmark accepted.
struct Ecs {
    list: Rule,
    describe: Rule,
    active: Rule,
    unmark: Rule,
}

impl Ecs {
    fn of(records: &[Record]) -> Self {
        Self {
            list: marked_instances(records.to_vec()),
            describe: described(records.to_vec()),
            active: set_active(),
            unmark: unmarked(),
        }
    }

    /// A sweep with no instance waiting, the Auto Scaling instances in `states`.
    async fn sweep(
        &self,
        states: &'static [(&'static str, &'static str)],
    ) -> Result<SweepReport, StepError> {
        let (groups, in_groups) = (groups(false), in_groups(states));
        let ecs = [&self.list, &self.describe, &self.active, &self.unmark];
        sweep(&deps_with_ecs(&[&groups, &in_groups], &[], &ecs), at(0)).await
    }

    /// A sweep with no instance waiting nor in any group, EC2 answering from `ec2`.
    async fn sweep_in_no_group(&self, ec2: &Rule) -> Result<SweepReport, StepError> {
        let (groups, in_groups) = (groups(false), in_groups(&[]));
        let ecs = [&self.list, &self.describe, &self.active, &self.unmark];
        let deps = Deps {
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[ec2], |c| c
                .retry_config(RetryConfig::disabled())),
            ..deps_with_ecs(&[&groups, &in_groups], &[], &ecs)
        };
        sweep(&deps, at(0)).await
    }

    /// How many times it set a container instance ACTIVE, and unmarked one.
    fn calls(&self) -> (usize, usize) {
        (self.active.num_calls(), self.unmark.num_calls())
    }
}

const BACK_IN_SERVICE: &[(&str, &str)] = &[(BACK, "InService")];

#[tokio::test]
async fn an_instance_back_in_service_is_set_active_and_unmarked() {
    let ecs = Ecs::of(&[record(BACK, "DRAINING", true)]);
    let report = ecs.sweep(BACK_IN_SERVICE).await.unwrap();
    assert_eq!(report.reactivated, [BACK]);
    assert_eq!(ecs.calls(), (1, 1));
}

#[tokio::test]
async fn a_scale_in_that_takes_the_instance_as_it_is_set_active_gets_it_draining_and_marked() {
    // Read InService; by the time it is ACTIVE and unmarked, a scale-in sends it back to the
    // pool (Warmed:Pending:Wait), or terminates it: its drain's first step saw it DRAINING and
    // marked, and did neither.
    for (then, marked_again) in [("Warmed:Pending:Wait", 1), ("Terminating:Wait", 0)] {
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let in_groups = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
            .then_compute_output(move |_| {
                let read = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let state = if read == 0 { "InService" } else { then };
                DescribeAutoScalingInstancesOutput::builder()
                    .auto_scaling_instances(
                        AutoScalingInstanceDetails::builder()
                            .instance_id(BACK)
                            .auto_scaling_group_name(ASG)
                            .lifecycle_state(state)
                            .build(),
                    )
                    .build()
            });
        let statuses = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = statuses.clone();
        let update = mock!(aws_sdk_ecs::Client::update_container_instances_state)
            .then_compute_output(move |req| {
                seen.lock().unwrap().push(req.status().cloned().unwrap());
                UpdateContainerInstancesStateOutput::builder().build()
            });
        let mark = mock!(aws_sdk_ecs::Client::put_attributes).then_compute_output(|req| {
            let [attribute] = req.attributes() else {
                panic!("one attribute: {:?}", req.attributes())
            };
            assert_eq!(
                (attribute.name(), attribute.value()),
                (ATTRIBUTE, Some(VALUE))
            );
            aws_sdk_ecs::operation::put_attributes::PutAttributesOutput::builder().build()
        });
        let records = [record(BACK, "DRAINING", true)];
        let (list, describe, unmark) = (
            marked_instances(records.to_vec()),
            described(records.to_vec()),
            unmarked(),
        );
        let groups = groups(false);
        let ecs = [&list, &describe, &update, &unmark, &mark];
        let deps = deps_with_ecs(&[&groups, &in_groups], &[], &ecs);
        let report = sweep(&deps, at(0)).await.unwrap();
        assert!(report.reactivated.is_empty(), "{then}");
        assert_eq!(
            *statuses.lock().unwrap(),
            [
                ContainerInstanceStatus::Active,
                ContainerInstanceStatus::Draining
            ],
            "{then}"
        );
        assert_eq!(unmark.num_calls(), 1);
        assert_eq!(mark.num_calls(), marked_again, "{then}");
    }
}

#[tokio::test]
async fn an_instance_not_back_in_service_is_left_marked_and_draining() {
    // Still in the pool (running there, its agent connected), on its way back, or leaving
    // again under a newer action: the mark is for when it serves.
    for state in [
        "Warmed:Running",
        "Warmed:Pending:Wait",
        "Terminating:Wait",
        "Pending",
    ] {
        let states: &'static [(&str, &str)] = Box::leak(Box::new([(BACK, state)]));
        let ecs = Ecs::of(&[record(BACK, "DRAINING", true)]);
        let report = ecs.sweep(states).await.unwrap();
        assert!(report.reactivated.is_empty(), "{state}");
        assert_eq!(ecs.calls(), (0, 0), "{state}");
    }
}

#[tokio::test]
async fn a_stopped_instance_an_unmarked_one_or_one_in_no_group_is_left_alone() {
    let ecs = Ecs::of(&[
        record("i-stopped", "DRAINING", false),
        Record {
            marked: false,
            ..record("i-unmarked", "DRAINING", true)
        },
        record("i-detached", "DRAINING", true),
    ]);
    let report = ecs.sweep(&[("i-unmarked", "InService")]).await.unwrap();
    assert!(report.reactivated.is_empty());
    assert_eq!(ecs.calls(), (0, 0));
}

#[tokio::test]
async fn a_marked_instance_already_active_is_only_unmarked() {
    let ecs = Ecs::of(&[record(BACK, "ACTIVE", true)]);
    let report = ecs.sweep(&[]).await.unwrap();
    assert!(report.reactivated.is_empty());
    assert_eq!(ecs.calls(), (0, 1));
}

#[tokio::test]
async fn a_container_instance_deregistered_meanwhile_is_skipped() {
    let ecs = Ecs {
        active: mock!(aws_sdk_ecs::Client::update_container_instances_state).then_output(|| {
            let missing = Failure::builder().arn(ci_arn(BACK)).reason("MISSING");
            UpdateContainerInstancesStateOutput::builder()
                .failures(missing.build())
                .build()
        }),
        ..Ecs::of(&[record(BACK, "DRAINING", true)])
    };
    let report = ecs.sweep(BACK_IN_SERVICE).await.unwrap();
    assert!(report.reactivated.is_empty());
    assert_eq!(ecs.calls(), (1, 0));
}

#[tokio::test]
async fn a_cluster_gone_has_nothing_to_set_active() {
    let ecs = Ecs {
        list: mock!(aws_sdk_ecs::Client::list_container_instances)
            .then_http_response(|| json_error(400, "ClusterNotFoundException")),
        ..Ecs::of(&[])
    };
    let report = ecs.sweep(&[]).await.unwrap();
    assert!(report.reactivated.is_empty());
}

/// The error the sweep ends with.
fn failed(report: SweepReport) -> StepError {
    report.reactivation_error.expect("an error")
}

#[tokio::test]
async fn failures_are_retried_or_named() {
    let back = [record(BACK, "DRAINING", true)];
    for (code, name) in [
        ("ThrottlingException", "Retryable"),
        ("AccessDeniedException", "AwsRequestFailed"),
    ] {
        let refused = move || json_error(400, code);
        let ecs = Ecs {
            active: mock!(aws_sdk_ecs::Client::update_container_instances_state)
                .then_http_response(refused),
            ..Ecs::of(&back)
        };
        let error = failed(ecs.sweep(BACK_IN_SERVICE).await.unwrap());
        assert_step_error(&error, name, "UpdateContainerInstancesState");
        assert_eq!(ecs.unmark.num_calls(), 0, "the mark stays until ACTIVE");

        let ecs = Ecs {
            unmark: mock!(aws_sdk_ecs::Client::delete_attributes).then_http_response(refused),
            ..Ecs::of(&back)
        };
        let error = failed(ecs.sweep(BACK_IN_SERVICE).await.unwrap());
        assert_step_error(&error, name, "DeleteAttributes");

        let ecs = Ecs {
            list: mock!(aws_sdk_ecs::Client::list_container_instances).then_http_response(refused),
            ..Ecs::of(&back)
        };
        let error = failed(ecs.sweep(BACK_IN_SERVICE).await.unwrap());
        assert_step_error(&error, name, "ListContainerInstances");

        let ecs = Ecs::of(&back);
        let refused = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
            .then_http_response(move || query_error(400, code, "refused"));
        let groups = groups(false);
        let rules = [&ecs.list, &ecs.describe];
        let report = sweep(&deps_with_ecs(&[&groups, &refused], &[], &rules), at(0))
            .await
            .unwrap();
        assert_step_error(&failed(report), name, "DescribeAutoScalingInstances");
    }
}

#[tokio::test]
async fn one_failure_does_not_keep_the_others_draining_and_fails_the_sweep_after() {
    let ecs = Ecs {
        active: mock!(aws_sdk_ecs::Client::update_container_instances_state).then_compute_output(
            |req| {
                if req.container_instances() == [ci_arn(BACK)] {
                    panic!("not reached: answered by the failing rule")
                }
                UpdateContainerInstancesStateOutput::builder().build()
            },
        ),
        ..Ecs::of(&[
            record(BACK, "DRAINING", true),
            record("i-other", "DRAINING", true),
        ])
    };
    let failing = mock!(aws_sdk_ecs::Client::update_container_instances_state)
        .match_requests(|req| req.container_instances() == [ci_arn(BACK)])
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let (groups, in_groups) = (
        groups(false),
        in_groups(&[(BACK, "InService"), ("i-other", "InService")]),
    );
    let rules = [&ecs.list, &ecs.describe, &failing, &ecs.active, &ecs.unmark];
    let deps = deps_with_ecs(&[&groups, &in_groups], &[], &rules);
    let report = sweep(&deps, at(0)).await.unwrap();
    assert_eq!(report.reactivated, ["i-other"]);
    assert_eq!((failing.num_calls(), ecs.unmark.num_calls()), (1, 1));
    // the handler reports the sweep failed, once the rest is done
    let error = handler(&deps, invocation(json!({}))).await.unwrap_err();
    assert_eq!(error.name(), "Retryable");
}

mod spot_stopped;
