use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sta_shared::read::{count, optional_count, optional_text, read_config, text};
use sta_shared::StepError;

/// The scaler's constant input, as the schedule sends it. The predecessor's keys
/// (`cluster_name`, `service_name`, `min_task_count`, `n_count`) keep their meaning;
/// `max_task_count`, `dry_run` and `asg_name` are optional. The counts may also come as
/// decimal strings; names are trimmed, and a blank `asg_name` is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalerInput {
    #[serde(deserialize_with = "text")]
    pub cluster_name: String,
    #[serde(deserialize_with = "text")]
    pub service_name: String,
    #[serde(deserialize_with = "count")]
    pub min_task_count: u64,
    #[serde(deserialize_with = "count")]
    pub n_count: u64,
    #[serde(default, deserialize_with = "optional_count")]
    pub max_task_count: Option<u64>,
    #[serde(default, deserialize_with = "false_when_null")]
    pub dry_run: bool,
    #[serde(default, deserialize_with = "optional_text")]
    pub asg_name: Option<String>,
}

/// Keys the scaler reads; others are ignored (and logged).
pub const KNOWN_KEYS: [&str; 7] = [
    "cluster_name",
    "service_name",
    "min_task_count",
    "n_count",
    "max_task_count",
    "dry_run",
    "asg_name",
];

/// A boolean; null, like absent, is false.
fn false_when_null<'de, D: Deserializer<'de>>(input: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(input)?.unwrap_or(false))
}

impl ScalerInput {
    /// Validates the input; every rejection is `Misconfigured` and names the key.
    pub fn parse(value: &Value) -> Result<Self, StepError> {
        let input: Self = read_config(value, "scaler input", "")?;
        for key in value
            .as_object()
            .into_iter()
            .flat_map(|object| object.keys())
            .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
        {
            tracing::warn!(key = %key, "ignoring unknown key in the scaler input");
        }
        input.validate()?;
        Ok(input)
    }

    /// Checks the relations between the counts (also for inputs built in code).
    pub fn validate(&self) -> Result<(), StepError> {
        if self.cluster_name.trim().is_empty() {
            return Err(StepError::misconfigured("cluster_name", "is missing"));
        }
        if self.service_name.trim().is_empty() {
            return Err(StepError::misconfigured("service_name", "is missing"));
        }
        if let Some(max) = self.max_task_count {
            if max < self.min_task_count {
                return Err(StepError::misconfigured(
                    "max_task_count",
                    format!("is {max}, below min_task_count {}", self.min_task_count),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_predecessor_input_unchanged() {
        let value: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/scaler-input.json"))
                .unwrap();
        let input = ScalerInput::parse(&value).unwrap();
        assert_eq!(
            input,
            ScalerInput {
                cluster_name: "test-cluster".into(),
                service_name: "web".into(),
                min_task_count: 2,
                n_count: 1,
                max_task_count: None,
                dry_run: false,
                asg_name: None,
            }
        );
    }

    #[test]
    fn accepts_the_optional_keys() {
        let input = ScalerInput::parse(&json!({
            "cluster_name": "c", "service_name": "s", "min_task_count": 0, "n_count": 2,
            "max_task_count": 10, "dry_run": true, "asg_name": "asg"
        }))
        .unwrap();
        assert_eq!(input.max_task_count, Some(10));
        assert!(input.dry_run);
        assert_eq!(input.asg_name.as_deref(), Some("asg"));
    }

    #[test]
    fn rejects_bad_input_naming_the_key() {
        let base =
            json!({"cluster_name": "c", "service_name": "s", "min_task_count": 2, "n_count": 1});
        let cases: [(&str, Value); 9] = [
            ("cluster_name", Value::Null),
            ("service_name", json!(3)),
            ("min_task_count", json!(-1)),
            ("min_task_count", json!("two")),
            ("n_count", Value::Null),
            ("n_count", json!(1.5)),
            ("max_task_count", json!(1)),
            ("dry_run", json!("yes")),
            ("asg_name", json!(["a"])),
        ];
        for (key, value) in cases {
            let mut input = base.clone();
            input[key] = value;
            let error = ScalerInput::parse(&input).unwrap_err();
            assert_eq!(error.name(), "Misconfigured", "{key}");
            assert!(
                error.to_string().contains(&format!("`{key}`")),
                "{key}: {error}"
            );
        }
        let error = ScalerInput::parse(&json!("cluster")).unwrap_err();
        assert!(error.to_string().contains("scaler input"));
    }
}
