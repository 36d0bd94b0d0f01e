//! A deployment answered by mocked clients: every read answers from the fields of
//! [`Fixture`] (a correct deployment by default), so a test changes one field to
//! misconfigure one thing, or names an operation in `errors` to make it fail.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_mocks::{MockResponse, Rule, RuleBuilder};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde_json::{json, Value};
use sta_shared::testing::{ec2_error, json_error, query_error};

use crate::doctor::machine::functions::FunctionState;
use crate::doctor::services::LoadBalancers;
use crate::doctor::{Clients, Options};

/// A client of `$sdk` answering from `rules` (any matching rule), without the SDK's retries.
macro_rules! fixture_client {
    ($sdk:ident, $rules:expr) => {{
        let rules: Vec<aws_smithy_mocks::Rule> = $rules;
        let refs: Vec<&aws_smithy_mocks::Rule> = rules.iter().collect();
        aws_smithy_mocks::mock_client!($sdk, aws_smithy_mocks::RuleMode::MatchAny, &refs, |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()))
    }};
}

mod ecs;
mod groups;
mod machine;
mod policies;

pub use crate::testing::MACHINE;
pub use sta_shared::testing::{ASG, CLUSTER, HOOK};
pub const RULE: &str = "drain-terminate";
pub const SERVICE: &str = "web";
pub const TG: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/0123456789abcdef";
pub const CLB: &str = "web-clb";
pub const STACK: &str = "drain-stack";

pub fn asg_arn(name: &str) -> String {
    format!("arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:0a1b:autoScalingGroupName/{name}")
}

pub fn ci_arn(n: usize) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:container-instance/{CLUSTER}/ci-{n}")
}

