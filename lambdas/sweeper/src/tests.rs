use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatOutput;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, Instance, InstanceReusePolicy, LifecycleState, ScalingActivityStatusCode,
    WarmPoolConfiguration,
};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::primitives::DateTime as SfnTime;
use aws_sdk_sfn::types::ExecutionListItem;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use serde_json::json;
use sta_shared::config::DrainConfig;
use sta_shared::event::DrainInput;
use sta_shared::state::{Destination, LifecycleAction, Trigger};
use sta_shared::testing::*;

mod event;
mod keepalive;
mod retained;
mod returned;
mod sweep;
mod warm_pool;

const MACHINE: &str = "arn:aws:states:us-west-2:123456789012:stateMachine:drain";
pub(crate) const WAITING: &str = "i-0aaaaaaaaaaaaaaa1";
const SERVING: &str = "i-0aaaaaaaaaaaaaaa2";

/// When the waiting instance's termination activity started: ten minutes before the sweep
/// (`at(0)`), with a fraction of a second as Auto Scaling reports it.
pub(crate) fn began() -> DateTime<Utc> {
    at(-600) + chrono::Duration::milliseconds(250)
}

/// The name the sweeper gives the drain of the current action.
pub(crate) const NAME: &str = "i-0aaaaaaaaaaaaaaa1-20261126T235000Z";

fn config() -> SweeperConfig {
    SweeperConfig {
        state_machine_arn: MACHINE.into(),
        asg_names: vec![ASG.into()],
        hook_name: HOOK.into(),
        cluster: Some(CLUSTER.into()),
    }
}

fn groups_with(waiting: bool, reuse_on_scale_in: bool) -> Rule {
    let state = waiting.then_some(LifecycleState::TerminatingWait);
    groups_in(state, reuse_on_scale_in)
}

/// The group, with the instance `WAITING` in `state` (none without one).
pub(crate) fn groups_in(state: Option<LifecycleState>, reuse_on_scale_in: bool) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
        let instance = |id: &str, state: LifecycleState| {
            Instance::builder()
                .instance_id(id)
                .lifecycle_state(state)
                .build()
        };
        let mut group = AutoScalingGroup::builder()
            .auto_scaling_group_name(ASG)
            .instances(instance(SERVING, LifecycleState::InService));
        if let Some(state) = &state {
            group = group.instances(instance(WAITING, state.clone()));
        }
        if reuse_on_scale_in {
            group = group.warm_pool_configuration(
                WarmPoolConfiguration::builder()
                    .instance_reuse_policy(
                        InstanceReusePolicy::builder()
                            .reuse_on_scale_in(true)
                            .build(),
                    )
                    .build(),
            );
        }
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(group.build())
            .build()
    })
}

pub(crate) fn groups(waiting: bool) -> Rule {
    groups_with(waiting, false)
}

pub(crate) use sta_shared::testing::{
    scaling_activities as activities, scaling_activity as activity,
};

/// The waiting instance's history: launched a day ago, terminated into the warm pool three
/// hours ago, launched from it again, and now terminating since [`began`].
pub(crate) fn history() -> Rule {
    use ScalingActivityStatusCode::{MidLifecycleAction, Successful};
    activities(vec![
        activity(
            &format!("Terminating EC2 instance: {WAITING}"),
            began(),
            MidLifecycleAction,
        ),
        activity(
            &format!("Launching a new EC2 instance: {WAITING}"),
            at(-3600),
            Successful,
        ),
        activity(
            &format!("Terminating EC2 instance: {WAITING}"),
            at(-3 * 3600),
            Successful,
        ),
        activity(
            &format!("Launching a new EC2 instance: {WAITING}"),
            at(-24 * 3600),
            Successful,
        ),
    ])
}

/// One execution of the drain state machine, as the sweeper reads it.
pub(crate) struct Execution {
    pub name: &'static str,
    pub status: &'static str,
    pub started: DateTime<Utc>,
    pub input: Value,
}

/// An execution for the waiting instance, whose event has `time`.
pub(crate) fn lifecycle_execution(
    name: &'static str,
    status: &'static str,
    time: DateTime<Utc>,
) -> Execution {
    let mut input = lifecycle_event();
    input["detail"]["EC2InstanceId"] = json!(WAITING);
    input["time"] = json!(time.to_rfc3339());
    Execution {
        name,
        status,
        started: time + chrono::Duration::seconds(1),
        input,
    }
}

pub(crate) fn serving_execution(started: DateTime<Utc>) -> Execution {
    let mut input = lifecycle_event();
    input["detail"]["EC2InstanceId"] = json!(SERVING);
    Execution {
        name: "for-serving",
        status: "SUCCEEDED",
        started,
        input,
    }
}

pub(crate) fn arn(name: &str) -> String {
    format!("arn:aws:states:us-west-2:123456789012:execution:drain:{name}")
}

