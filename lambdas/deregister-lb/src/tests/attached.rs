//! The group's attached load balancers are read once a minute at most per execution
//! environment (`Deps`): a fleet's drains of one group share one answer.

use super::*;
use crate::attached::FRESH_FOR_SECONDS;
use sta_shared::state::Trigger;

/// Two drains of the same group, `later` seconds apart, with one `Deps`.
async fn two_drains(rules: &MockRules, later: i64) -> (DrainState, DrainState) {
    let deps = deps(rules, DrainConfig::default());
    let first = deregister(&deps, drain_state(), at(2)).await.unwrap();
    let second = deregister(&deps, drain_state(), at(2 + later))
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
