//! SVG charts for the HTML report: inline, static, no scripts.

use crate::html::escape;

/// A line chart with optional confidence bands.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineChart {
    /// A description for screen readers.
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    /// The y range; `None` fits the data.
    pub(crate) y_range: Option<(f64, f64)>,
    pub(crate) series: Vec<Series>,
    /// `(x0, x1, label, colour)`: spans shaded behind the lines (fault and surge windows).
    pub(crate) shaded: Vec<(f64, f64, String, &'static str)>,
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    pub(crate) name: String,
    /// `(x, y)` points; non-finite ones are left out.
    pub(crate) points: Vec<(f64, f64)>,
    /// `(x, lower, upper)`: a shaded band.
    pub(crate) band: Vec<(f64, f64, f64)>,
    pub(crate) colour: &'static str,
    pub(crate) dashed: bool,
}

/// A grouped bar chart with error bars, values in [0, 1].
#[derive(Debug, Clone, Default)]
pub(crate) struct BarChart {
    pub(crate) title: String,
    pub(crate) y_label: String,
    /// Names and colours of the bars in each group.
    pub(crate) series: Vec<(String, &'static str)>,
    /// One group per category: its label and one bar per series.
    pub(crate) groups: Vec<(String, Vec<Bar>)>,
}

/// One bar: the value and its interval.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bar {
    pub(crate) value: f64,
    pub(crate) interval: Option<(f64, f64)>,
}

/// Lanes over time (one per model, say): spans behind, markers on top.
#[derive(Debug, Clone, Default)]
pub(crate) struct LaneChart {
    /// A description for screen readers.
    pub(crate) title: String,
    pub(crate) x_label: String,
    /// The x range; a range that is empty or not finite is widened.
    pub(crate) x_range: (f64, f64),
    /// The lanes' names, top to bottom.
    pub(crate) lanes: Vec<String>,
    pub(crate) spans: Vec<LaneSpan>,
    pub(crate) marks: Vec<LaneMark>,
}

/// A span of a [`LaneChart`], from `x0` to `x1` across its lane.
#[derive(Debug, Clone)]
pub(crate) struct LaneSpan {
    /// The lane's index.
    pub(crate) lane: usize,
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) colour: &'static str,
    /// The tooltip.
    pub(crate) title: String,
}

/// A marker of a [`LaneChart`].
#[derive(Debug, Clone)]
pub(crate) struct LaneMark {
    /// The lane's index.
    pub(crate) lane: usize,
    pub(crate) x: f64,
    /// Where in its lane's height, from −0.5 (top) to 0.5 (bottom), so that markers of
    /// different kinds at the same time do not hide each other.
    pub(crate) offset: f64,
    pub(crate) shape: Shape,
    pub(crate) colour: &'static str,
    /// The tooltip.
    pub(crate) title: String,
}

/// The shape of a [`LaneMark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A filled circle.
    Circle,
    /// A circle's outline.
    Ring,
    /// A filled square on its corner.
    Diamond,
    /// A filled square.
    Square,
    /// A short vertical bar.
    Tick,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;

/// Linear map from a data range to a pixel range.
#[derive(Debug, Clone, Copy)]
struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }
}

/// What a line chart draws besides its axes, bands and lines.
#[derive(Debug, Clone, Copy)]
struct Decoration {
    /// The legend above the plot.
    legend: bool,
    /// A marker with a tooltip at each point.
    markers: bool,
    /// Break a line at each non-finite point (no data there) rather than joining its
    /// neighbours.
    gaps: bool,
}

/// The SVG of a line chart.
pub(crate) fn line_chart(chart: &LineChart) -> String {
    draw_line_chart(chart, Decoration { legend: true, markers: true, gaps: false })
}

/// The SVG of a line chart without its own legend and point markers, whose lines break where a
/// point is not a number: for long series drawn in several charts that share one legend on the
/// page, where a marker per point would only add bytes and a line across missing data would
/// invent values.
pub(crate) fn bare_line_chart(chart: &LineChart) -> String {
    draw_line_chart(chart, Decoration { legend: false, markers: false, gaps: true })
}

