//! Test support for the Lambdas (feature `testing`, enabled in dev-dependencies only).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;

use crate::clients::Clients;
use crate::config::DrainConfig;
use crate::event::DrainInput;
use crate::state::*;
use crate::StepError;

pub const INSTANCE_ID: &str = "i-1234567890abcdef0";
pub const CLUSTER: &str = "test-cluster";
pub const ASG: &str = "test-cluster-asg";
pub const HOOK: &str = "ecsTermination";
pub const TOKEN: &str = "87654321-4321-4321-4321-210987654321";
/// The container instance of [`drain_state`].
pub const CONTAINER_INSTANCE_ARN: &str =
    "arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci";

/// The lifecycle event AWS sends (tests/fixtures/lifecycle-terminate.json).
pub fn lifecycle_event() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/lifecycle-terminate.json"
    ))
    .expect("fixture is JSON")
}

/// The Spot interruption warning AWS sends (tests/fixtures/spot-interruption.json).
pub fn spot_event() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/spot-interruption.json"
    ))
    .expect("fixture is JSON")
}

/// The first step's input as the state machine builds it around `event`.
pub fn step_input(event: Value) -> Value {
    json!({
        "event": event,
        "execution_start_time": "2026-11-27T00:00:01Z",
        "settings": {
            "drain_deadline_seconds": "3600",
            "deadline_result": "CONTINUE",
            "standalone_tasks": "wait",
            "standalone_task_grace_seconds": "300"
        }
    })
}

/// An invocation of a Lambda's handler with `payload`.
pub fn invocation(payload: Value) -> lambda_runtime::LambdaEvent<Value> {
    lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// The event time of the fixtures.
pub fn event_time() -> DateTime<Utc> {
    "2026-11-27T00:00:00Z".parse().expect("a time")
}

/// `offset` seconds after the fixtures' event time.
pub fn at(offset: i64) -> DateTime<Utc> {
    event_time() + chrono::Duration::seconds(offset)
}

/// The parsed first-step input for the lifecycle fixture.
pub fn lifecycle_input() -> DrainInput {
    DrainInput::parse(&step_input(lifecycle_event()), &DrainConfig::default())
        .expect("the fixture is valid")
}

/// A drain state as the first step leaves it for the lifecycle fixture: container
/// instance `ci`, one service task `task-web`.
pub fn drain_state() -> DrainState {
    let input = lifecycle_input();
    DrainState {
        container_instance_arn: Some(CONTAINER_INSTANCE_ARN.into()),
        tasks: vec![TrackedTask {
            arn: task_arn("web"),
            service: Some("web".into()),
            last_status: "RUNNING".into(),
            unseen_since: None,
        }],
        remaining: Remaining {
            tasks: vec![task_arn("web")],
            ..Remaining::default()
        },
        ..DrainState::new(input.request, input.settings, input.notes)
    }
}

/// Makes `request` one the sweeper started: its lifecycle action has no token.
pub fn drop_token(request: &mut DrainRequest) {
    if let Trigger::LifecycleAction(action) = &mut request.trigger {
        action.token = None;
    }
}

/// A load balancer of `service` left to ECS: `draining_seconds` of draining, a replacement
/// healthy in it after `healthy_after_seconds`.
pub fn service_balancer(
    service: &str,
    load_balancer: &str,
    draining_seconds: u64,
    healthy_after_seconds: u64,
) -> ServiceBalancer {
    ServiceBalancer {
        service: service.into(),
        load_balancer: load_balancer.into(),
        draining_seconds,
        healthy_after_seconds,
        registered_without_task: false,
        network: false,
        connections_outlive_delay: false,
    }
}

pub fn task_arn(name: &str) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:task/test-cluster/{name}")
}

/// `error` is the step error `name`, and its message says `says`.
#[track_caller]
pub fn assert_step_error(error: &StepError, name: &str, says: &str) {
    assert_eq!(error.name(), name, "{error}");
    assert!(
        error.to_string().contains(says),
        "{error} does not say {says:?}"
    );
}

