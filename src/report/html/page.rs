//! The page's HTML from [`Contents`]: markup written here, every text from the folder escaped,
//! the style and the script (`report.css`, `report.js`) inlined.

use std::fmt::Write;

use super::escape::{html, script_json, svg_data_url};
use super::timeline::Timeline;
use super::{Contents, Table};

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// The whole page.
pub fn render(c: &Contents) -> String {
    let mut out = String::new();
    let title = html(&c.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · gcnsim report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{title}</h1>\n<p class=\"description\">{}</p>\n</header>\n",
        html(&c.description)
    );
    out.push_str(&nav(c));
    if let Some((name, text)) = &c.config {
        let _ = write!(
            out,
            "<section id=\"configuration\"><h2>Configuration</h2>\n<details><summary>{}</summary>\n<pre>{}</pre>\n\
             </details></section>\n",
            html(name),
            html(text)
        );
    }
    if !c.provenance.is_empty() {
        out.push_str("<section id=\"provenance\"><h2>Provenance</h2>\n<table class=\"pairs\"><tbody>\n");
        for (k, v) in &c.provenance {
            let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", html(k), html(v));
        }
        out.push_str("</tbody></table></section>\n");
    }
    if let Some(runs) = &c.runs {
        out.push_str("<section id=\"runs\"><h2>Runs</h2>\n<p class=\"note\">runs.csv; click a column's header to sort by it.</p>\n");
        out.push_str(&table(runs, "runs-table"));
        out.push_str("</section>\n");
        out.push_str(&breakdown(runs));
    }
    out.push_str(&figures(&c.figures));
    if let Some(t) = &c.timeline {
        out.push_str(&timeline(t));
    }
    let _ = write!(
        out,
        "<footer>Written by gcnsim {} (`gcnsim report`).</footer>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn nav(c: &Contents) -> String {
    let mut links = vec![];
    if c.config.is_some() {
        links.push(("configuration", "Configuration"));
    }
    if !c.provenance.is_empty() {
        links.push(("provenance", "Provenance"));
    }
    if let Some(runs) = &c.runs {
        links.push(("runs", "Runs"));
        if !breakdown_columns(runs).is_empty() {
            links.push(("breakdown", "Time per round"));
        }
    }
    if !c.figures.is_empty() {
        links.push(("figures", "Figures"));
    }
    if c.timeline.is_some() {
        links.push(("timeline", "Worker timeline"));
    }
    let items: Vec<String> = links.iter().map(|(id, name)| format!("<a href=\"#{id}\">{name}</a>")).collect();
    format!("<nav>{}</nav>\n", items.join(" · "))
}

/// A table whose header cells sort it (the script adds the sorting).
fn table(t: &Table, id: &str) -> String {
    let mut out = format!("<div class=\"scroll\"><table class=\"sortable\" id=\"{id}\">\n<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", html(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// The `round_*_s` columns of runs.csv (mean simulated seconds per round in each state).
fn breakdown_columns(t: &Table) -> Vec<usize> {
    (0..t.header.len()).filter(|&i| t.header[i].starts_with("round_") && t.header[i].ends_with("_s")).collect()
}

/// The time breakdown: a table of the `round_*_s` columns and a stacked bar per run.
fn breakdown(t: &Table) -> String {
    let columns = breakdown_columns(t);
    if columns.is_empty() {
        return String::new();
    }
    let id_at = t.header.iter().position(|h| h == "run_id");
    let value = |row: &[String], i: usize| {
        row.get(i).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0)
    };
    let total = |row: &[String]| columns.iter().filter_map(|&i| value(row, i)).sum::<f64>();
    let longest = t.rows.iter().map(|r| total(r)).fold(0.0_f64, f64::max);
    let mut out = String::from(
        "<section id=\"breakdown\"><h2>Simulated time per round</h2>\n<p class=\"note\">Mean simulated seconds per \
         round of a worker in each state (runs.csv's <code>round_*_s</code> columns); bars to one scale.</p>\n<div class=\"legend\">",
    );
    for (k, &i) in columns.iter().enumerate() {
        let name = t.header[i].trim_start_matches("round_").trim_end_matches("_s");
        let _ = write!(out, "<span><i class=\"c{}\"></i>{}</span>", k % 8, html(name));
    }
    out.push_str("</div>\n<table class=\"bars\"><tbody>\n");
    for row in &t.rows {
        let id = id_at.and_then(|i| row.get(i)).map_or("", String::as_str);
        let _ = write!(out, "<tr><th>{}</th><td><div class=\"bar\">", html(id));
        for (k, &i) in columns.iter().enumerate() {
            let Some(v) = value(row, i).filter(|_| longest > 0.0) else { continue };
            let name = html(&t.header[i]);
            let _ = write!(
                out,
                "<span class=\"c{}\" style=\"width:{:.3}%\" title=\"{name} = {v:e} s\"></span>",
                k % 8,
                100.0 * v / longest
            );
        }
        let _ = writeln!(out, "</div></td><td class=\"num\">{:.3e} s</td></tr>", total(row));
    }
    out.push_str("</tbody></table></section>\n");
    out
}

fn figures(figures: &[(String, String)]) -> String {
    if figures.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"figures\"><h2>Figures</h2>\n");
    for (name, svg) in figures {
        let name = html(name);
        let _ = writeln!(
            out,
            "<figure class=\"figure\"><img alt=\"{name}\" src='{}'><figcaption>{name}</figcaption></figure>",
            svg_data_url(svg)
        );
    }
    out.push_str("</section>\n");
    out
}

fn timeline(t: &Timeline) -> String {
    let json = serde_json::to_string(t).expect("the timeline serializes");
    let runs = t.runs.len();
    let left_out = if runs < t.runs_total {
        format!(
            " The first {runs} of the {} runs are here; the others are left out to keep the page small.",
            t.runs_total
        )
    } else {
        String::new()
    };
    format!(
        "<section id=\"timeline\"><h2>Worker timeline</h2>\n<p class=\"note\">One lane per worker, from workers.csv: \
         each run's first rounds, at most {} intervals a run (the selector says how many rounds).{left_out} \
         Wheel or buttons zoom, dragging pans; hover an interval for its event.</p>\n\
         <div class=\"controls\"><label>Run <select id=\"timeline-run\"></select></label>\n\
         <button type=\"button\" id=\"zoom-in\">+</button><button type=\"button\" id=\"zoom-out\">−</button>\
         <button type=\"button\" id=\"zoom-reset\">reset</button> <span id=\"timeline-info\"></span></div>\n\
         <div class=\"legend\" id=\"timeline-legend\"></div>\n<div id=\"timeline-view\"></div>\n\
         <div id=\"tooltip\" role=\"tooltip\" hidden></div>\n\
         <script type=\"application/json\" id=\"timeline-data\">{}</script>\n</section>\n",
        t.per_run,
        script_json(&json)
    )
}
