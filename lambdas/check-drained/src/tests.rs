use super::*;
use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatOutput;
use aws_sdk_autoscaling::types::LifecycleHook;
use aws_sdk_autoscaling::types::ScalingActivityStatusCode;
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::stop_task::StopTaskOutput;
use aws_sdk_ecs::types::{ContainerInstance, Failure, Task};
use aws_sdk_elasticloadbalancing::operation::deregister_instances_from_load_balancer::DeregisterInstancesFromLoadBalancerOutput;
use aws_sdk_elasticloadbalancing::operation::describe_instance_health::DescribeInstanceHealthOutput;
use aws_sdk_elasticloadbalancing::types::InstanceState;
use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
};
use aws_smithy_mocks::{mock, Rule};
use sta_shared::state::*;
use sta_shared::testing::*;

const TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/2222";

/// A state after deregistration: one service task, one Classic ELB (30 s) and one target
/// group with the instance on two ports (60 s), deregistered at 2 s.
fn deregistered() -> DrainState {
    let mut state = drain_state();
    state.load_balancers = Some(LoadBalancers {
        classic: vec![ClassicElb {
            name: "web-elb".into(),
            draining_seconds: 30,
        }],
        target_groups: vec![TargetGroup {
            arn: TG.into(),
            ports: vec![32768, 32769],
            draining_seconds: 60,
            connections_outlive_delay: false,
        }],
        service_managed: vec![],
        deregistered_at: Some(at(2)),
    });
    state.remaining.classic_elbs = vec!["web-elb".into()];
    state.remaining.target_groups = vec![TG.into()];
    state
}

fn tasks(status: &'static str) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |req| {
        assert!(req.tasks().len() <= 100);
        DescribeTasksOutput::builder()
            .set_tasks(Some(
                req.tasks()
                    .iter()
                    .map(|arn| Task::builder().task_arn(arn).last_status(status).build())
                    .collect(),
            ))
            .build()
    })
}

const CI: &str = "arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci";

/// DescribeContainerInstances of the drained instance: `Some(status)`, or `None` for
/// an instance ECS no longer knows (deregistered: MISSING).
fn container_instance(status: Option<&'static str>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        assert_eq!(req.container_instances(), [CI]);
        let output = DescribeContainerInstancesOutput::builder();
        match status {
            Some(status) => output.container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI)
                    .status(status)
                    .agent_connected(true)
                    .build(),
            ),
            None => output.failures(Failure::builder().arn(CI).reason("MISSING").build()),
        }
        .build()
    })
}

fn classic(state: &'static str) -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health).then_output(move || {
        DescribeInstanceHealthOutput::builder()
            .instance_states(
                InstanceState::builder()
                    .instance_id(INSTANCE_ID)
                    .state(state)
                    .build(),
            )
            .build()
    })
}

fn classic_deregistered() -> Rule {
    mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
        .then_compute_output(|req| {
            assert_eq!(req.load_balancer_name(), Some("web-elb"));
            DeregisterInstancesFromLoadBalancerOutput::builder().build()
        })
}

fn targets(states: &'static [TargetHealthStateEnum]) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health).then_compute_output(
        move |req| {
            let ports: Vec<i32> = req.targets().iter().filter_map(|t| t.port()).collect();
            assert_eq!(ports, [32768, 32769], "asks for every recorded port");
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(
                    req.targets()
                        .iter()
                        .zip(states)
                        .map(|(target, state)| {
                            TargetHealthDescription::builder()
                                .target(target.clone())
                                .target_health(TargetHealth::builder().state(state.clone()).build())
                                .build()
                        })
                        .collect(),
                ))
                .build()
        },
    )
}

fn hooks(timeout: i32) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks).then_output(move || {
        DescribeLifecycleHooksOutput::builder()
            .lifecycle_hooks(
                LifecycleHook::builder()
                    .auto_scaling_group_name(ASG)
                    .lifecycle_hook_name(HOOK)
                    .heartbeat_timeout(timeout)
                    .global_timeout(timeout * 100)
                    .build(),
            )
            .build()
    })
}

