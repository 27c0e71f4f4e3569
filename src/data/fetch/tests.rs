//! Fetching against a local server: success, a corrupted byte, a truncated transfer, a 404, a
//! dropped connection, redirects, offline use, no request on a second fetch, archives.

use std::time::Duration;

use super::testserver::{zip_folder, Mode, TestServer};
use super::*;
use crate::data::ogb::{self, OgbOptions};
use crate::data::testdata::dataset_dir;

fn settings(root: &Path, server: &TestServer) -> Settings {
    Settings {
        mirror: Some(server.url()),
        retries: 2,
        backoff: Duration::from_millis(10),
        ..Settings::new(root.to_owned())
    }
}

/// A server holding Cora's eight Planetoid files, or `None` (skipped) without the fixture.
fn planetoid_server() -> Option<(TestServer, PathBuf)> {
    let dir = dataset_dir("planetoid-cora")?;
    Some((TestServer::start(TestServer::files_of(&dir)), dir))
}

/// Nothing but (possibly) `SHA256SUMS` is left in the cache root.
fn assert_nothing_left(root: &Path) {
    let left: Vec<String> = std::fs::read_dir(root)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| n == cache::SUMS_FILE), "left behind: {left:?}");
}

#[test]
fn cora_is_fetched_verified_and_cached_and_a_second_fetch_makes_no_request() {
    let Some((server, fixture)) = planetoid_server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let s = settings(root.path(), &server);
    let dir = fetch("cora", &s, &mut progress::Silent).unwrap();
    assert_eq!(dir, root.path().join("cora"));
    assert_eq!(server.requests(), 8);
    for file in ["ind.cora.x", "ind.cora.graph", "ind.cora.test.index"] {
        assert_eq!(std::fs::read(dir.join(file)).unwrap(), std::fs::read(fixture.join(file)).unwrap(), "{file}");
    }
    let sums = Sums::load(root.path()).unwrap();
    assert_eq!(sums.of("cora").count(), 8);
    assert_eq!(fetch("cora", &s, &mut progress::Silent).unwrap(), dir);
    assert_eq!(server.requests(), 8, "a second fetch makes no request");
    let offline = Settings { offline: true, ..s };
    assert_eq!(fetch("cora", &offline, &mut progress::Silent).unwrap(), dir, "offline use of the cache");
}

#[test]
fn a_corrupted_byte_is_refused_naming_the_file_and_both_hashes_and_leaves_nothing() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    server.set_mode(Mode::CorruptByte);
    let root = tempfile::tempdir().unwrap();
    let e = fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap_err().to_string();
    let expected = registry::find("cora").unwrap().remotes[0].sha256.unwrap();
    assert!(e.contains("ind.cora.x") && e.contains(&format!("expected {expected}, got ")), "{e}");
    assert_eq!(server.requests(), 1, "a hash mismatch is not retried");
    assert_nothing_left(root.path());
}

#[test]
fn a_truncated_transfer_is_retried_then_refused_with_the_byte_counts() {
    let Some((server, fixture)) = planetoid_server() else {
        return;
    };
    server.set_mode(Mode::Truncate);
    let root = tempfile::tempdir().unwrap();
    let e = fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap_err().to_string();
    let total = std::fs::metadata(fixture.join("ind.cora.x")).unwrap().len();
    assert!(e.contains("ind.cora.x") && e.contains(&format!("of {total} bytes")), "{e}");
    assert_eq!(server.requests(), 3, "one attempt and two retries");
    assert_nothing_left(root.path());
}

#[test]
fn a_404_is_not_retried_and_names_the_file_and_url() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    server.set_mode(Mode::NotFound);
    let root = tempfile::tempdir().unwrap();
    let e = fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap_err().to_string();
    assert!(e.contains("ind.cora.x") && e.contains("404") && e.contains(&server.url()), "{e}");
    assert_eq!(server.requests(), 1);
    assert_nothing_left(root.path());
}

#[test]
fn an_empty_download_is_refused_not_recorded() {
    let server = TestServer::start([("arxiv.zip".to_string(), Vec::new())].into());
    let root = tempfile::tempdir().unwrap();
    let e = fetch("ogbn-arxiv", &settings(root.path(), &server), &mut progress::Silent).unwrap_err().to_string();
    assert!(e.contains("arxiv.zip") && e.contains("empty file"), "{e}");
    assert_nothing_left(root.path());
    let sums = std::fs::read_to_string(root.path().join(cache::SUMS_FILE)).unwrap_or_default();
    assert!(!sums.contains("arxiv.zip"), "{sums}");
}

#[test]
fn a_dropped_connection_is_retried_then_reported() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    server.set_mode(Mode::Drop);
    let root = tempfile::tempdir().unwrap();
    let e = fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap_err().to_string();
    assert!(e.starts_with("ind.cora.x: ") && e.ends_with("(gave up after 3 attempts)"), "{e}");
    assert_eq!(server.requests(), 3);
    assert_nothing_left(root.path());
}