/// ListExecutions (newest first) and DescribeExecution for `items`.
pub(crate) fn executions(mut items: Vec<Execution>) -> (Rule, Rule) {
    items.sort_by_key(|item| std::cmp::Reverse(item.started));
    let listed: Vec<ExecutionListItem> = items
        .iter()
        .map(|item| {
            ExecutionListItem::builder()
                .execution_arn(arn(item.name))
                .state_machine_arn(MACHINE)
                .name(item.name)
                .status(ExecutionStatus::from(item.status))
                .start_date(SfnTime::from_millis(item.started.timestamp_millis()))
                .build()
                .unwrap()
        })
        .collect();
    let list = mock!(aws_sdk_sfn::Client::list_executions).then_compute_output(move |req| {
        let status = req.status_filter();
        ListExecutionsOutput::builder()
            .set_executions(Some(
                listed
                    .iter()
                    .filter(|item| status.is_none_or(|status| item.status() == status))
                    .cloned()
                    .collect(),
            ))
            .build()
            .unwrap()
    });
    let inputs: std::collections::HashMap<String, (String, &'static str)> = items
        .iter()
        .map(|item| (arn(item.name), (item.input.to_string(), item.status)))
        .collect();
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(move |req| {
        let arn = req.execution_arn().unwrap();
        let (input, status) = inputs.get(arn).expect("a listed execution").clone();
        DescribeExecutionOutput::builder()
            .execution_arn(arn)
            .state_machine_arn(MACHINE)
            .status(ExecutionStatus::from(status))
            .start_date(SfnTime::from_secs(0))
            .input(input)
            .build()
            .unwrap()
    });
    (list, describe)
}

/// StartExecution that checks what the sweeper sends: the drain's first step accepts it,
/// and it names the action that began at [`began`].
pub(crate) fn start_ok(destination: Destination) -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(move |req| {
        assert_eq!(req.state_machine_arn(), Some(MACHINE));
        assert_eq!(req.name(), Some(NAME));
        let input: Value = serde_json::from_str(req.input().unwrap()).unwrap();
        let parsed = DrainInput::parse(&step_input(input), &DrainConfig::default()).unwrap();
        assert_eq!(parsed.request.instance_id, WAITING);
        assert_eq!(parsed.request.cluster, CLUSTER);
        assert_eq!(
            parsed.request.trigger,
            Trigger::LifecycleAction(LifecycleAction {
                asg_name: ASG.into(),
                hook_name: HOOK.into(),
                token: None,
            })
        );
        assert_eq!(parsed.request.event_time, began(), "the activity's start");
        assert_eq!(parsed.request.destination, destination);
        assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
        StartExecutionOutput::builder()
            .execution_arn(arn(NAME))
            .start_date(SfnTime::from_secs(0))
            .build()
            .unwrap()
    })
}

/// A heartbeat for the waiting instance's action, by instance id (the sweeper has no token).
pub(crate) fn heartbeat_ok() -> Rule {
    mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat).then_compute_output(
        |req| {
            assert_eq!(req.auto_scaling_group_name(), Some(ASG));
            assert_eq!(req.lifecycle_hook_name(), Some(HOOK));
            assert_eq!(req.instance_id(), Some(WAITING));
            assert_eq!(req.lifecycle_action_token(), None);
            RecordLifecycleActionHeartbeatOutput::builder().build()
        },
    )
}

/// The clients answering from the rules, Auto Scaling also answering every heartbeat (after
/// the given rules, which may answer it otherwise), ECS with no container instance marked
/// to be set ACTIVE when back from the warm pool.
pub(crate) fn deps(autoscaling: &[&Rule], sfn: &[&Rule]) -> Deps {
    deps_with_ecs(autoscaling, sfn, &[&returned::marked_instances(Vec::new())])
}

/// As [`deps`], ECS answering from `ecs`.
pub(crate) fn deps_with_ecs(autoscaling: &[&Rule], sfn: &[&Rule], ecs: &[&Rule]) -> Deps {
    let heartbeat = heartbeat_ok();
    let autoscaling: Vec<&Rule> = autoscaling.iter().copied().chain([&heartbeat]).collect();
    Deps {
        autoscaling: autoscaling_client(&autoscaling),
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[], |c| c
            .retry_config(RetryConfig::disabled())),
        ecs: ecs_client(ecs),
        sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn, |c| c
            .retry_config(RetryConfig::disabled())),
        config: config(),
    }
}

/// A sweep at the fixtures' time, Auto Scaling and Step Functions answering from their rules.
pub(crate) async fn sweep_now(
    autoscaling: &[&Rule],
    sfn: &[&Rule],
) -> Result<SweepReport, StepError> {
    sweep(&deps(autoscaling, sfn), at(0)).await
}
