use super::*;
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance};
use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Failure, Service};
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use sta_shared::testing::{autoscaling_client, ecs_client};

const PAGE: usize = 100;

fn arn(index: usize) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:container-instance/test-cluster/ci{index:05}")
}

fn index_of(arn: &str) -> usize {
    arn.rsplit("ci").next().unwrap().parse().unwrap()
}

fn ec2_id(index: usize) -> String {
    format!("i-{index:017x}")
}

/// ListContainerInstances over `total` instances, `PAGE` a page, as ECS pages them.
fn list_rule(total: usize) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(move |req| {
        assert_eq!(req.cluster(), Some("test-cluster"));
        let start: usize = req.next_token().map_or(0, |token| token.parse().unwrap());
        let end = (start + PAGE).min(total);
        ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some((start..end).map(arn).collect()))
            .set_next_token((end < total).then(|| end.to_string()))
            .build()
    })
}

/// DescribeContainerInstances, rejecting more than 100 ARNs as ECS does; `status_of`
/// gives each instance's (status, agent connected).
fn describe_rule(status_of: fn(usize) -> (&'static str, bool)) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        let arns = req.container_instances();
        assert!(
            arns.len() <= 100,
            "DescribeContainerInstances takes at most 100 ARNs"
        );
        let instances = arns
            .iter()
            .map(|arn| {
                let index = index_of(arn);
                let (status, connected) = status_of(index);
                aws_sdk_ecs::types::ContainerInstance::builder()
                    .container_instance_arn(arn)
                    .ec2_instance_id(ec2_id(index))
                    .status(status)
                    .agent_connected(connected)
                    .build()
            })
            .collect();
        DescribeContainerInstancesOutput::builder()
            .set_container_instances(Some(instances))
            .build()
    })
}

fn service_rule(desired: i32) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .desired_count(desired)
                    .build(),
            )
            .build()
    })
}

fn update_rule() -> Rule {
    mock!(aws_sdk_ecs::Client::update_service).then_compute_output(|req| {
        assert_eq!(req.cluster(), Some("test-cluster"));
        assert_eq!(req.service(), Some("web"));
        UpdateServiceOutput::builder().build()
    })
}

fn make_deps(ecs_rules: &[&Rule], asg_rules: &[&Rule]) -> Deps {
    Deps {
        ecs: ecs_client(ecs_rules),
        autoscaling: autoscaling_client(asg_rules),
    }
}

fn input(min: u64, n: u64, max: Option<u64>) -> ScalerInput {
    ScalerInput {
        cluster_name: "test-cluster".into(),
        service_name: "web".into(),
        min_task_count: min,
        n_count: n,
        max_task_count: max,
        dry_run: false,
        asg_name: None,
    }
}

fn all_active(_: usize) -> (&'static str, bool) {
    ("ACTIVE", true)
}

/// 250 instances: 10 DRAINING, 5 with a disconnected agent, 1 REGISTERING.
fn mixed(index: usize) -> (&'static str, bool) {
    match index {
        0..10 => ("DRAINING", true),
        10..15 => ("ACTIVE", false),
        15 => ("REGISTERING", false),
        _ => ("ACTIVE", true),
    }
}