/// Asserts that `wait` is `base` lengthened by its jitter (see [`crate::wait::jitter`]).
pub fn assert_wait(wait: u64, base: u64) {
    let spread = (base / 10).clamp(1, crate::wait::MAX_JITTER_SECONDS);
    assert!(
        (base..=base + spread).contains(&wait),
        "wait {wait} is not {base} lengthened by at most {spread} s"
    );
}

/// A raw HTTP error response, as a service returns it.
pub fn http_error(status: u16, body: impl Into<SdkBody>) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("a status code"),
        body.into(),
    )
}

/// A JSON-protocol (ECS, Step Functions) error body.
pub fn json_error(status: u16, code: &str) -> HttpResponse {
    http_error(
        status,
        format!(r#"{{"__type":"{code}","message":"{code} from the test"}}"#),
    )
}

/// A query-protocol (Auto Scaling, ELB) error body.
pub fn query_error(status: u16, code: &str, message: &str) -> HttpResponse {
    http_error(
        status,
        format!(
            r#"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"#
        ),
    )
}

/// An EC2-protocol error body.
pub fn ec2_error(status: u16, code: &str) -> HttpResponse {
    http_error(
        status,
        format!(
            r#"<Response><Errors><Error><Code>{code}</Code><Message>{code} from the test</Message></Error></Errors><RequestID>r</RequestID></Response>"#
        ),
    )
}

/// What ELBv2 answers a call that names a target that does not exist (any more): an
/// instance terminated and forgotten by EC2.
pub fn target_gone() -> HttpResponse {
    query_error(
        400,
        "InvalidTarget",
        "The specified target does not exist, is not in the same VPC as the target group, or has an unsupported instance type.",
    )
}

/// What ELBv2 answers a call on a target group that does not exist (any more).
pub fn target_group_gone() -> HttpResponse {
    query_error(
        400,
        "TargetGroupNotFound",
        "One or more target groups not found",
    )
}

/// What the Classic ELB API answers a call on a load balancer that does not exist (any more).
pub fn classic_elb_gone() -> HttpResponse {
    query_error(
        400,
        "LoadBalancerNotFound",
        "There is no ACTIVE Load Balancer named 'web-elb'",
    )
}

/// A scaling activity of the fixture's group.
pub fn scaling_activity(
    description: &str,
    started: DateTime<Utc>,
    status: aws_sdk_autoscaling::types::ScalingActivityStatusCode,
) -> aws_sdk_autoscaling::types::Activity {
    aws_sdk_autoscaling::types::Activity::builder()
        .activity_id(format!("activity-{}", started.timestamp()))
        .auto_scaling_group_name(ASG)
        .description(description)
        .cause("a user request update of AutoScalingGroup constraints")
        .start_time(aws_smithy_types::DateTime::from_millis(
            started.timestamp_millis(),
        ))
        .status_code(status)
        .build()
}

/// `DescribeScalingActivities` of the fixture's group answering with `activities`.
pub fn scaling_activities(activities: Vec<aws_sdk_autoscaling::types::Activity>) -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_autoscaling::Client::describe_scaling_activities)
        .then_compute_output(move |req| {
            assert_eq!(req.auto_scaling_group_name(), Some(ASG));
            aws_sdk_autoscaling::operation::describe_scaling_activities::DescribeScalingActivitiesOutput::builder()
                .set_activities(Some(activities.clone()))
                .build()
        })
}

/// `DescribeScalingActivities` answering that `instance_id` began terminating at `started` and
/// waits in its lifecycle action (`MidLifecycleAction`), in Auto Scaling's words.
pub fn terminating_since(instance_id: &str, started: DateTime<Utc>) -> Rule {
    scaling_activities(vec![scaling_activity(
        &format!("Terminating EC2 instance: {instance_id}"),
        started,
        aws_sdk_autoscaling::types::ScalingActivityStatusCode::MidLifecycleAction,
    )])
}

