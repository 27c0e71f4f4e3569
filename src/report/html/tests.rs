use super::*;

/// A small results folder whose texts try to break the page.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("experiment.resolved.toml"),
        "name = \"demo\"\ndescription = \"a <b>bold</b> claim & more\"\n",
    )
    .unwrap();
    std::fs::write(p.join("env.json"), "{\"source_commit\": \"abc\", \"seeds\": [0, 1]}\n").unwrap();
    std::fs::write(
        p.join("runs.csv"),
        "run_id,label,final_test_acc,round_compute_s,round_wait_s\nr1,</td><script>alert(1)</script>,0.5,0.002,0.001\n\
         r2,ok,0.7,0.001,0\n",
    )
    .unwrap();
    std::fs::write(
        p.join("b.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><text>50% #1</text></svg>",
    )
    .unwrap();
    std::fs::write(p.join("a.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>")
        .unwrap();
    std::fs::write(p.join("timing.csv"), "run_id,ms_per_epoch,seconds\nr1,1.234567,0.1\n").unwrap();
    std::fs::write(
        p.join("workers.csv"),
        "run_id,worker,activity,start_s,end_s,partition,clock,version\nr1,0,compute,0,1,0,0,0\nr1,1,</script>,0,2,1,0,0\n",
    )
    .unwrap();
    dir
}

#[test]
fn the_page_holds_every_part_with_file_text_escaped() {
    let dir = folder();
    let page = page::render(&read(dir.path()).unwrap());
    assert!(page.contains("<h1>demo</h1>"));
    assert!(page.contains("a &lt;b&gt;bold&lt;/b&gt; claim &amp; more"));
    assert!(page.contains("<tr><th>source_commit</th><td>abc</td></tr>\n"), "one line per provenance entry");
    assert!(page.contains("<td>&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    assert_eq!(page.matches("<script>").count(), 1, "only the page's own script");
    assert_eq!(page.matches("</script>").count(), 2, "the page's script and the timeline's data");
    let (a, b) = (page.find("alt=\"a.svg\"").unwrap(), page.find("alt=\"b.svg\"").unwrap());
    assert!(a < b, "figures in name order");
    assert!(page.contains("50%25 %231") && page.contains("src='data:image/svg+xml,<svg xmlns=\"http"));
    assert!(page.contains("id=\"breakdown\"") && page.contains("width:66.667%") && page.contains("width:33.333%"));
    assert!(!page.contains("1.234567"), "the wall clock is not on the page");
    assert!(page.contains("\\u003c/script>"), "the activity name stays inside the JSON");
}

#[test]
fn the_same_folder_gives_the_same_bytes() {
    let dir = folder();
    let out = tempfile::tempdir().unwrap();
    let first = write_report(dir.path(), None).unwrap();
    assert_eq!(first, dir.path().join(REPORT_FILE));
    let second = write_report(dir.path(), Some(&out.path().join("copy.html"))).unwrap();
    assert_eq!(std::fs::read(first).unwrap(), std::fs::read(second).unwrap());
}

#[test]
fn a_train_folder_shows_its_summary_and_a_foreign_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a gcnsim results folder"), "{e}");
    std::fs::write(dir.path().join("summary.json"), "{\"epochs\": 3}").unwrap();
    let c = read(dir.path()).unwrap();
    assert_eq!(c.config.as_ref().map(|c| c.0.as_str()), Some("summary.json"));
    assert!(c.runs.is_none() && c.timeline.is_none() && c.figures.is_empty());
    let page = page::render(&c);
    assert!(page.contains("&quot;epochs&quot;: 3") && !page.contains("id=\"breakdown\""));
}
