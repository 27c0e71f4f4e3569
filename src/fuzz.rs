//! A small seeded fuzzer for gcnsim's untrusted inputs (checkpoints, experiment files, spec
//! strings, dataset headers), with no crates beyond the tree: a deterministic [`Mutator`] and a
//! driver, [`run_cases`], that catches panics and names the case that raised one.
//!
//! # Use
//! ```no_run
//! use gcnsim::fuzz::{self, Outcome};
//! let seed_input = b"csbm:nodes=2000,p=0.3".to_vec();
//! let report = fuzz::run_cases("spec strings", fuzz::case_count(300), 0x5eed, |_case, m| {
//!     let text = m.mutate_text(std::str::from_utf8(&seed_input).unwrap());
//!     match text.parse::<gcnsim::data::DatasetSpec>() {
//!         Ok(_) => Outcome::Accepted,
//!         Err(_) => Outcome::refused("parse"),
//!     }
//! });
//! assert_eq!(report.cases, report.accepted + report.refused);
//! ```
//!
//! - Case `i` of a target draws from `Mutator::new(seed, i)` alone, so one case replays without the
//!   others: `GCNSIM_FUZZ_REPLAY=i` runs only case `i`, with the panic hook left on (backtraces).
//! - `GCNSIM_FUZZ_CASES=N` sets the case count of every target that asks [`case_count`] (the
//!   default is small, for `cargo test`; long runs set it to 1,000,000 on `#[ignore]`d variants).
//! - The closure returns [`Outcome::Accepted`] or [`Outcome::Refused`]; anything it considers an
//!   inconsistency it asserts, and a failed assertion counts as a panic like any other.
//! - A panic fails the target (it panics itself) with a message naming the target, the case and
//!   the seed, the panic's message and its location.
//! - While a case runs, panics on the fuzzing thread are silent (the hook stays on elsewhere, so
//!   tests running beside a fuzz target keep their messages).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::rng::SplitMix64;

/// Environment variable with the number of cases per target ([`case_count`]).
pub const CASES_VAR: &str = "GCNSIM_FUZZ_CASES";
/// Environment variable naming one case to replay ([`run_cases`]).
pub const REPLAY_VAR: &str = "GCNSIM_FUZZ_REPLAY";

/// What one case did with its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input was accepted and the result checked consistent.
    Accepted,
    /// The input was refused with an error; the label groups refusals in the [`Report`].
    Refused(String),
}

impl Outcome {
    pub fn refused(label: impl Into<String>) -> Self {
        Outcome::Refused(label.into())
    }
}

/// The counts of a finished target.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub name: String,
    pub seed: u64,
    pub cases: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Refusals by label (at most [`MAX_LABELS`] labels; the rest count under "other").
    pub refusals: BTreeMap<String, u64>,
    pub wall: Duration,
}

/// How many distinct refusal labels a report keeps.
pub const MAX_LABELS: usize = 64;

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fuzz target {}: {} cases (seed {:#x}), {} accepted, {} refused, no panic, {:.1} s",
            self.name,
            self.cases,
            self.seed,
            self.accepted,
            self.refused,
            self.wall.as_secs_f64()
        )?;
        for (label, n) in &self.refusals {
            write!(f, "\n  refused {n:>9}: {label}")?;
        }
        Ok(())
    }
}

/// The case count: `GCNSIM_FUZZ_CASES` when set (a bad value panics naming it), else `default`.
pub fn case_count(default: u64) -> u64 {
    match std::env::var(CASES_VAR) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{CASES_VAR}={v:?} is not a case count")),
        Err(_) => default,
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a hook that records a panic's location on a fuzzing thread instead of
/// printing it, and defers to the previous hook everywhere else.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
            } else {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".into()
    }
}

