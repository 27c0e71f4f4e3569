//! The results page (`report.html`) in a real browser: headless Chromium, driven through the
//! DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages ending in a NUL byte,
//! on file descriptors 3 and 4), opens the page of a small experiment and checks that it logs no
//! error, that every figure and table is there, that a header click sorts, and that hovering a
//! worker-timeline interval shows its event.
//!
//! Skipped with a note when Chromium is missing (`/usr/bin/chromium`, or $GCNSIM_CHROMIUM);
//! with GCNSIM_REQUIRE_BROWSER=1 (CI) a missing browser fails instead.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("GCNSIM_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    let required = std::env::var("GCNSIM_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(!required, "GCNSIM_REQUIRE_BROWSER=1 but there is no Chromium at {}", path.display());
    eprintln!("skipped: no Chromium at {} (install Debian's `chromium`, or set GCNSIM_CHROMIUM)", path.display());
    None
}

/// A pipe's two ends: (read, write).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe: {}", std::io::Error::last_os_error());
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Headless Chromium and a DevTools session on one page.
struct Browser {
    child: Child,
    to: std::fs::File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    /// Events received while waiting for answers.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path) -> Self {
        use std::os::fd::AsRawFd;
        let profile = tempfile::tempdir().unwrap();
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (r, w) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let mut command = Command::new(chromium);
        command
            .args(["--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            .args(["--disable-extensions", "--window-size=1280,1000"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The child reads commands on fd 3 and writes answers on fd 4.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        drop((cmd_read, out_write));
        let (send, from) = mpsc::channel();
        let mut reader = BufReader::new(std::fs::File::from(out_read));
        std::thread::spawn(move || loop {
            let mut message = Vec::new();
            match reader.read_until(0, &mut message) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    message.pop();
                    let Ok(value) = serde_json::from_slice(&message) else { return };
                    if send.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            to: std::fs::File::from(cmd_write),
            from,
            next_id: 0,
            session: None,
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().expect("a target id").to_string();
        let attached = browser.call("Target.attachToTarget", json!({"targetId": target, "flatten": true}));
        browser.session = Some(attached["sessionId"].as_str().expect("a session id").to_string());
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command (to the page's session once attached) and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("writing to chromium");
        loop {
            let answer = self.receive(&format!("the answer to {method}"));
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {}", answer["error"]);
                return answer["result"].clone();
            }
            self.events.push(answer);
        }
    }

    fn receive(&mut self, what: &str) -> Value {
        self.from.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| panic!("no {what} from chromium: {e}"))
    }

    fn open(&mut self, page: &Path) {
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        self.call("Page.navigate", json!({"url": url}));
        while !self.events.iter().any(|e| e["method"] == "Page.loadEventFired") {
            let event = self.receive("load event");
            self.events.push(event);
        }
    }

    /// The value of `expression` in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and failed loads so far.
    fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => true,
                Some("Runtime.consoleAPICalled") => matches!(e["params"]["type"].as_str(), Some("error" | "assert")),
                Some("Log.entryAdded") => e["params"]["entry"]["level"] == "error",
                _ => false,
            })
            .map(|e| e["params"].to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `dir/report.html` and checks it as the module docs say; `hover` also checks the timeline.
fn check_report(browser: &mut Browser, dir: &Path) {
    browser.events.clear();
    browser.open(&dir.join("report.html"));
    let svgs = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".svg"))
        .count();
    let figures = browser.eval(
        "Array.from(document.querySelectorAll('#figures img')).filter(i => i.complete && i.naturalWidth > 0).length",
    );
    assert_eq!(figures, json!(svgs), "{}: every .svg is shown and decodes", dir.display());
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let (rows, columns) = (runs.lines().count() - 1, runs.lines().next().unwrap().split(',').count());
    let table = browser.eval("[document.querySelectorAll('#runs-table tbody tr').length, document.querySelectorAll('#runs-table thead th').length]");
    assert_eq!(table, json!([rows, columns]), "{}: the runs table", dir.display());
    for section in ["configuration", "provenance", "runs", "figures"] {
        assert_eq!(browser.eval(&format!("!!document.getElementById('{section}')")), json!(true), "{section}");
    }
    let errors = browser.errors();
    assert!(errors.is_empty(), "{}: errors in the page: {errors:#?}", dir.display());
}

/// Sorting by `final_test_acc` by a click puts the rows in ascending order.
fn check_sorting(browser: &mut Browser) {
    let sorted = browser.eval(
        "(() => { const t = document.getElementById('runs-table');
          const col = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent === 'final_test_acc');
          t.tHead.rows[0].cells[col].click();
          const v = Array.from(t.tBodies[0].rows).map(r => Number(r.cells[col].textContent));
          return v.length > 1 && v.every((x, i) => i === 0 || v[i - 1] <= x); })()",
    );
    assert_eq!(sorted, json!(true), "a click on a header sorts by it");
}

