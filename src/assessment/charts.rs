//! The assessment's charts, drawn on the server as SVG: the geometry here, the markup once in
//! `templates/charts.html` (minijinja macros). The commission's page and the printable report
//! both draw with them, so the two cannot drift apart.

use serde::Serialize;

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

/// The trend of `months`: (`YYYY-MM`, on-time rate in %, clocks counted), in order.
pub fn trend<'a>(months: impl IntoIterator<Item = (&'a str, Option<f64>, usize)>) -> Trend {
    let points: Vec<TrendPoint> = months
        .into_iter()
        .enumerate()
        .map(|(i, (month, rate, clocks))| TrendPoint {
            month: month.get(5..).unwrap_or(month).to_string(),
            x: 66.0 + i as f64 * 31.0,
            y: rate.map(|v| 170.0 - v.clamp(0.0, 100.0) * 1.5),
            rate: rate.map(|v| format!("{v:.2}")),
            clocks,
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

    #[test]
    fn the_trend_joins_the_months_that_have_a_rate() {
        let t = trend([("2026-01", Some(100.0), 4), ("2026-02", None, 0), ("2026-03", Some(50.0), 2)]);
        assert_eq!(t.points.iter().map(|p| p.month.as_str()).collect::<Vec<_>>(), ["01", "02", "03"]);
        assert_eq!(t.points[1].y, None);
        assert_eq!(t.line, "66.0,20.0 128.0,95.0");
        assert_eq!(t.points[2].rate.as_deref(), Some("50.00"));
    }
}
