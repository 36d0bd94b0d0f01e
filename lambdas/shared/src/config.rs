//! Function configuration, read once from the environment at cold start. A malformed
//! variable fails the cold start with an error that names it.

use crate::StepError;

/// Where variables come from: the process environment in production, a map in tests.
pub trait Source {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for [(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_string())
    }
}

/// An optional, non-empty string. Set but blank counts as unset.
pub fn optional_string(source: &(impl Source + ?Sized), name: &str) -> Option<String> {
    source
        .var(name)
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// A comma-separated list; unset or blank is the empty list. Each item must be
/// non-empty and free of whitespace (names and ARNs never contain any).
pub fn list(source: &(impl Source + ?Sized), name: &str) -> Result<Vec<String>, StepError> {
    let Some(value) = optional_string(source, name) else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    for (index, item) in value.split(',').map(str::trim).enumerate() {
        if item.is_empty() {
            return Err(StepError::misconfigured(
                name,
                format!("has an empty item at position {}", index + 1),
            ));
        }
        if item.contains(char::is_whitespace) {
            return Err(StepError::misconfigured(
                name,
                format!("item `{item}` contains whitespace"),
            ));
        }
        if !items.iter().any(|known| known == item) {
            items.push(item.to_string());
        }
    }
    Ok(items)
}

/// The configuration the drain-path Lambdas share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainConfig {
    /// `ECS_CLUSTER`: the cluster this deployment manages. Used when the hook's
    /// notification metadata names none; events naming another cluster are refused.
    pub cluster: Option<String>,
    /// `MANAGED_ASG_NAMES`: when set, lifecycle events of other groups are refused.
    pub managed_asg_names: Vec<String>,
    /// `CLASSIC_ELB_NAMES`: Classic load balancers to deregister from besides those
    /// found on the Auto Scaling group and the cluster's services.
    pub classic_elb_names: Vec<String>,
    /// `TARGET_GROUP_ARNS`: target groups to deregister from besides those found.
    pub target_group_arns: Vec<String>,
}

impl DrainConfig {
    pub fn from_source(source: &(impl Source + ?Sized)) -> Result<Self, StepError> {
        let target_group_arns = list(source, "TARGET_GROUP_ARNS")?;
        if let Some(bad) = target_group_arns
            .iter()
            .find(|arn| !arn.starts_with("arn:") || !arn.contains(":targetgroup/"))
        {
            return Err(StepError::misconfigured(
                "TARGET_GROUP_ARNS",
                format!("item `{bad}` is not a target group ARN"),
            ));
        }
        Ok(Self {
            cluster: optional_string(source, "ECS_CLUSTER"),
            managed_asg_names: list(source, "MANAGED_ASG_NAMES")?,
            classic_elb_names: list(source, "CLASSIC_ELB_NAMES")?,
            target_group_arns,
        })
    }

    pub fn from_env() -> Result<Self, StepError> {
        Self::from_source(&ProcessEnv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_step_error;

    #[test]
    fn reads_lists_and_ignores_blank_values() {
        let env: &[(&str, &str)] = &[
            ("ECS_CLUSTER", " prod "),
            ("MANAGED_ASG_NAMES", "a,b, a"),
            ("CLASSIC_ELB_NAMES", ""),
        ];
        let config = DrainConfig::from_source(env).unwrap();
        assert_eq!(config.cluster.as_deref(), Some("prod"));
        assert_eq!(config.managed_asg_names, ["a", "b"]);
        assert!(config.classic_elb_names.is_empty());
        assert!(config.target_group_arns.is_empty());
    }

    #[test]
    fn names_the_bad_variable() {
        let env: &[(&str, &str)] = &[("CLASSIC_ELB_NAMES", "a,,b")];
        let error = DrainConfig::from_source(env).unwrap_err();
        assert_step_error(&error, "Misconfigured", "CLASSIC_ELB_NAMES");

        let env: &[(&str, &str)] = &[("TARGET_GROUP_ARNS", "web-tg")];
        let error = DrainConfig::from_source(env).unwrap_err();
        assert!(error.to_string().contains("TARGET_GROUP_ARNS"));
        assert!(error.to_string().contains("web-tg"));
    }
}
