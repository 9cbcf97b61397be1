//! The Query page (`/query`, `/graph`) in a real headless Chromium against
//! the real binary scraping a test exporter: the table, the graph drawn by
//! our chart, Prometheus 2 and 3 URLs, autocomplete, errors, panels and the
//! explain tree. Screenshots go to `target/ui-screenshots/query-*.png`.
//! Skipped (with a message) when Chromium or chromedriver is missing.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::exporter::Exporter;
use common::Server;
use serde_json::{json, Value};

const EXPORTED: &str =
    "# TYPE ui_test_metric gauge\nui_test_metric{kind=\"a\"} 42\nui_test_metric{kind=\"b\"} 7\n";

fn config(addr: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: ui\n    static_configs:\n      - targets: ['{addr}']\n"
    )
}

/// Ctrl+Enter as WebDriver keys (Control stays down until the NULL key).
const CTRL_ENTER: &str = "\u{E009}\u{E007}\u{E000}";

/// How many strongly coloured pixels the chart canvas of the visible
/// graph tab has: series colours are saturated, the grid, axes and labels
/// are grey, so an empty chart counts zero.
fn coloured_pixels(b: &Browser) -> u64 {
    pixels_like(b, None)
}

/// How many pixels of the visible chart are near the colour of legend
/// entry `series` (or, with `None`, strongly coloured at all).
fn pixels_like(b: &Browser, series: Option<usize>) -> u64 {
    let v = b.eval(
        "const body = [...document.querySelectorAll('.pq-tab-body')].find(e => !e.hidden && e.querySelector('canvas'));
         const c = body.querySelector('.pq-chart-canvas');
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         let want = null;
         if (arguments[0] !== null) {
           const sw = body.querySelectorAll('.pq-chart-legend .pq-legend-swatch')[arguments[0]];
           want = getComputedStyle(sw).backgroundColor.match(/\\d+/g).map(Number);
         }
         let n = 0;
         for (let i = 0; i < d.length; i += 4) {
           if (d[i + 3] < 64) continue;
           if (want) {
             if (Math.abs(d[i] - want[0]) + Math.abs(d[i + 1] - want[1]) + Math.abs(d[i + 2] - want[2]) < 40) n++;
           } else {
             const mx = Math.max(d[i], d[i + 1], d[i + 2]), mn = Math.min(d[i], d[i + 1], d[i + 2]);
             if (mx - mn > 80) n++;
           }
         }
         return n;",
        vec![series.map_or(Value::Null, |i| json!(i))],
    );
    v.as_u64().unwrap()
}

/// Waits until `f` returns true, polling.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Hovers the visible chart from right to left until the tooltip shows;
/// returns its text.
fn hover_tooltip(b: &Browser) -> String {
    let v = b.eval(
        "const body = [...document.querySelectorAll('.pq-tab-body')].find(e => !e.hidden && e.querySelector('canvas'));
         const o = body.querySelector('.pq-chart-overlay'), tip = body.querySelector('.pq-chart-tooltip');
         const r = o.getBoundingClientRect();
         for (let f = 0.99; f > 0.05; f -= 0.01) {
           o.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width * f, clientY: r.top + r.height / 2, bubbles: true}));
           if (!tip.hidden) return tip.innerText;
         }
         return null;",
        vec![],
    );
    v.as_str()
        .expect("no tooltip anywhere on the chart")
        .to_string()
}

