//! End-to-end: `gcnsim data fetch | list | remove` and `--dataset NAME` against a local server
//! (`GCNSIM_DATASET_MIRROR`), in a temporary cache (`GCNSIM_DATA_DIR`).

use std::path::Path;
use std::process::{Command, Output};

use gcnsim::data::fetch::testserver::{zip_folder, Mode, TestServer};
use gcnsim::data::testdata::dataset_dir;

fn gcnsim(cache: &Path, server: &TestServer, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gcnsim"));
    cmd.args(args)
        .current_dir(cache)
        .env("GCNSIM_DATA_DIR", cache)
        .env("GCNSIM_DATASET_MIRROR", server.url())
        .env_remove("GCNSIM_OFFLINE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn fetch_list_and_remove_through_the_command_line() {
    let Some(fixture) = dataset_dir("planetoid-cora") else {
        return;
    };
    let server = TestServer::start(TestServer::files_of(&fixture));
    let cache = tempfile::tempdir().unwrap();
    let o = gcnsim(cache.path(), &server, &[], &["data", "fetch", "cora"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("fetching cora: 8 files, 572.4 kB"), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("cora: fetched"), "{}", text(&o.stdout));
    assert!(cache.path().join("cora/ind.cora.graph").is_file() && cache.path().join("SHA256SUMS").is_file());
    assert_eq!(server.requests(), 8);

    let again = gcnsim(cache.path(), &server, &[], &["data", "fetch", "cora"]);
    assert!(text(&again.stdout).contains("cached and verified"), "{}", text(&again.stdout));
    assert_eq!(server.requests(), 8, "a second fetch makes no request");

    let listed = text(&gcnsim(cache.path(), &server, &[], &["data", "list"]).stdout);
    let cora_line = listed.lines().find(|l| l.starts_with("cora ")).unwrap_or_default().to_string();
    assert!(cora_line.contains("572.4 kB"), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("ogbn-products") && l.contains(" - ")), "{listed}");
    assert_eq!(text(&gcnsim(cache.path(), &server, &[], &["data", "fetch", "--list"]).stdout), listed);

    let removed = gcnsim(cache.path(), &server, &[], &["data", "remove", "cora"]);
    assert!(text(&removed.stdout).contains("cora: removed"), "{}", text(&removed.stdout));
    assert!(!cache.path().join("cora").exists());
}

#[test]
fn a_named_dataset_is_fetched_on_first_use_unless_offline() {
    let Some(cora) = dataset_dir("cora") else {
        return;
    };
    let server = TestServer::start([("arxiv.zip".to_string(), zip_folder(&cora, "arxiv"))].into());
    let cache = tempfile::tempdir().unwrap();
    for (env, flag) in [(vec![("GCNSIM_OFFLINE", "1")], None), (vec![], Some("--offline"))] {
        let mut args = vec!["dataset-info", "ogbn-arxiv"];
        args.extend(flag);
        let o = gcnsim(cache.path(), &server, &env, &args);
        assert!(!o.status.success());
        assert!(text(&o.stderr).contains("gcnsim data fetch ogbn-arxiv"), "{}", text(&o.stderr));
    }
    assert_eq!(server.requests(), 0, "offline touches no network");
    let o = gcnsim(cache.path(), &server, &[], &["dataset-info", "ogbn-arxiv"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("2708"), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("fetching ogbn-arxiv: 1 file, about 81.0 MB"), "{}", text(&o.stderr));
    assert_eq!(server.requests(), 1);
    let offline = gcnsim(cache.path(), &server, &[("GCNSIM_OFFLINE", "1")], &["dataset-info", "ogbn-arxiv"]);
    assert!(offline.status.success(), "the cache serves offline: {}", text(&offline.stderr));
}

#[test]
fn a_failed_fetch_exits_non_zero_naming_the_file_and_leaves_no_dataset() {
    let Some(fixture) = dataset_dir("planetoid-cora") else {
        return;
    };
    let server = TestServer::start(TestServer::files_of(&fixture));
    server.set_mode(Mode::NotFound);
    let cache = tempfile::tempdir().unwrap();
    let o = gcnsim(cache.path(), &server, &[], &["data", "fetch", "cora"]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("fetching dataset `cora`") && e.contains("ind.cora.x") && e.contains("404"), "{e}");
    assert!(!cache.path().join("cora").exists());
    let unknown = gcnsim(cache.path(), &server, &[], &["data", "fetch", "imagenet"]);
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("unknown dataset `imagenet`"));
}
