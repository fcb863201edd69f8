//! The release report opened in headless Chromium: a successful release, a failed and
//! rolled-back one and one of two namespaces. Each page is laid out by the browser on a
//! laptop-sized and a phone-sized window (screenshots are kept beside the report), loads
//! nothing from the network (its Content-Security-Policy would log any attempt), and
//! draws each timeline bar where its JSON says.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sandbox::{self, DevProject};

/// Chromium, or `None` (the test says so and passes) where it is not installed;
/// `scripts/test.sh` installs it.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

fn headless(browser: &Path, width: u32, height: u32) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--window-size={width},{height}"),
    ]);
    c
}

/// The script added to a copy of the page to measure, in the browser's layout, where
/// each bar sits in its track (as a share of the track's width).
const MEASURE: &str = "<script>for(const b of document.querySelectorAll('.bar')){const t=b.parentElement.getBoundingClientRect(),r=b.getBoundingClientRect();b.setAttribute('data-left',((r.left-t.left)/t.width).toFixed(4));b.setAttribute('data-right',((r.right-t.left)/t.width).toFixed(4));}</script>";

/// Opens `page` in Chromium: screenshots on a laptop and a phone window, no console
/// error, and every bar where `report.json` says.
fn check_in_chromium(browser: &Path, page: &Path, shots: &str) {
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(format!("{}.json", page.display())).unwrap())
            .unwrap();
    let dir = page.parent().unwrap();
    for (name, w, h) in [("laptop", 1366, 900), ("phone", 390, 844)] {
        let shot = dir.join(format!("{shots}-{name}.png"));
        let out = headless(browser, w, h)
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        let png = fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 2000,
            "{}",
            shot.display()
        );
        // A console error, or a resource the page's policy refused, is logged here.
        for line in log.lines() {
            assert!(
                !(line.contains("CONSOLE") || line.contains("Content Security Policy")),
                "{name}: {line}"
            );
        }
    }
    // The bars, measured in the browser.
    let html = fs::read_to_string(page).unwrap();
    let measured = dir.join(format!("{shots}-measured.html"));
    let html = html
        .replace(
            "default-src 'none'; style-src 'unsafe-inline'",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
        )
        .replace("</body>", &format!("{MEASURE}</body>"));
    fs::write(&measured, html).unwrap();
    let out = headless(browser, 1366, 900)
        .arg("--dump-dom")
        .arg(format!("file://{}", measured.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let bar = regex::Regex::new(
        r#"<div class="bar (\w+)" data-name="([^"]+)" data-start="([\d.]+)" data-end="([\d.]+)"[^>]*data-left="([-\d.]+)" data-right="([-\d.]+)""#,
    )
    .unwrap();
    let mut seen = 0;
    for (n_index, ns) in report["namespaces"].as_array().unwrap().iter().enumerate() {
        let duration = ns["timeline"]["duration"].as_f64().unwrap();
        let section_start = dom
            .find(&format!(
                "data-namespace=\"{}\"",
                ns["namespace"].as_str().unwrap()
            ))
            .unwrap_or_else(|| panic!("namespace {n_index} not in the page"));
        let section = &dom[section_start..];
        let section = &section[..section[1..]
            .find("<section")
            .map_or(section.len(), |e| e + 1)];
        let bars: Vec<_> = bar.captures_iter(section).collect();
        let rows = ns["timeline"]["rows"].as_array().unwrap();
        assert_eq!(bars.len(), rows.len(), "{section}");
        for (row, cap) in rows.iter().zip(&bars) {
            assert_eq!(row["name"].as_str().unwrap().replace('&', "&amp;"), &cap[2]);
            assert_eq!(row["result"].as_str().unwrap(), &cap[1]);
            let left: f64 = cap[5].parse().unwrap();
            let right: f64 = cap[6].parse().unwrap();
            let want_left = row["start"].as_f64().unwrap() / duration;
            let want_right = (row["end"].as_f64().unwrap() / duration).max(want_left + 0.004);
            assert!(
                (left - want_left).abs() < 0.01 && (right - want_right).abs() < 0.01,
                "{}: drawn at {left}..{right}, the JSON says {want_left}..{want_right}",
                &cap[2]
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "no bar in {}", page.display());
}

fn image(n: u32) -> String {
    format!("api={}", sandbox::image(n))
}

/// `deploy dev --ci none [extra…] --image api=<n> --report page` in `dir`, which must exit
/// with `code`; the report's JSON (`page.json`).
fn deploy_with_report(
    dir: &Path,
    n: u32,
    page: &Path,
    extra: &[&str],
    code: i32,
) -> serde_json::Value {
    let image = image(n);
    let mut args = vec!["deploy", "dev", "--ci", "none"];
    args.extend_from_slice(extra);
    args.extend(["--image", &image, "--report", page.to_str().unwrap()]);
    let out = sandbox::run(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = fs::read_to_string(format!("{}.json", page.display())).unwrap();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn reports_of_a_success_and_a_rollback_open_in_chromium_with_their_bars_in_place() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium on PATH (scripts/test.sh installs it)");
        return;
    };
    let p = DevProject::new("    settle: 0s\n");
    let ok_page = p.path().join("reports/ok.html");
    let ok = deploy_with_report(p.path(), 1, &ok_page, &[], 0);
    assert_eq!(ok["outcome"], "deployed");
    assert_eq!(ok["namespaces"][0]["revision"], 1);
    assert_eq!(
        ok["namespaces"][0]["images"][0]["reference"],
        sandbox::image(1)
    );
    assert_eq!(
        ok["namespaces"][0]["timeline"]["rows"][0]["result"],
        "ready"
    );
    check_in_chromium(&browser, &ok_page, "ok");

    p.set_behavior("never-ready");
    let failed_page = p.path().join("reports/failed.html");
    let failed = deploy_with_report(p.path(), 2, &failed_page, &["--timeout", "6s"], 4);
    let ns = &failed["namespaces"][0];
    assert_eq!(failed["outcome"], "rolled-back");
    assert_eq!(ns["rollback"]["to_revision"], 1);
    assert_eq!(ns["diagnosis"]["reason"], "ReadinessProbeFailing");
    let pod = ns["diagnosis"]["pod"].as_str().unwrap();
    let rows = ns["timeline"]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["result"], "failed");
    assert_eq!(rows[1]["name"], "deployment/api (restore)");
    assert!(
        rows[0]["moments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["reason"] == "Unhealthy"),
        "{}",
        rows[0]
    );
    let page = fs::read_to_string(&failed_page).unwrap();
    assert!(page.contains(&format!("<code class=\"pod\">{pod}</code>")));
    assert!(page.contains("rolled back to revision 1"));
    assert!(
        page.contains("readiness probe failed"),
        "the last log lines are shown"
    );
    check_in_chromium(&browser, &failed_page, "failed");

    // Later, from the record.
    let later = p.path().join("reports/later.html");
    let out = p.slipway(&["report", "dev", "2", "--out", later.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(p.path().join("reports/later.html.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["namespaces"][0]["revision"], 2);
    assert_eq!(doc["namespaces"][0]["status"], "rolled-back");
    // The record kept the release's own report: the same bars, diagnosis and rollback.
    assert_eq!(doc["namespaces"][0]["timeline"], ns["timeline"]);
    assert_eq!(doc["namespaces"][0]["diagnosis"]["pod"], pod);
    assert_eq!(doc["namespaces"][0]["rollback"]["to_revision"], 1);
    // And it keeps it once the release is superseded (revision 1 was re-applied as
    // the current one; revision 1's record was written again by both deploys).
    let first = p.path().join("reports/first.html");
    let out = p.slipway(&["report", "dev", "1", "--out", first.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(p.path().join("reports/first.html.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        first["namespaces"][0]["timeline"],
        ok["namespaces"][0]["timeline"]
    );
    assert!(
        doc["namespaces"][0]["outcome_text"]
            .as_str()
            .unwrap()
            .contains("ReadinessProbeFailing")
    );
    check_in_chromium(&browser, &later, "later");
    let unknown = p.slipway(&["report", "dev", "9"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("revision 9 is not recorded in `shop-dev`")
    );
}

#[test]
fn a_report_of_two_namespaces_has_a_timeline_for_each() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium on PATH (scripts/test.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    sandbox::write_project(
        dir.path(),
        "  dev:\n    cluster: sandbox\n    namespaces: [shop-a, shop-b]\n    settle: 0s\n",
        "ready",
    );
    let project = common::Project { dir };
    let page = project.path().join("two.html");
    let doc = deploy_with_report(project.path(), 1, &page, &[], 0);
    let names: Vec<&str> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop-a", "shop-b"]);
    check_in_chromium(&browser, &page, "two");
}