fn draw_line_chart(chart: &LineChart, decoration: Decoration) -> String {
    let finite = |v: &f64| v.is_finite();
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0)))
        .filter(finite)
        .collect();
    let (x_min, x_max) = padded_range(min(&xs).min(0.0), max(&xs));
    let (y_min, y_max) = chart.y_range.unwrap_or_else(|| {
        let ys: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| {
                s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2]))
            })
            .filter(finite)
            .collect();
        padded_range(min(&ys).min(0.0), max(&ys))
    });
    let x = Scale { domain: (x_min, x_max), range: (LEFT, WIDTH - RIGHT) };
    let y = Scale { domain: (y_min, y_max), range: (HEIGHT - BOTTOM, TOP) };

    let mut svg = open_svg(&chart.title);
    for (x0, x1, label, colour) in &chart.shaded {
        let (a, b) = (x.map(x0.max(x_min)), x.map(x1.min(x_max)));
        if b > a {
            svg.push_str(&format!(
                "<rect x=\"{a:.1}\" y=\"{TOP:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" \
                 fill-opacity=\"0.15\"><title>{}</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" \
                 font-size=\"10\" fill=\"{colour}\">{}</text>\n",
                b - a,
                HEIGHT - BOTTOM - TOP,
                escape(label),
                a + 2.0,
                TOP + 10.0,
                escape(&truncate(label, 18))
            ));
        }
    }
    axes(&mut svg, &x, &y, &nice_ticks(x_min, x_max), &nice_ticks(y_min, y_max));
    axis_labels(&mut svg, &chart.x_label, &chart.y_label);
    for series in &chart.series {
        let band: Vec<_> = series
            .band
            .iter()
            .filter(|b| b.0.is_finite() && b.1.is_finite() && b.2.is_finite())
            .collect();
        if band.len() >= 2 {
            let upper = band.iter().map(|b| point(&x, &y, b.0, b.2));
            let lower = band.iter().rev().map(|b| point(&x, &y, b.0, b.1));
            let points: Vec<String> = upper.chain(lower).collect();
            svg.push_str(&format!(
                "<polygon class=\"band\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\" \
                 points=\"{}\"><title>{} 95% CI</title></polygon>\n",
                series.colour,
                points.join(" "),
                escape(&series.name)
            ));
        }
        let points: Vec<_> =
            series.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        let dash = if series.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let stretches: Vec<&[(f64, f64)]> = if decoration.gaps {
            series.points.split(|p| !(p.0.is_finite() && p.1.is_finite())).collect()
        } else {
            vec![&series.points]
        };
        for stretch in stretches.into_iter().filter(|stretch| !stretch.is_empty()) {
            let finite: Vec<&(f64, f64)> =
                stretch.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            if let ([alone], true) = (finite.as_slice(), decoration.gaps) {
                // A line of one point draws nothing: a dot keeps it visible.
                svg.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{}\"/>\n",
                    x.map(alone.0),
                    y.map(alone.1),
                    series.colour
                ));
                continue;
            }
            let path: Vec<String> =
                thin(&finite, &x, &y).into_iter().map(|p| point(&x, &y, p.0, p.1)).collect();
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash} \
                 points=\"{}\"><title>{}</title></polyline>\n",
                series.colour,
                path.join(" "),
                escape(&series.name)
            ));
        }
        // A marker (with its value as a tooltip) per point while the points can be told
        // apart; a long series is its line alone.
        let markers = decoration.markers && points.len() <= MAX_MARKERS && !points.is_empty();
        if markers {
            svg.push_str(&format!("<g fill=\"{}\">\n", series.colour));
            for p in &points {
                svg.push_str(&format!(
                    "<circle cx=\"{}\" cy=\"{}\" r=\"3\"><title>{}: {} at {}</title></circle>\n",
                    pixel(x.map(p.0)),
                    pixel(y.map(p.1)),
                    escape(&series.name),
                    tick_label(p.1),
                    tick_label(p.0)
                ));
            }
            svg.push_str("</g>\n");
        }
    }
    if decoration.legend {
        let names: Vec<(&str, &str, bool)> =
            chart.series.iter().map(|s| (s.name.as_str(), s.colour, s.dashed)).collect();
        legend(&mut svg, &names);
    }
    svg.push_str("</svg>\n");
    svg
}

