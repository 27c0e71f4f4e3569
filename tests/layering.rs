//! The house's layers point one way, read from the source: every `crate::…`, `super::…` and
//! `self::…` path in `src/` (in `use` lines, `use` groups and paths in code) is resolved to the
//! module it names, and
//!
//! - a top-level module (a room) may use only rooms on a lower floor of [`FLOORS`];
//! - within a folder, the files (and sub-folders) do not use each other in a circle.
//!
//! Test code (`#[cfg(test)]` modules, inline or in their own file) is not checked: a test may
//! build its fixtures with anything in the crate (a model test prepares its problem with
//! `sim::prepare`). Re-exports are not followed: `use super::X` names the parent, not the file
//! that defines `X`. Only `std` is used, so the check also compiles alone (`rustc --test`) and can
//! be run against another checkout by setting `CARGO_MANIFEST_DIR` at compile time.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The floors, lowest first. A room may use rooms on lower floors only (never its own floor's
/// other rooms, never a higher floor). Every top-level module of `src/` must be placed here.
const FLOORS: &[&[&str]] = &[
    // Utilities that know nothing of graphs or training.
    &["rng", "tensor", "host", "bounded", "spec"],
    // The seeded fuzzer (over `rng`), used by the parsers' fuzz tests.
    &["fuzz"],
    // CSR, normalization, partitions, the local graph each worker holds and its boundary mode.
    &["graph"],
    // Loaders and generators of graphs; the CPU and GPU backends (and each op's `KernelCost`).
    &["data", "backend"],
    // The GCN over the backend; the parameter server (weights, aggregation, optimizers); the
    // compression codecs' specs and encoded sizes (over the backend's codec ops).
    &["model", "ps", "compress"],
    // Time of kernels on devices, of messages on networks.
    &["cost"],
    // The driver: configuration, BSP rounds, SSP/ASP events, the simulated cluster, checkpoints.
    &["sim"],
    // CSVs, plots, progress.
    &["report"],
    // Experiment files and their results folders; the command-line definitions.
    &["experiment", "cli"],
    // The commands.
    &["app"],
];

/// Circles between sibling files known to remain, each with the reason. The test fails if one of
/// them is gone (so the list shrinks as they are broken) or if any other circle appears.
const KNOWN_CIRCLES: &[(&str, &[&str], &str)] = &[(
    "sim",
    &["driver", "relaxed", "rounds"],
    "the driver dispatches to the BSP rounds and the SSP/ASP events, which use the driver's \
     shared pieces; issue #25 part 1 rewrites rounds.rs",
)];

/// Two-file circles broken in issue #25: neither file of a pair may use the other both ways.
const BROKEN_PAIRS: &[(&str, &str)] = &[
    ("ps::optimizer", "ps::optimizer_spec"),
    ("sim::byzantine", "sim::config"),
    ("sim::cluster", "sim::config"),
    ("report::plots::style", "report::plots::series"),
    ("backend::gpu::alloc", "backend::gpu::residency"),
    ("backend::gpu::profiler", "backend::gpu::recorder"),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// One use of a module path: where it is and what it names (absolute, without `crate`).
#[derive(Clone, Debug)]
struct Use {
    file: String,
    line: usize,
    target: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

/// The source as tokens with their line numbers: comments, string and char literals dropped.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    let count_lines = |from: usize, to: usize| c[from..to.min(c.len())].iter().filter(|&&ch| ch == '\n').count();
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let (start, mut depth) = (i, 0);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i);
        } else if ch == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && raw_string_end(&c, i).is_some()
        {
            let end = raw_string_end(&c, i).unwrap();
            line += count_lines(i, end);
            i = end;
        } else if ch == '"' || (ch == 'b' && c.get(i + 1) == Some(&'"')) {
            let start = i;
            i += if ch == 'b' { 2 } else { 1 };
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            line += count_lines(start, i);
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}', '"'), else a lifetime or label.
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Colons, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// The end of a raw string starting at `i` (`r"…"`, `r#"…"#`), if it is one.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    None
}

