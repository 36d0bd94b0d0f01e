use serde::Serialize;
use serde_json::Value;
use sta_shared::input::Fields;
use sta_shared::StepError;

/// The scaler's constant input, as the schedule sends it. The predecessor's keys
/// (`cluster_name`, `service_name`, `min_task_count`, `n_count`) keep their meaning;
/// `max_task_count`, `dry_run` and `asg_name` are optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalerInput {
    pub cluster_name: String,
    pub service_name: String,
    pub min_task_count: u64,
    pub n_count: u64,
    pub max_task_count: Option<u64>,
    pub dry_run: bool,
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

impl ScalerInput {
    /// Validates the input; every rejection is `Misconfigured` and names the key.
    pub fn parse(value: &Value) -> Result<Self, StepError> {
        let root = Fields::root(value, "scaler input")?;
        let input = Self {
            cluster_name: root.string("cluster_name")?,
            service_name: root.string("service_name")?,
            min_task_count: root.count("min_task_count")?,
            n_count: root.count("n_count")?,
            max_task_count: root.optional_count("max_task_count")?,
            dry_run: root.optional_bool("dry_run")?.unwrap_or(false),
            asg_name: root.optional_string("asg_name")?,
        };
        for key in root
            .keys()
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