/// Series with more points than this are drawn without a marker per point.
const MAX_MARKERS: usize = 40;

/// The points of a line worth drawing: within each pixel column only the first, the lowest,
/// the highest and the last point (in their order), so a long series costs bytes in proportion
/// to the pixels it covers, not to its length, and draws the same envelope.
fn thin<'a>(points: &[&'a (f64, f64)], x: &Scale, y: &Scale) -> Vec<&'a (f64, f64)> {
    let mut kept: Vec<&(f64, f64)> = Vec::with_capacity(points.len().min(2048));
    let mut start = 0;
    while start < points.len() {
        let column = x.map(points[start].0).floor();
        let mut end = start + 1;
        while end < points.len() && x.map(points[end].0).floor() == column {
            end += 1;
        }
        let run = &points[start..end];
        if run.len() <= 4 {
            kept.extend_from_slice(run);
        } else {
            let by_y = |a: &&&(f64, f64), b: &&&(f64, f64)| y.map(a.1).total_cmp(&y.map(b.1));
            let low = run.iter().enumerate().min_by(|a, b| by_y(&a.1, &b.1)).map_or(0, |m| m.0);
            let high = run.iter().enumerate().max_by(|a, b| by_y(&a.1, &b.1)).map_or(0, |m| m.0);
            let mut picks = vec![0, low, high, run.len() - 1];
            picks.sort_unstable();
            picks.dedup();
            kept.extend(picks.into_iter().map(|i| run[i]));
        }
        start = end;
    }
    kept
}

/// The SVG of a grouped bar chart on [0, 1].
pub(crate) fn bar_chart(chart: &BarChart) -> String {
    let x_range = (LEFT, WIDTH - RIGHT);
    let y = Scale { domain: (0.0, 1.0), range: (HEIGHT - BOTTOM, TOP) };
    let mut svg = open_svg(&chart.title);
    let n_groups = chart.groups.len().max(1) as f64;
    let group_width = (x_range.1 - x_range.0) / n_groups;
    let n_bars = chart.series.len().max(1) as f64;
    let bar_width = group_width * 0.8 / n_bars;
    // Horizontal grid and y ticks; the x axis has category labels instead of ticks.
    for tick in nice_ticks(0.0, 1.0) {
        grid_line(&mut svg, &y, tick);
    }
    svg.push_str(&format!(
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>\n\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0}\"/>\n",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT
    ));
    let rotate = chart.groups.len() > 6;
    for (group_idx, (label, bars)) in chart.groups.iter().enumerate() {
        let group_x = x_range.0 + group_width * group_idx as f64 + group_width * 0.1;
        for (bar_idx, bar) in bars.iter().enumerate() {
            let (name, colour) =
                chart.series.get(bar_idx).map_or(("", "#888"), |(n, c)| (n.as_str(), *c));
            let left = group_x + bar_width * bar_idx as f64;
            let centre = left + bar_width / 2.0;
            if bar.value.is_finite() {
                let top = y.map(bar.value.clamp(0.0, 1.0));
                svg.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                     fill=\"{colour}\"><title>{}: {} {}</title></rect>\n",
                    pixel(left),
                    pixel(top),
                    pixel(bar_width * 0.95),
                    pixel((HEIGHT - BOTTOM - top).max(0.0)),
                    escape(label),
                    escape(name),
                    tick_label(bar.value)
                ));
            }
            if let Some((lower, upper)) =
                bar.interval.filter(|(l, u)| l.is_finite() && u.is_finite())
            {
                svg.push_str(&format!(
                    "<path class=\"whisker\" d=\"M{} {}V{}\"/>\n",
                    pixel(centre),
                    pixel(y.map(lower.clamp(0.0, 1.0))),
                    pixel(y.map(upper.clamp(0.0, 1.0)))
                ));
            }
        }
        let label_x = x_range.0 + group_width * (group_idx as f64 + 0.5);
        let label_y = HEIGHT - BOTTOM + 14.0;
        let shown = truncate(label, 14);
        if rotate {
            svg.push_str(&format!(
                "<text class=\"tick ty\" transform=\"translate({},{}) rotate(-35)\">{}</text>\n",
                pixel(label_x),
                pixel(label_y),
                escape(&shown)
            ));
        } else {
            svg.push_str(&format!(
                "<text class=\"tick tx\" x=\"{}\" y=\"{}\">{}</text>\n",
                pixel(label_x),
                pixel(label_y),
                escape(&shown)
            ));
        }
    }
    axis_labels(&mut svg, "", &chart.y_label);
    let names: Vec<(&str, &str, bool)> =
        chart.series.iter().map(|(name, colour)| (name.as_str(), *colour, false)).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