/// A use tree after `path::`: segments, then possibly a `{…}` group of further trees.
fn use_tree(toks: &[(Tok, usize)], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::Colons) {
                    i += 1;
                    continue;
                }
                out.push(path);
                return i;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) | None => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        Some(Tok::Punct('*')) => {
                            out.push(path.clone());
                            i += 1;
                        }
                        _ => {
                            let before = i;
                            i = use_tree(toks, i, path.clone(), out);
                            // `as name` and anything else the tree does not consume.
                            while !matches!(toks.get(i).map(|t| &t.0), Some(Tok::Punct(',' | '}')) | None) {
                                i += 1;
                            }
                            assert!(i > before);
                        }
                    }
                }
            }
            _ => {
                // `*` or the end of the path.
                out.push(path);
                return i;
            }
        }
    }
}

/// Module path of a file under `src/` (`backend/gpu/alloc.rs` → `backend::gpu::alloc`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every non-test use of a module path in `src/`, and the modules that are test-only files.
struct Scan {
    uses: Vec<Use>,
    /// Every module of the crate (file modules, `mod.rs` folders and inline modules).
    modules: BTreeSet<Vec<String>>,
}

fn scan() -> Scan {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut parsed = Vec::new();
    // Modules declared `#[cfg(test)] mod name;`: their files are test code.
    let mut test_files: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut modules = BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap().to_path_buf();
        let me = module_of(&rel);
        let toks = tokens(&fs::read_to_string(path).unwrap());
        for i in 0..toks.len() {
            // `#[cfg(test)] mod name;`
            if let Some(j) = after_cfg_test(&toks, i) {
                if let (Some(Tok::Ident(m)), Some(Tok::Ident(name)), Some(Tok::Punct(';'))) =
                    (toks.get(j).map(|x| &x.0), toks.get(j + 1).map(|x| &x.0), toks.get(j + 2).map(|x| &x.0))
                {
                    if m == "mod" {
                        let mut child = me.clone();
                        child.push(name.clone());
                        test_files.insert(child);
                    }
                }
            }
        }
        modules.insert(me.clone());
        parsed.push((rel, me, toks));
    }
    let mut uses = Vec::new();
    for (rel, me, toks) in &parsed {
        if (1..=me.len()).any(|k| test_files.contains(&me[..k])) {
            continue;
        }
        // Inline modules: (name, brace depth at which it closes, is test).
        let mut stack: Vec<(String, usize, bool)> = Vec::new();
        let mut depth = 0usize;
        let mut pending_test = false;
        let mut i = 0;
        while i < toks.len() {
            let (t, line) = (&toks[i].0, toks[i].1);
            match t {
                Tok::Punct('#') => {
                    if let Some(j) = after_cfg_test(toks, i) {
                        pending_test = true;
                        i = j;
                        continue;
                    }
                }
                Tok::Ident(s) if s == "mod" => {
                    if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                        (toks.get(i + 1).map(|x| &x.0), toks.get(i + 2).map(|x| &x.0))
                    {
                        let outer_test = stack.last().is_some_and(|s| s.2);
                        stack.push((name.clone(), depth + 1, pending_test || outer_test));
                        let mut inline = me.clone();
                        inline.extend(stack.iter().map(|s| s.0.clone()));
                        modules.insert(inline);
                        depth += 1;
                        pending_test = false;
                        i += 3;
                        continue;
                    }
                }
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    if stack.last().is_some_and(|s| s.1 == depth) {
                        stack.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            // `#[cfg(test)]` holds for the next item only; only a `mod` block is skipped.
            if !matches!(t, Tok::Punct('#' | '[' | ']' | '(' | ')') | Tok::Ident(_)) {
                pending_test = false;
            }
            let in_test = stack.last().is_some_and(|s| s.2);
            let starts_path = matches!(t, Tok::Ident(s) if s == "crate" || s == "super" || s == "self")
                && toks.get(i + 1).map(|x| &x.0) == Some(&Tok::Colons)
                && !(i > 0 && matches!(toks[i - 1].0, Tok::Colons | Tok::Punct('$')));
            if !starts_path {
                i += 1;
                continue;
            }
            let mut paths = Vec::new();
            let end = use_tree(toks, i, Vec::new(), &mut paths);
            if !in_test {
                let mut here = me.clone();
                here.extend(stack.iter().map(|s| s.0.clone()));
                for p in paths {
                    uses.push(Use { file: rel.display().to_string(), line, target: resolve(&here, &p) });
                }
            }
            i = end.max(i + 1);
        }
    }
    Scan { uses, modules }
}

/// If `#[cfg(test)]` starts at `i`, the index after it.
fn after_cfg_test(toks: &[(Tok, usize)], i: usize) -> Option<usize> {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    (toks.len() >= i + want.len() && toks[i..i + want.len()].iter().map(|x| &x.0).eq(want.iter()))
        .then_some(i + want.len())
}

/// `crate::a::b` → `[a, b]`; `super::x` and `self::x` relative to `here`.
fn resolve(here: &[String], path: &[String]) -> Vec<String> {
    let mut cur: Vec<String> = here.to_vec();
    let mut rest = path;
    if rest.first().map(String::as_str) == Some("crate") {
        cur.clear();
        rest = &rest[1..];
    }
    while let Some(s) = rest.first() {
        match s.as_str() {
            "super" => {
                cur.pop();
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    cur.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    cur
}

/// The top-level module a `#[macro_export]` macro is defined in (such macros live at `crate::`).
fn exported_macros() -> BTreeMap<String, String> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = BTreeMap::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let room = module_of(path.strip_prefix(&src).unwrap());
        let toks = tokens(&text);
        for w in toks.windows(4) {
            if let (Tok::Ident(m), Tok::Punct('!'), Tok::Ident(name)) = (&w[0].0, &w[1].0, &w[2].0) {
                if m == "macro_rules" && text.contains("#[macro_export]") && !room.is_empty() {
                    out.insert(name.clone(), room[0].clone());
                }
            }
        }
    }
    out
}

fn floor_of(room: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&room))
}

