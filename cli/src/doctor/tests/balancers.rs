//! The services' load balancers.

use super::*;

const TG_SUBJECT: &str = "web / target group web-tg";
const CLB_SUBJECT: &str = "web / Classic ELB web-clb";

/// The checks called `name`, whatever their subject.
fn all_named<'a>(report: &'a Report, name: &str) -> Vec<&'a Check> {
    report.checks.iter().filter(|c| c.name == name).collect()
}

#[tokio::test]
async fn an_nlb_whose_delay_ends_before_it_stops_routing_warns() {
    // ECS stops the old task after the delay; the NLB may route to it for 300 s (the
    // definition's nlb_deregistration_seconds).
    let mut f = Fixture::default();
    f.target_groups[0].protocol = "TCP".to_string();
    f.target_groups[0].delay = 60;
    let report = run(&f).await;
    let routing = check(&report, "nlb-deregistration-delay", Some(TG_SUBJECT));
    assert_eq!(routing.status, Status::Warn, "{routing:#?}");
    assert!(
        routing.detail.contains("60 s, shorter than the 300 s"),
        "{routing:#?}"
    );
    assert!(routing
        .fix
        .as_deref()
        .unwrap()
        .contains("deregistration_delay.timeout_seconds,Value=300"));
    // QUIC target groups are a Network Load Balancer's too.
    f.target_groups[0].protocol = "TCP_QUIC".to_string();
    let report = run(&f).await;
    let routing = check(&report, "nlb-deregistration-delay", Some(TG_SUBJECT));
    assert_eq!(routing.status, Status::Warn, "{routing:#?}");
    f.target_groups[0].delay = 300;
    let report = run(&f).await;
    let routing = check(&report, "nlb-deregistration-delay", Some(TG_SUBJECT));
    assert_eq!(routing.status, Status::Pass, "{routing:#?}");
    // an ALB target group has no such check
    f.target_groups[0].protocol = "HTTP".to_string();
    let report = run(&f).await;
    assert!(!report
        .checks
        .iter()
        .any(|c| c.name == "nlb-deregistration-delay"));
}

#[tokio::test]
async fn an_nlb_without_connection_termination_warns() {
    let mut f = Fixture::default();
    f.target_groups[0].protocol = "TCP".to_string();
    let report = run(&f).await;
    let nlb = check(&report, "nlb-connection-termination", Some(TG_SUBJECT));
    assert_eq!(nlb.status, Status::Warn, "{nlb:#?}");
    assert!(nlb
        .detail
        .contains("connections outlive the deregistration delay"));
    assert!(nlb
        .fix
        .as_deref()
        .unwrap()
        .contains("connection_termination.enabled,Value=true"));
    f.target_groups[0].termination = Some(true);
    assert_eq!(
        check(
            &run(&f).await,
            "nlb-connection-termination",
            Some(TG_SUBJECT)
        )
        .status,
        Status::Pass
    );
}

#[tokio::test]
async fn draining_longer_than_the_deadline_fails_and_over_half_warns() {
    let mut f = Fixture::default();
    f.target_groups[0].delay = 2900; // 150 s + 2900 s + the containers' stop 30 s >= 3000 s
    let report = run(&f).await;
    let draining = check(&report, "lb-draining", Some(TG_SUBJECT));
    assert_eq!(draining.status, Status::Fail, "{draining:#?}");
    assert!(
        draining.detail.contains("3080 s") && draining.detail.contains("up to 30 s"),
        "{draining:#?}"
    );
    f.target_groups[0].delay = 1400;
    assert_eq!(
        check(&run(&f).await, "lb-draining", Some(TG_SUBJECT)).status,
        Status::Warn
    );
    // the containers' stop counts: 150 s + 2800 s + 30 s only warns, with a 120 s stopTimeout it fails
    f.target_groups[0].delay = 2800;
    f.services[0].stop_timeout = Some(120);
    let draining = check(&run(&f).await, "lb-draining", Some(TG_SUBJECT)).clone();
    assert_eq!(draining.status, Status::Fail, "{draining:#?}");
    assert!(draining.detail.contains("up to 120 s"), "{draining:#?}");
}

#[tokio::test]
async fn a_slow_health_check_warns() {
    let mut f = Fixture::default();
    f.target_groups[0].threshold = 10;
    f.target_groups[0].interval = 60;
    let report = run(&f).await;
    let health = check(&report, "lb-replacement-health", Some(TG_SUBJECT));
    assert_eq!(health.status, Status::Warn, "{health:#?}");
    assert!(health.detail.contains("10 x 60 s = 600 s"));
}

#[tokio::test]
async fn classic_connection_draining_off_warns() {
    let mut f = Fixture::default();
    f.classic[0].draining = None;
    let draining = check(&run(&f).await, "lb-draining", Some(CLB_SUBJECT)).clone();
    assert_eq!(draining.status, Status::Warn, "{draining:#?}");
    assert!(draining.detail.contains("connection draining is off"));
}

