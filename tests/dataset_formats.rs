//! End-to-end: the binary reads an OGB folder as OGB's loader leaves it, and Reddit's npz files,
//! through `--dataset DIR`; a folder of no known format is refused with every layout listed.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use npyz::WriterBuilder;

fn gcnsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnsim")).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// `ogbn_products/` as OGB leaves it, each undirected edge once (add_inverse_edge = True).
fn products_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("ogbn_products");
    write(&dir, "raw/edge.csv", "0,1\n1,2\n2,3\n");
    write(&dir, "raw/num-edge-list.csv", "3\n");
    write(&dir, "raw/node-feat.csv", "1,0\n0,1\n1,1\n0,1\n");
    write(&dir, "raw/node-label.csv", "0\n1\n0\n1\n");
    write(&dir, "raw/num-node-list.csv", "4\n");
    write(&dir, "split/sales_ranking/train.csv", "0\n1\n");
    write(&dir, "split/sales_ranking/valid.csv", "2\n");
    write(&dir, "split/sales_ranking/test.csv", "3\n");
    write(&dir, "RELEASE_v1.txt", "# Release note for ogbn-products\n\n### v1: 2020-05-01");
    write(&dir, "mapping/README.md", "not read");
    write(&dir, "processed/geometric_data_processed.pt", "not read");
    dir
}

fn npy<T: npyz::AutoSerialize + Clone>(shape: &[u64], data: &[T]) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut bytes).begin_nd().unwrap();
    writer.extend(data.iter().cloned()).unwrap();
    writer.finish().unwrap();
    bytes.into_inner()
}

/// Members zipped deflated, as `np.savez_compressed` and scipy's `save_npz` write them.
fn write_npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut zip = npyz::zip::ZipWriter::new(fs::File::create(path).unwrap());
    let options = npyz::zip::write::FileOptions::default();
    for (name, bytes) in members {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// A 6-node Reddit: a ring, 4 features, 3 classes, split 3 / 1 / 2.
fn reddit_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("reddit");
    fs::create_dir_all(&dir).unwrap();
    let features: Vec<f32> = (0..24).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
    write_npz(
        &dir.join("reddit_data.npz"),
        &[
            ("feature", npy(&[6, 4], &features)),
            ("label", npy(&[6], &[0i64, 1, 2, 0, 1, 2])),
            ("node_types", npy(&[6], &[1i64, 1, 1, 2, 3, 3])),
            ("node_ids", npy(&[6], &[10i64, 11, 12, 13, 14, 15])),
        ],
    );
    let row: Vec<i32> = (0..6).flat_map(|i| [i, (i + 1) % 6]).collect();
    let col: Vec<i32> = (0..6).flat_map(|i| [(i + 1) % 6, i]).collect();
    let mut format = npy(&[], &[0u8]);
    let at = format.windows(5).position(|w| w == b"'|u1'").unwrap();
    format[at..at + 5].copy_from_slice(b"'|S3'");
    format.pop();
    format.extend_from_slice(b"coo");
    write_npz(
        &dir.join("reddit_graph.npz"),
        &[
            ("row", npy(&[12], &row)),
            ("col", npy(&[12], &col)),
            ("data", npy(&[12], &[1.0f32; 12])),
            ("shape", npy(&[2], &[6i64, 6])),
            ("format", format),
        ],
    );
    dir
}

#[test]
fn an_ogb_products_folder_loads_with_its_release_and_inverse_edges() {
    let root = tempfile::tempdir().unwrap();
    let dir = products_folder(root.path());
    let o = gcnsim(&["dataset-info", dir.to_str().unwrap()]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("ogbn-products (OGB release v1, 2020-05-01)"), "{out}");
    assert!(out.contains("undirected edges: 3"), "{out}");
    assert!(out.contains("directed entries: 6"), "{out}");
    assert!(err.contains("2449029 nodes and 61859140 edges in OGB's release"), "{err}");
}

#[test]
fn reddit_trains_end_to_end() {
    let root = tempfile::tempdir().unwrap();
    let dir = reddit_folder(root.path());
    let info = gcnsim(&["dataset-info", dir.to_str().unwrap()]);
    let out = text(&info.stdout);
    assert!(info.status.success(), "{}", text(&info.stderr));
    for part in ["name:", "reddit", "nodes:", "6", "undirected edges: 6", "3 train / 1 valid / 2 test"] {
        assert!(out.contains(part), "`{out}` should mention `{part}`");
    }
    let results = root.path().join("out");
    let o = gcnsim(&[
        "train",
        "--dataset",
        dir.to_str().unwrap(),
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--out",
        results.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(fs::read_to_string(results.join("metrics.csv")).unwrap().lines().count(), 4, "header + 3 epochs");
}

#[test]
fn a_folder_of_no_known_format_lists_every_layout() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "graph/edges.txt", "0 1\n");
    let o = gcnsim(&["dataset-info", root.path().join("graph").to_str().unwrap()]);
    let err = text(&o.stderr);
    assert!(!o.status.success());
    for part in ["no dataset folder gcnsim knows", "raw/edge.csv.gz", "raw/data.npz", "reddit_data.npz"] {
        assert!(err.contains(part), "`{err}` should mention `{part}`");
    }
}