#[test]
fn query_page_table_graph_urls_and_autocomplete() {
    let exp = Exporter::start(EXPORTED);
    let srv = Server::start(Some(&config(&exp.addr())), &[]);
    // Enough scrapes that a one-minute graph has a line, not a dot.
    srv.wait_for("count_over_time(ui_test_metric[1m])", 20, |r| {
        r.iter().all(|s| {
            s["value"][1]
                .as_str()
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0)
                >= 4.0
        }) && r.len() == 2
    });
    let Some(b) = Browser::start() else { return };

    // Prometheus 2 link (what Grafana and alert generatorURLs open): table.
    b.goto(&srv.url("/graph?g0.expr=up&g0.tab=1"));
    let row = b.wait_text(".pq-table tbody tr", "job=\"ui\"");
    assert!(
        row.contains(&format!("instance=\"{}\"", exp.addr())),
        "{row}"
    );
    assert!(row.trim_end().ends_with('1'), "up's value: {row}");
    b.wait_text(".pq-status", "Result: 1 series");
    // The state is written back in the same (classic) dialect.
    assert!(b.url().contains("g0.tab=1"), "{}", b.url());
    assert!(b.url().contains("g0.range_input=1h"), "{}", b.url());
    b.screenshot("query-table");

    // Autocomplete offers the metric name from the API.
    b.goto(&srv.url("/query"));
    b.type_into(".pq-input", "ui_test_m");
    b.wait_text(".pq-suggest-item", "ui_test_metric");
    b.screenshot("query-autocomplete");
    // Tab takes the suggestion; `{` then offers the metric's labels.
    b.type_into(".pq-input", "\u{E004}{");
    b.wait_text(".pq-suggest-item", "kind");
    b.type_into(".pq-input", "\u{E00C}}");
    let typed = b.find(".pq-input").property("value");
    assert_eq!(typed, json!("ui_test_metric{}"));

    // Ctrl+Enter runs it; both series and their values are in the table.
    b.type_into(".pq-input", CTRL_ENTER);
    let a = b.wait_text(".pq-table tbody tr", "kind=\"a\"");
    assert!(a.trim_end().ends_with("42"), "{a}");
    let bb = b.wait_text(".pq-table tbody tr", "kind=\"b\"");
    assert!(bb.trim_end().ends_with('7'), "{bb}");
    // Sorting by value: largest first, then (clicked again) smallest first.
    let first_row = || {
        let v = b.eval(
            "return document.querySelector('.pq-table tbody tr').innerText",
            vec![],
        );
        v.as_str().unwrap_or("").to_string()
    };
    b.click(".pq-table th:last-child .pq-sort");
    wait_until("descending rows", || first_row().contains("kind=\"a\""));
    b.click(".pq-table th:last-child .pq-sort");
    wait_until("ascending rows", || first_row().contains("kind=\"b\""));

    // Graph tab: a one-minute range, the series drawn and in the legend.
    b.click(".pq-tab[data-tab=graph]");
    b.wait_text(".pq-chart-legend", "kind=\"b\"");
    let range = b.find(".pq-range");
    range.clear();
    range.send_keys("1m\u{E007}");
    b.wait_text(".pq-status", "step 1s");
    wait_until("drawn series", || coloured_pixels(&b) > 200);
    let tip = hover_tooltip(&b);
    assert!(tip.contains("value: "), "{tip}");
    assert!(tip.contains("ui_test_metric"), "{tip}");
    b.screenshot("query-graph");
    let url = b.url();
    assert!(url.contains("/query?g0.expr=ui_test_metric%7B%7D"), "{url}");
    assert!(
        url.contains("g0.tab=graph") && url.contains("g0.range_input=1m"),
        "{url}"
    );

    // Legend: Ctrl+click on the first series shows only it; a plain click
    // on the second brings that back.
    assert!(pixels_like(&b, Some(0)) > 20 && pixels_like(&b, Some(1)) > 20);
    b.eval(
        "document.querySelectorAll('.pq-legend-item')[0].dispatchEvent(new MouseEvent('click', {bubbles: true, ctrlKey: true}))",
        vec![],
    );
    assert_eq!(b.count(".pq-legend-item.off"), 1);
    assert!(pixels_like(&b, Some(0)) > 20);
    assert_eq!(pixels_like(&b, Some(1)), 0);
    b.eval(
        "document.querySelectorAll('.pq-legend-item')[1].click()",
        vec![],
    );
    assert_eq!(b.count(".pq-legend-item.off"), 0);
    assert!(pixels_like(&b, Some(1)) > 20);

    // Dragging across the right half zooms: about half the range, with an
    // absolute end time, written to the URL.
    b.eval(
        "const body = [...document.querySelectorAll('.pq-tab-body')].find(e => !e.hidden && e.querySelector('canvas'));
         const o = body.querySelector('.pq-chart-overlay'), r = o.getBoundingClientRect();
         const at = (type, f, target) => target.dispatchEvent(new MouseEvent(type, {clientX: r.left + r.width * f, clientY: r.top + r.height / 2, button: 0, bubbles: true}));
         at('mousedown', 0.5, o); at('mousemove', 0.75, o); at('mousemove', 0.97, o); at('mouseup', 0.97, window);",
        vec![],
    );
    wait_until("zoomed URL", || b.url().contains("g0.end_time="));
    let zoomed = b.find(".pq-range").property("value");
    let secs = zoomed
        .as_str()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        secs.is_some_and(|s| (15..=35).contains(&s)),
        "zoomed range {zoomed}"
    );
    assert!(b
        .url()
        .contains(&format!("g0.range_input={}", zoomed.as_str().unwrap())));

    // Prometheus 3 link: graph tab, stacked, the query run on load.
    b.goto(&srv.url(
        "/query?g0.expr=ui_test_metric&g0.tab=graph&g0.range_input=1m&g0.display_mode=stacked&g0.res_type=fixed&g0.res_step=2",
    ));
    b.wait_text(".pq-chart-legend", "kind=\"a\"");
    b.wait_text(".pq-status", "step 2s");
    let pressed = b.eval(
        "return document.querySelector('.pq-mode [aria-pressed=true]').innerText",
        vec![],
    );
    assert_eq!(pressed, json!("Stacked"));
    wait_until("stacked series", || coloured_pixels(&b) > 200);
    b.screenshot("query-graph-stacked");
}