/// Runs `cases` cases of target `name`; case `i` gets `Mutator::new(seed, i)`. Returns the counts,
/// or panics naming the first case that panicked (with its seed, so `GCNSIM_FUZZ_REPLAY` replays it).
pub fn run_cases<F>(name: &str, cases: u64, seed: u64, mut case: F) -> Report
where
    F: FnMut(u64, &mut Mutator) -> Outcome,
{
    install_hook();
    let replay = std::env::var(REPLAY_VAR).ok().map(|v| {
        v.trim().parse::<u64>().unwrap_or_else(|_| panic!("{REPLAY_VAR}={v:?} is not a case number"))
    });
    let range = match replay {
        Some(i) => i..i + 1,
        None => 0..cases,
    };
    let start = Instant::now();
    let mut last_progress = start;
    let mut report = Report { name: name.into(), seed, ..Report::default() };
    for i in range {
        let mut m = Mutator::new(seed, i);
        QUIET.with(|q| q.set(replay.is_none()));
        let result = panic::catch_unwind(AssertUnwindSafe(|| case(i, &mut m)));
        QUIET.with(|q| q.set(false));
        match result {
            Ok(Outcome::Accepted) => report.accepted += 1,
            Ok(Outcome::Refused(label)) => {
                report.refused += 1;
                let label = if report.refusals.len() < MAX_LABELS || report.refusals.contains_key(&label) {
                    label
                } else {
                    "other".into()
                };
                *report.refusals.entry(label).or_default() += 1;
            }
            Err(payload) => {
                let at = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
                panic!(
                    "fuzz target {name}: case {i} (seed {seed:#x}) panicked at {at}: {}\n\
                     replay it with {REPLAY_VAR}={i} (after {} cases: {} accepted, {} refused)",
                    panic_message(payload.as_ref()),
                    report.accepted + report.refused,
                    report.accepted,
                    report.refused
                );
            }
        }
        report.cases += 1;
        if last_progress.elapsed() >= Duration::from_secs(60) {
            last_progress = Instant::now();
            eprintln!(
                "fuzz target {name}: {} of {cases} cases, {} accepted, {} refused, {:.0} s",
                report.cases,
                report.accepted,
                report.refused,
                start.elapsed().as_secs_f64()
            );
        }
    }
    report.wall = start.elapsed();
    eprintln!("{report}");
    report
}

/// Values that sit on boundaries (zero, one, sign bits, type limits, powers of two, non-finite).
pub const INTERESTING_U8: [u8; 9] = [0, 1, 0x10, 0x20, 0x40, 0x64, 0x7f, 0x80, 0xff];
pub const INTERESTING_U32: [u32; 16] =
    [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 1000, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, u32::MAX];
pub const INTERESTING_U64: [u64; 12] = [
    0,
    1,
    2,
    4,
    1 << 31,
    1 << 32,
    1 << 40,
    300_000_000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];
pub const INTERESTING_F32: [f32; 14] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];
pub const INTERESTING_F64: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e12,
    1e13,
    1e308,
    -1e308,
    f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1e-300,
];
/// Numbers as text (the token-level mutations of [`Mutator::mutate_text`]).
pub const INTERESTING_NUMBERS: [&str; 24] = [
    "0",
    "-1",
    "1",
    "-0",
    "0.0",
    "1.5",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "2147483647",
    "4294967295",
    "4294967296",
    "99999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "0x10",
    "",
];