#[tokio::test]
async fn a_missing_target_group_fails() {
    let mut f = Fixture::default();
    f.target_groups.clear();
    let report = run(&f).await;
    let missing = check(&report, "load-balancer", None);
    assert_eq!(missing.status, Status::Fail, "{missing:#?}");
    assert!(missing.detail.contains("does not exist"));
    f.errors
        .insert("DescribeLoadBalancerAttributes", "Throttling");
    let report = run(&f).await;
    let failed = all_named(&report, "load-balancer");
    assert!(
        failed.iter().any(|c| c
            .detail
            .contains("DescribeLoadBalancerAttributes: Throttling")),
        "{failed:#?}"
    );
}

#[tokio::test]
async fn a_target_group_no_load_balancer_uses_fails() {
    let mut f = Fixture::default();
    f.target_groups[0].in_use = false;
    let report = run(&f).await;
    let unused = check(&report, "load-balancer", Some(TG_SUBJECT));
    assert_eq!(unused.status, Status::Fail, "{unused:#?}");
    assert!(unused.detail.contains("Target.NotInUse"), "{unused:#?}");
    assert!(unused
        .fix
        .as_deref()
        .unwrap()
        .contains("forward a listener"));
    // nothing else is said of it: its draining and health checks do not matter while unused
    assert!(!report
        .checks
        .iter()
        .any(|c| c.name.starts_with("lb-") && c.subject.as_deref() == Some(TG_SUBJECT)));
}

#[tokio::test]
async fn a_zone_the_group_launches_in_that_a_load_balancer_does_not_enable_fails() {
    let mut f = Fixture::default();
    // both enable the group's only zone
    let report = run(&f).await;
    for subject in [TG_SUBJECT, CLB_SUBJECT] {
        let enabled = ["us-west-2a, us-west-2b"];
        assert_check_of(&report, "lb-zones", Some(subject), Status::Pass, &enabled);
    }
    // the group spreads to us-west-2c, which neither enables
    f.zones = zones(&["us-west-2a", "us-west-2c"]);
    let report = run(&f).await;
    let said = [
        "not us-west-2c (group test-cluster-asg): instances there get no traffic",
        "aws elbv2 set-subnets",
    ];
    assert_check_of(&report, "lb-zones", Some(TG_SUBJECT), Status::Fail, &said);
    let said = ["attach-load-balancer-to-subnets"];
    assert_check_of(&report, "lb-zones", Some(CLB_SUBJECT), Status::Fail, &said);
    // the Classic ELB enables it: only the target group's load balancer fails
    f.classic[0].zones.push("us-west-2c".to_string());
    let report = run(&f).await;
    assert_check_of(&report, "lb-zones", Some(CLB_SUBJECT), Status::Pass, &[]);
    assert_check_of(&report, "lb-zones", Some(TG_SUBJECT), Status::Fail, &[]);
}

#[tokio::test]
async fn a_load_balancer_whose_zones_cannot_be_read_is_unreadable() {
    let mut f = Fixture::default();
    // (the Classic ELB's read, DescribeLoadBalancers too, fails with it)
    f.errors.insert("DescribeLoadBalancers", "Throttling");
    let report = run(&f).await;
    let failed = all_named(&report, "load-balancer");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(failed
        .iter()
        .all(|c| c.detail.contains("DescribeLoadBalancers: Throttling")));
    assert!(!report.checks.iter().any(|c| c.name == "lb-zones"));
}

#[tokio::test]
async fn an_nlb_replacement_waits_for_its_registration_too() {
    let passes = |report: &Report, name: &str, said: &[&str]| {
        assert_check_of(report, name, Some(TG_SUBJECT), Status::Pass, said)
    };
    let mut f = Fixture::default();
    f.target_groups[0].protocol = "TCP".to_string();
    f.target_groups[0].termination = Some(true);
    let report = run(&f).await;
    // 300 s of registration + 5 x 30 s of checks + 300 s of delay + the containers' 30 s
    let said = ["about 780 s here (replacement healthy 450 s, its NLB registration included"];
    passes(&report, "lb-draining", &said);
    // the registration, which no setting shortens, is said but not held against the checks
    let said = [
        "5 x 30 s = 150 s (after its registration, up to 300 s on a Network Load Balancer: 450 s in all)",
    ];
    passes(&report, "lb-replacement-health", &said);
    // an ALB's replacement has no registration to wait for
    f.target_groups[0].protocol = "HTTP".to_string();
    let report = run(&f).await;
    let said = ["about 480 s here (replacement healthy 150 s + draining"];
    passes(&report, "lb-draining", &said);
}