#[test]
fn query_page_panels_explain_and_errors() {
    let exp = Exporter::start(EXPORTED);
    let srv = Server::start(Some(&config(&exp.addr())), &[]);
    srv.wait_for("ui_test_metric", 20, |r| r.len() == 2);
    let Some(b) = Browser::start() else { return };

    // Two panels from the URL; adding a third writes g2 into the URL,
    // removing one renumbers.
    b.goto(&srv.url("/graph?g0.expr=up&g0.tab=1&g1.expr=ui_test_metric&g1.tab=1"));
    b.wait_text(".pq-panel:nth-child(2) .pq-table", "kind=\"b\"");
    b.wait_text(".pq-panel:nth-child(1) .pq-table", "job=\"ui\"");
    assert_eq!(b.count(".pq-panel"), 2);
    b.click(".pq-add");
    assert_eq!(b.count(".pq-panel"), 3);
    wait_until("third panel in the URL", || b.url().contains("g2.expr="));
    b.click(".pq-panel:nth-child(1) .pq-remove");
    assert_eq!(b.count(".pq-panel"), 2);
    wait_until("renumbered URL", || {
        let u = b.url();
        u.contains("g0.expr=ui_test_metric") && !u.contains("g2.")
    });

    // The explain tree: every node runs on its own.
    b.goto(&srv.url(
        "/query?g0.expr=sum by (kind) (ui_test_metric) / on (kind) ui_test_metric&g0.tab=explain",
    ));
    b.wait_text(".pq-tree", "sum by (kind)");
    b.click(".pq-hint .pq-btn");
    wait_until("every node's result", || {
        let v = b.eval(
            "return [...document.querySelectorAll('.pq-tree-result')].map(e => e.innerText)",
            vec![],
        );
        let texts: Vec<String> = serde_json::from_value(v).unwrap();
        texts.len() == 4 && texts.iter().all(|t| t == "2 series")
    });
    b.screenshot("query-explain");

    // Printing a parsed tree back gives an expression that parses to the
    // same tree (the tree view runs what it prints).
    let exprs = [
        r#"sum without (a) (rate(x{b=~"c.*", d!="e"}[5m] offset 1m)) > bool 3"#,
        r#"topk(3, x @ 100) * on (a) group_left (b) y"#,
        r#"max_over_time(x[10m:30s] @ end() offset -1m) unless ignoring (c) -z"#,
        r#"label_replace(x, "dst", "$1", "src", "(.*)") + -2.5"#,
        r#"{__name__=~"ui.+", kind="a"}"#,
        r#"(x * 2) ^ scalar(y)"#,
    ];
    b.eval(
        "const [exprs, base] = arguments;
         window.__roundtrip = null;
         import(base + '/lib/explain.js').then(async (m) => {
           const parse = async (q) => (await (await fetch('/api/v1/parse_query?query=' + encodeURIComponent(q))).json()).data;
           const out = [];
           for (const q of exprs) {
             const t = await parse(q);
             const printed = m.toPromQL(t);
             out.push([q, printed, JSON.stringify(await parse(printed)) === JSON.stringify(t)]);
           }
           window.__roundtrip = out;
         }).catch((e) => { window.__roundtrip = String(e); });",
        vec![json!(exprs), json!(ui_base(&b))],
    );
    let mut result = Value::Null;
    wait_until("round trips", || {
        result = b.eval("return window.__roundtrip", vec![]);
        !result.is_null()
    });
    for r in result.as_array().unwrap_or_else(|| panic!("{result}")) {
        assert_eq!(r[2], json!(true), "printed differently: {r}");
    }

    // The URL codec and the axis arithmetic, run in the page's own modules.
    b.eval(
        "const [base] = arguments;
         window.__units = null;
         Promise.all([import(base + '/lib/panel_url.js'), import(base + '/lib/chart_scale.js')]).then(([u, s]) => {
           const dec = (q) => u.decodePanels(new URLSearchParams(q));
           window.__units = {
             classic: dec('g0.expr=a&g0.tab=0&g0.range_input=2h&g0.end_input=2024-01-02%2003:04:05&g0.step_input=30&g0.stacked=1&g1.expr=b&g1.tab=1&g1.moment_input=2024-01-02%2000:00:00'),
             modern: dec('g0.expr=c&g0.tab=graph&g0.range_input=1d&g0.end_time=2024-01-02T03:04:05.000Z&g0.res_type=fixed&g0.res_step=15&g0.display_mode=stacked&g1.expr=d&g1.tab=table&g1.res_type=auto&g1.res_step=15'),
             reencoded: u.encodePanels(dec('g0.expr=a&g0.tab=0&g0.range_input=2h&g0.end_input=2024-01-02%2003:04:05'), true).toString(),
             si: [[1500, 500], [0.002, 0.001], [2500000, 500000], [-3e9, 1e9], [0, 1], [42, 10]].map(([v, st]) => s.formatSI(v, st)),
             ticks: s.niceTicks(0, 97, 5).ticks,
             times: s.timeTicks(1704164645, 1704168245, 8).ticks.map((t) => s.formatTimeTick(t, 600)),
           };
         });",
        vec![json!(ui_base(&b))],
    );
    let mut units = Value::Null;
    wait_until("unit results", || {
        units = b.eval("return window.__units", vec![]);
        !units.is_null()
    });
    let c = &units["classic"];
    assert_eq!(c[0]["tab"], "graph");
    assert_eq!(c[0]["range"], 7200);
    assert_eq!(c[0]["end"], 1704164645);
    assert_eq!(c[0]["step"], 30);
    assert_eq!(c[0]["stacked"], true);
    assert_eq!(c[1]["tab"], "table");
    assert_eq!(c[1]["end"], 1704153600);
    assert_eq!(c[1]["range"], 3600);
    let m = &units["modern"];
    assert_eq!(
        (
            m[0]["tab"].clone(),
            m[0]["range"].clone(),
            m[0]["end"].clone()
        ),
        (json!("graph"), json!(86400), json!(1704164645))
    );
    assert_eq!(
        (m[0]["step"].clone(), m[0]["stacked"].clone()),
        (json!(15), json!(true))
    );
    assert_eq!(
        (m[1]["tab"].clone(), m[1]["step"].clone()),
        (json!("table"), Value::Null)
    );
    assert_eq!(
        units["reencoded"],
        "g0.expr=a&g0.tab=0&g0.stacked=0&g0.range_input=2h&g0.end_input=2024-01-02+03%3A04%3A05&g0.moment_input=2024-01-02+03%3A04%3A05"
    );
    assert_eq!(units["si"], json!(["1.5k", "2m", "2.5M", "-3G", "0", "42"]));
    assert_eq!(units["ticks"], json!([0, 20, 40, 60, 80]));
    assert_eq!(
        units["times"],
        json!(["03:10", "03:20", "03:30", "03:40", "03:50", "04:00"])
    );

    // An invalid query shows the API's error text; the page keeps working.
    let (_, body) = srv.get("/api/v1/query", &[("query", "sum(up")]);
    let want: Value = serde_json::from_str(&body).unwrap();
    b.goto(&srv.url("/query?g0.expr=sum(up&g0.tab=table"));
    let shown = b.wait_text(".pq-error", "parse error");
    assert!(
        shown.contains(want["error"].as_str().unwrap()),
        "{shown} vs {want}"
    );
    assert!(shown.starts_with("bad_data"), "{shown}");
    b.screenshot("query-error");
    // Chromium logs the 400 answer as a failed load: that one is expected.
    b.expect_console_errors("status of 400");
    let input = b.find(".pq-input");
    input.clear();
    input.send_keys(&format!("up{CTRL_ENTER}"));
    b.wait_text(".pq-table", "job=\"ui\"");
    let error_hidden = b.eval(
        "return document.querySelector('div.pq-error').hidden",
        vec![],
    );
    assert_eq!(error_hidden, json!(true));
}

/// Where the page loaded its modules from (the shell decides the asset
/// path; the page module's own URL tells).
fn ui_base(b: &Browser) -> String {
    let v = b.eval(
        "const l = [...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href).find(h => h.endsWith('/pages/query.css'));
         return l.slice(0, -'/pages/query.css'.length);",
        vec![],
    );
    v.as_str().unwrap().to_string()
}

/// The autocomplete's function list is the parser's: no function missing,
/// none the server would reject.
#[test]
fn editor_function_list_matches_the_parser() {
    let js =
        std::fs::read_to_string(common::workspace_file("src/web/ui/lib/functions.js")).unwrap();
    let start = js.find("export const FUNCTIONS = [").unwrap();
    let end = start + js[start..].find("];").unwrap();
    let listed: BTreeSet<String> = js[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[\""))
        .map(|l| l[..l.find('"').unwrap()].to_string())
        .collect();
    let parser: BTreeSet<String> = promql::functions::FUNCTIONS
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    assert_eq!(listed, parser);
}