/// The rules of a drain whose task, Classic ELB and two targets are in these states.
fn rules_for(
    task: &'static str,
    elb: &'static str,
    tg: &'static [TargetHealthStateEnum],
) -> MockRules {
    MockRules {
        // The instance stays in the cluster, DRAINING, unless a test says otherwise.
        ecs: vec![tasks(task), container_instance(Some("DRAINING"))],
        elb: vec![classic(elb), classic_listing(false), classic_deregistered()],
        elbv2: vec![targets(tg)],
        autoscaling: vec![hooks(3600), heartbeat_ok()],
    }
}

const UNUSED: &[TargetHealthStateEnum] =
    &[TargetHealthStateEnum::Unused, TargetHealthStateEnum::Unused];
const DRAINING: &[TargetHealthStateEnum] = &[
    TargetHealthStateEnum::Unused,
    TargetHealthStateEnum::Draining,
];

#[tokio::test]
async fn drained_when_tasks_stopped_and_every_balancer_finished() {
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), deregistered(), at(63))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.balancers_drained_at, Some(at(63)));
    assert!(state.remaining.is_empty());
    assert_eq!(state.tasks[0].last_status, "STOPPED");
    assert_eq!(state.checks, 1);
    assert_eq!(
        world.ecs[1].num_calls(),
        0,
        "stopped tasks need no look at the container instance"
    );
    assert_eq!(
        world.autoscaling[1].num_calls(),
        0,
        "no heartbeat once drained"
    );
}

#[tokio::test]
async fn a_classic_elb_still_draining_holds_the_drain() {
    // DescribeLoadBalancers no longer lists the instance, but DescribeInstanceHealth shows
    // it InService while connection draining runs.
    let world = rules_for("STOPPED", "InService", UNUSED);
    let state = check(&world.clients(), deregistered(), at(20))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    assert_eq!(state.report.tasks_stopped_at, Some(at(20)));
    assert_eq!(state.report.balancers_drained_at, None);
    // Expected end: the target group's 60 s from 2 s; the check comes just after.
    assert_wait(state.wait_seconds, 43);
}

#[tokio::test]
async fn a_classic_elb_registration_found_again_is_deregistered_again() {
    let mut world = rules_for("STOPPED", "InService", UNUSED);
    world.elb[1] = classic_listing(true);
    let state = check(&world.clients(), deregistered(), at(20))
        .await
        .unwrap();
    assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    assert_eq!(world.elb[2].num_calls(), 1);
}

