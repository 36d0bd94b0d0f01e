//! Hostile and malformed input at our boundary: arbitrary JSON and mutated real events
//! never panic, and every rejection has a stable name and names a field.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sta_shared::config::DrainConfig;
use sta_shared::event::DrainInput;
use sta_shared::state::DrainState;
use sta_shared::StepError;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("i-1234567890abcdef0")),
        Just(json!("autoscaling:EC2_INSTANCE_TERMINATING")),
        Just(json!("EC2 Instance-terminate Lifecycle Action")),
        Just(json!("{\"cluster\":\"test-cluster\"}")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    ".{0,12}",
                    Just("detail".to_string()),
                    Just("source".to_string()),
                    Just("detail-type".to_string()),
                    Just("EC2InstanceId".to_string()),
                    Just("LifecycleActionToken".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn settings() -> Value {
    json!({"drain_deadline_seconds": "3600", "deadline_result": "CONTINUE",
           "standalone_tasks": "wait", "standalone_task_grace_seconds": "300"})
}

/// Every path of a JSON value (`detail.EC2InstanceId`, ...) with the value there.
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push(path.clone());
            paths(child, &path, out);
        }
    }
}

fn set_path(value: &mut Value, path: &str, replacement: Option<Value>) {
    let mut keys: Vec<&str> = path.split('.').collect();
    let last = keys.pop().unwrap();
    let mut node = value;
    for key in keys {
        node = node.get_mut(key).unwrap();
    }
    let map = node.as_object_mut().unwrap();
    match replacement {
        Some(new) => {
            map.insert(last.to_string(), new);
        }
        None => {
            map.remove(last);
        }
    }
}

fn assert_named(error: &StepError) {
    let (StepError::InvalidEvent { field, .. } | StepError::Misconfigured { field, .. }) = error
    else {
        panic!("unexpected error kind: {error:?}");
    };
    assert!(!field.is_empty(), "{error}");
    assert!(error.to_string().contains(&format!("`{field}`")), "{error}");
}

const FIXTURES: [&str; 6] = [
    "lifecycle-terminate.json",
    "spot-interruption.json",
    "sqs-test-notification.json",
    "aws-doc-lifecycle-terminate.json",
    "aws-doc-lifecycle-terminate-warm-pool.json",
    "aws-doc-spot-interruption.json",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_events_never_panic_and_rejections_name_a_field(event in arbitrary_json()) {
        let config = DrainConfig { cluster: Some("test-cluster".into()), ..DrainConfig::default() };
        let input = json!({"event": event, "settings": settings()});
        if let Err(error) = DrainInput::parse(&input, &config) {
            assert_named(&error);
        }
    }

    #[test]
    fn arbitrary_step_inputs_never_panic(input in arbitrary_json()) {
        if let Err(error) = DrainInput::parse(&input, &DrainConfig::default()) {
            assert_named(&error);
        }
        if let Err(error) = DrainState::from_value(input) {
            assert_named(&error);
        }
    }

    #[test]
    fn mutated_real_events_are_accepted_or_refused_naming_the_field(
        fixture_index in 0..FIXTURES.len(),
        which in any::<prop::sample::Index>(),
        replacement in prop::option::of(arbitrary_json()),
    ) {
        let mut event = fixture(FIXTURES[fixture_index]);
        let mut all = Vec::new();
        paths(&event, "", &mut all);
        let path = which.get(&all).clone();
        set_path(&mut event, &path, replacement);
        let config = DrainConfig { cluster: Some("test-cluster".into()), ..DrainConfig::default() };
        let input = json!({"event": event, "execution_start_time": "2026-11-27T00:00:01Z", "settings": settings()});
        match DrainInput::parse(&input, &config) {
            Ok(parsed) => {
                prop_assert!(parsed.request.instance_id.starts_with("i-"));
                prop_assert_eq!(parsed.request.cluster, "test-cluster");
            }
            Err(error) => assert_named(&error),
        }
    }

    #[test]
    fn mutated_drain_states_never_panic(
        which in any::<prop::sample::Index>(),
        replacement in prop::option::of(arbitrary_json()),
    ) {
        let mut state = serde_json::to_value(sta_shared::testing::drain_state()).unwrap();
        let mut all = Vec::new();
        paths(&state, "", &mut all);
        let path = which.get(&all).clone();
        set_path(&mut state, &path, replacement);
        if let Err(error) = DrainState::from_value(state) {
            assert_named(&error);
        }
    }
}

/// AWS's documented example events, verbatim, are genuine events: accepted unchanged
/// (with the configured cluster), whatever placeholders they carry.
#[test]
fn every_real_event_fixture_is_accepted() {
    let config = DrainConfig {
        cluster: Some("test-cluster".into()),
        ..DrainConfig::default()
    };
    for name in FIXTURES.iter().filter(|name| !name.starts_with("sqs-")) {
        let input = json!({"event": fixture(name), "execution_start_time": "2026-11-27T00:00:01Z", "settings": settings()});
        let parsed = DrainInput::parse(&input, &config)
            .unwrap_or_else(|error| panic!("{name} is refused: {error}"));
        assert_eq!(parsed.request.instance_id, "i-1234567890abcdef0", "{name}");
        assert_eq!(parsed.request.cluster, "test-cluster", "{name}");
    }
}
