//! Parsing a large text file in parallel: one thread reads (and decompresses: gzip is
//! sequential) blocks of whole lines while the rayon pool parses a batch of earlier blocks.
//! Every record keeps its 1-based line number, so errors name the line as the sequential reader
//! would. Memory stays bounded by a few batches of blocks, whatever the file declares.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;

use super::DataError;

/// Bytes per block: big enough to amortize the hand-off, small enough to stay in cache.
const BLOCK_BYTES: usize = 4 << 20;
/// The longest line accepted; a longer one is a malformed file, not a reason to buffer gigabytes.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// What parsing one block gave: its records' items, how many records (non-empty lines) parsed
/// before the first error, and that error (the 0-based line within the block and the message).
pub struct Parsed<T> {
    pub items: T,
    pub records: u64,
    pub error: Option<(u64, String)>,
}

/// A block of whole lines and the 1-based number of its first line.
pub struct Block {
    pub text: Vec<u8>,
    pub first_line: u64,
}

impl Block {
    /// The 1-based file line of the block's `k`-th record (0-based; empty lines are no records).
    pub fn line_of_record(&self, k: u64) -> u64 {
        let mut seen = 0;
        let mut found = None;
        for_each_line(&self.text, |line, _| {
            if seen == k {
                found = Some(line);
                return Err(String::new());
            }
            seen += 1;
            Ok(())
        });
        self.first_line + found.unwrap_or(0)
    }

    /// The 1-based file line of a 0-based line within the block.
    pub fn line(&self, within: u64) -> u64 {
        self.first_line + within
    }
}

/// Calls `visit(line_within_block, line)` for every non-empty line of `text` (without its
/// `\n` or `\r\n`), stopping at the first error. Returns the records visited without error and
/// the error, if any, at its 0-based line.
pub fn for_each_line(
    text: &[u8],
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> (u64, Option<(u64, String)>) {
    let mut records = 0;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Err(message) = visit(i as u64, line) {
            return (records, Some((i as u64, message)));
        }
        records += 1;
    }
    (records, None)
}

/// The fields of a line: split at commas, each trimmed.
pub fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b',').map(|f| f.trim_ascii())
}

/// Reads `input` (the contents of `path`) in blocks, parses each with `parse` in parallel, and
/// hands the results to `merge` in file order; an error from `merge` stops the reading. An I/O
/// error (a corrupt gzip stream) is returned as `on_io_error(error, next_line)`.
pub fn parse_parallel<T: Send>(
    path: &Path,
    input: Box<dyn Read + Send>,
    parse: impl Fn(&Block) -> Parsed<T> + Sync,
    mut merge: impl FnMut(&Block, Parsed<T>) -> Result<(), DataError>,
    on_io_error: impl FnOnce(std::io::Error, u64) -> DataError,
) -> Result<(), DataError> {
    let batch = 2 * rayon::current_num_threads().max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Result<Block, std::io::Error>>(batch);
        scope.spawn(move || read_blocks(input, &tx));
        let mut next_line = 1;
        let mut blocks = Vec::with_capacity(batch);
        let mut failure = None;
        for message in rx.iter() {
            match message {
                Ok(block) => blocks.push(block),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if blocks.len() == batch {
                next_line = parse_batch(&mut blocks, &parse, &mut merge)?;
            }
        }
        if !blocks.is_empty() {
            next_line = parse_batch(&mut blocks, &parse, &mut merge)?;
        }
        // Dropping the receiver ends the reading thread if it is still going.
        drop(rx);
        match failure {
            Some(e) if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains(MAX_LINE_MARK) => {
                Err(DataError::Parse { path: path.to_owned(), line: next_line, message: e.to_string() })
            }
            Some(e) => Err(on_io_error(e, next_line)),
            None => Ok(()),
        }
    })
}

const MAX_LINE_MARK: &str = "line is longer than";

/// Parses the batch in parallel, merges it in order, and returns the line after it.
fn parse_batch<T: Send>(
    blocks: &mut Vec<Block>,
    parse: &(impl Fn(&Block) -> Parsed<T> + Sync),
    merge: &mut impl FnMut(&Block, Parsed<T>) -> Result<(), DataError>,
) -> Result<u64, DataError> {
    let parsed: Vec<Parsed<T>> = blocks.par_iter().map(parse).collect();
    let mut next = 0;
    for (block, result) in blocks.iter().zip(parsed) {
        merge(block, result)?;
        next = block.first_line + newlines(&block.text);
    }
    blocks.clear();
    Ok(next)
}