#[tokio::test]
async fn an_unhealthy_registered_instance_is_not_drained_until_deregistered() {
    // OutOfService while still registered (failed health checks) is not "drained": the
    // instance is deregistered, and then, unhealthy, it has no connections to drain.
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elb[1] = classic_listing(true);
    let state = check(&world.clients(), deregistered(), at(20))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(world.elb[2].num_calls(), 1);

    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(21)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_draining_target_on_one_port_holds_the_drain() {
    let world = rules_for("STOPPED", "OutOfService", DRAINING);
    let state = check(&world.clients(), deregistered(), at(50))
        .await
        .unwrap();
    assert_eq!(state.remaining.target_groups, [TG]);
    assert!(state.remaining.classic_elbs.is_empty());
    assert_wait(state.wait_seconds, 13);
}

#[tokio::test]
async fn a_running_task_holds_the_drain_and_waits_grow_once_overdue() {
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let state = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap();
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
    // 8 s overdue: wait 8 s.
    assert_wait(state.wait_seconds, 8);
    // ListTasks would hide a task that is stopping; DescribeTasks still shows it.
    let world = rules_for("DEACTIVATING", "OutOfService", UNUSED);
    let state = check(&world.clients(), state, at(78)).await.unwrap();
    assert_eq!(state.remaining.tasks.len(), 1);
    assert_eq!(state.checks, 2);
}

#[tokio::test]
async fn tasks_ecs_no_longer_knows_count_as_stopped() {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .failures(
                Failure::builder()
                    .arn(task_arn("web"))
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let state = check(&world.clients(), deregistered(), at(63))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn gone_load_balancers_count_as_drained() {
    let mut world = rules_for("STOPPED", "InService", DRAINING);
    world.elb[0] = mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_http_response(|| {
            query_error(
                400,
                "LoadBalancerNotFound",
                "There is no ACTIVE Load Balancer named 'web-elb'",
            )
        });
    world.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| {
            query_error(
                400,
                "TargetGroupNotFound",
                "One or more target groups not found",
            )
        });
    let state = check(&world.clients(), deregistered(), at(10))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn a_target_registered_again_is_deregistered_again() {
    let mut world = rules_for(
        "STOPPED",
        "OutOfService",
        &[
            TargetHealthStateEnum::Healthy,
            TargetHealthStateEnum::Unused,
        ],
    );
    world.elbv2.push(
        mock!(aws_sdk_elasticloadbalancingv2::Client::deregister_targets).then_compute_output(
            |req| {
                assert_eq!(req.targets().len(), 1);
                assert_eq!(req.targets()[0].port(), Some(32768));
                DeregisterTargetsOutput::builder().build()
            },
        ),
    );
    let state = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap();
    assert_eq!(world.elbv2[1].num_calls(), 1);
    assert_eq!(state.remaining.target_groups, [TG]);
}

#[tokio::test]
async fn heartbeats_when_due_and_not_before() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    // 60 s heartbeat timeout: due 24 s after the hook's timer started.
    let state = check(&world.clients(), deregistered(), at(20))
        .await
        .unwrap();
    assert_eq!(world.autoscaling[1].num_calls(), 0, "not due at 20 s");
    assert_eq!(state.heartbeat.timeout_seconds, Some(60));
    assert!(
        state.wait_seconds <= 24,
        "never waits past a heartbeat: {}",
        state.wait_seconds
    );
    // The hook's global timeout (100 x 60 s) caps the one-hour deadline.
    assert_eq!(state.deadline_at, at(6000 - 60).min(at(3600)));

    let state = check(&world.clients(), state, at(25)).await.unwrap();
    assert_eq!(world.autoscaling[1].num_calls(), 1, "due at 25 s");
    assert_eq!(state.heartbeat.last_at, Some(at(25)));
    assert_eq!(state.heartbeat.sent, 1);
    assert_eq!(world.autoscaling[0].num_calls(), 1, "the hook is read once");

    let state = check(&world.clients(), state, at(40)).await.unwrap();
    assert_eq!(
        world.autoscaling[1].num_calls(),
        1,
        "not due again until 49 s"
    );
    assert_eq!(state.heartbeat.sent, 1);
}

#[tokio::test]
async fn an_action_gone_stops_heartbeats_without_failing() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| {
            query_error(
                400,
                "ValidationError",
                "No active Lifecycle Action found with token 87654321-4321-4321-4321-210987654321",
            )
        });
    let state = check(&world.clients(), deregistered(), at(30))
        .await
        .unwrap();
    assert!(state.heartbeat.action_gone);
    let state = check(&world.clients(), state, at(60)).await.unwrap();
    assert_eq!(world.autoscaling[1].num_calls(), 1);
    assert_eq!(state.status, DrainStatus::Draining);

    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks)
        .then_output(|| DescribeLifecycleHooksOutput::builder().build());
    let state = check(&world.clients(), deregistered(), at(30))
        .await
        .unwrap();
    assert!(
        state.heartbeat.action_gone,
        "a deleted hook has no action to keep alive"
    );
}

#[tokio::test]
async fn a_deleted_group_fails_the_check_naming_it() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| {
            query_error(
                400,
                "ValidationError",
                "AutoScalingGroup name not found - AutoScalingGroup test-cluster-asg not found",
            )
        });
    let error = check(&world.clients(), deregistered(), at(30))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert!(error.to_string().contains("test-cluster-asg"), "{error}");
}

