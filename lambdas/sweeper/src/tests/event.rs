//! The event the sweeper starts a drain with: the typed lifecycle event, which the first
//! step and the sweeper's own reading of execution inputs take back unchanged.

use super::*;

fn waiting(destination: Destination, retained: bool) -> Waiting {
    Waiting {
        instance_id: WAITING.into(),
        asg: ASG.into(),
        action_started: Some(began()),
        destination,
        from_warm_pool: false,
        retained,
    }
}

/// The event of `waiting` as the sweep at `at(0)` writes it, as JSON.
fn written(waiting: &Waiting) -> Value {
    serde_json::to_value(sweeper_event(&config(), waiting, began(), at(0))).unwrap()
}

#[test]
fn the_event_carries_the_action_and_where_the_instance_goes() {
    let event = written(&waiting(Destination::WarmPool, false));
    assert_eq!(event["time"], "2026-11-26T23:50:00.250Z");
    assert_eq!(event["detail"]["Destination"], "WarmPool");
    assert_eq!(event["detail"]["Origin"], "AutoScalingGroup");
    assert_eq!(event["source"], SWEEPER_SOURCE);
    assert_eq!(event["detail-type"], LIFECYCLE_DETAIL_TYPE);
    assert_eq!(event["detail"].get("LifecycleActionToken"), None);
    assert_eq!(
        event["detail"]["NotificationMetadata"],
        json!({ "cluster": CLUSTER }).to_string()
    );
}

/// What the sweeper writes, the first step and the sweeper's own reading of execution
/// inputs take back unchanged.
#[test]
fn the_event_round_trips_through_the_parser() {
    for destination in [Destination::Ec2, Destination::WarmPool] {
        let waiting = waiting(destination, false);
        let event = sweeper_event(&config(), &waiting, began(), at(0));
        let text = serde_json::to_string(&event).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            sta_shared::event::Event::from_value(&value).unwrap(),
            sta_shared::event::Event::Lifecycle(event)
        );
        let parsed = DrainInput::parse(&step_input(value), &DrainConfig::default()).unwrap();
        assert_eq!(parsed.request.destination, destination);
        assert_eq!(parsed.request.event_time, began());
        assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
        let action = sta_shared::event::ActionRef::from_input(&text);
        assert_eq!(action.instance_id.as_deref(), Some(WAITING));
        assert_eq!(action.asg_name.as_deref(), Some(ASG));
        assert_eq!(action.token, None);
        assert_eq!(action.time, Some(began()));
    }
}

/// A retained instance's action has ended: the drain's clock starts at the sweep.
#[test]
fn a_retained_instances_event_is_timed_at_the_sweep() {
    let event = written(&waiting(Destination::Ec2, true));
    assert_eq!(event["time"], "2026-11-27T00:00:00Z");
    assert_eq!(event["detail"]["Destination"], "EC2");
}

/// A pool instance terminating (`Warmed:Terminating:Wait`) comes from the pool, to EC2.
#[test]
fn the_event_of_a_pool_instance_says_it_comes_from_the_pool() {
    let waiting = Waiting {
        from_warm_pool: true,
        ..waiting(Destination::Ec2, false)
    };
    let event = written(&waiting);
    assert_eq!(event["detail"]["Origin"], "WarmPool");
    assert_eq!(event["detail"]["Destination"], "EC2");
}
