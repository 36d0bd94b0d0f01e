//! The group's attached load balancers are read once a minute at most per execution
//! environment (`Deps`): a fleet's drains of one group share one answer.

use super::*;
use crate::attached::FRESH_FOR_SECONDS;
use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;
use sta_shared::state::Trigger;

/// A drain whose first step heartbeated just before `second`, as this step follows it.
fn just_heartbeated(second: i64) -> DrainState {
    let mut state = drain_state();
    state.heartbeat.last_at = Some(at(second - 1));
    state
}

/// Two drains of the same group, `later` seconds apart, with one `Deps`.
async fn two_drains(rules: &MockRules, later: i64) -> (DrainState, DrainState) {
    let deps = deps(rules, DrainConfig::default());
    let first = deregister(&deps, drain_state(), at(2)).await.unwrap();
    let second = deregister(&deps, just_heartbeated(2 + later), at(2 + later))
        .await
        .unwrap();
    (first, second)
}

#[tokio::test]
async fn drains_of_one_group_within_a_minute_read_it_once() {
    let rules = full();
    let (first, second) = two_drains(&rules, FRESH_FOR_SECONDS - 1).await;
    assert_eq!(rules.autoscaling[0].num_calls(), 1);
    // The second drain still deregisters from the attached Classic ELB and target group.
    for state in [first, second] {
        let balancers = state.load_balancers.unwrap();
        assert_eq!(balancers.classic[0].name, "web-elb");
        assert_eq!(balancers.target_groups[0].arn, TG_ASG);
    }
}

#[tokio::test]
async fn a_minute_later_the_group_is_read_again() {
    let rules = full();
    two_drains(&rules, FRESH_FOR_SECONDS).await;
    assert_eq!(rules.autoscaling[0].num_calls(), 2);
}

#[tokio::test]
async fn a_clock_that_went_back_reads_the_group_again() {
    let rules = full();
    two_drains(&rules, -1).await;
    assert_eq!(rules.autoscaling[0].num_calls(), 2);
}

#[tokio::test]
async fn a_missing_group_or_a_failed_read_is_not_remembered() {
    let missing = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());
    let mut rules = full();
    rules.autoscaling = vec![missing];
    two_drains(&rules, 1).await;
    assert_eq!(rules.autoscaling[0].num_calls(), 2);

    let throttled = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let mut rules = full();
    rules.autoscaling = vec![throttled];
    let deps = deps(&rules, DrainConfig::default());
    for second in [2, 3] {
        let error = deregister(&deps, drain_state(), at(second))
            .await
            .unwrap_err();
        assert_step_error(&error, "Retryable", "DescribeAutoScalingGroups");
    }
    assert_eq!(rules.autoscaling[0].num_calls(), 2);
}

#[tokio::test]
async fn each_group_has_its_own_answer() {
    let any_group = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_compute_output(|req| {
            let name = &req.auto_scaling_group_names()[0];
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name(name)
                        .load_balancer_names("web-elb")
                        .build(),
                )
                .build()
        });
    let mut rules = full();
    rules.autoscaling = vec![any_group];
    let deps = deps(&rules, DrainConfig::default());
    let mut other = drain_state();
    if let Trigger::LifecycleAction(action) = &mut other.request.trigger {
        action.asg_name = "other-asg".into();
    }
    for (state, second) in [(drain_state(), 2), (other, 3), (drain_state(), 4)] {
        deregister(&deps, state, at(second)).await.unwrap();
    }
    assert_eq!(rules.autoscaling[0].num_calls(), 2);
}

/// A drain started by a Spot interruption warning for the test instance.
pub(super) fn spot_state() -> DrainState {
    let mut state = drain_state();
    state.request.trigger = Trigger::SpotInterruption;
    state
}