fn disconnected() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
        DescribeContainerInstancesOutput::builder()
            .container_instances(
                ContainerInstance::builder()
                    .container_instance_arn(CI)
                    .status("DRAINING")
                    .agent_connected(false)
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn tasks_of_a_lost_agent_are_given_up_once_the_loss_lasts() {
    // ECS reports the tasks of a disconnected agent RUNNING forever: waiting for them
    // would only end at the deadline. An agent restart reconnects within a minute or two.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    let state = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert_eq!(state.agent_disconnected_at, Some(at(70)));
    assert!(
        state.wait_seconds <= 121,
        "checks again when the tasks are given up"
    );
    let state = check(&world.clients(), state, at(120)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining, "not yet 120 s");
    let state = check(&world.clients(), state, at(190)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);

    // Reconnected in time: the clock starts over.
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let mut input = deregistered();
    input.agent_disconnected_at = Some(at(10));
    let state = check(&world.clients(), input, at(190)).await.unwrap();
    assert_eq!(state.agent_disconnected_at, None);
    assert_eq!(state.status, DrainStatus::Draining);
}

#[tokio::test]
async fn tasks_of_a_disconnected_agent_are_given_up_at_once_when_the_action_is_gone() {
    // The group was deleted with ForceDelete (or the hook deleted): the instance is being
    // released; nothing will stop its tasks through ECS.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = disconnected();
    let mut input = deregistered();
    input.heartbeat.action_gone = true;
    let state = check(&world.clients(), input, at(70)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
}

#[tokio::test]
async fn past_the_deadline_the_drain_gives_up_waiting() {
    let world = rules_for("RUNNING", "OutOfService", UNUSED);
    let mut input = deregistered();
    input.deadline_at = at(100);
    let state = check(&world.clients(), input, at(101)).await.unwrap();
    assert_eq!(state.status, DrainStatus::DeadlinePassed);
    assert!(state.timed_out());
    assert_eq!(state.remaining.tasks, [task_arn("web")]);
}

fn standalone_state(policy: StandaloneTasks) -> DrainState {
    let mut state = deregistered();
    state.tasks.push(TrackedTask {
        arn: task_arn("job"),
        service: None,
        last_status: "RUNNING".into(),
    });
    state.remaining.tasks.push(task_arn("job"));
    state.settings.standalone_tasks = policy;
    state.settings.standalone_task_grace_seconds = 120;
    state
}

fn stop_rule() -> Rule {
    mock!(aws_sdk_ecs::Client::stop_task).then_compute_output(|req| {
        assert_eq!(req.task(), Some(task_arn("job").as_str()));
        assert!(req.reason().unwrap().contains("i-1234567890abcdef0"));
        StopTaskOutput::builder().build()
    })
}

#[tokio::test]
async fn standalone_tasks_are_waited_for_by_default() {
    // Orphaned by a forced deregistration too: a standalone task has no replacement and
    // no load balancer, so with `wait` it is waited for until it stops or the deadline.
    for instance in [Some("DRAINING"), None] {
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs[1] = container_instance(instance);
        world.ecs.push(stop_rule());
        let state = check(
            &world.clients(),
            standalone_state(StandaloneTasks::Wait),
            at(500),
        )
        .await
        .unwrap();
        assert_eq!(world.ecs[2].num_calls(), 0);
        assert!(state.remaining.tasks.contains(&task_arn("job")));
        assert!(state.report.stopped_tasks.is_empty());
        assert_eq!(state.status, DrainStatus::Draining);
        let orphaned = if instance.is_none() {
            vec![task_arn("web")]
        } else {
            vec![]
        };
        assert_eq!(state.report.orphaned_tasks, orphaned, "{instance:?}");
    }
}

#[tokio::test]
async fn standalone_tasks_are_stopped_after_the_grace_period_when_configured() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs.push(stop_rule());
    let state = check(
        &world.clients(),
        standalone_state(StandaloneTasks::Stop),
        at(100),
    )
    .await
    .unwrap();
    assert_eq!(world.ecs[2].num_calls(), 0, "inside the grace period");
    let state = check(&world.clients(), state, at(121)).await.unwrap();
    assert_eq!(world.ecs[2].num_calls(), 1);
    assert_eq!(state.report.stopped_tasks, [task_arn("job")]);
}

#[tokio::test]
async fn errors_map_to_stable_names() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(10))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );

    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elb[0] = mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_http_response(|| query_error(503, "ServiceUnavailable", "try later"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(10))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );

    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_http_response(|| query_error(400, "AccessDenied", "no"));
    let error = check(&world.clients(), deregistered(), at(10))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(error.to_string().contains("DescribeTargetHealth"));

    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    assert_eq!(
        check(&world.clients(), deregistered(), at(30))
            .await
            .unwrap_err()
            .name(),
        "Retryable"
    );
}