/// `DescribeLoadBalancers` of one Classic ELB that lists the fixture's instance when
/// `registered`, with a health check of 2 healthy checks 10 s apart.
pub fn classic_listing(registered: bool) -> Rule {
    use aws_sdk_elasticloadbalancing::types::{HealthCheck, Instance, LoadBalancerDescription};
    aws_smithy_mocks::mock!(aws_sdk_elasticloadbalancing::Client::describe_load_balancers)
        .then_compute_output(move |req| {
            let name = req.load_balancer_names().first().cloned().unwrap_or_default();
            let mut description = LoadBalancerDescription::builder()
                .load_balancer_name(name)
                .health_check(
                    HealthCheck::builder()
                        .target("HTTP:8080/")
                        .interval(10)
                        .timeout(5)
                        .healthy_threshold(2)
                        .unhealthy_threshold(2)
                        .build()
                        .expect("a complete health check"),
                );
            if registered {
                description =
                    description.instances(Instance::builder().instance_id(INSTANCE_ID).build());
            }
            aws_sdk_elasticloadbalancing::operation::describe_load_balancers::DescribeLoadBalancersOutput::builder()
                .load_balancer_descriptions(description.build())
                .build()
        })
}

/// `DescribeInstanceHealth` asked for the fixture's instance, answering that it is in `state`
/// (`InService`, `OutOfService`).
pub fn instance_health(state: &'static str) -> Rule {
    use aws_sdk_elasticloadbalancing::operation::describe_instance_health::DescribeInstanceHealthOutput;
    use aws_sdk_elasticloadbalancing::types::InstanceState;
    aws_smithy_mocks::mock!(aws_sdk_elasticloadbalancing::Client::describe_instance_health)
        .then_compute_output(move |req| {
            assert_eq!(req.instances()[0].instance_id(), Some(INSTANCE_ID));
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

/// `DescribeLifecycleHooks` of the fixture's hook, answered with `timeout` as its heartbeat
/// timeout and AWS's global timeout (100 x the heartbeat timeout).
pub fn lifecycle_hook(timeout: i32) -> Rule {
    use aws_sdk_autoscaling::operation::describe_lifecycle_hooks::DescribeLifecycleHooksOutput;
    use aws_sdk_autoscaling::types::LifecycleHook;
    aws_smithy_mocks::mock!(aws_sdk_autoscaling::Client::describe_lifecycle_hooks)
        .then_compute_output(move |req| {
            assert_eq!(req.auto_scaling_group_name(), Some(ASG));
            assert_eq!(req.lifecycle_hook_names(), [HOOK]);
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

/// `DescribeAutoScalingInstances` of the fixture's instance: in `lifecycle_state`, or
/// unknown to Auto Scaling (`None`: terminated, or never in a group).
pub fn auto_scaling_instance(lifecycle_state: Option<&'static str>) -> Rule {
    use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
    use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;
    aws_smithy_mocks::mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
        .then_compute_output(move |req| {
            assert_eq!(req.instance_ids(), [INSTANCE_ID]);
            let found = lifecycle_state.map(|state| {
                AutoScalingInstanceDetails::builder()
                    .instance_id(INSTANCE_ID)
                    .auto_scaling_group_name(ASG)
                    .lifecycle_state(state)
                    .build()
            });
            DescribeAutoScalingInstancesOutput::builder()
                .set_auto_scaling_instances(found.map(|details| vec![details]))
                .build()
        })
}

/// DescribeContainerInstances answering `arn`, on the EC2 instance `ec2_instance`, with
/// `status`, its agent connected.
pub fn container_instance_described(
    arn: &'static str,
    ec2_instance: &'static str,
    status: &'static str,
) -> Rule {
    describing_container_instance(
        aws_sdk_ecs::types::ContainerInstance::builder()
            .container_instance_arn(arn)
            .ec2_instance_id(ec2_instance)
            .status(status)
            .agent_connected(true)
            .build(),
    )
}

/// DescribeContainerInstances answering `instance`, whatever it is asked.
pub fn describing_container_instance(instance: aws_sdk_ecs::types::ContainerInstance) -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(move || {
        aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput::builder()
            .container_instances(instance.clone())
            .build()
    })
}

/// `RecordLifecycleActionHeartbeat` by the fixture's token, answered with success.
pub fn heartbeat_ok() -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_compute_output(|req| {
            assert_eq!(req.lifecycle_action_token(), Some(TOKEN));
            assert_eq!(req.auto_scaling_group_name(), Some(ASG));
            assert_eq!(req.lifecycle_hook_name(), Some(HOOK));
            aws_sdk_autoscaling::operation::record_lifecycle_action_heartbeat::RecordLifecycleActionHeartbeatOutput::builder().build()
        })
}

/// `RecordLifecycleActionHeartbeat` answered as Auto Scaling does once the action is over.
pub fn heartbeat_gone() -> Rule {
    aws_smithy_mocks::mock!(aws_sdk_autoscaling::Client::record_lifecycle_action_heartbeat)
        .then_http_response(|| {
            query_error(
                400,
                "ValidationError",
                &format!("No active Lifecycle Action found with token {TOKEN}"),
            )
        })
}

/// The rules each mocked client answers from (any matching rule, in any order), without
/// the SDK's retries so that a test sees every error the first time.
#[derive(Default)]
pub struct MockRules {
    pub autoscaling: Vec<Rule>,
    pub ecs: Vec<Rule>,
    pub elb: Vec<Rule>,
    pub elbv2: Vec<Rule>,
}

impl MockRules {
    /// One client a service, each answering from its rules.
    pub fn clients(&self) -> Clients {
        Clients {
            autoscaling: autoscaling_client(&refs(&self.autoscaling)),
            ecs: ecs_client(&refs(&self.ecs)),
            elb: mock_client!(
                aws_sdk_elasticloadbalancing,
                RuleMode::MatchAny,
                &refs(&self.elb),
                |c| c.retry_config(RetryConfig::disabled())
            ),
            elbv2: mock_client!(
                aws_sdk_elasticloadbalancingv2,
                RuleMode::MatchAny,
                &refs(&self.elbv2),
                |c| c.retry_config(RetryConfig::disabled())
            ),
        }
    }

    /// The calls answered by ECS and the load balancers: what a step did to the instance
    /// and its load balancers, beside the hook.
    pub fn instance_calls(&self) -> usize {
        [&self.ecs, &self.elb, &self.elbv2]
            .into_iter()
            .flatten()
            .map(Rule::num_calls)
            .sum()
    }
}

fn refs(rules: &[Rule]) -> Vec<&Rule> {
    rules.iter().collect()
}

/// An ECS client answering from `rules` (see [`MockRules`]).
pub fn ecs_client(rules: &[&Rule]) -> aws_sdk_ecs::Client {
    mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// An Auto Scaling client answering from `rules` (see [`MockRules`]).
pub fn autoscaling_client(rules: &[&Rule]) -> aws_sdk_autoscaling::Client {
    mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

/// A target's health as DescribeTargetHealth gives it: `unused` with the reason AWS gives a
/// target that is not registered (`Target.NotRegistered`, a deregistered target asked for).
pub fn target_state(
    state: aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum,
) -> aws_sdk_elasticloadbalancingv2::types::TargetHealth {
    use aws_sdk_elasticloadbalancingv2::types::{TargetHealthReasonEnum, TargetHealthStateEnum};
    let reason =
        (state == TargetHealthStateEnum::Unused).then_some(TargetHealthReasonEnum::NotRegistered);
    aws_sdk_elasticloadbalancingv2::types::TargetHealth::builder()
        .state(state)
        .set_reason(reason)
        .build()
}