/// Every arrow from a room to a room that is not on a lower floor, as messages.
fn climbing_arrows(scan: &Scan) -> Vec<String> {
    let macros = exported_macros();
    let mut bad = Vec::new();
    for u in &scan.uses {
        let from = u.file.split(['/', '.']).next().unwrap().to_string();
        let Some(first) = u.target.first() else { continue };
        let to = if scan.modules.iter().any(|m| m.len() == 1 && &m[0] == first) {
            first.clone()
        } else if let Some(room) = macros.get(first) {
            room.clone()
        } else {
            continue; // an item at the crate root
        };
        if to == from || from == "lib" || from == "main" {
            continue;
        }
        match (floor_of(&from), floor_of(&to)) {
            (Some(a), Some(b)) if b < a => {}
            (Some(a), Some(b)) => bad.push(format!(
                "{}:{}: {from} (floor {a}) -> {to} (floor {b}) via `{}`",
                u.file,
                u.line,
                u.target.join("::")
            )),
            _ => {}
        }
    }
    bad
}

/// Arrows between siblings: (parent, from child, to child) → first place it is seen.
fn sibling_arrows(scan: &Scan) -> BTreeMap<(Vec<String>, String, String), String> {
    let mut out = BTreeMap::new();
    for u in &scan.uses {
        let me = module_of(Path::new(&u.file));
        let k = me.iter().zip(&u.target).take_while(|(a, b)| a == b).count();
        if k >= me.len() || k >= u.target.len() {
            continue; // a use of an ancestor or of the module itself or its children
        }
        if k == 0 {
            continue; // between rooms: `layers_point_down` checks those, more strictly
        }
        let parent = me[..k].to_vec();
        let mut sibling = parent.clone();
        sibling.push(u.target[k].clone());
        if !scan.modules.contains(&sibling) {
            continue; // an item of the parent (perhaps re-exported), not a module
        }
        out.entry((parent, me[k].clone(), u.target[k].clone())).or_insert_with(|| format!("{}:{}", u.file, u.line));
    }
    out
}