pub fn zones(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

pub fn instance(n: usize) -> String {
    format!("i-000000000000000{n}")
}

#[derive(Debug, Clone)]
pub struct FRule {
    pub name: String,
    pub state: String,
    pub pattern: Value,
    pub role: bool,
}

#[derive(Debug, Clone)]
pub struct FHook {
    pub asg: String,
    pub name: String,
    pub transition: String,
    pub heartbeat: i32,
    pub default_result: String,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FInstance {
    pub n: usize,
    pub asg_state: Option<String>,
    pub protected: bool,
    pub ecs_status: Option<String>,
    pub connected: bool,
    /// Marked by a drain to be set ACTIVE once back from the warm pool.
    pub marked: bool,
    /// Marked too with the time of the Spot interruption that stops it.
    pub stopped_by_spot: bool,
}

#[derive(Debug, Clone)]
pub struct FService {
    pub name: String,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    pub load_balancers: LoadBalancers,
    pub network: String,
    pub host_ports: Vec<i32>,
    /// Which container instances (by number) run its tasks.
    pub hosts: Vec<usize>,
    /// The DAEMON scheduling strategy.
    pub daemon: bool,
    /// Its container's `stopTimeout` (`None`: the agent's default).
    pub stop_timeout: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct FTargetGroup {
    pub arn: String,
    pub protocol: String,
    pub threshold: i32,
    pub interval: i32,
    pub delay: u64,
    pub termination: Option<bool>,
    /// A listener forwards to it.
    pub in_use: bool,
    /// The zones its load balancer enables.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FClassic {
    pub name: String,
    pub threshold: i32,
    pub interval: i32,
    pub draining: Option<i32>,
    pub zones: Vec<String>,
}

/// A capacity provider: (name, managed draining, managed scaling target or None when off).
#[derive(Debug, Clone)]
pub struct FProvider {
    pub name: String,
    pub asg: String,
    pub draining: bool,
    pub scaling_target: Option<i32>,
}

/// What the drill's calls answer.
#[derive(Debug, Clone, Default)]
pub struct FDrill {
    /// Executions listed (name, input instance id); the one for the victim is the drain.
    pub executions: Vec<(String, String)>,
    /// DescribeExecution of the drain answers RUNNING this many times, then `final_status`.
    pub running_polls: usize,
    pub final_status: String,
    pub output: Option<Value>,
    /// Healthy targets per DescribeTargetHealth call (the last repeats).
    pub target_health: Vec<Vec<String>>,
    /// Healthy targets in those samples that are no task of the service's (another service's,
    /// a DAEMON's agent, an instance registered by hand).
    pub strangers: Vec<String>,
    /// Whether the instance is still in its group (DescribeAutoScalingInstances).
    pub still_in_group: bool,
}

impl FDrill {
    /// The healthy targets DescribeTargetHealth call `call` (from 0) answers.
    pub fn healthy_at(&self, call: usize) -> &[String] {
        let samples = &self.target_health;
        samples
            .get(call)
            .or(samples.last())
            .map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub machine_exists: bool,
    pub machine_type: String,
    pub definition: String,
    pub rules: Vec<FRule>,
    /// (name, status) of executions started an hour ago.
    pub failed: Vec<(String, String)>,
    /// The stack's schedules: (logical id, name, expression, state).
    pub schedules: Vec<(String, String, String, String)>,
    /// The stack's SQS queues: (URL, messages waiting).
    pub queues: Vec<(String, u64)>,
    pub groups: Vec<String>,
    pub new_instances_protected: bool,
    /// The groups' `InstanceLifecyclePolicy.RetentionTriggers.TerminateHookAbandon`.
    pub retention: Option<&'static str>,
    /// The groups' launch template user data, as written (base64-encoded in the answer;
    /// none when empty).
    pub user_data: Vec<u8>,
    pub hooks: Vec<FHook>,
    pub cluster_exists: bool,
    pub providers: Vec<FProvider>,
    pub instances: Vec<FInstance>,
    pub services: Vec<FService>,
    pub target_groups: Vec<FTargetGroup>,
    /// The zones the group launches instances in.
    pub zones: Vec<String>,
    pub classic: Vec<FClassic>,
    /// The groups' target tracking policies: (name, CloudWatch namespace, metric, target).
    pub policies: Vec<(String, String, String, f64)>,
    /// Application Auto Scaling's scalable targets on services' desired counts: (service,
    /// min, max, all its scaling suspended).
    pub scalable: Vec<(String, i32, i32, bool)>,
    /// The functions that are not Active, by name: their state, or `None` when missing.
    pub functions: BTreeMap<&'static str, Option<FunctionState>>,
    /// Operations that fail: name -> error code.
    pub errors: BTreeMap<&'static str, &'static str>,
    pub drill: FDrill,
    pub calls: Arc<Calls>,
}

/// Counters of the drill's calls.
#[derive(Debug, Default)]
pub struct Calls {
    pub terminate: AtomicUsize,
    pub describe_execution: AtomicUsize,
    pub target_health: AtomicUsize,
}

impl Calls {
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// The real definition with infra's substitutions (deadline 3000 s).
pub fn definition(deadline: u64) -> String {
    include_str!("../../../../statemachine/drain.asl.json")
        .replace("${DrainDeadlineSeconds}", &deadline.to_string())
        .replace("${DeadlineResult}", "CONTINUE")
        .replace("${StandaloneTasks}", "wait")
        .replace("${StandaloneTaskGraceSeconds}", "300")
        .replace("${NlbDeregistrationSeconds}", "300")
        .replace(
            "${DrainEcsFunctionArn}",
            "arn:aws:lambda:us-west-2:123456789012:function:drain-ecs",
        )
        .replace(
            "${DeregisterLbFunctionArn}",
            "arn:aws:lambda:us-west-2:123456789012:function:deregister-lb",
        )
        .replace(
            "${CheckDrainedFunctionArn}",
            "arn:aws:lambda:us-west-2:123456789012:function:check-drained",
        )
        .replace(
            "${CompleteLifecycleFunctionArn}",
            "arn:aws:lambda:us-west-2:123456789012:function:complete-lifecycle",
        )
}

pub fn terminate_pattern(groups: &[&str], hooks: &[&str]) -> Value {
    json!({
        "source": ["aws.autoscaling"],
        "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
        "detail": {"AutoScalingGroupName": groups, "LifecycleHookName": hooks}
    })
}

impl Default for Fixture {
    fn default() -> Self {
        Self {
            machine_exists: true,
            machine_type: "STANDARD".to_string(),
            definition: definition(3000),
            rules: vec![FRule {
                name: RULE.to_string(),
                state: "ENABLED".to_string(),
                pattern: terminate_pattern(&[ASG], &[HOOK]),
                role: true,
            }],
            failed: Vec::new(),
            schedules: Vec::new(),
            queues: Vec::new(),
            groups: vec![ASG.to_string()],
            new_instances_protected: false,
            retention: None,
            user_data: b"#!/bin/bash\necho ECS_CLUSTER=test-cluster >> /etc/ecs/ecs.config\necho ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config\n".to_vec(),
            hooks: vec![FHook {
                asg: ASG.to_string(),
                name: HOOK.to_string(),
                transition: "autoscaling:EC2_INSTANCE_TERMINATING".to_string(),
                heartbeat: 600,
                default_result: "CONTINUE".to_string(),
                metadata: Some(format!("{{\"cluster\":\"{CLUSTER}\"}}")),
            }],
            cluster_exists: true,
            providers: Vec::new(),
            instances: (1..=3)
                .map(|n| FInstance {
                    n,
                    asg_state: Some("InService".to_string()),
                    protected: false,
                    ecs_status: Some("ACTIVE".to_string()),
                    connected: true,
                    marked: false,
                    stopped_by_spot: false,
                })
                .collect(),
            services: vec![FService {
                name: SERVICE.to_string(),
                desired: 2,
                min: 100,
                max: 200,
                load_balancers: LoadBalancers {
                    target_groups: vec![TG.to_string()],
                    classic: vec![CLB.to_string()],
                },
                network: "host".to_string(),
                host_ports: vec![8080],
                hosts: vec![1, 2],
                daemon: false,
                stop_timeout: None,
            }],
            target_groups: vec![FTargetGroup {
                arn: TG.to_string(),
                protocol: "HTTP".to_string(),
                threshold: 5,
                interval: 30,
                delay: 300,
                termination: None,
                in_use: true,
                zones: zones(&["us-west-2a", "us-west-2b"]),
            }],
            zones: zones(&["us-west-2a"]),
            classic: vec![FClassic {
                name: CLB.to_string(),
                threshold: 2,
                interval: 10,
                draining: Some(300),
                zones: zones(&["us-west-2a", "us-west-2b"]),
            }],
            scalable: Vec::new(),
            policies: Vec::new(),
            functions: BTreeMap::new(),
            errors: BTreeMap::new(),
            drill: FDrill::default(),
            calls: Arc::new(Calls::default()),
        }
    }
}

/// A schedule of the stack: `logical` id, `name`, every 5 minutes, enabled.
pub fn schedule(logical: &str, name: &str) -> (String, String, String, String) {
    let rate = "rate(5 minutes)".to_string();
    (
        logical.to_string(),
        name.to_string(),
        rate,
        "ENABLED".to_string(),
    )
}

impl Fixture {
    /// The options doctor is run with against this fixture.
    pub fn options(&self) -> Options {
        Options {
            cluster: CLUSTER.to_string(),
            asgs: vec![ASG.to_string()],
            services: vec![SERVICE.to_string()],
            state_machine_arn: Some(MACHINE.to_string()),
            stack: None,
            sweep_period_seconds: None,
            n_count: 1,
            hook: None,
        }
    }

    /// [`Self::options`] with the stack that deployed it.
    pub fn stack_options(&self) -> Options {
        Options {
            stack: Some(STACK.to_string()),
            ..self.options()
        }
    }

    /// The error response of `operation`, when the fixture makes it fail, in the shape of
    /// its SDK's protocol.
    fn failure(&self, operation: &str, protocol: Protocol) -> Option<HttpResponse> {
        let code = self.errors.get(operation)?;
        Some(match protocol {
            Protocol::Query => query_error(400, code, &format!("{code} from the fixture")),
            Protocol::Json => json_error(400, code),
            Protocol::Ec2 => ec2_error(400, code),
        })
    }

    /// Mocked clients answering from this fixture.
    pub fn clients(&self) -> Clients {
        let f = Arc::new(self.clone());
        Clients {
            sfn: machine::sfn(&f),
            cloudformation: machine::cloudformation(&f),
            scheduler: machine::scheduler(&f),
            lambda: machine::lambda(&f),
            sqs: machine::sqs(&f),
            events: machine::events(&f),
            autoscaling: groups::autoscaling(&f),
            ecs: ecs::ecs(&f),
            elb: groups::elb(&f),
            elbv2: groups::elbv2(&f),
            ec2: groups::ec2(&f),
            application_autoscaling: ecs::application_autoscaling(&f),
        }
    }
}

/// The one of `items` whose `key` the request names: doctor asks only for what the
/// fixture's other answers name.
pub fn named<'f, T>(items: &'f [T], name: Option<&str>, key: impl Fn(&T) -> &str) -> &'f T {
    items
        .iter()
        .find(|item| Some(key(item)) == name)
        .expect("the fixture has what it names")
}

/// Those of `items` whose `key` the request lists.
pub fn requested<'f, T>(
    items: &'f [T],
    names: &'f [String],
    key: impl Fn(&T) -> &str + 'f,
) -> impl Iterator<Item = &'f T> + 'f {
    items
        .iter()
        .filter(move |item| names.iter().any(|name| name == key(item)))
}

/// How an SDK's service answers errors.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    Query,
    Json,
    Ec2,
}

/// The SDKs of the fixture that speak the query protocol (EC2 its own, the others JSON).
const QUERY_PROTOCOL: [&str; 4] = [
    "aws_sdk_autoscaling",
    "aws_sdk_cloudformation",
    "aws_sdk_elasticloadbalancing",
    "aws_sdk_elasticloadbalancingv2",
];

/// The protocol of the SDK an operation's input `I` belongs to:
/// `aws_sdk_ecs::operation::list_tasks::ListTasksInput` goes over JSON.
fn protocol_of<I>() -> Protocol {
    let sdk = std::any::type_name::<I>().split("::").next();
    match sdk.unwrap_or_default() {
        "aws_sdk_ec2" => Protocol::Ec2,
        sdk if QUERY_PROTOCOL.contains(&sdk) => Protocol::Query,
        _ => Protocol::Json,
    }
}

/// The mocked operation answers `output(fixture, request)`, or fails when the fixture names
/// it in `errors`.
pub fn answer<I, O, E>(
    rule: RuleBuilder<I, O, E>,
    f: &Arc<Fixture>,
    output: impl Fn(&Fixture, &I) -> O + Send + Sync + 'static,
) -> Rule
where
    I: std::fmt::Debug + Send + Sync + 'static,
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    // named as the commands name a failed call (`errors` holds those names)
    let (operation, protocol) = (crate::error::operation_of::<E>(), protocol_of::<I>());
    let f = f.clone();
    rule.then_compute_response(move |req| match f.failure(operation, protocol) {
        Some(error) => MockResponse::Http(error),
        None => MockResponse::Output(output(&f, req)),
    })
}
