//! The chart in the terminal: a label, a bar of [`WIDTH`] cells to scale, a note; an axis
//! above and a legend below.

use super::chart::{Chart, Mark, MarkKind};
use crate::format::{clip, duration};

/// Cells of the bar: the whole execution (or the last mark) spans them.
pub const WIDTH: usize = 48;
/// Labels longer than this are clipped.
const LABEL_MAX: usize = 30;

/// The cell's character for a kind; where marks share a cell the higher-ranked one shows.
fn glyph(kind: MarkKind) -> (char, u8) {
    match kind {
        MarkKind::Wait => ('·', 1),
        MarkKind::Healthy => ('░', 2),
        MarkKind::Draining => ('▒', 3),
        MarkKind::Tasks => ('▓', 4),
        MarkKind::Step => ('█', 5),
        MarkKind::Point => ('◆', 6),
        MarkKind::Failed => ('✗', 7),
    }
}

/// The chart as lines of text.
pub fn bars(chart: &Chart) -> String {
    let label_width = chart
        .rows
        .iter()
        .map(|row| row.label.chars().count().min(LABEL_MAX))
        .max()
        .unwrap_or(0);
    let pad = " ".repeat(label_width + 2);
    let mut out = format!("{pad}{}\n", axis(chart.span_seconds));
    for row in &chart.rows {
        let cells = cells(&row.marks, chart.span_seconds);
        let line = format!(
            "{:<label_width$}  {cells}  {}",
            clip(&row.label, LABEL_MAX),
            row.note
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("{pad}{}\n", legend(chart)));
    out
}

/// `0s` at the left edge, the middle's time in the middle, the end's at the right edge.
fn axis(span: f64) -> String {
    let (left, middle, right) = ("0s".to_string(), duration(span / 2.0), duration(span));
    let mut line: Vec<char> = vec![' '; WIDTH];
    let mut put = |text: &str, from: usize| {
        for (offset, c) in text.chars().enumerate() {
            if let Some(cell) = line.get_mut(from + offset) {
                *cell = c;
            }
        }
    };
    put(&left, 0);
    put(
        &middle,
        (WIDTH / 2).saturating_sub(middle.chars().count() / 2),
    );
    put(&right, WIDTH.saturating_sub(right.chars().count()));
    line.into_iter().collect::<String>().trim_end().to_string()
}

/// The cells one row's marks cover, each showing its highest-ranked mark.
pub fn cells(marks: &[Mark], span: f64) -> String {
    let mut cells = [(' ', 0u8); WIDTH];
    let scale = WIDTH as f64 / span.max(f64::MIN_POSITIVE);
    let cell_of = |seconds: f64| ((seconds * scale).floor().max(0.0) as usize).min(WIDTH - 1);
    for mark in marks {
        let first = cell_of(mark.from);
        // The cell holding the end (an end on a cell's left edge ends the cell before).
        let last = ((mark.to * scale).ceil() as usize)
            .saturating_sub(1)
            .clamp(first, WIDTH - 1);
        let (c, rank) = glyph(mark.kind);
        for cell in &mut cells[first..=last] {
            if rank > cell.1 {
                *cell = (c, rank);
            }
        }
    }
    cells.iter().map(|(c, _)| *c).collect()
}

/// The kinds the chart shows, with their glyphs.
fn legend(chart: &Chart) -> String {
    MarkKind::ALL
        .into_iter()
        .filter(|kind| {
            chart
                .rows
                .iter()
                .any(|row| row.marks.iter().any(|mark| mark.kind == *kind))
        })
        .map(|kind| format!("{} {}", glyph(kind).0, kind.meaning()))
        .collect::<Vec<_>>()
        .join("  ")
}