/// A deterministic mutator: every choice is drawn from a SplitMix64 stream of (seed, case).
#[derive(Clone, Debug)]
pub struct Mutator {
    rng: SplitMix64,
    /// Extra tokens [`Mutator::mutate_text`] may insert or substitute (keywords of a grammar).
    pub dictionary: Vec<String>,
    /// Inputs never grow beyond this many bytes (default 1 MiB).
    pub max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, case: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0x6663_6e73_696d_667a);
        let rng = rng.fork(case);
        Mutator { rng, dictionary: Vec::new(), max_len: 1 << 20 }
    }

    /// Uniform in [0, n) (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A random word of the dictionary (empty when it is).
    fn word(&mut self) -> String {
        let i = self.below(self.dictionary.len());
        self.dictionary.get(i).cloned().unwrap_or_default()
    }

    /// An interesting u64, or (one time in four) a random one.
    pub fn interesting_u64(&mut self) -> u64 {
        match self.below(4) {
            0 => self.next_u64() >> self.below(64),
            1 => *self.pick(&INTERESTING_U32) as u64,
            _ => *self.pick(&INTERESTING_U64),
        }
    }

    /// An interesting f64, or (one time in four) a random one of any magnitude.
    pub fn interesting_f64(&mut self) -> f64 {
        if self.below(4) == 0 {
            return f64::from_bits(self.next_u64());
        }
        *self.pick(&INTERESTING_F64)
    }

    pub fn interesting_f32(&mut self) -> f32 {
        if self.below(4) == 0 {
            return f32::from_bits(self.next_u64() as u32);
        }
        *self.pick(&INTERESTING_F32)
    }

    /// A small signed step: ±1 mostly, up to ±16.
    fn delta(&mut self) -> i64 {
        let magnitude = if self.chance(0.7) { 1 } else { 1 + self.below(16) as i64 };
        if self.chance(0.5) {
            magnitude
        } else {
            -magnitude
        }
    }

    /// A range inside `len` bytes, mostly short.
    fn span(&mut self, len: usize) -> (usize, usize) {
        let start = self.below(len);
        let longest = (len - start).max(1);
        let n = if self.chance(0.8) { 1 + self.below(longest.min(16)) } else { 1 + self.below(longest) };
        (start, (start + n).min(len))
    }

    /// Applies one byte-level mutation to `bytes` and returns its name (bit flip, interesting
    /// u8/u32/u64/f32/f64 written in place, ±delta on a little-endian word, deletion,
    /// duplication, insertion, truncation).
    pub fn mutate_bytes(&mut self, bytes: &mut Vec<u8>) -> &'static str {
        if bytes.is_empty() {
            let n = 1 + self.below(8);
            bytes.extend((0..n).map(|_| self.next_u64() as u8));
            return "insert into empty";
        }
        let len = bytes.len();
        let put = |bytes: &mut Vec<u8>, at: usize, word: &[u8]| {
            let n = word.len().min(bytes.len() - at);
            bytes[at..at + n].copy_from_slice(&word[..n]);
        };
        match self.below(12) {
            0 => {
                let at = self.below(len);
                bytes[at] ^= 1 << self.below(8);
                "bit flip"
            }
            1 => {
                let at = self.below(len);
                bytes[at] = *self.pick(&INTERESTING_U8);
                "interesting u8"
            }
            2 => {
                let at = self.below(len);
                let v = *self.pick(&INTERESTING_U32);
                put(bytes, at, &v.to_le_bytes());
                "interesting u32"
            }
            3 => {
                let at = self.below(len);
                let v = self.interesting_u64();
                put(bytes, at, &v.to_le_bytes());
                "interesting u64"
            }
            4 => {
                let at = self.below(len);
                let v = self.interesting_f32();
                put(bytes, at, &v.to_le_bytes());
                "interesting f32"
            }
            5 => {
                let at = self.below(len);
                let v = self.interesting_f64();
                put(bytes, at, &v.to_le_bytes());
                "interesting f64"
            }
            6 => {
                let width = *self.pick(&[1usize, 4, 8]);
                let at = self.below(len);
                let mut word = [0u8; 8];
                let n = width.min(len - at);
                word[..n].copy_from_slice(&bytes[at..at + n]);
                let v = u64::from_le_bytes(word).wrapping_add(self.delta() as u64);
                put(bytes, at, &v.to_le_bytes()[..n]);
                "±delta on a word"
            }
            7 => {
                let (a, b) = self.span(len);
                bytes.drain(a..b);
                "deletion"
            }
            8 => {
                let (a, b) = self.span(len);
                if len + (b - a) <= self.max_len {
                    let copy = bytes[a..b].to_vec();
                    let at = self.below(len + 1);
                    bytes.splice(at..at, copy);
                }
                "duplication"
            }
            9 => {
                let n = 1 + self.below(8);
                if len + n <= self.max_len {
                    let at = self.below(len + 1);
                    let new: Vec<u8> = (0..n).map(|_| *self.pick(&INTERESTING_U8)).collect();
                    bytes.splice(at..at, new);
                }
                "insertion"
            }
            10 => {
                bytes.truncate(self.below(len));
                "truncation"
            }
            _ => {
                // Swap two ranges' bytes in place (reorders fields of equal width).
                let (a, b) = self.span(len);
                let c = self.below(len);
                let n = (b - a).min(len - c);
                if n > 0 && (c >= a + n || a >= c + n) {
                    for k in 0..n {
                        bytes.swap(a + k, c + k);
                    }
                }
                "swap"
            }
        }
    }

    /// Replaces a range of `bytes` by a range of `other` (crossing two valid inputs).
    pub fn splice(&mut self, bytes: &mut Vec<u8>, other: &[u8]) {
        if other.is_empty() {
            return;
        }
        let (a, b) = if bytes.is_empty() { (0, 0) } else { self.span(bytes.len()) };
        let (c, d) = self.span(other.len());
        if bytes.len() - (b - a) + (d - c) <= self.max_len {
            bytes.splice(a..b, other[c..d].iter().copied());
        }
    }

    /// 1 to `most` stacked byte-level mutations, sometimes a splice with one of `corpus`.
    pub fn havoc(&mut self, bytes: &mut Vec<u8>, corpus: &[&[u8]], most: usize) {
        let n = 1 + self.below(most.max(1));
        for _ in 0..n {
            if !corpus.is_empty() && self.chance(0.05) {
                let other = corpus[self.below(corpus.len())];
                self.splice(bytes, other);
            } else {
                self.mutate_bytes(bytes);
            }
        }
    }

    /// Byte offsets of the numbers in `text` (an optional '-' then digits, '.', exponent).
    fn numbers(text: &str) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let starts = b[i].is_ascii_digit() || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
            let glued = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if starts && !glued {
                let s = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || b[i] == b'_'
                        || ((b[i] == b'e' || b[i] == b'E') && b.get(i + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+'))
                        || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// The items of `text` that look like `key = value` or `key=value`, split on newlines and
    /// commas: byte ranges.
    fn assignments(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, c) in text.char_indices().chain(std::iter::once((text.len(), '\n'))) {
            if c == '\n' || c == ',' {
                if text[start..i].contains('=') {
                    out.push((start, i));
                }
                start = i + 1;
            }
        }
        out
    }

    /// One text-level mutation of UTF-8 `text`: a byte-level one (the result made UTF-8 again
    /// lossily), or at token level: a number replaced by an interesting one (0, -1, 1e308, nan,
    /// inf, 4294967295, 18446744073709551615, …), a line or a `key = value` item duplicated,
    /// deleted or given an interesting value, two lines swapped, a dictionary word inserted.
    pub fn mutate_text(&mut self, text: &str) -> String {
        let mut s = text.to_string();
        match self.below(8) {
            0 | 1 => {
                let numbers = Self::numbers(&s);
                if numbers.is_empty() {
                    return self.mutate_text_bytes(&s);
                }
                let (a, b) = *self.pick(&numbers);
                let by = if self.chance(0.8) {
                    (*self.pick(&INTERESTING_NUMBERS)).to_string()
                } else {
                    let v: f64 = s[a..b].replace('_', "").parse().unwrap_or(0.0);
                    format!("{}", v + self.delta() as f64)
                };
                s.replace_range(a..b, &by);
            }
            2 => {
                let items = Self::assignments(&s);
                if items.is_empty() {
                    return self.mutate_text_bytes(&s);
                }
                let (a, b) = *self.pick(&items);
                match self.below(3) {
                    0 => {
                        s.replace_range(a..(b + 1).min(s.len()), "");
                    }
                    1 => {
                        let sep = s.as_bytes().get(b).map(|&c| c as char).unwrap_or('\n');
                        let copy = format!("{}{sep}", &s[a..b]);
                        if s.len() + copy.len() <= self.max_len {
                            s.insert_str(a, &copy);
                        }
                    }
                    _ => {
                        let eq = a + s[a..b].find('=').expect("an assignment holds '='");
                        let value = match self.below(4) {
                            0 => (*self.pick(&INTERESTING_NUMBERS)).to_string(),
                            1 => "\"\"".to_string(),
                            2 => "[]".to_string(),
                            _ => {
                                if self.dictionary.is_empty() {
                                    "true".into()
                                } else {
                                    self.word()
                                }
                            }
                        };
                        s.replace_range(eq + 1..b, &format!(" {value}"));
                    }
                }
            }
            3 => {
                let lines: Vec<&str> = s.split_inclusive('\n').collect();
                if lines.is_empty() {
                    return self.mutate_text_bytes(&s);
                }
                let mut lines: Vec<String> = lines.into_iter().map(str::to_string).collect();
                let i = self.below(lines.len());
                match self.below(3) {
                    0 => {
                        lines.remove(i);
                    }
                    1 => {
                        if s.len() + lines[i].len() <= self.max_len {
                            let copy = lines[i].clone();
                            lines.insert(self.below(lines.len() + 1), copy);
                        }
                    }
                    _ => {
                        let j = self.below(lines.len());
                        lines.swap(i, j);
                    }
                }
                s = lines.concat();
            }
            4 if !self.dictionary.is_empty() => {
                let word = self.word();
                let boundaries: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
                let at = *self.pick(&boundaries);
                if s.len() + word.len() <= self.max_len {
                    s.insert_str(at, &word);
                }
            }
            _ => return self.mutate_text_bytes(&s),
        }
        s
    }

    fn mutate_text_bytes(&mut self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        self.mutate_bytes(&mut bytes);
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// 1 to `most` stacked text mutations.
    pub fn havoc_text(&mut self, text: &str, most: usize) -> String {
        let n = 1 + self.below(most.max(1));
        let mut s = text.to_string();
        for _ in 0..n {
            s = self.mutate_text(&s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutators_are_deterministic_per_seed_and_case() {
        let input = b"GCNSIMCK\x03\0\0\0 some payload bytes 0123456789".to_vec();
        let run = |seed, case| {
            let mut m = Mutator::new(seed, case);
            let mut b = input.clone();
            m.havoc(&mut b, &[b"other input"], 8);
            (b, m.havoc_text("epochs = 30\nseed = 0\n[grid]\nlr = [0.01, 0.1]\n", 6))
        };
        assert_eq!(run(1, 5), run(1, 5));
        let distinct: std::collections::HashSet<_> = (0..50).map(|c| run(1, c)).collect();
        assert!(distinct.len() > 40, "cases draw different mutations: {}", distinct.len());
        assert_ne!(run(1, 5), run(2, 5));
    }

    #[test]
    fn every_byte_mutation_kind_occurs_and_stays_bounded() {
        let mut kinds = std::collections::BTreeSet::new();
        for case in 0..2000 {
            let mut m = Mutator::new(7, case);
            m.max_len = 64;
            let mut b: Vec<u8> = (0..48).collect();
            kinds.insert(m.mutate_bytes(&mut b));
            assert!(b.len() <= 64, "{} bytes", b.len());
        }
        assert_eq!(kinds.len(), 12, "{kinds:?}");
    }

    #[test]
    fn text_mutations_reach_numbers_lines_and_assignments() {
        let text = "epochs = 30\nlr = 0.01\nname = \"a\"\n";
        let (mut huge, mut dropped, mut doubled) = (false, false, false);
        for case in 0..3000 {
            let out = Mutator::new(3, case).mutate_text(text);
            huge |= out.contains("epochs = 18446744073709551615") || out.contains("lr = 1e308");
            dropped |= !out.contains("epochs") && out.contains("lr = 0.01");
            doubled |= out.matches("lr = 0.01").count() == 2;
        }
        assert!(huge && dropped && doubled, "{huge} {dropped} {doubled}");
        assert_eq!(Mutator::numbers("a1 = -2.5e-3, x_9 7"), [(5, 12), (18, 19)]);
        assert_eq!(Mutator::assignments("csbm:nodes=20,p=0.3"), [(0, 13), (14, 19)]);
    }

    #[test]
    fn the_driver_counts_and_names_the_panicking_case() {
        let report = run_cases("counting", 40, 9, |i, _| {
            if i % 4 == 0 {
                Outcome::Accepted
            } else {
                Outcome::refused(format!("kind {}", i % 2))
            }
        });
        assert_eq!((report.cases, report.accepted, report.refused), (40, 10, 30));
        assert_eq!(report.refusals["kind 1"], 20);
        let failed = std::panic::catch_unwind(|| {
            run_cases("panicking", 40, 0xab, |i, _| {
                assert!(i != 17, "case seventeen");
                Outcome::Accepted
            })
        })
        .unwrap_err();
        let message = panic_message(failed.as_ref());
        assert!(
            message.contains("case 17") && message.contains("0xab") && message.contains("case seventeen")
                && message.contains("GCNSIM_FUZZ_REPLAY=17") && message.contains("fuzz.rs"),
            "{message}"
        );
    }
}