/// The height of one lane of a [`LaneChart`], in pixels.
const LANE_HEIGHT: f64 = 34.0;

/// The left margin of a [`LaneChart`], room for its lanes' names.
const LANE_LEFT: f64 = 90.0;

/// The SVG of a lane chart: one band per lane, spans as translucent bars, markers by shape and
/// colour, each with its tooltip; markers outside the x range sit at its edge.
pub(crate) fn lane_chart(chart: &LaneChart) -> String {
    let n_lanes = chart.lanes.len().max(1);
    let plot_bottom = TOP + LANE_HEIGHT * n_lanes as f64;
    let height = plot_bottom + BOTTOM;
    let (x_min, x_max) = padded_range(chart.x_range.0, chart.x_range.1);
    let x = Scale { domain: (x_min, x_max), range: (LANE_LEFT, WIDTH - RIGHT) };
    let lane_top = |lane: usize| TOP + LANE_HEIGHT * lane as f64;
    let mut svg = open_sized_svg(&chart.title, height);
    for (lane, name) in chart.lanes.iter().enumerate() {
        let top = lane_top(lane);
        if lane % 2 == 0 {
            svg.push_str(&format!(
                "<rect x=\"{LANE_LEFT}\" y=\"{}\" width=\"{}\" height=\"{LANE_HEIGHT}\" \
                 fill=\"#f3f5f8\"/>\n",
                pixel(top),
                pixel(WIDTH - RIGHT - LANE_LEFT)
            ));
        }
        svg.push_str(&format!(
            "<text class=\"tick ty\" x=\"{}\" y=\"{}\"><title>{}</title>{}</text>\n",
            pixel(LANE_LEFT - 6.0),
            pixel(top + LANE_HEIGHT / 2.0 + 4.0),
            escape(name),
            escape(&truncate(name, 12))
        ));
    }
    for tick in nice_ticks(x_min, x_max) {
        let px = pixel(x.map(tick));
        svg.push_str(&format!(
            "<path class=\"grid\" d=\"M{px} {TOP}V{plot_bottom}\"/><path class=\"axis\" \
             d=\"M{px} {plot_bottom}v5\"/><text class=\"tick tx\" x=\"{px}\" y=\"{}\">{}</text>\n",
            pixel(plot_bottom + 18.0),
            tick_label(tick)
        ));
    }
    svg.push_str(&format!(
        "<path class=\"axis\" d=\"M{LANE_LEFT} {plot_bottom}H{}M{LANE_LEFT} {TOP}V{plot_bottom}\"/>\n",
        WIDTH - RIGHT
    ));
    if !chart.x_label.is_empty() {
        svg.push_str(&format!(
            "<text class=\"label\" text-anchor=\"middle\" x=\"{}\" y=\"{}\">{}</text>\n",
            pixel((LANE_LEFT + WIDTH - RIGHT) / 2.0),
            pixel(height - 8.0),
            escape(&chart.x_label)
        ));
    }
    let clamp = |value: f64| value.clamp(x_min, x_max);
    for span in chart.spans.iter().filter(|s| s.lane < n_lanes && s.x0.is_finite()) {
        let x1 = if span.x1.is_finite() { span.x1 } else { x_max };
        let (a, b) = (x.map(clamp(span.x0)), x.map(clamp(x1.max(span.x0))));
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" \
             fill-opacity=\"0.35\"><title>{}</title></rect>\n",
            pixel(a),
            pixel(lane_top(span.lane) + 4.0),
            // A span too short to see keeps two pixels.
            pixel((b - a).max(2.0)),
            pixel(LANE_HEIGHT - 8.0),
            span.colour,
            escape(&span.title)
        ));
    }
    for mark in chart.marks.iter().filter(|m| m.lane < n_lanes && m.x.is_finite()) {
        let cx = x.map(clamp(mark.x));
        let offset = if mark.offset.is_finite() { mark.offset.clamp(-0.5, 0.5) } else { 0.0 };
        let cy = lane_top(mark.lane) + LANE_HEIGHT * (0.5 + offset * 0.7);
        let (cx, cy, colour) = (pixel(cx), pixel(cy), mark.colour);
        let shape = match mark.shape {
            Shape::Circle => format!("<circle cx=\"{cx}\" cy=\"{cy}\" r=\"4\" fill=\"{colour}\">"),
            Shape::Ring => format!(
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"4\" fill=\"#fff\" stroke=\"{colour}\" \
                 stroke-width=\"2\">"
            ),
            Shape::Diamond => {
                format!("<path d=\"M{cx} {cy}m0 -5l5 5l-5 5l-5 -5z\" fill=\"{colour}\">")
            }
            Shape::Square => format!("<path d=\"M{cx} {cy}m-4 -4h8v8h-8z\" fill=\"{colour}\">"),
            Shape::Tick => {
                format!("<path d=\"M{cx} {cy}m0 -6v12\" stroke=\"{colour}\" stroke-width=\"2\">")
            }
        };
        let close = if shape.starts_with("<circle") { "</circle>" } else { "</path>" };
        svg.push_str(&format!("{shape}<title>{}</title>{close}\n", escape(&mark.title)));
    }
    svg.push_str("</svg>\n");
    svg
}

