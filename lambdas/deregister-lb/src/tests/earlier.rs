//! A step after one that may have deregistered the instance, its output lost
//! ([`crate::earlier`]).

use super::*;

/// A world where the instance is in no load balancer any more: not registered in the
/// configured Classic ELB (30 s of connection draining), not in the configured Network Load
/// Balancer target group (no deregistration delay); the container instance carries `mark`.
fn deregistered_before(mark: Option<i64>) -> MockRules {
    let mut rules = full();
    rules.autoscaling = vec![asg_rule(&[], &[])];
    (rules.ecs[0], rules.ecs[1]) = services_rules(None);
    rules.ecs[2] = deregistration_mark(mark);
    rules.elb[0] = instance_health("OutOfService");
    rules.elb[3] = classic_listing(false);
    rules.elbv2[2] = nlb_attributes("0", "true");
    rules
}

/// The step at 2 s with the Classic ELB and the target group configured.
async fn configured_step(rules: &MockRules, input: DrainState) -> Result<DrainState, StepError> {
    let config = DrainConfig {
        classic_elb_names: vec!["legacy-elb".into()],
        target_group_arns: vec![TG_CONFIGURED.into()],
        ..DrainConfig::default()
    };
    deregister(&deps(rules, config), input, at(2)).await
}

async fn configured(rules: &MockRules, input: DrainState) -> DrainState {
    configured_step(rules, input).await.unwrap()
}

#[tokio::test]
async fn after_an_earlier_deregistration_what_no_api_shows_is_waited_out() {
    // Marked a second after the action began: a step of this action deregistered the
    // instance (killed after its calls, or another drain of the action).
    let rules = deregistered_before(Some(event_time().timestamp() + 1));
    let before = Utc::now();
    let state = configured(&rules, no_service_task()).await;
    let balancers = state.load_balancers.unwrap();
    // It may have been unhealthy: its unseen in-flight requests, for the draining timeout.
    assert_eq!(
        balancers.classic,
        [ClassicElb {
            name: "legacy-elb".into(),
            draining_seconds: 30,
            unhealthy: true,
            taken_over_at: None,
        }]
    );
    // The NLB may route new connections for the configured time from now.
    let [group] = &balancers.target_groups[..] else {
        panic!("{:?}", balancers.target_groups)
    };
    assert_eq!((group.arn.as_str(), group.network), (TG_CONFIGURED, true));
    assert!(group.ports.is_empty());
    let routing = seconds(state.settings.nlb_deregistration_seconds);
    assert!(group
        .routes_until
        .is_some_and(|until| until >= before + routing));
    assert_eq!(state.remaining.classic_elbs, ["legacy-elb"]);
    assert_eq!(state.remaining.target_groups, [TG_CONFIGURED]);
    assert_eq!(
        (rules.elb[1].num_calls(), rules.elbv2[1].num_calls()),
        (0, 0)
    );
    assert_eq!(rules.ecs[3].num_calls(), 1, "marked again");

    // No container instance to read a mark from: the same.
    let rules = deregistered_before(None);
    let state = configured(&rules, outside_the_cluster()).await;
    let balancers = state.load_balancers.unwrap();
    assert_eq!(balancers.classic.len(), 1);
    assert_eq!(balancers.target_groups.len(), 1);
    assert_eq!(rules.ecs[2].num_calls() + rules.ecs[3].num_calls(), 0);
}

#[tokio::test]
async fn without_a_mark_of_this_action_a_load_balancer_the_instance_is_not_in_is_no_concern() {
    // Unmarked, or marked before the action began (a warm-pool instance reused since).
    for mark in [None, Some(event_time().timestamp() - 600)] {
        let rules = deregistered_before(mark);
        let state = configured(&rules, no_service_task()).await;
        let balancers = state.load_balancers.unwrap();
        assert!(balancers.classic.is_empty(), "{mark:?}");
        assert!(balancers.target_groups.is_empty(), "{mark:?}");
        assert_eq!(rules.ecs[3].num_calls(), 1, "marked before deregistering");
    }
}

#[tokio::test]
async fn a_mark_that_cannot_be_read_or_written_is_retried_or_named() {
    let throttled = || json_error(400, "ThrottlingException");
    let mut rules = deregistered_before(None);
    rules.ecs[2] =
        mock!(aws_sdk_ecs::Client::describe_container_instances).then_http_response(throttled);
    let error = configured_step(&rules, no_service_task())
        .await
        .unwrap_err();
    assert_step_error(&error, "Retryable", "DescribeContainerInstances");

    for (code, outcome) in [
        ("ThrottlingException", Some("Retryable")),
        ("AccessDeniedException", Some("AwsRequestFailed")),
        // A container instance gone, or one at ECS's limit of custom attributes: the drain
        // goes on (the latter logged).
        ("TargetNotFoundException", None),
        ("AttributeLimitExceededException", None),
    ] {
        let mut rules = deregistered_before(None);
        rules.ecs[3] = mock!(aws_sdk_ecs::Client::put_attributes)
            .then_http_response(move || json_error(400, code));
        let result = configured_step(&rules, no_service_task()).await;
        match outcome {
            Some(name) => assert_step_error(&result.unwrap_err(), name, "PutAttributes"),
            None => assert!(result.is_ok(), "{code}: {result:?}"),
        }
    }
}