fn newlines(text: &[u8]) -> u64 {
    text.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The reading thread: blocks that end at a line end (the last may not), numbered by line.
fn read_blocks(mut input: Box<dyn Read + Send>, tx: &mpsc::SyncSender<Result<Block, std::io::Error>>) {
    let mut first_line = 1u64;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut text = std::mem::take(&mut carry);
        let start = text.len();
        text.resize(start + BLOCK_BYTES, 0);
        let filled = match read_full(&mut input, &mut text[start..]) {
            Ok(n) => start + n,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        text.truncate(filled);
        let at_end = filled < start + BLOCK_BYTES;
        if !at_end {
            match text.iter().rposition(|&b| b == b'\n') {
                Some(last) => carry = text.split_off(last + 1),
                None if text.len() > MAX_LINE_BYTES => {
                    let message = format!("{MAX_LINE_MARK} {} MiB", MAX_LINE_BYTES >> 20);
                    let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message)));
                    return;
                }
                None => {
                    // No line end yet: keep reading into the same line.
                    carry = text;
                    continue;
                }
            }
        }
        let lines = newlines(&text);
        if !text.is_empty() && tx.send(Ok(Block { text, first_line })).is_err() {
            return;
        }
        first_line += lines;
        if at_end {
            return;
        }
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` into (line, value) pairs through the parallel path.
    fn parse_text(text: &str) -> Result<Vec<(u64, u32)>, DataError> {
        let mut out = Vec::new();
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        parse_parallel(
            Path::new("t.csv"),
            input,
            |block| {
                let mut items = Vec::new();
                let (records, error) = for_each_line(&block.text, |i, line| {
                    let s = std::str::from_utf8(line).map_err(|_| "utf8".to_string())?;
                    items.push((block.line(i), s.trim().parse::<u32>().map_err(|_| format!("bad `{s}`"))?));
                    Ok(())
                });
                Parsed { items, records, error }
            },
            |block, parsed| {
                out.extend(parsed.items);
                match parsed.error {
                    Some((i, message)) => Err(DataError::Parse { path: "t.csv".into(), line: block.line(i), message }),
                    None => Ok(()),
                }
            },
            |cause, _| DataError::Io { path: "t.csv".into(), cause },
        )?;
        Ok(out)
    }

    #[test]
    fn line_numbers_survive_blocks_and_blank_lines() {
        // Several blocks' worth of lines, with blank lines and CRLF endings mixed in.
        let mut text = String::new();
        let mut expected = Vec::new();
        let mut line = 1u64;
        for i in 0..1_500_000u32 {
            if i % 7 == 0 {
                text.push('\n');
                line += 1;
            }
            text.push_str(&format!("{i}{}\n", if i % 3 == 0 { "\r" } else { "" }));
            expected.push((line, i));
            line += 1;
        }
        assert!(text.len() > 2 * BLOCK_BYTES);
        assert_eq!(parse_text(&text).unwrap(), expected);
        // An error deep in a later block names its own line.
        let bad = text.replacen("1400000\n", "x\n", 1);
        let at = expected.iter().find(|(_, v)| *v == 1_400_000).unwrap().0;
        let message = parse_text(&bad).unwrap_err().to_string();
        assert!(message.starts_with(&format!("t.csv:{at}: bad `x`")), "{message}");
        // No final line end.
        assert_eq!(parse_text("1\n2").unwrap(), vec![(1, 1), (2, 2)]);
    }

    #[test]
    fn record_lines_skip_blank_lines() {
        let block = Block { text: b"\n1\n\n\n2\n3\n".to_vec(), first_line: 10 };
        assert_eq!(block.line_of_record(0), 11);
        assert_eq!(block.line_of_record(1), 14);
        assert_eq!(block.line_of_record(2), 15);
    }

    #[test]
    fn an_endless_line_is_refused_not_buffered() {
        let input: Box<dyn Read + Send> = Box::new(std::io::repeat(b'7').take(2 * MAX_LINE_BYTES as u64));
        let result = parse_parallel(
            Path::new("t.csv"),
            input,
            |_| Parsed { items: (), records: 0, error: None },
            |_, _| Ok(()),
            |cause, _| DataError::Io { path: "t.csv".into(), cause },
        );
        let message = result.unwrap_err().to_string();
        assert!(message.contains("t.csv:1:") && message.contains("longer than"), "{message}");
    }
}
