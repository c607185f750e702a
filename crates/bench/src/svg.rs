//! A hand-written SVG plot: delivered pps (log scale) against frame size, one line per
//! scenario.

use std::fmt::Write as _;

use crate::frame::FrameSize;
use crate::report::{human_pps, Report};

const W: f64 = 760.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plot of `report` as an SVG document. Frame sizes are evenly spaced in ascending order
/// (IMIX last); the y axis is logarithmic in decades.
pub fn plot(report: &Report) -> String {
    let mut sizes: Vec<FrameSize> = report
        .scenarios
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.frame_size))
        .collect();
    sizes.sort();
    sizes.dedup();
    let values: Vec<f64> = report
        .scenarios
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.pps.median))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let (d0, d1) = if values.is_empty() {
        (3, 6)
    } else {
        (
            lo.log10().floor() as i32,
            (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1),
        )
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |i: usize| {
        if sizes.len() <= 1 {
            LEFT + pw / 2.0
        } else {
            LEFT + pw * i as f64 / (sizes.len() - 1) as f64
        }
    };
    let y = |v: f64| TOP + ph * (1.0 - (v.log10() - f64::from(d0)) / f64::from(d1 - d0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">umlvnf bench: delivered frames per second</text>",
        LEFT + pw / 2.0
    );
    for d in d0..=d1 {
        let v = 10f64.powi(d);
        let yy = y(v);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            human_pps(v)
        );
    }
    for (i, fs) in sizes.iter().enumerate() {
        let label = match fs {
            FrameSize::Fixed(n) => n.to_string(),
            FrameSize::Imix => "IMIX".to_string(),
        };
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{label}</text>",
            x(i),
            TOP + ph,
            TOP + ph + 18.0
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">frame size (bytes, with FCS)</text>",
        LEFT + pw / 2.0,
        H - 10.0
    );
    let _ = writeln!(
        s,
        "<text x=\"16\" y=\"{0:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0:.1})\">packets per second (log)</text>",
        TOP + ph / 2.0
    );
    for (k, sc) in report.scenarios.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<(f64, f64)> = sc
            .points
            .iter()
            .filter(|p| p.pps.median > 0.0)
            .filter_map(|p| {
                let i = sizes.iter().position(|f| *f == p.frame_size)?;
                Some((x(i), y(p.pps.median)))
            })
            .collect();
        if !pts.is_empty() {
            let list: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                list.join(" ")
            );
            for (a, b) in &pts {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
        }
        let ly = TOP + 10.0 + 20.0 * k as f64;
        let lx = LEFT + pw + 15.0;
        let _ = writeln!(
            s,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>",
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            esc(&sc.name)
        );
    }
    s.push_str("</svg>\n");
    s
}
