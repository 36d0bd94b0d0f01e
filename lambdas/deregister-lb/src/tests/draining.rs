use super::*;

#[tokio::test]
async fn a_repeated_run_still_waits_for_draining_registrations() {
    let mut rules = full();
    // The first run already deregistered the instance from the Classic ELB: no longer
    // listed, still InService while connection draining runs.
    rules.elb[3] = classic_listing(false);
    let state = run(&rules, outside_the_cluster()).await.unwrap();
    let balancers = state.load_balancers.unwrap();
    assert_eq!(
        balancers.classic.len(),
        1,
        "still draining, still waited for"
    );
    assert_eq!(rules.elb[1].num_calls(), 0, "not deregistered twice");
    // The draining target on port 80 is recorded too.
    assert_eq!(balancers.target_groups[1].ports, [80]);

    // Deregistered between our look and our call: success.
    let mut rules = full();
    rules.elb[1] =
        mock!(aws_sdk_elasticloadbalancing::Client::deregister_instances_from_load_balancer)
            .then_http_response(|| {
                query_error(
                    400,
                    "InvalidInstance",
                    "The requested instance is not registered",
                )
            });
    let state = run(&rules, drain_state()).await.unwrap();
    assert_eq!(state.load_balancers.unwrap().classic.len(), 1);
}

#[tokio::test]
async fn an_unhealthy_registered_instance_is_deregistered_and_its_requests_waited_out() {
    // OutOfService but still listed: failing its health checks. It is deregistered; the
    // load balancer still completes its in-flight requests, unseen, so the drain waits out
    // the draining timeout.
    let mut rules = full();
    rules.elb[0] = instance_health("OutOfService");
    let state = run(&rules, drain_state()).await.unwrap();
    assert_eq!(rules.elb[1].num_calls(), 1);
    let classic = &state.load_balancers.unwrap().classic;
    assert_eq!(classic.len(), 1);
    assert_eq!(classic[0].draining_seconds, 30);
    assert!(classic[0].unhealthy);
}

#[tokio::test]
async fn an_instance_whose_state_is_unknown_is_deregistered_as_if_unhealthy() {
    // Unknown ("A transient error occurred"): it may be serving, or failing its health
    // checks with requests in flight that no API shows. The drain waits out the timeout.
    for listed in [true, false] {
        let mut rules = full();
        rules.elb[0] = instance_health("Unknown");
        rules.elb[3] = classic_listing(listed);
        let state = run(&rules, drain_state()).await.unwrap();
        assert_eq!(rules.elb[1].num_calls(), usize::from(listed));
        let classic = &state.load_balancers.unwrap().classic;
        assert_eq!(classic.len(), 1, "never taken for drained");
        assert!(classic[0].unhealthy);
        assert_eq!(state.remaining.classic_elbs, ["web-elb"]);
    }
}

#[tokio::test]
async fn disabled_connection_draining_means_no_wait_for_that_elb() {
    let mut rules = full();
    rules.elb[2] = classic_attributes(false, 300);
    let state = run(&rules, drain_state()).await.unwrap();
    assert_eq!(state.load_balancers.unwrap().classic[0].draining_seconds, 0);
}

#[tokio::test]
async fn a_network_load_balancer_target_group_is_waited_for_until_it_stops_routing() {
    let mut rules = full();
    rules.elbv2[2] = nlb_attributes("5", "true");
    let mut state = drain_state();
    state.settings.nlb_deregistration_seconds = 120;
    let before = chrono::Utc::now();
    let state = run(&rules, state).await.unwrap();
    let after = chrono::Utc::now();
    let groups = state.load_balancers.unwrap().target_groups;
    assert!(!groups.is_empty());
    for group in groups {
        assert!(
            group.network && !group.connections_outlive_delay,
            "{group:?}"
        );
        // from the deregistration done, by the real clock
        let until = group.routes_until.unwrap();
        let routing = chrono::Duration::seconds(120);
        assert!(
            until >= before + routing && until <= after + routing,
            "{until}"
        );
    }
}
