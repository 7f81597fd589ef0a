//! The assessment's charts, drawn on the server as SVG: the geometry here, the markup once in
//! `templates/charts.html` (minijinja macros). The commission's page and the printable report
//! both draw with them, so the two cannot drift apart.

use serde::Serialize;

use super::report::AssessmentReport;

/// The chart macros' source; the page engine and the printable report both load it.
pub const MARKUP: &str = include_str!("templates/charts.html");

/// Width of a bar chart in its own units.
const CHART_WIDTH: f64 = 400.0;
/// Room right of the longest bar for its figure.
const VALUE_ROOM: f64 = 84.0;
/// Height of one labelled bar.
const ROW: u32 = 40;

/// One bar of a chart, with its geometry in the chart's own units.
#[derive(Serialize, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: String,
    /// Top of the row.
    pub y: u32,
    pub width: f64,
}

#[derive(Serialize, Debug)]
pub struct BarChart {
    pub height: u32,
    pub bars: Vec<Bar>,
}

/// Horizontal bars for (label, value) rows on a scale from 0 to `max`; `unit` follows each figure.
pub fn bar_chart(rows: &[(String, f64)], max: f64, unit: &str) -> BarChart {
    let room = CHART_WIDTH - VALUE_ROOM;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, v))| Bar {
            label: label.clone(),
            value: format!("{v:.2}{unit}"),
            y: 6 + i as u32 * ROW,
            width: if max > 0.0 { (v / max * room).clamp(0.0, room) } else { 0.0 },
        })
        .collect();
    BarChart { height: 12 + rows.len() as u32 * ROW, bars }
}

#[derive(Serialize, Debug)]
pub struct TrendPoint {
    pub month: String,
    pub x: f64,
    pub y: Option<f64>,
    pub rate: Option<String>,
    pub clocks: usize,
}

/// The monthly on-time rate in a 420 × 200 chart (0 % at y = 170, 100 % at y = 20).
#[derive(Serialize, Debug)]
pub struct Trend {
    pub points: Vec<TrendPoint>,
    /// The polyline through the months that have a rate.
    pub line: String,
}

pub fn trend(r: &AssessmentReport) -> Trend {
    let points: Vec<TrendPoint> = r
        .trend
        .iter()
        .enumerate()
        .map(|(i, m)| TrendPoint {
            month: m.month.get(5..).unwrap_or(&m.month).to_string(),
            x: 66.0 + i as f64 * 31.0,
            y: m.on_time_rate.map(|v| 170.0 - v.clamp(0.0, 100.0) * 1.5),
            rate: m.on_time_rate.map(|v| format!("{v:.2}")),
            clocks: m.clocks,
        })
        .collect();
    let line = points.iter().filter_map(|p| p.y.map(|y| format!("{:.1},{y:.1}", p.x))).collect::<Vec<_>>().join(" ");
    Trend { points, line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_maximum_and_stay_inside_the_chart() {
        let c = bar_chart(&[("a".into(), 50.0), ("b".into(), 100.0), ("c".into(), 250.0)], 100.0, "%");
        assert_eq!(c.height, 12 + 3 * ROW);
        assert_eq!(c.bars[0].width, (CHART_WIDTH - VALUE_ROOM) / 2.0);
        assert_eq!(c.bars[1].width, CHART_WIDTH - VALUE_ROOM);
        assert_eq!(c.bars[2].width, CHART_WIDTH - VALUE_ROOM, "clamped");
        assert_eq!(c.bars[2].value, "250.00%");
        assert_eq!(c.bars[1].y, 6 + ROW);
        assert!(bar_chart(&[("z".into(), 3.0)], 0.0, "").bars[0].width == 0.0);
    }
}