/// A marker of `shape` in `colour` as a small inline SVG, for a legend in the page.
pub(crate) fn key_marker(shape: Shape, colour: &str) -> String {
    let body = match shape {
        Shape::Circle => format!("<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"{colour}\"/>"),
        Shape::Ring => format!(
            "<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"#fff\" stroke=\"{colour}\" \
             stroke-width=\"2\"/>"
        ),
        Shape::Diamond => format!("<path d=\"M7 2l5 5l-5 5l-5 -5z\" fill=\"{colour}\"/>"),
        Shape::Square => format!("<path d=\"M3 3h8v8h-8z\" fill=\"{colour}\"/>"),
        Shape::Tick => {
            format!("<path d=\"M7 1v12\" stroke=\"{colour}\" stroke-width=\"2\"/>")
        }
    };
    format!("<svg width=\"14\" height=\"14\" aria-hidden=\"true\">{body}</svg>")
}

/// Ticks at 1, 2 or 5 times a power of ten, about five of them, covering `[lo, hi]`.
pub(crate) fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let rough = (hi - lo) / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn open_svg(title: &str) -> String {
    open_sized_svg(title, HEIGHT)
}

fn open_sized_svg(title: &str, height: f64) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{1}\">\
         <title>{1}</title>\n",
        pixel(height),
        escape(title)
    )
}

fn axes(svg: &mut String, x: &Scale, y: &Scale, x_ticks: &[f64], y_ticks: &[f64]) {
    for &tick in y_ticks {
        grid_line(svg, y, tick);
    }
    let bottom = HEIGHT - BOTTOM;
    for &tick in x_ticks {
        let px = pixel(x.map(tick));
        svg.push_str(&format!(
            "<path class=\"axis\" d=\"M{px} {bottom}v5\"/><text class=\"tick tx\" x=\"{px}\" \
             y=\"{}\">{}</text>\n",
            pixel(bottom + 18.0),
            tick_label(tick)
        ));
    }
    svg.push_str(&format!(
        "<path class=\"axis\" d=\"M{LEFT} {bottom}H{0}M{LEFT} {TOP}V{bottom}\"/>\n",
        WIDTH - RIGHT
    ));
}

fn grid_line(svg: &mut String, y: &Scale, tick: f64) {
    let py = y.map(tick);
    svg.push_str(&format!(
        "<path class=\"grid\" d=\"M{LEFT} {}H{}\"/><text class=\"tick ty\" x=\"{}\" y=\"{}\">{}\
         </text>\n",
        pixel(py),
        WIDTH - RIGHT,
        LEFT - 6.0,
        pixel(py + 4.0),
        tick_label(tick)
    ));
}

