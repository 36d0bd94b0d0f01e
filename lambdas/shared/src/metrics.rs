//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per record,
//! which CloudWatch Logs turns into metrics (no API call, no extra permission).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "EcsSingleTaskAutoscaling";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Count,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "Seconds",
            Self::Count => "Count",
        }
    }
}

/// One EMF record for `cluster`, with the given metrics.
pub fn record(cluster: &str, at: DateTime<Utc>, metrics: &[(&str, f64, Unit)]) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut object = Map::new();
    object.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Cluster"]],
                "Metrics": definitions,
            }],
        }),
    );
    object.insert("Cluster".into(), json!(cluster));
    for (name, value, _) in metrics {
        object.insert((*name).to_string(), json!(value));
    }
    Value::Object(object)
}

/// Writes the record to stdout, where the Lambda service picks it up.
pub fn emit(cluster: &str, at: DateTime<Utc>, metrics: &[(&str, f64, Unit)]) {
    println!("{}", record(cluster, at, metrics));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_the_embedded_metric_format() {
        let at: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let record = record(
            "prod",
            at,
            &[
                ("DrainDurationSeconds", 12.5, Unit::Seconds),
                ("HeartbeatsSent", 2.0, Unit::Count),
            ],
        );
        assert_eq!(record["_aws"]["Timestamp"], 1_767_225_600_000i64);
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Cluster"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "HeartbeatsSent", "Unit": "Count"})
        );
        assert_eq!(record["Cluster"], "prod");
        assert_eq!(record["DrainDurationSeconds"], 12.5);
    }
}
