//! Arbitrary and mutated scaler inputs never panic; rejections are `Misconfigured` and
//! name the key.

use proptest::prelude::*;
use serde_json::{json, Value};
use sta_shared::StepError;
use task_scaler::{ScalerInput, KNOWN_KEYS};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn check(input: &Value) {
    match ScalerInput::parse(input) {
        Ok(parsed) => {
            assert!(!parsed.cluster_name.is_empty() && !parsed.service_name.is_empty());
            assert!(parsed
                .max_task_count
                .is_none_or(|max| max >= parsed.min_task_count));
        }
        Err(StepError::Misconfigured { field, reason }) => {
            assert!(!field.is_empty() && !reason.is_empty());
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_inputs_never_panic(input in value()) {
        check(&input);
    }

    #[test]
    fn mutated_predecessor_inputs_are_accepted_or_name_the_key(
        key in prop::sample::select(KNOWN_KEYS.to_vec()),
        replacement in prop::option::of(value()),
    ) {
        let mut input = json!({"cluster_name": "test-cluster", "service_name": "web", "min_task_count": 2, "n_count": 1});
        match replacement {
            Some(new) => { input[key] = new; }
            None => { input.as_object_mut().unwrap().remove(key); }
        }
        if let Err(error) = ScalerInput::parse(&input) {
            prop_assert_eq!(error.name(), "Misconfigured");
            prop_assert!(error.to_string().contains(&format!("`{key}`")), "{}", error);
        }
        check(&input);
    }
}