/// DescribeAutoScalingInstances answering that the test instance is in `group` (or in none).
pub(super) fn instance_group(group: Option<&'static str>) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances).then_compute_output(
        move |req| {
            assert_eq!(req.instance_ids(), [INSTANCE_ID]);
            DescribeAutoScalingInstancesOutput::builder()
                .set_auto_scaling_instances(group.map(|group| {
                    vec![AutoScalingInstanceDetails::builder()
                        .instance_id(INSTANCE_ID)
                        .auto_scaling_group_name(group)
                        .build()]
                }))
                .build()
        },
    )
}

#[tokio::test]
async fn a_spot_warning_deregisters_from_the_instance_groups_load_balancers() {
    // Auto Scaling takes the instance out of them on a scale-in, never on a Spot warning.
    let mut rules = full();
    rules.autoscaling.push(instance_group(Some(ASG)));
    let balancers = run(&rules, spot_state())
        .await
        .unwrap()
        .load_balancers
        .unwrap();
    assert_eq!(rules.autoscaling[1].num_calls(), 1);
    assert_eq!(rules.autoscaling[0].num_calls(), 1);
    assert_eq!(balancers.classic[0].name, "web-elb");
    assert_eq!(balancers.target_groups[0].arn, TG_ASG);
    assert_eq!(
        rules.elbv2[1].num_calls(),
        1,
        "deregistered from the group's target group"
    );
}

#[tokio::test]
async fn a_spot_instance_in_no_group_has_no_attached_load_balancers() {
    let mut rules = full();
    rules.autoscaling.push(instance_group(None));
    let balancers = run(&rules, spot_state())
        .await
        .unwrap()
        .load_balancers
        .unwrap();
    assert_eq!(rules.autoscaling[0].num_calls(), 0, "no group to read");
    assert!(balancers.classic.is_empty() && balancers.target_groups.is_empty());

    let mut rules = full();
    rules.autoscaling.push(
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
            .then_http_response(|| query_error(400, "Throttling", "Rate exceeded")),
    );
    let error = run(&rules, spot_state()).await.unwrap_err();
    assert_step_error(&error, "Retryable", "DescribeAutoScalingInstances");
}

#[tokio::test]
async fn an_nlb_target_group_auto_scaling_deregistered_is_waited_for_until_it_stops_routing() {
    // On a scale-in Auto Scaling took the instance out of TG_ASG before Terminating:Wait, at
    // a moment no API tells: its NLB may route to it until 300 s after the wait began (and a
    // second more: the event's time has whole seconds).
    let mut rules = full();
    rules.elbv2[0] = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_compute_output(|req| {
            let others = if req.target_group_arn() == Some(TG_ASG) {
                vec![description(
                    OTHER_INSTANCE,
                    32768,
                    TargetHealthStateEnum::Healthy,
                )]
            } else {
                vec![description(
                    INSTANCE_ID,
                    80,
                    TargetHealthStateEnum::Draining,
                )]
            };
            DescribeTargetHealthOutput::builder()
                .set_target_health_descriptions(Some(others))
                .build()
        });
    rules.elbv2[2] = nlb_attributes("5", "true");
    let state = run(&rules, drain_state()).await.unwrap();
    let groups = state.load_balancers.as_ref().unwrap().target_groups.clone();
    let asg = groups.iter().find(|group| group.arn == TG_ASG).unwrap();
    assert!(asg.ports.is_empty() && asg.network, "{asg:?}");
    assert_eq!(asg.routes_until, Some(at(301)));
    assert_eq!(rules.elbv2[1].num_calls(), 0, "nothing deregistered there");
    assert!(state.remaining.target_groups.contains(&TG_ASG.to_string()));

    // An ALB's target group Auto Scaling deregistered is nothing more to wait for.
    rules.elbv2[2] = target_group_attributes();
    let state = run(&rules, drain_state()).await.unwrap();
    let groups = &state.load_balancers.unwrap().target_groups;
    assert!(groups.iter().all(|group| group.arn != TG_ASG), "{groups:?}");
}
