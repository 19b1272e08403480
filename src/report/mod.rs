//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) that
//! explains a run to the people who act on it.
//!
//! The report reads only the run folder's artefacts, so it can be rebuilt at any time with
//! `teleseg report RUN`: `summary.json` (pipeline stages), every `metrics.jsonl` (training
//! curves), `segments.json` (sizes, methods, k sweep, profiles, rules), `embeddings.csv` (the
//! 2-D map), `vae/synthetic_quality.json` with `vae/holdout.csv` and `vae/synthetic.csv` (real vs
//! synthetic), and `ncf/evaluation.json` with `ncf/recommendations.csv` (offers per segment). Sections whose artefacts are missing are left out; a chart that cannot be drawn is
//! replaced by a note, never by a failed report.

mod plots;
mod sections;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::UsageError;

pub use plots::{PALETTE, css_color};

/// The stage sub-folders of a pipeline run, in pipeline order, with their titles.
pub const STAGES: [(&str, &str); 4] = [
    ("autoencoder", "Autoencoder"),
    ("dec", "Deep clustering (DEC / IDEC)"),
    ("vae", "Tabular VAE"),
    ("ncf", "Offer recommendation (NCF)"),
];

/// File name of the report inside a run folder.
pub const REPORT_FILE: &str = "report.html";

/// Renders the report of `run` and writes it atomically to `run/report.html`.
pub fn write_report(run: &Path) -> anyhow::Result<PathBuf> {
    let html = render(run)?;
    let path = run.join(REPORT_FILE);
    crate::checkpoint::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// Renders the report of the run folder `run` (a pipeline run or a single training run).
pub fn render(run: &Path) -> anyhow::Result<String> {
    if !run.is_dir() {
        return Err(UsageError(format!(
            "{} is not a run folder (expected the folder a `teleseg pipeline` or `teleseg train` \
             run wrote)",
            run.display()
        ))
        .into());
    }
    let name = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.display().to_string());
    let mut body = String::new();
    sections::summary(run, &mut body)?;
    sections::training(run, &mut body)?;
    if let Some(path) = find(run, "segments.json") {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let seg: crate::models::dec::segments::SegmentsFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a segments file", path.display()))?;
        sections::segments(run, &seg, &mut body)?;
    }
    sections::synthetic(run, &mut body)?;
    sections::propensity(run, &mut body)?;
    sections::policy(run, &mut body)?;
    sections::offers(run, &mut body)?;
    sections::take_up(run, &mut body)?;
    sections::forecast(run, &mut body)?;
    if body.is_empty() {
        return Err(UsageError(format!(
            "{}: nothing to report (no summary.json, metrics.jsonl or segments.json)",
            run.display()
        ))
        .into());
    }
    let mut html = String::with_capacity(body.len() + 4096);
    write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>teleseg report: {title}</title><style>{CSS}</style></head>\n<body>\
         <h1>teleseg report <small>{title}</small></h1>\n{body}\
         <footer>Written by teleseg {version}. Rebuild with <code>teleseg report {path}</code>.\
         </footer></body></html>\n",
        title = escape(&name),
        version = env!("CARGO_PKG_VERSION"),
        path = escape(&run.display().to_string()),
    )?;
    Ok(html)
}

/// `run/<stage>/name` for the first stage folder that has it, else `run/name`.
pub(crate) fn find(run: &Path, name: &str) -> Option<PathBuf> {
    STAGES
        .iter()
        .map(|(dir, _)| run.join(dir).join(name))
        .chain(std::iter::once(run.join(name)))
        .find(|p| p.is_file())
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1 small{color:#777;font-weight:normal;font-size:60%}h2{border-bottom:2px solid #ddd;\
padding-bottom:.2em;margin-top:2em}table{border-collapse:collapse;margin:.8em 0}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f5f5f5}\
td.l,th.l{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}\
.charts svg{max-width:100%;height:auto;border:1px solid #eee}.note{color:#777}\
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em}\
ul.personas li{margin:.3em 0}code{background:#f5f5f5;padding:0 .2em}\
.heat{display:flex;flex-wrap:wrap;gap:1em}.heat caption{font-weight:600;text-align:left}\
.heat td{min-width:3.5em}\
footer{margin-top:3em;color:#999;font-size:85%}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
    }

    #[test]
    fn an_empty_folder_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = render(dir.path()).unwrap_err().to_string();
        assert!(err.contains("nothing to report"), "{err}");
        let err = render(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(err.contains("is not a run folder"), "{err}");
    }
}
