//! The chart as an SVG file (`ecs-sta show --svg FILE`): the same rows as in the terminal,
//! with a time axis, a tooltip on every mark and a legend. Plain SVG 1.1 text, written by
//! hand: a few rectangles, lines and labels need no drawing library.

use super::chart::{Chart, Mark, MarkKind};
use super::Timeline;
use crate::format::{clip, duration, timestamp};

const MARGIN: f64 = 16.0;
const LABEL_WIDTH: f64 = 210.0;
const BAR_WIDTH: f64 = 560.0;
const NOTE_WIDTH: f64 = 400.0;
const ROW_HEIGHT: f64 = 24.0;
const TOP: f64 = 116.0;
const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

/// The whole SVG document of a timeline.
pub fn svg(timeline: &Timeline) -> String {
    let chart = Chart::of(timeline);
    let rows = chart.as_ref().map_or(0, |chart| chart.rows.len());
    let width = MARGIN * 2.0 + LABEL_WIDTH + BAR_WIDTH + NOTE_WIDTH;
    let height = TOP + rows as f64 * ROW_HEIGHT + 56.0;
    let mut out = String::new();
    line(
        &mut out,
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" {FONT} font-size=\"12\">"
        ),
    );
    line(
        &mut out,
        "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>".to_string(),
    );
    header(&mut out, timeline);
    match &chart {
        Some(chart) => {
            axis(&mut out, chart, height - 56.0);
            for (index, row) in chart.rows.iter().enumerate() {
                draw_row(&mut out, chart, row, TOP + index as f64 * ROW_HEIGHT);
            }
            legend(&mut out, chart, height - 24.0);
        }
        None => text(&mut out, MARGIN, TOP, "", "the execution has not started"),
    }
    out.push_str("</svg>\n");
    out
}

fn header(out: &mut String, timeline: &Timeline) {
    let title = format!(
        "Drain of {} (asg {}): {}",
        timeline.target.instance_id.as_deref().unwrap_or("-"),
        timeline.target.asg_name.as_deref().unwrap_or("-"),
        timeline.name
    );
    text(
        out,
        MARGIN,
        24.0,
        "font-size=\"15\" font-weight=\"bold\"",
        &title,
    );
    let status = super::render::status(timeline);
    text(out, MARGIN, 44.0, "", &clip(&status, 170));
    if let Some(stop) = &timeline.stop {
        let to_do = format!("to do: {}; {}", stop.remains, stop.replay);
        text(out, MARGIN, 62.0, "", &clip(&to_do, 170));
    }
    let mut when = timeline.started.map(timestamp).unwrap_or_default();
    if let Some(seconds) = timeline.duration_seconds {
        when.push_str(&format!(
            "  ({}, {} checks, {} heartbeats, {} retries, {} redrives)",
            duration(seconds),
            timeline.counts.checks,
            timeline.counts.heartbeats,
            timeline.counts.retries,
            timeline.counts.redrives
        ));
    }
    let y = if timeline.stop.is_some() { 80.0 } else { 62.0 };
    text(out, MARGIN, y, "fill=\"#555555\"", &when);
}

/// x of a second on the chart.
fn x(chart: &Chart, seconds: f64) -> f64 {
    MARGIN + LABEL_WIDTH + seconds / chart.span_seconds * BAR_WIDTH
}

/// Grid lines and labels at a round step (1 s, 2 s, 5 s ... 1 h, 2 h ...).
fn axis(out: &mut String, chart: &Chart, bottom: f64) {
    const STEPS: [f64; 18] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0,
    ];
    let step = STEPS
        .into_iter()
        .find(|step| chart.span_seconds / step <= 8.0)
        .unwrap_or(86400.0 * (chart.span_seconds / 86400.0 / 8.0).ceil());
    let mut at = 0.0;
    while at <= chart.span_seconds + 1e-9 {
        let left = x(chart, at);
        line(
            out,
            format!(
                "<line x1=\"{left:.1}\" y1=\"{:.1}\" x2=\"{left:.1}\" y2=\"{bottom:.1}\" \
                 stroke=\"#e3e3e3\"/>",
                TOP - 8.0
            ),
        );
        let label = if at == 0.0 {
            "0s".to_string()
        } else {
            format!("+{}", duration(at))
        };
        text(
            out,
            left,
            TOP - 12.0,
            "text-anchor=\"middle\" fill=\"#555555\"",
            &label,
        );
        at += step;
    }
}