#[tokio::test]
async fn counts_250_instances_over_3_pages_excluding_draining_and_disconnected() {
    let (list, describe, services, update) = (
        list_rule(250),
        describe_rule(mixed),
        service_rule(100),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);

    let decision = scale(&deps, &input(2, 1, None)).await.unwrap();

    assert_eq!(list.num_calls(), 3);
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(
        decision.instances,
        InstanceCounts {
            registered: 250,
            usable: 234,
            draining: 10,
            disconnected: 5,
            stale_draining: 0,
            outside_asg: 0,
            other: 1
        }
    );
    // 234 usable - 1 = 233 is above the current 100: raising is allowed while draining.
    assert_eq!(decision.target_desired_count, 233);
    assert_eq!(decision.new_desired_count, 233);
    assert!(decision.changed);
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_5000_instance_cluster_is_read_completely() {
    let (list, describe, services, update) = (
        list_rule(5000),
        describe_rule(all_active),
        service_rule(4999),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let decision = scale(&deps, &input(2, 1, None)).await.unwrap();
    assert_eq!(list.num_calls(), 50);
    assert_eq!(describe.num_calls(), 50);
    assert_eq!(decision.instances.usable, 5000);
    assert!(!decision.changed);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn no_update_when_the_count_already_matches() {
    let (list, describe, services, update) = (
        list_rule(3),
        describe_rule(all_active),
        service_rule(2),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let decision = scale(&deps, &input(1, 1, None)).await.unwrap();
    assert!(!decision.changed);
    assert_eq!(decision.reason, "desired count already matches");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn floor_and_ceiling() {
    let (list, describe, services, update) = (
        list_rule(3),
        describe_rule(all_active),
        service_rule(2),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let floor = scale(&deps, &input(4, 1, None)).await.unwrap();
    assert_eq!(floor.new_desired_count, 4);
    assert!(
        floor.reason.contains("floor min_task_count 4"),
        "{}",
        floor.reason
    );

    let (list, describe, services, update) = (
        list_rule(20),
        describe_rule(all_active),
        service_rule(5),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let ceiling = scale(&deps, &input(1, 1, Some(8))).await.unwrap();
    assert_eq!(ceiling.new_desired_count, 8);
    assert!(
        ceiling.reason.contains("ceiling max_task_count 8"),
        "{}",
        ceiling.reason
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn holds_instead_of_lowering_while_an_instance_drains() {
    // 4 instances, one DRAINING: target 3 - 1 = 2, current 3: hold at 3.
    fn one_draining(index: usize) -> (&'static str, bool) {
        if index == 0 {
            ("DRAINING", true)
        } else {
            ("ACTIVE", true)
        }
    }
    let (list, describe, services, update) = (
        list_rule(4),
        describe_rule(one_draining),
        service_rule(3),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let decision = scale(&deps, &input(1, 1, None)).await.unwrap();
    assert_eq!(decision.target_desired_count, 2);
    assert_eq!(decision.new_desired_count, 3);
    assert!(!decision.changed);
    assert!(
        decision.reason.contains("1 instance(s) draining"),
        "{}",
        decision.reason
    );
    assert_eq!(update.num_calls(), 0);

    // The same cluster once the instance is gone: the count comes down.
    let (list, describe, services, update) = (
        list_rule(3),
        describe_rule(all_active),
        service_rule(3),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let decision = scale(&deps, &input(1, 1, None)).await.unwrap();
    assert_eq!(decision.new_desired_count, 2);
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn dry_run_decides_without_updating() {
    let (list, describe, services, update) = (
        list_rule(10),
        describe_rule(all_active),
        service_rule(2),
        update_rule(),
    );
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let mut dry = input(2, 1, None);
    dry.dry_run = true;
    let decision = scale(&deps, &dry).await.unwrap();
    assert!(decision.changed && decision.dry_run);
    assert_eq!(decision.new_desired_count, 9);
    assert!(
        decision.to_string().contains("would change (dry run)"),
        "{decision}"
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn only_instances_in_service_in_the_asg_count() {
    let (list, describe, services, update) = (
        list_rule(5),
        describe_rule(all_active),
        service_rule(2),
        update_rule(),
    );
    let asg = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(|| {
        let instance = |index: usize, state: LifecycleState| {
            Instance::builder()
                .instance_id(ec2_id(index))
                .lifecycle_state(state)
                .build()
        };
        DescribeAutoScalingGroupsOutput::builder()
            .auto_scaling_groups(
                AutoScalingGroup::builder()
                    .auto_scaling_group_name("asg")
                    .instances(instance(0, LifecycleState::InService))
                    .instances(instance(1, LifecycleState::InService))
                    .instances(instance(2, LifecycleState::InService))
                    .instances(instance(3, LifecycleState::TerminatingWait))
                    .build(),
            )
            .build()
    });
    let deps = make_deps(&[&list, &describe, &services, &update], &[&asg]);
    let mut with_asg = input(1, 1, None);
    with_asg.asg_name = Some("asg".into());
    let decision = scale(&deps, &with_asg).await.unwrap();
    assert_eq!(decision.instances.usable, 3);
    assert_eq!(decision.instances.outside_asg, 2);
    assert_eq!(decision.new_desired_count, 2);
    assert_eq!(asg.num_calls(), 1);

    let missing = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());
    let deps = make_deps(&[&list, &describe, &services, &update], &[&missing]);
    let error = scale(&deps, &with_asg).await.unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert!(error.to_string().contains("asg"), "{error}");
}

/// 5 instances: 0 DRAINING with a disconnected agent (stopped or gone), 1 DRAINING but no
/// longer in the group, 2 DRAINING in Terminating:Wait (a real drain), 3 and 4 ACTIVE.
fn stale(index: usize) -> (&'static str, bool) {
    match index {
        0 => ("DRAINING", false),
        1 | 2 => ("DRAINING", true),
        _ => ("ACTIVE", true),
    }
}

#[tokio::test]
async fn stale_draining_records_never_hold_the_count_up() {
    let group = |with_real_drain: bool| {
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(move || {
            let instance = |index: usize, state: LifecycleState| {
                Instance::builder()
                    .instance_id(ec2_id(index))
                    .lifecycle_state(state)
                    .build()
            };
            let mut group = AutoScalingGroup::builder()
                .auto_scaling_group_name("asg")
                .instances(instance(0, LifecycleState::Terminated))
                .instances(instance(3, LifecycleState::InService))
                .instances(instance(4, LifecycleState::InService));
            if with_real_drain {
                group = group.instances(instance(2, LifecycleState::TerminatingWait));
            }
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(group.build())
                .build()
        })
    };
    let mut with_asg = input(1, 1, None);
    with_asg.asg_name = Some("asg".into());

    // Instance 2 is still being drained: the hold applies.
    let (list, describe, services, update) = (
        list_rule(5),
        describe_rule(stale),
        service_rule(3),
        update_rule(),
    );
    let asg = group(true);
    let deps = make_deps(&[&list, &describe, &services, &update], &[&asg]);
    let decision = scale(&deps, &with_asg).await.unwrap();
    assert_eq!(decision.instances.draining, 1);
    assert_eq!(decision.instances.stale_draining, 2);
    assert_eq!(decision.new_desired_count, 3, "{decision}");

    // Instance 2 has left too: only stale records remain, the count is lowered.
    let asg = group(false);
    let deps = make_deps(&[&list, &describe, &services, &update], &[&asg]);
    let decision = scale(&deps, &with_asg).await.unwrap();
    assert_eq!(decision.instances.draining, 0);
    assert_eq!(decision.instances.stale_draining, 3);
    assert_eq!(decision.new_desired_count, 1, "{decision}");
    assert!(
        decision.to_string().contains("stale draining 3"),
        "{decision}"
    );
    assert_eq!(update.num_calls(), 1);

    // Without an ASG, a disconnected DRAINING record is still stale.
    let deps = make_deps(&[&list, &describe, &services, &update], &[]);
    let decision = scale(&deps, &input(1, 1, None)).await.unwrap();
    assert_eq!(decision.instances.stale_draining, 1);
    assert_eq!(decision.instances.draining, 2);
}

fn http_error(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn throttling_and_5xx_are_retryable() {
    for (status, body) in [
        (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        (500, r#"{"__type":"ServerException","message":"internal"}"#),
        (503, ""),
    ] {
        let throttled = mock!(aws_sdk_ecs::Client::list_container_instances)
            .then_http_response(move || http_error(status, body));
        let deps = make_deps(&[&throttled], &[]);
        let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
        assert_eq!(error.name(), "Retryable", "{status}: {error}");
        assert!(
            error.to_string().contains("ListContainerInstances"),
            "{error}"
        );
    }
    let (list, describe, services) = (list_rule(3), describe_rule(all_active), service_rule(9));
    let throttled_update = mock!(aws_sdk_ecs::Client::update_service).then_http_response(|| {
        http_error(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    });
    let deps = make_deps(&[&list, &describe, &services, &throttled_update], &[]);
    assert_eq!(
        scale(&deps, &input(2, 1, None)).await.unwrap_err().name(),
        "Retryable"
    );
}

#[tokio::test]
async fn unknown_service_and_cluster_are_named() {
    let (list, describe) = (list_rule(3), describe_rule(all_active));
    let missing = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-west-2:123456789012:service/test-cluster/web")
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let deps = make_deps(&[&list, &describe, &missing], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.name(), "ResourceNotFound");
    assert_eq!(
        error.to_string(),
        "service `web` not found in cluster test-cluster"
    );

    let no_cluster =
        mock!(aws_sdk_ecs::Client::list_container_instances).then_http_response(|| {
            http_error(
                400,
                r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#,
            )
        });
    let deps = make_deps(&[&no_cluster], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.to_string(), "cluster `test-cluster` not found");
}

#[tokio::test]
async fn other_errors_need_an_operator() {
    let denied = mock!(aws_sdk_ecs::Client::list_container_instances).then_http_response(|| {
        http_error(
            400,
            r#"{"__type":"AccessDeniedException","message":"not allowed"}"#,
        )
    });
    let deps = make_deps(&[&denied], &[]);
    let error = scale(&deps, &input(2, 1, None)).await.unwrap_err();
    assert_eq!(error.name(), "AwsRequestFailed");
    assert!(
        error.to_string().contains("AccessDeniedException"),
        "{error}"
    );
}

#[tokio::test]
async fn the_handler_rejects_bad_input_before_calling_aws() {
    let list = list_rule(3);
    let deps = make_deps(&[&list], &[]);
    let event = LambdaEvent::new(
        serde_json::json!({"cluster_name": "c"}),
        lambda_runtime::Context::default(),
    );
    let error = handler(&deps, event).await.unwrap_err();
    assert_eq!(error.name(), "Misconfigured");
    assert!(error.to_string().contains("service_name"));
    assert_eq!(list.num_calls(), 0);
}