/// Writes a Reddit-sized folder (232,965 nodes, 114,615,892 stored entries, 602 features, 41
/// classes; `GCNSIM_REDDIT_SCALE` scales nodes and entries) into `GCNSIM_REDDIT_DIR`, to time
/// and measure `gcnsim dataset-info` on it:
/// `GCNSIM_REDDIT_DIR=/tmp/reddit cargo test --release --test dataset_formats -- --ignored`.
#[test]
#[ignore]
fn write_a_reddit_sized_folder() {
    let Some(dir) = std::env::var_os("GCNSIM_REDDIT_DIR").map(std::path::PathBuf::from) else {
        eprintln!("skipping: set GCNSIM_REDDIT_DIR");
        return;
    };
    let scale: f64 = std::env::var("GCNSIM_REDDIT_SCALE").map_or(1.0, |s| s.parse().unwrap());
    let nodes = (232_965.0 * scale) as u64;
    let undirected = (114_615_892.0 * scale / 2.0) as u64;
    fs::create_dir_all(&dir).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // SplitMix64: cheap, seeded, good enough for a synthetic graph.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut zip =
        npyz::zip::ZipWriter::new(std::io::BufWriter::new(fs::File::create(dir.join("reddit_data.npz")).unwrap()));
    let stored = npyz::zip::write::FileOptions::default()
        .compression_method(npyz::zip::CompressionMethod::Stored)
        .large_file(true);
    let array = |zip: &mut npyz::zip::ZipWriter<_>, name: &str| zip.start_file(format!("{name}.npy"), stored).unwrap();
    array(&mut zip, "feature");
    let mut w =
        npyz::WriteOptions::<f32>::new().default_dtype().shape(&[nodes, 602]).writer(&mut zip).begin_nd().unwrap();
    w.extend((0..nodes * 602).map(|_| (next() % 2000) as f32 / 1000.0 - 1.0)).unwrap();
    w.finish().unwrap();
    array(&mut zip, "label");
    let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[nodes]).writer(&mut zip).begin_nd().unwrap();
    w.extend((0..nodes).map(|_| (next() % 41) as i64)).unwrap();
    w.finish().unwrap();
    array(&mut zip, "node_types");
    let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[nodes]).writer(&mut zip).begin_nd().unwrap();
    w.extend((0..nodes).map(|i| {
        if i * 100 < nodes * 66 {
            1
        } else if i * 100 < nodes * 76 {
            2
        } else {
            3
        }
    }))
    .unwrap();
    w.finish().unwrap();
    zip.finish().unwrap();

    let edges: Vec<(i32, i32)> = (0..undirected).map(|_| ((next() % nodes) as i32, (next() % nodes) as i32)).collect();
    let mut zip =
        npyz::zip::ZipWriter::new(std::io::BufWriter::new(fs::File::create(dir.join("reddit_graph.npz")).unwrap()));
    let entries = 2 * undirected;
    for (name, forward) in [("row", true), ("col", false)] {
        array(&mut zip, name);
        let mut w =
            npyz::WriteOptions::<i32>::new().default_dtype().shape(&[entries]).writer(&mut zip).begin_nd().unwrap();
        w.extend(edges.iter().flat_map(|&(u, v)| if forward { [u, v] } else { [v, u] })).unwrap();
        w.finish().unwrap();
    }
    array(&mut zip, "data");
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&[entries]).writer(&mut zip).begin_nd().unwrap();
    w.extend((0..entries).map(|_| 1.0f32)).unwrap();
    w.finish().unwrap();
    array(&mut zip, "shape");
    zip.write_all(&npy(&[2], &[nodes as i64, nodes as i64])).unwrap();
    array(&mut zip, "format");
    let mut format = npy(&[], &[0u8]);
    let at = format.windows(5).position(|w| w == b"'|u1'").unwrap();
    format[at..at + 5].copy_from_slice(b"'|S3'");
    format.pop();
    format.extend_from_slice(b"coo");
    zip.write_all(&format).unwrap();
    zip.finish().unwrap();
    eprintln!("wrote {} ({nodes} nodes, {entries} entries)", dir.display());
}