/// Moves the mouse onto the `index`-th interval of the shown run and returns the tooltip text.
fn hover(browser: &mut Browser, index: usize) -> (Value, String) {
    let found = browser.eval(&format!(
        "(() => {{ const r = document.querySelector('#timeline-view rect[data-i=\"{index}\"]');
          if (!r) return null; r.scrollIntoView({{block: 'center'}}); const b = r.getBoundingClientRect();
          return {{x: b.left + b.width / 2, y: b.top + b.height / 2,
                  iv: window.gcnsimTimeline.run.intervals[{index}]}}; }})()"
    ));
    assert!(!found.is_null(), "interval {index} is drawn");
    browser.call("Input.dispatchMouseEvent", json!({"type": "mouseMoved", "x": found["x"], "y": found["y"]}));
    let tip = browser
        .eval("(() => { const t = document.getElementById('tooltip'); return t.hidden ? '' : t.textContent; })()");
    (found["iv"].clone(), tip.as_str().unwrap_or_default().to_string())
}

/// Hovers the shown run's first interval: the tooltip names its worker and activity.
fn hover_shows_the_event(browser: &mut Browser) -> (Value, String) {
    let (iv, tip) = hover(browser, 0);
    let activities = browser.eval("window.gcnsimTimeline.data.activities");
    let activity = activities[iv[1].as_u64().unwrap() as usize].as_str().unwrap().to_string();
    assert!(tip.starts_with(&format!("worker {}: {activity}\n", iv[0])), "the tooltip shows the event: {tip:?}");
    (iv, tip)
}

fn check_timeline(browser: &mut Browser) {
    let runs = browser.eval("document.querySelectorAll('#timeline-run option').length");
    assert!(runs.as_u64().unwrap() >= 2, "a run per option: {runs}");
    // The last run: a cluster of workers; its first interval is worker 0's first pull.
    browser.eval("(() => { const s = document.getElementById('timeline-run'); s.selectedIndex = s.options.length - 1; s.dispatchEvent(new Event('change')); })()");
    let (iv, tip) = hover_shows_the_event(browser);
    assert!(tip.contains(&format!("round (clock) {}, weight version {}", iv[2], iv[3])), "{tip:?}");
    assert!(tip.contains("start ") && tip.contains("end "), "{tip:?}");
    // A push carries its gradient's fate; a zoom keeps the hovering working.
    browser.eval("document.getElementById('zoom-in').click()");
    let push = browser.eval(
        "(() => { const t = window.gcnsimTimeline;
          return t.run.intervals.findIndex(iv => t.data.activities[iv[1]] === 'push' && iv[4] >= t.a && iv[5] <= t.b); })()",
    );
    let (_, tip) = hover(browser, push.as_u64().expect("a push in the zoomed view") as usize);
    assert!(tip.contains(": push\n") && tip.contains("gradient: applied"), "{tip:?}");
    let errors = browser.errors();
    assert!(errors.is_empty(), "errors in the page: {errors:#?}");
}

fn gcnsim(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("gcnsim runs");
    assert!(out.status.success(), "gcnsim {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_report_page_works_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("small.toml");
    std::fs::write(
        &experiment,
        "name = \"small\"\ndescription = \"serial vs BSP on 2 and 4 workers <b>&</b>\"\n\
         dataset = \"csbm:nodes=300,valid=40,test=40,classes=3,train_per_class=10\"\n\
         [base]\nepochs = 12\n[[grid]]\npartitions = [1, 2, 4]\nseed = [0]\n",
    )
    .unwrap();
    let out = dir.path().join("small");
    let (e, o) = (experiment.to_str().unwrap(), out.to_str().unwrap());
    gcnsim(&["run", e, "--backend", "cpu", "--out", o]);
    let mut browser = Browser::start(&chromium);
    check_report(&mut browser, &out);
    let heading = browser.eval("document.querySelector('.description').textContent");
    assert_eq!(heading, json!("serial vs BSP on 2 and 4 workers <b>&</b>"), "file text stays text");
    check_sorting(&mut browser);
    check_timeline(&mut browser);
}

/// By hand: `GCNSIM_REPORT_DIRS=a:b cargo test --release --test report_browser -- --ignored`
/// checks the pages already written into results folders a and b (copies of results/, say).
#[test]
#[ignore = "checks the folders named in GCNSIM_REPORT_DIRS"]
fn given_reports_open_without_errors() {
    let Some(chromium) = chromium() else { return };
    let dirs = std::env::var("GCNSIM_REPORT_DIRS").expect("GCNSIM_REPORT_DIRS names the folders");
    let mut browser = Browser::start(&chromium);
    for dir in dirs.split(':').map(Path::new) {
        check_report(&mut browser, dir);
        if dir.join("workers.csv").is_file() {
            hover_shows_the_event(&mut browser);
            let errors = browser.errors();
            assert!(errors.is_empty(), "{}: errors in the page: {errors:#?}", dir.display());
        }
        eprintln!("{}: no console error, every figure and table present", dir.display());
    }
}