#[tokio::test]
async fn the_handler_refuses_a_malformed_state() {
    let world = rules_for("STOPPED", "OutOfService", UNUSED);
    let mut value = serde_json::to_value(deregistered()).unwrap();
    value["remaining"]["tasks"] = serde_json::json!("all");
    let error = handler(
        &world.clients(),
        LambdaEvent::new(value, lambda_runtime::Context::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(error.name(), "InvalidEvent");
    assert!(error.to_string().contains("remaining.tasks"), "{error}");
}

#[tokio::test]
async fn a_sweeper_request_heartbeats_by_instance_id() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world.autoscaling[1] = mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_compute_output(|req| {
            assert_eq!(req.lifecycle_action_token(), None);
            assert_eq!(req.instance_id(), Some(INSTANCE_ID));
            RecordLifecycleActionHeartbeatOutput::builder().build()
        });
    world
        .autoscaling
        .push(scaling_activities(vec![scaling_activity(
            &format!("Terminating EC2 instance: {INSTANCE_ID}"),
            event_time(),
            ScalingActivityStatusCode::MidLifecycleAction,
        )]));
    let mut input = deregistered();
    drop_token(&mut input.request);
    let state = check(&world.clients(), input, at(30)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 1);
}

#[tokio::test]
async fn a_stale_sweeper_request_never_heartbeats_a_newer_action() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.autoscaling[0] = hooks(60);
    world
        .autoscaling
        .push(scaling_activities(vec![scaling_activity(
            &format!("Terminating EC2 instance: {INSTANCE_ID}"),
            at(600),
            ScalingActivityStatusCode::MidLifecycleAction,
        )]));
    let mut input = deregistered();
    drop_token(&mut input.request);
    let state = check(&world.clients(), input, at(630)).await.unwrap();
    assert_eq!(state.heartbeat.sent, 0);
    assert!(state.heartbeat.action_gone);
    assert_eq!(world.autoscaling[1].num_calls(), 0);
}

#[tokio::test]
async fn service_tasks_orphaned_by_a_forced_deregistration_are_not_waited_for() {
    // Someone deregistered the container instance (force) mid-drain: its task still shows
    // RUNNING, but ECS no longer manages it. The load balancers are still waited for.
    for status in [None, Some("INACTIVE")] {
        let mut world = rules_for("RUNNING", "OutOfService", DRAINING);
        world.ecs[1] = container_instance(status);
        let state = check(&world.clients(), deregistered(), at(50))
            .await
            .unwrap();
        assert_eq!(world.ecs[1].num_calls(), 1);
        assert!(state.remaining.tasks.is_empty(), "{status:?}");
        assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
        assert_eq!(state.report.tasks_stopped_at, Some(at(50)));
        assert_eq!(
            state.status,
            DrainStatus::Draining,
            "the target still drains"
        );
        assert_eq!(state.remaining.target_groups, [TG]);

        // Once the target group has drained, the drain is done; the orphan is kept once.
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs[1] = container_instance(status);
        let state = check(&world.clients(), state, at(63)).await.unwrap();
        assert_eq!(state.status, DrainStatus::Drained);
        assert_eq!(state.report.orphaned_tasks, [task_arn("web")]);
    }
}

#[tokio::test]
async fn a_container_instance_still_in_the_cluster_keeps_its_tasks_waited_for() {
    for status in ["DRAINING", "ACTIVE"] {
        let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
        world.ecs[1] = container_instance(Some(status));
        let state = check(&world.clients(), deregistered(), at(70))
            .await
            .unwrap();
        assert_eq!(state.remaining.tasks, [task_arn("web")], "{status}");
        assert!(state.report.orphaned_tasks.is_empty());
    }
}

#[tokio::test]
async fn a_failed_container_instance_read_is_retried_or_named() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = mock!(aws_sdk_ecs::Client::describe_container_instances)
        .then_http_response(|| json_error(400, "ThrottlingException"));
    let error = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Retryable");

    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = mock!(aws_sdk_ecs::Client::describe_container_instances)
        .then_http_response(|| json_error(400, "AccessDeniedException"));
    let error = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(
        error.to_string().contains("DescribeContainerInstances"),
        "{error}"
    );

    // The cluster itself is gone: nothing of it is left to wait for.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[1] = mock!(aws_sdk_ecs::Client::describe_container_instances)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    let state = check(&world.clients(), deregistered(), at(70))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