fn axis_labels(svg: &mut String, x_label: &str, y_label: &str) {
    if !x_label.is_empty() {
        svg.push_str(&format!(
            "<text class=\"label\" text-anchor=\"middle\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            (LEFT + WIDTH - RIGHT) / 2.0,
            HEIGHT - 8.0,
            escape(x_label)
        ));
    }
    if !y_label.is_empty() {
        svg.push_str(&format!(
            "<text class=\"label\" text-anchor=\"middle\" transform=\"translate(16,{:.1}) \
             rotate(-90)\">{}</text>\n",
            (TOP + HEIGHT - BOTTOM) / 2.0,
            escape(y_label)
        ));
    }
}

fn legend(svg: &mut String, entries: &[(&str, &str, bool)]) {
    let mut x = LEFT + 8.0;
    for (name, colour, dashed) in entries {
        let dash = if *dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        svg.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"14\" x2=\"{:.1}\" y2=\"14\" stroke=\"{colour}\" \
             stroke-width=\"3\"{dash}/><text class=\"legend\" x=\"{:.1}\" y=\"18\">{}</text>\n",
            x + 18.0,
            x + 22.0,
            escape(name)
        ));
        x += 34.0 + 7.0 * name.chars().count() as f64;
    }
}

fn point(x: &Scale, y: &Scale, px: f64, py: f64) -> String {
    format!("{},{}", pixel(x.map(px)), pixel(y.map(py)))
}

/// A pixel coordinate to a tenth, without a trailing `.0` (`250`, `250.5`).
fn pixel(value: f64) -> String {
    let text = format!("{value:.1}");
    match text.strip_suffix(".0") {
        Some(whole) if whole != "-0" => whole.to_string(),
        Some(_) => "0".into(),
        None => text,
    }
}

fn tick_label(value: f64) -> String {
    let text = crate::number::significant(value, 3);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn truncate(text: &str, n_chars: usize) -> String {
    if text.chars().count() <= n_chars {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(n_chars - 1).collect();
        short.push('…');
        short
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// A range that is finite and not empty, so scales never divide by zero.
fn padded_range(lo: f64, hi: f64) -> (f64, f64) {
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) if hi > lo => (lo, hi),
        (true, true) => (lo - 0.5, lo + 0.5),
        _ => (0.0, 1.0),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let labels = |lo, hi| nice_ticks(lo, hi).into_iter().map(tick_label).collect::<Vec<_>>();
        assert_eq!(labels(0.0, 1.0), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert_eq!(labels(0.0, 0.031), ["0", "0.01", "0.02", "0.03"]);
        assert_eq!(labels(1.0, 1.0), ["1"]);
    }

    fn chart(n: usize) -> String {
        line_chart(&LineChart {
            title: "t".into(),
            series: vec![Series {
                name: "s".into(),
                points: (0..n).map(|i| (i as f64, (i as f64 / 7.0).sin())).collect(),
                colour: "#000",
                ..Series::default()
            }],
            ..LineChart::default()
        })
    }

    #[test]
    fn long_series_are_lines_without_markers_and_thinned_to_the_pixels() {
        // A marker per point while they can be told apart.
        assert_eq!(chart(MAX_MARKERS).matches("<circle").count(), MAX_MARKERS);
        assert_eq!(chart(MAX_MARKERS + 1).matches("<circle").count(), 0);
        // 20 000 points over 560 pixels: at most about one point per half pixel each way,
        // the first and last kept, and the line still spans the whole plot.
        let svg = chart(20_000);
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let n = points.split(' ').count();
        assert!(n < 5_000 && n > 500, "{n} points kept");
        assert!(
            points.starts_with("60,") && points.split(' ').next_back().unwrap().starts_with("620,")
        );
        assert_eq!(pixel(250.0), "250");
        assert_eq!(pixel(250.04), "250");
        assert_eq!(pixel(122.25), "122.2");
        assert_eq!(pixel(-0.01), "0");
    }
}
