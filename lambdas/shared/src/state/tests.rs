use super::*;
use crate::testing::assert_step_error;
use serde_json::json;

#[test]
fn a_mistyped_state_field_is_named() {
    let error =
        DrainState::from_value(json!({"request": {"kind": "lifecycle_action"}})).unwrap_err();
    assert_step_error(&error, "InvalidEvent", "request");
    let error = DrainState::from_value(json!("text")).unwrap_err();
    assert!(error.to_string().contains("drain state"), "{error}");
}

/// The fields the state machine and the local world read, where they read them.
#[test]
fn the_state_json_has_the_shape_the_state_machine_reads() {
    let state = crate::testing::drain_state();
    let value = serde_json::to_value(&state).unwrap();
    assert_eq!(value["status"], "draining");
    assert_eq!(value["wait_seconds"], 0);
    assert_eq!(value["request"]["trigger"]["kind"], "lifecycle_action");
    assert_eq!(value["request"]["trigger"]["hook_name"], "ecsTermination");
    assert!(value["report"]["notes"].is_array());
    for gone in ["drain_timed_out", "execution_id", "drained_at", "notes"] {
        assert_eq!(value.get(gone), None, "{gone}");
    }
    assert_eq!(DrainState::from_value(value).unwrap(), state);
    let spot = serde_json::to_value(Trigger::SpotInterruption).unwrap();
    assert_eq!(spot, json!({"kind": "spot_interruption"}));
}

#[test]
fn a_lifecycle_action_without_its_hook_is_named() {
    let mut value = serde_json::to_value(crate::testing::drain_state()).unwrap();
    value["request"]["trigger"]
        .as_object_mut()
        .unwrap()
        .remove("hook_name");
    let error = DrainState::from_value(value).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid input: `request.trigger.hook_name` is missing"
    );
}

#[test]
fn names_are_spelled_as_serde_spells_them() {
    use DrainStatus::*;
    for status in [Draining, Drained, DeadlinePassed, NotInCluster, ActionEnded] {
        assert_eq!(
            json!(status.as_str()),
            serde_json::to_value(status).unwrap()
        );
    }
    use CompletionOutcome::*;
    for outcome in [Completed, AlreadyCompleted, NotApplicable] {
        assert_eq!(
            json!(outcome.as_str()),
            serde_json::to_value(outcome).unwrap()
        );
    }
    let state = crate::testing::drain_state();
    let value = serde_json::to_value(&state.request.trigger).unwrap();
    assert_eq!(value["kind"], state.request.trigger.kind());
    let spot = serde_json::to_value(Trigger::SpotInterruption).unwrap();
    assert_eq!(spot["kind"], Trigger::SpotInterruption.kind());
}

#[test]
fn only_the_deadline_status_is_a_timeout() {
    let mut state = crate::testing::drain_state();
    assert!(!state.timed_out());
    state.status = DrainStatus::DeadlinePassed;
    assert!(state.timed_out());
}

#[test]
fn expected_drain_end_is_the_slowest_balancer() {
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let balancers = LoadBalancers {
        classic: vec![ClassicElb {
            name: "web".into(),
            draining_seconds: 30,
            unhealthy: false,
            taken_over_at: None,
        }],
        target_groups: vec![TargetGroup::new("arn:tg", vec![80], 120)],
        service_managed: vec![],
        deregistered_at: Some(start),
    };
    assert_eq!(balancers.expected_drained_at(), Some(start + seconds(120)));
    assert_eq!(LoadBalancers::default().expected_drained_at(), None);

    // One a check took over later drains from then.
    let mut later = balancers;
    later.classic[0].taken_over_at = Some(start + seconds(300));
    assert_eq!(later.expected_drained_at(), Some(start + seconds(330)));
}

#[test]
fn a_state_written_before_an_upgrade_reads_the_same() {
    // An execution running across an upgrade: its state lacks the fields the upgrade added.
    let mut state = crate::testing::drain_state();
    state.load_balancers = Some(LoadBalancers {
        classic: vec![ClassicElb {
            name: "web".into(),
            draining_seconds: 30,
            unhealthy: false,
            taken_over_at: None,
        }],
        target_groups: vec![TargetGroup::new("arn:tg", vec![80], 30)],
        service_managed: vec![crate::testing::service_balancer("web", "arn:tg2", 20, 10)],
        ..LoadBalancers::default()
    });
    let upgrades = [
        // Registrations left to ECS.
        &[
            "/remaining/left_to_ecs",
            "/load_balancers/classic/0/taken_over_at",
            "/load_balancers/service_managed/0/registered_without_task",
        ][..],
        // Network Load Balancers' routing time: the defaults are read.
        &[
            "/settings/nlb_deregistration_seconds",
            "/load_balancers/target_groups/0/network",
            "/load_balancers/target_groups/0/routes_until",
            "/load_balancers/service_managed/0/network",
        ],
    ];
    for missing in upgrades {
        let read = read_without(&state, missing);
        assert_eq!(read.settings.nlb_deregistration_seconds, 300, "{missing:?}");
        assert_eq!(read, state, "{missing:?}");
    }
}

/// `state` read back from the JSON an older version wrote: `state`'s without the fields at
/// `pointers` (JSON pointers).
fn read_without(state: &DrainState, pointers: &[&str]) -> DrainState {
    let mut value = serde_json::to_value(state).unwrap();
    for pointer in pointers {
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        value
            .pointer_mut(parent)
            .and_then(serde_json::Value::as_object_mut)
            .unwrap_or_else(|| panic!("{parent} is an object"))
            .remove(field);
    }
    DrainState::from_value(value).unwrap()
}