const SERVICE_TG: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/svc-tg/3333";

/// The state after deregistration, with the service's own target group and Classic ELB left to ECS.
fn with_service_balancers() -> DrainState {
    let mut state = deregistered();
    let balancers = state.load_balancers.as_mut().unwrap();
    for name in [SERVICE_TG, "svc-elb"] {
        balancers.service_managed.push(ServiceBalancer {
            service: "web".into(),
            load_balancer: name.into(),
            draining_seconds: 20,
            healthy_after_seconds: 10,
        });
    }
    state
}

/// The service's target group: the instance on port 8080 in `state`, another instance healthy.
/// Asked for the whole group (no targets), it lists both; asked for the instance's port, that one.
fn service_targets(state: TargetHealthStateEnum) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
        .then_compute_output(move |req| {
            let mine = TargetHealthDescription::builder()
                .target(
                    TargetDescription::builder()
                        .id(INSTANCE_ID)
                        .port(8080)
                        .build(),
                )
                .target_health(TargetHealth::builder().state(state.clone()).build())
                .build();
            let other = TargetHealthDescription::builder()
                .target(
                    TargetDescription::builder()
                        .id("i-0other")
                        .port(8080)
                        .build(),
                )
                .target_health(
                    TargetHealth::builder()
                        .state(TargetHealthStateEnum::Healthy)
                        .build(),
                )
                .build();
            let described = if req.targets().is_empty() {
                vec![mine, other]
            } else {
                assert_eq!(req.targets()[0].port(), Some(8080));
                vec![mine]
            };
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(described))
                .build()
        })
}

#[tokio::test]
async fn with_the_cluster_deleted_the_service_load_balancers_are_waited_for() {
    // The cluster was deleted mid-drain: its tasks are gone, never reported STOPPED, and ECS
    // took them out of the service's target group, where the instance still drains.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    world
        .elbv2
        .insert(0, service_targets(TargetHealthStateEnum::Draining));
    let state = check(&world.clients(), with_service_balancers(), at(30))
        .await
        .unwrap();
    assert!(state.remaining.tasks.is_empty());
    assert_eq!(state.status, DrainStatus::Draining, "{state:?}");
    assert_eq!(state.remaining.target_groups, [SERVICE_TG]);
    let balancers = state.load_balancers.as_ref().unwrap();
    assert!(balancers.service_managed.is_empty(), "taken over once");
    let adopted = balancers
        .target_groups
        .iter()
        .find(|g| g.arn == SERVICE_TG)
        .unwrap();
    assert_eq!(
        (adopted.ports.as_slice(), adopted.draining_seconds),
        ([8080].as_slice(), 20)
    );
    assert!(balancers.classic.iter().any(|elb| elb.name == "svc-elb"));

    // Once the service's target group has drained too, the drain is done.
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    world
        .elbv2
        .insert(0, service_targets(TargetHealthStateEnum::Unused));
    let state = check(&world.clients(), state, at(55)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
}

#[tokio::test]
async fn stopped_service_tasks_leave_the_service_load_balancers_to_ecs() {
    let mut world = rules_for("STOPPED", "OutOfService", UNUSED);
    world
        .elbv2
        .insert(0, service_targets(TargetHealthStateEnum::Draining));
    let state = check(&world.clients(), with_service_balancers(), at(63))
        .await
        .unwrap();
    assert_eq!(state.status, DrainStatus::Drained);
    assert_eq!(
        world.elbv2[0].num_calls(),
        0,
        "ECS drained them before STOPPED"
    );
    assert_eq!(state.load_balancers.unwrap().service_managed.len(), 2);
}

#[tokio::test]
async fn a_failed_read_of_a_service_target_group_is_named() {
    let mut world = rules_for("RUNNING", "OutOfService", UNUSED);
    world.ecs[0] = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_http_response(|| json_error(400, "ClusterNotFoundException"));
    world.elbv2.insert(
        0,
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .match_requests(|req| req.target_group_arn() == Some(SERVICE_TG))
            .then_http_response(|| query_error(400, "AccessDenied", "denied")),
    );
    let error = check(&world.clients(), with_service_balancers(), at(30))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(
        error.to_string().contains("DescribeTargetHealth"),
        "{error}"
    );
}
