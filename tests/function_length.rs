//! No function in `src/` is longer than a reader can hold in view: every non-test function,
//! from its `fn` line to its closing brace, is at most `MAX_LINES` lines. Test code (`#[cfg(test)]`
//! items, files named `tests.rs` or `*_tests.rs`) is exempt.
//!
//! The scan reads rustfmt's layout: a function's body closes with a `}` at the indentation of
//! its `fn` line.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 120;

/// A function and its length in lines.
#[derive(Debug, PartialEq)]
struct Function {
    name: String,
    line: usize,
    lines: usize,
}

/// The name after the qualifiers of a function item (`pub(crate) const unsafe fn name<…>(`),
/// or `None` if the (trimmed) line does not start one.
fn fn_name(trimmed: &str) -> Option<&str> {
    let mut rest = trimmed;
    if let Some(r) = rest.strip_prefix("pub") {
        rest = r.trim_start();
        if rest.starts_with('(') {
            rest = rest[rest.find(')')? + 1..].trim_start();
        }
    }
    for qualifier in ["default ", "const ", "async ", "unsafe ", "extern \"C\" ", "extern "] {
        if let Some(r) = rest.strip_prefix(qualifier) {
            rest = r.trim_start();
        }
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The index of the line that closes the item opened at `start`: the first later line that is
/// exactly `}` at the item's indentation (the last line if none is).
fn closing(lines: &[&str], start: usize) -> usize {
    let close = format!("{}}}", &lines[start][..indent(lines[start])]);
    (start + 1..lines.len()).find(|&i| lines[i].trim_end() == close).unwrap_or(lines.len() - 1)
}

/// Every function with a body in `source`, outside `#[cfg(test)]` items.
fn functions(source: &str) -> Vec<Function> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item the attribute applies to (`mod tests;` is one line).
            let item = (i + 1..lines.len()).find(|&j| !lines[j].trim().starts_with("#[")).unwrap_or(lines.len());
            i = if item >= lines.len() || lines[item].trim_end().ends_with(';') {
                item + 1
            } else {
                closing(&lines, item) + 1
            };
            continue;
        }
        if let Some(name) = fn_name(trimmed) {
            // The signature runs to the body's `{`, or to `;` for a declaration without a body.
            let Some(open) = (i..lines.len()).find(|&j| lines[j].contains('{') || lines[j].trim_end().ends_with(';'))
            else {
                break;
            };
            if lines[open].contains('{') {
                let one_line = lines[open].trim_end().ends_with('}') && open == i;
                let end = if one_line { i } else { closing(&lines, i) };
                found.push(Function { name: name.to_string(), line: i + 1, lines: end - i + 1 });
            }
        }
        i += 1;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// `file: fn name (line N) is L lines` for every function of `src` over `MAX_LINES` lines.
fn too_long(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut long = Vec::new();
    for path in files.iter().filter(|p| !is_test_file(p)) {
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for f in functions(&source).into_iter().filter(|f| f.lines > MAX_LINES) {
            let file = path.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(path).display();
            long.push(format!("{file}: fn {} (line {}) is {} lines", f.name, f.line, f.lines));
        }
    }
    long
}

#[test]
fn no_function_in_src_is_over_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long = too_long(&src);
    assert!(
        long.is_empty(),
        "functions over {MAX_LINES} lines (split them into well-named steps):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_scan_measures_functions_and_skips_test_code() {
    let body = "    let x = 1;\n".repeat(5);
    let source = format!(
        "pub(crate) fn outer<T: Clone>(\n    a: T,\n) -> T {{\n{body}    a\n}}\n\n\
         fn short() {{}}\n\n\
         trait Step {{\n    fn declared(&self);\n    fn provided(&self) {{\n        let _ = 1;\n    }}\n}}\n\n\
         #[cfg(test)]\nmod tests {{\n    fn skipped() {{\n{body}    }}\n}}\n\n\
         #[cfg(test)]\nmod more_tests;\n\n\
         impl S {{\n    pub async fn method(&self) {{\n        // fn in_a_comment() {{\n    }}\n}}\n"
    );
    let found: Vec<(String, usize)> = functions(&source).into_iter().map(|f| (f.name, f.lines)).collect();
    let expected = [("outer", 10), ("short", 1), ("provided", 3), ("method", 3)];
    assert_eq!(found, expected.map(|(n, l)| (n.to_string(), l)));
    assert_eq!(fn_name("pub(in crate::sim) const fn f(x: u8) -> u8 {"), Some("f"));
    assert_eq!(fn_name("// fn commented() {"), None);
    assert_eq!(fn_name("let fn_count = 3;"), None);
    assert!(is_test_file(Path::new("src/report/plots/tests.rs")));
    assert!(is_test_file(Path::new("src/fuzz_tests.rs")));
    assert!(!is_test_file(Path::new("src/sim/rounds.rs")));
}