#[test]
fn redirects_are_followed() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    server.set_mode(Mode::Redirect);
    let root = tempfile::tempdir().unwrap();
    fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap();
    assert_eq!(server.requests(), 16, "each file: the redirect and the file");
}

#[test]
fn offline_refuses_the_network_and_names_the_command() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let s = Settings { offline: true, ..settings(root.path(), &server) };
    let e = fetch("citeseer", &s, &mut progress::Silent).unwrap_err().to_string();
    assert!(e.contains("gcnsim data fetch citeseer") && e.contains("GCNSIM_OFFLINE"), "{e}");
    assert_eq!(server.requests(), 0);
    let unknown = fetch("ogbn-mag", &s, &mut progress::Silent).unwrap_err().to_string();
    assert!(unknown.contains("`ogbn-mag`") && unknown.contains("ogbn-products"), "{unknown}");
}

/// An OGB-style archive (`arxiv/raw/...`, made from the OGB-layout Cora) served as `arxiv.zip`.
fn arxiv_server() -> Option<(TestServer, Vec<u8>)> {
    let cora = dataset_dir("cora")?;
    let zip = zip_folder(&cora, "arxiv");
    let server = TestServer::start([("arxiv.zip".to_string(), zip.clone())].into());
    Some((server, zip))
}

#[test]
fn an_archive_is_unpacked_without_its_top_folder_and_loads() {
    let Some((server, zip)) = arxiv_server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let s = settings(root.path(), &server);
    let dir = fetch("ogbn-arxiv", &s, &mut progress::Silent).unwrap();
    assert!(dir.join("raw").is_dir() && dir.join("split").is_dir(), "{}", dir.display());
    assert!(!dir.join("arxiv.zip").exists(), "the archive is not kept");
    let ds = ogb::load(&dir, &OgbOptions::default()).unwrap();
    assert_eq!(ds.num_nodes(), 2708);
    let sums = Sums::load(root.path()).unwrap();
    let recorded = &sums.records[&cache::key("ogbn-arxiv", "arxiv.zip")];
    assert_eq!(recorded.bytes, zip.len() as u64, "the first download records its size and hash");
    assert!(sums.of("ogbn-arxiv").any(|(f, _)| f.starts_with("raw/")), "unpacked files are recorded");
    fetch("ogbn-arxiv", &s, &mut progress::Silent).unwrap();
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_changed_cached_file_or_a_changed_download_fails_the_recorded_hash() {
    let Some((server, zip)) = arxiv_server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let s = settings(root.path(), &server);
    let dir = fetch("ogbn-arxiv", &s, &mut progress::Silent).unwrap();
    let labels = cache::files_under(&dir).unwrap().into_iter().find(|f| f.contains("node-label")).unwrap();
    let mut bytes = std::fs::read(dir.join(&labels)).unwrap();
    bytes[0] ^= 1;
    std::fs::write(dir.join(&labels), bytes).unwrap();
    let e = fetch("ogbn-arxiv", &s, &mut progress::Silent).unwrap_err().to_string();
    assert!(e.contains(&labels) && e.contains("SHA-256 mismatch"), "{e}");

    assert_eq!(remove("ogbn-arxiv", root.path()).unwrap().map(|b| b > 0), Some(true));
    assert!(!dir.exists() && remove("ogbn-arxiv", root.path()).unwrap().is_none());
    let mut other = zip.clone();
    let n = other.len();
    other[n - 30] ^= 1; // inside the central directory's trailer: a different file, same size
    server.insert("arxiv.zip", other);
    let e = fetch("ogbn-arxiv", &s, &mut progress::Silent).unwrap_err().to_string();
    assert!(e.starts_with("arxiv.zip: SHA-256 mismatch"), "{e}");
    assert_nothing_left_but_sums_of(root.path());
}

fn assert_nothing_left_but_sums_of(root: &Path) {
    assert_nothing_left(root);
    assert!(Sums::load(root).unwrap().records.contains_key("ogbn-arxiv/arxiv.zip"), "the download's record stays");
}

#[test]
fn list_shows_what_is_cached_and_the_download_sizes() {
    let Some((server, _)) = planetoid_server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    fetch("cora", &settings(root.path(), &server), &mut progress::Silent).unwrap();
    let listing = list(root.path());
    assert_eq!(listing.len(), registry::ENTRIES.len());
    let cora = listing.iter().find(|l| l.name == "cora").unwrap();
    assert_eq!(cora.cached, Some(cora.download_bytes));
    assert!(cora.download_exact);
    assert!(listing.iter().filter(|l| l.name != "cora").all(|l| l.cached.is_none()));
}