/// Strongly connected components of more than one node (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit(s: &mut State<'_>, v: &str) {
        let n = s.index.len();
        s.index.insert(v.to_string(), n);
        s.low.insert(v.to_string(), n);
        s.stack.push(v.to_string());
        for w in s.edges.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let l = s.low[&w].min(s.low[v]);
                s.low.insert(v.to_string(), l);
            } else if s.stack.contains(&w) {
                let l = s.index[&w].min(s.low[v]);
                s.low.insert(v.to_string(), l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            loop {
                let w = s.stack.pop().unwrap();
                let done = w == v;
                comp.insert(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), out: Vec::new() };
    let nodes: BTreeSet<String> = edges.keys().chain(edges.values().flatten()).cloned().collect();
    for v in nodes {
        if !s.index.contains_key(&v) {
            visit(&mut s, &v);
        }
    }
    s.out
}

#[test]
fn every_room_is_on_a_floor() {
    let scan = scan();
    let rooms: BTreeSet<&String> = scan.modules.iter().filter(|m| m.len() == 1).map(|m| &m[0]).collect();
    let unplaced: Vec<&&String> = rooms.iter().filter(|r| floor_of(r).is_none()).collect();
    assert!(unplaced.is_empty(), "top-level modules not placed on a floor of FLOORS: {unplaced:?}");
    let placed: Vec<&str> = FLOORS.iter().flat_map(|f| f.iter().copied()).collect();
    let gone: Vec<&&str> = placed.iter().filter(|r| !rooms.iter().any(|m| m == *r)).collect();
    assert!(gone.is_empty(), "FLOORS names modules that do not exist: {gone:?}");
}

#[test]
fn layers_point_down() {
    let scan = scan();
    assert!(scan.uses.len() > 500, "found only {} module paths in src/: is the scan broken?", scan.uses.len());
    let bad = climbing_arrows(&scan);
    assert!(
        bad.is_empty(),
        "{} arrows climb (a room may use rooms on lower floors only):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn no_circles_between_sibling_files() {
    let scan = scan();
    let arrows = sibling_arrows(&scan);
    let mut by_parent: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (parent, from, to) in arrows.keys() {
        by_parent.entry(parent.clone()).or_default().entry(from.clone()).or_default().insert(to.clone());
    }
    let mut found = Vec::new();
    let mut known_seen = BTreeSet::new();
    for (parent, edges) in &by_parent {
        let parent_name = parent.join("::");
        for comp in circles(edges) {
            let known = KNOWN_CIRCLES
                .iter()
                .position(|(p, members, _)| *p == parent_name && comp.iter().eq(members.iter().copied()));
            if let Some(k) = known {
                known_seen.insert(k);
                continue;
            }
            let detail: Vec<String> = arrows
                .iter()
                .filter(|((p, a, b), _)| p == parent && comp.contains(a) && comp.contains(b))
                .map(|((_, a, b), at)| format!("  {a} -> {b} at {at}"))
                .collect();
            found.push(format!("in `{parent_name}`: {comp:?}\n{}", detail.join("\n")));
        }
    }
    assert!(found.is_empty(), "circles between sibling modules:\n{}", found.join("\n"));
    for (k, (p, members, why)) in KNOWN_CIRCLES.iter().enumerate() {
        assert!(
            known_seen.contains(&k),
            "the known circle {members:?} in `{p}` ({why}) is gone: remove it from KNOWN_CIRCLES"
        );
    }
}

#[test]
fn the_broken_pairs_stay_broken() {
    let scan = scan();
    let arrows = sibling_arrows(&scan);
    let split = |m: &str| {
        let mut v: Vec<String> = m.split("::").map(String::from).collect();
        let last = v.pop().unwrap();
        (v, last)
    };
    for (a, b) in BROKEN_PAIRS {
        let ((pa, na), (pb, nb)) = (split(a), split(b));
        assert_eq!(pa, pb, "{a} and {b} are not siblings");
        for m in [a, b] {
            assert!(scan.modules.contains(&m.split("::").map(String::from).collect::<Vec<_>>()), "no module {m}");
        }
        let ab = arrows.get(&(pa.clone(), na.clone(), nb.clone()));
        let ba = arrows.get(&(pa.clone(), nb.clone(), na.clone()));
        assert!(
            ab.is_none() || ba.is_none(),
            "{a} and {b} use each other again: {a} -> {b} at {ab:?}, {b} -> {a} at {ba:?}"
        );
    }
}

/// The scanner itself: use groups, `super` chains, comments and strings.
#[test]
fn the_scanner_reads_paths() {
    let text = "use crate::a::{b, c::{d, e as f}, self};\n// crate::commented::out\nfn g() { let s = \"crate::in_string\"; super::super::h::i(); self::j(); let c = '\"'; crate::k!(); }\n";
    let toks = tokens(text);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if matches!(&toks[i].0, Tok::Ident(s) if s == "crate" || s == "super" || s == "self")
            && toks.get(i + 1).map(|x| &x.0) == Some(&Tok::Colons)
        {
            let mut found = Vec::new();
            i = use_tree(&toks, i, Vec::new(), &mut found);
            paths.extend(found.into_iter().map(|p| resolve(&["x".into(), "y".into()], &p).join("::")));
        } else {
            i += 1;
        }
    }
    assert_eq!(paths, ["a::b", "a::c::d", "a::c::e", "a", "h::i", "x::y::j", "k"]);
}