fn draw_row(out: &mut String, chart: &Chart, row: &super::Row, top: f64) {
    let middle = top + ROW_HEIGHT / 2.0;
    text(out, MARGIN, middle + 4.0, "", &clip(&row.label, 32));
    for mark in &row.marks {
        draw_mark(out, chart, &row.label, mark, middle);
    }
    let note_x = MARGIN + LABEL_WIDTH + BAR_WIDTH + 12.0;
    text(
        out,
        note_x,
        middle + 4.0,
        "fill=\"#333333\"",
        &clip(&row.note, 66),
    );
}

/// The fill of each kind of mark.
fn colour(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Step => "#3366cc",
        MarkKind::Wait => "#b0b0b0",
        MarkKind::Tasks => "#2e9e57",
        MarkKind::Draining => "#f28e2b",
        MarkKind::Healthy => "#f6c89f",
        MarkKind::Point => "#7a4fbf",
        MarkKind::Failed => "#d62728",
    }
}

fn draw_mark(out: &mut String, chart: &Chart, label: &str, mark: &Mark, middle: f64) {
    let (left, right) = (x(chart, mark.from), x(chart, mark.to));
    let tip = if mark.to > mark.from {
        format!(
            "{label}: +{} to +{} ({}), {}",
            duration(mark.from),
            duration(mark.to),
            duration(mark.to - mark.from),
            mark.kind.meaning()
        )
    } else {
        format!("{label}: +{}, {}", duration(mark.from), mark.kind.meaning())
    };
    let tip = format!("<title>{}</title>", escape(&tip));
    let fill = colour(mark.kind);
    let element = match mark.kind {
        MarkKind::Point => format!(
            "<path d=\"M{left:.1} {:.1} l5 5 l-5 5 l-5 -5 z\" fill=\"{fill}\">{tip}</path>",
            middle - 5.0
        ),
        MarkKind::Failed => format!(
            "<path d=\"M{:.1} {:.1} l10 10 m0 -10 l-10 10\" stroke=\"{fill}\" \
             stroke-width=\"2.5\">{tip}</path>",
            left - 5.0,
            middle - 5.0
        ),
        _ => {
            let height = if mark.kind == MarkKind::Wait {
                4.0
            } else {
                14.0
            };
            format!(
                "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height}\" \
                 fill=\"{fill}\">{tip}</rect>",
                middle - height / 2.0,
                (right - left).max(1.5)
            )
        }
    };
    line(out, element);
}

fn legend(out: &mut String, chart: &Chart, y: f64) {
    let mut left = MARGIN;
    for kind in MarkKind::ALL {
        if !chart
            .rows
            .iter()
            .any(|row| row.marks.iter().any(|m| m.kind == kind))
        {
            continue;
        }
        line(
            out,
            format!(
                "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
                y - 10.0,
                colour(kind)
            ),
        );
        text(out, left + 16.0, y, "", kind.meaning());
        left += 30.0 + kind.meaning().len() as f64 * 6.5;
    }
}

fn text(out: &mut String, x: f64, y: f64, attributes: &str, content: &str) {
    line(
        out,
        format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\"{}{attributes}>{}</text>",
            if attributes.is_empty() { "" } else { " " },
            escape(content)
        ),
    );
}

fn line(out: &mut String, element: String) {
    out.push_str(&element);
    out.push('\n');
}

/// Text as SVG (XML) character data or attribute value.
pub fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
