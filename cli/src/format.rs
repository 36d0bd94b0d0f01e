//! The plain-text rendering shared by the commands: times, durations and aligned tables.

use chrono::{DateTime, Utc};

/// An SDK timestamp as a chrono time.
pub fn time(value: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(value.secs(), value.subsec_nanos()).unwrap_or_default()
}

/// Seconds between two times, never negative.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

/// `850ms`, `12.4s`, `3m12s`, `2h03m`, `1d02h`.
pub fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    if seconds < 60.0 {
        let text = format!("{seconds:.1}");
        return format!("{}s", text.trim_end_matches(".0"));
    }
    let whole = seconds.round() as u64;
    let (days, hours, minutes, secs) = (
        whole / 86_400,
        whole % 86_400 / 3600,
        whole % 3600 / 60,
        whole % 60,
    );
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else {
        format!("{minutes}m{secs:02}s")
    }
}

/// `2026-11-27 00:00:05Z` (UTC, to the second).
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Renders rows under headers: columns two spaces apart ([`aligned`]). Empty cells show
/// `-`; a line break in a cell reads as a space.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |text: &str| -> String {
        if text.is_empty() {
            "-".to_string()
        } else {
            text.replace('\n', " ")
        }
    };
    let header = headers.iter().map(|text| text.to_string()).collect();
    aligned(
        std::iter::once(header).chain(
            rows.iter()
                .map(|row| row.iter().map(|text| cell(text)).collect()),
        ),
    )
}

/// Rows in columns two spaces apart, without borders (comfy-table), trailing spaces
/// trimmed.
pub fn aligned(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Shortens a long text (a cause) for a table cell.
pub fn clip(text: &str, max: usize) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() <= max {
        text
    } else {
        let mut clipped: String = text.chars().take(max.saturating_sub(3)).collect();
        clipped.push_str("...");
        clipped
    }
}

/// The message of an execution's or a Task's cause. A Lambda's error reaches Step Functions
/// as the JSON the runtime reports (`{"errorType":"Retryable","errorMessage":"..."}`): its
/// `errorMessage` is what an operator reads. Any other cause is returned as it is.
pub fn cause_message(cause: &str) -> String {
    #[derive(serde::Deserialize)]
    struct LambdaError {
        #[serde(rename = "errorMessage")]
        error_message: String,
    }
    match serde_json::from_str::<LambdaError>(cause) {
        Ok(error) if !error.error_message.trim().is_empty() => error.error_message,
        _ => cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.25), "250ms");
        assert_eq!(duration(12.0), "12s");
        assert_eq!(duration(12.44), "12.4s");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(duration(7380.0), "2h03m");
        assert_eq!(duration(93_600.0), "1d02h");
    }

    #[test]
    fn tables_align_and_fill_empty_cells() {
        let text = table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["x".into(), "".into(), "last".into()],
                vec!["longer".into(), "y".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "A       LONG HEADER  C\nx       -            last\nlonger  y            -\n"
        );
        let broken = table(&["A", "B"], &[vec!["two\nlines".into(), "b".into()]]);
        assert_eq!(broken, "A          B\ntwo lines  b\n");
        assert_eq!(table(&["ONLY"], &[]), "ONLY\n");
    }

    #[test]
    fn aligned_rows_keep_blank_cells_blank() {
        let text = aligned([
            vec!["FAIL".into(), "hook".into(), "missing".into()],
            vec![String::new(), String::new(), "fix: create it".into()],
            vec!["PASS".into(), "rule-target".into(), "ok".into()],
        ]);
        assert_eq!(
            text,
            "FAIL  hook         missing\n                   fix: create it\nPASS  rule-target  ok\n"
        );
    }

    #[test]
    fn a_lambda_cause_reads_as_its_message() {
        assert_eq!(
            cause_message(
                r#"{"errorType":"Retryable","errorMessage":"CompleteLifecycleAction: ServiceUnavailable"}"#
            ),
            "CompleteLifecycleAction: ServiceUnavailable"
        );
        assert_eq!(
            cause_message(r#"{"errorMessage":"x","errorType":"Lambda.Unknown","trace":[]}"#),
            "x"
        );
        for plain in [
            "DescribeTargetHealth: AccessDenied",
            "{\"errorMessage\": \"\"}",
            "{not json",
            "[1]",
        ] {
            assert_eq!(cause_message(plain), plain);
        }
    }

    #[test]
    fn clips_long_causes() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a\nvery long cause", 10), "a very ...");
    }
}
