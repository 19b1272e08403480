//! Inline SVG charts for the report, drawn with plotters' SVG backend (no fonts needed: text is
//! written as `<text>` elements and rendered by the browser).

use plotters::prelude::*;

/// Chart size in pixels.
const WIDTH: u32 = 540;
const HEIGHT: u32 = 360;

/// A qualitative palette (Tableau 10 + 2); segment `s` gets `PALETTE[s % 12]`.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (57, 59, 121),
    (173, 73, 74),
];

/// The colour of series or segment `i`.
pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The colour of series or segment `i` as a CSS hex string.
pub fn css_color(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// `(min, max)` of `values` widened so a flat series still gets a visible range.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs().max(1e-9) * 1e-3);
    (lo - pad, hi + pad)
}

/// A line chart of named `(x, y)` series sharing one pair of axes; `log_y` plots log10(y)
/// (non-positive values are dropped).
pub fn line_chart(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let (x0, x1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let (y0, y1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(242, 242, 242))
            .draw()?;
        for (i, (name, points)) in series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// A vertical bar chart, one bar per label, bar `i` in colour `i`.
pub fn bar_chart(
    caption: &str,
    y_desc: &str,
    labels: &[String],
    values: &[f64],
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = values.iter().copied().fold(0.0f64, f64::max).max(1e-9) * 1.1;
        let n = labels.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n).into_segmented(), 0.0..top)?;
        chart
            .configure_mesh()
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .light_line_style(RGBColor(242, 242, 242))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let c = color(i);
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), v),
                ],
                c.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))?;
        root.present()?;
    }
    Ok(svg)
}

/// A scatter plot of `(x, y, group)` points, group `g` in colour `g`, with a legend naming
/// each group in `groups`.
pub fn scatter(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[(f64, f64, usize)],
    groups: &[String],
) -> DrawResult<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let (x0, x1) = range(points.iter().map(|p| p.0));
        let (y0, y1) = range(points.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(242, 242, 242))
            .draw()?;
        for (g, name) in groups.iter().enumerate() {
            let c = color(g);
            chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| p.2 == g)
                        .map(|p| Circle::new((p.0, p.1), 2, c.mix(0.6).filled())),
                )?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `svg` has a `<text>` element reading `text` (plotters puts it on its own line).
    fn has_text(svg: &str, text: &str) -> bool {
        svg.contains(&format!(">\n{text}\n</text>")) || svg.contains(&format!(">{text}</text>"))
    }

    #[test]
    fn charts_are_svg_with_their_labels() {
        let line = line_chart(
            "loss",
            "epoch",
            "loss",
            &[("train".into(), vec![(0.0, 1.0), (1.0, 0.5)])],
        )
        .unwrap();
        assert!(line.starts_with("<svg") && line.trim_end().ends_with("</svg>"));
        assert!(has_text(&line, "train") && has_text(&line, "epoch"));
        let bars = bar_chart("sizes", "customers", &["0".into(), "1".into()], &[3.0, 5.0]).unwrap();
        assert!(bars.contains("<rect") && has_text(&bars, "sizes"));
        let dots = scatter(
            "map",
            "pc1",
            "pc2",
            &[(0.0, 0.0, 0), (1.0, 1.0, 1)],
            &["a".into(), "b".into()],
        )
        .unwrap();
        assert!(dots.contains("<circle") && has_text(&dots, "b"));
    }

    #[test]
    fn flat_and_empty_ranges_are_widened() {
        let (lo, hi) = range([2.0, 2.0].into_iter());
        assert!(lo < 2.0 && hi > 2.0);
        assert_eq!(range(std::iter::empty()), (0.0, 1.0));
        let (lo, hi) = range([f64::NAN, 1.0, 3.0].into_iter());
        assert!(lo < 1.0 && hi > 3.0 && hi < 3.2);
    }
}
