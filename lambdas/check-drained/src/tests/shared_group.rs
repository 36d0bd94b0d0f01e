//! An orphan's registration in a target group the service shares: only the service's own
//! tasks keep its floor, and a group shared with a DAEMON waits for the service's replacement.

use super::replacement::{
    first_check, orphaned, service, shared_group_serving, taken_over, web, with_service_group,
};
use super::service_balancers::SERVICE_TG;
use super::*;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::SchedulingStrategy;

/// Another service's tasks on other instances (port 9100) and an instance registered by hand.
const STRANGERS: &[(&str, i32)] = &[("i-0other0", 9100), ("i-0other2", 9100), ("i-0hand", 8080)];

#[tokio::test]
async fn only_the_services_own_targets_count_in_a_shared_group() {
    // Desired 2 at 100 %: one task of its own elsewhere is not enough, however many strangers
    // serve in the group; two are.
    for (others, taken) in [(1, false), (2, true)] {
        let (world, state) = first_check(
            shared_group_serving(TargetHealthStateEnum::Healthy, others, STRANGERS),
            service(2, 100),
        )
        .await;
        assert_eq!(taken_over(&world, &state), taken, "{others} of its own");
    }
}

/// DescribeServices of the web service (desired 2, 100 %) or of the agent, a DAEMON.
fn web_and_agent() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(|req| {
        let service = match req.services() {
            [name] if name == "web" => web(2, Some(100), None),
            [name] if name == "agent" => {
                web(3, None, Some(SchedulingStrategy::Daemon)).service_name("agent")
            }
            other => panic!("read {other:?}"),
        };
        DescribeServicesOutput::builder()
            .services(service.status("ACTIVE").build())
            .build()
    })
}

#[tokio::test]
async fn a_group_shared_with_a_daemon_is_taken_over_only_once_the_service_is_replaced() {
    // The agent keeps no floor, but taking the group over ends the web task's registration
    // too: it waits with the web service's.
    let mut state = with_service_group();
    let balancers = state.load_balancers.as_mut().unwrap();
    balancers
        .service_managed
        .push(service_balancer("agent", SERVICE_TG, 20, 10));
    let agent = &[(INSTANCE_ID, 9100), ("i-0other0", 9100)];
    let world = orphaned(
        shared_group_serving(TargetHealthStateEnum::Healthy, 1, agent),
        web_and_agent(),
    );
    let state = check(&world.clients(), state, at(50)).await.unwrap();
    assert_eq!(
        world.elbv2.last().unwrap().num_calls(),
        0,
        "nothing deregistered"
    );
    assert_eq!(state.remaining.left_to_ecs, [SERVICE_TG]);
    assert!(state.remaining.target_groups.is_empty());
    let managed = &state.load_balancers.as_ref().unwrap().service_managed;
    assert_eq!(managed.len(), 2, "{managed:?}");

    let world = orphaned(
        shared_group_serving(TargetHealthStateEnum::Healthy, 2, agent),
        web_and_agent(),
    );
    let state = check(&world.clients(), state, at(60)).await.unwrap();
    assert!(state.remaining.left_to_ecs.is_empty());
    assert_eq!(
        state.remaining.target_groups,
        [SERVICE_TG],
        "taken over once"
    );
    let balancers = state.load_balancers.as_ref().unwrap();
    assert!(balancers.service_managed.is_empty());
    let taken: Vec<_> = balancers
        .target_groups
        .iter()
        .filter(|group| group.arn == SERVICE_TG)
        .map(|group| &group.ports[..])
        .collect();
    assert_eq!(taken, [&[8080, 9100][..]]);
}
