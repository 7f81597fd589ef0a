//! The printable documents (the yearly assessment report, the bimonthly complaints report):
//! minijinja templates under `templates/`, escaped as HTML by the engine, sharing the chart
//! macros with the pages. No scripts, no external assets; A4 print styles inline.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, Value};

use super::error::{AssessmentError, AssessmentResult};

static DOCUMENTS: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in [
        ("charts.html", super::charts::MARKUP),
        ("report.html", include_str!("templates/report.html")),
        ("bimonthly.html", include_str!("templates/bimonthly.html")),
    ] {
        // Shipped templates: a unit test renders each, so a broken one fails the tests.
        env.add_template(name, source).expect("a shipped printable template parses");
    }
    env
});

pub fn render(template: &str, ctx: Value) -> AssessmentResult<String> {
    DOCUMENTS
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|e| AssessmentError::internal("printable document", format!("{template}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::periodic::{bimonthly_html, BimonthlyReport, Terminated};
    use crate::complaints::state::Status;

    #[test]
    fn the_bimonthly_report_prints_its_figures_and_escapes_what_people_wrote() {
        let r = BimonthlyReport {
            from: "2026-09".into(),
            to: "2026-11".into(),
            received: 12,
            accepted: 10,
            concluded: 7,
            in_progress: 3,
            terminated: vec![Terminated {
                tracking_number: "CZ-2026-000003".into(),
                status: Status::Withdrawn,
                reason: "<script>x</script> & done".into(),
            }],
            overdue: 2,
        };
        let html = bimonthly_html(&r).unwrap();
        assert!(html.contains("<td>12</td><td>10</td><td>7</td><td>3</td><td>1</td><td>2</td>"), "{html}");
        assert!(html.contains("<td>withdrawn</td><td>&lt;script&gt;x&lt;&#x2f;script&gt; &amp; done</td>"), "{html}");
        assert!(!html.contains("<script>"));
    }
}
