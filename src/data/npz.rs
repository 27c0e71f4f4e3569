//! NumPy `.npz` archives (Reddit's `reddit_data.npz` and `reddit_graph.npz`, OGB's
//! `raw/data.npz`), read through the `npyz` crate with bounds of gcnsim's own.
//!
//! An array's header is a claim: its shape may promise 10^12 elements in a file of a few bytes.
//! Nothing is reserved from the shape alone: [`Npz::read`] reserves at most what the archive
//! member can really hold (its stored bytes, times deflate's largest expansion when it is
//! compressed), and grows past that only as elements actually arrive. A header whose element
//! count overflows, or needs more bytes than the member declares, is refused before reading.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::npz::NpzArchive;
use npyz::zip::CompressionMethod;
use npyz::{DType, Deserialize, NpyFile, Order, TypeChar};

use super::DataError;

/// Deflate expands at most about 1032:1; a member cannot decompress to more than this many times
/// its stored size.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// An array read from an archive: its shape (C order) and its elements converted by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Array<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

/// One element as stored, before the caller's conversion: integers keep their full range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl Number {
    /// The integer this element holds exactly (floats only when integral), or `None`.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(v) => Some(v),
            Number::Uint(v) => i64::try_from(v).ok(),
            Number::Float(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
            Number::Float(_) => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Uint(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(v) => write!(f, "{v}"),
            Number::Uint(v) => write!(f, "{v}"),
            Number::Float(v) => write!(f, "{v}"),
        }
    }
}

/// An open `.npz` file.
pub struct Npz {
    path: PathBuf,
    archive: NpzArchive<BufReader<File>>,
    names: Vec<String>,
}

/// What a member's header says, checked against what the member can hold.
struct Member {
    dtype: DType,
    shape: Vec<usize>,
    count: usize,
    fortran: bool,
    /// The most elements worth reserving up front.
    reserve: usize,
}

impl Npz {
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let archive = NpzArchive::open(path).map_err(|e| invalid(path, format!("not a readable .npz archive: {e}")))?;
        let mut names: Vec<String> = archive.array_names().map(str::to_string).collect();
        names.sort();
        Ok(Npz { path: path.to_owned(), archive, names })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The array names (`feature`, `label`, …), sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn has(&self, key: &str) -> bool {
        self.names.iter().any(|n| n == key)
    }

    fn fail(&self, key: &str, message: impl std::fmt::Display) -> DataError {
        invalid(&self.path, format!("array `{key}`: {message}"))
    }

    fn missing(&self, key: &str) -> DataError {
        let names = if self.names.is_empty() { "none".to_string() } else { self.names.join(", ") };
        invalid(&self.path, format!("has no array `{key}` (it holds: {names})"))
    }

    /// The shape of `key`, from its header alone.
    pub fn shape(&mut self, key: &str) -> Result<Vec<usize>, DataError> {
        let (member, _) = self.member(key)?;
        Ok(member.shape)
    }

    /// Opens `key` and checks its header: a count that fits, and bytes the member really has.
    fn member(&mut self, key: &str) -> Result<(Member, NpyFile<BufReader<npyz::zip::read::ZipFile<'_>>>), DataError> {
        if !self.has(key) {
            return Err(self.missing(key));
        }
        let file_name = npyz::npz::file_name_from_array_name(key);
        let (path, names) = (self.path.clone(), self.names.clone());
        let entry = self
            .archive
            .zip_archive()
            .by_name(&file_name)
            .map_err(|e| invalid(&path, format!("array `{key}`: {e} (the archive holds: {})", names.join(", "))))?;
        let declared = entry.size();
        let stored = entry.compressed_size();
        let ratio = if entry.compression() == CompressionMethod::Stored { 1 } else { DEFLATE_MAX_RATIO };
        let npy = NpyFile::new(BufReader::with_capacity(1 << 16, entry))
            .map_err(|e| invalid(&path, format!("array `{key}`: bad .npy header: {e}")))?;
        let fail = |message: String| invalid(&path, format!("array `{key}`: {message}"));
        let header = npy.header();
        let dtype = header.dtype();
        let item = dtype
            .num_bytes()
            .filter(|&b| b > 0)
            .ok_or_else(|| fail(format!("unsupported dtype {}", dtype_name(&dtype))))?;
        let shape: Vec<usize> = header
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| fail(format!("dimension {d} is too large"))))
            .collect::<Result<_, _>>()?;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| fail(format!("shape {shape:?} has more elements than memory can address")))?;
        let bytes = (count as u128) * item as u128;
        if bytes > declared as u128 || bytes > (stored as u128) * ratio as u128 {
            return Err(fail(format!(
                "shape {shape:?} of {} needs {bytes} bytes, but the archive member holds at most {} ({stored} bytes stored)",
                dtype_name(&dtype),
                declared.min(stored.saturating_mul(ratio))
            )));
        }
        let fortran = header.order() == Order::Fortran && shape.len() > 1;
        // What the stored bytes can hold: a stored member is its file bytes, a deflated one at
        // most DEFLATE_MAX_RATIO times them (the declared size is only a claim).
        let reserve = count.min((stored.saturating_mul(ratio) / item as u64) as usize);
        Ok((Member { dtype, shape, count, fortran, reserve }, npy))
    }

    /// Reads `key`, converting every element with `convert` (given the element and its flat
    /// index in C order); a message it returns is reported with the file, key and index.
    /// Integer (`i1`…`i8`, `u1`…`u8`), boolean and float (`f4`, `f8`) arrays are read.
    pub fn read<U>(
        &mut self,
        key: &str,
        mut convert: impl FnMut(Number, usize) -> Result<U, String>,
    ) -> Result<Array<U>, DataError> {
        let path = self.path.clone();
        let (member, npy) = self.member(key)?;
        let fail = |message: String| invalid(&path, format!("array `{key}`: {message}"));
        let mut data = Vec::with_capacity(member.reserve);
        let mut push = |value: Number| -> Result<(), String> {
            let index = data.len();
            let converted = convert(value, index).map_err(|m| format!("element {index}: {m}"))?;
            data.push(converted);
            Ok(())
        };
        let Member { dtype, shape, count, fortran, .. } = member;
        let DType::Plain(ty) = &dtype else {
            return Err(fail(format!("unsupported dtype {} (structured arrays are not read)", dtype_name(&dtype))));
        };
        let read = match (ty.type_char(), ty.size_field()) {
            (TypeChar::Int, 1) => each::<i8, _>(npy, count, |v| push(Number::Int(v.into()))),
            (TypeChar::Int, 2) => each::<i16, _>(npy, count, |v| push(Number::Int(v.into()))),
            (TypeChar::Int, 4) => each::<i32, _>(npy, count, |v| push(Number::Int(v.into()))),
            (TypeChar::Int, 8) => each::<i64, _>(npy, count, |v| push(Number::Int(v))),
            (TypeChar::Uint, 1) => each::<u8, _>(npy, count, |v| push(Number::Uint(v.into()))),
            (TypeChar::Uint, 2) => each::<u16, _>(npy, count, |v| push(Number::Uint(v.into()))),
            (TypeChar::Uint, 4) => each::<u32, _>(npy, count, |v| push(Number::Uint(v.into()))),
            (TypeChar::Uint, 8) => each::<u64, _>(npy, count, |v| push(Number::Uint(v))),
            (TypeChar::Bool, 1) => each::<bool, _>(npy, count, |v| push(Number::Uint(v.into()))),
            (TypeChar::Float, 4) => each::<f32, _>(npy, count, |v| push(Number::Float(v.into()))),
            (TypeChar::Float, 8) => each::<f64, _>(npy, count, |v| push(Number::Float(v))),
            _ => {
                return Err(fail(format!(
                    "unsupported dtype {} (integers, booleans, f4 and f8 are read)",
                    dtype_name(&dtype)
                )))
            }
        };
        read.map_err(fail)?;
        if fortran {
            data = to_c_order(data, &shape).map_err(fail)?;
        }
        Ok(Array { shape, data })
    }

    /// A byte-string array (`|S…`), e.g. scipy's `format` (`b'coo'`): its first element, bounded
    /// by the member's size like any other array.
    pub fn read_bytes(&mut self, key: &str) -> Result<Vec<u8>, DataError> {
        let path = self.path.clone();
        let (member, npy) = self.member(key)?;
        let fail = |message: String| invalid(&path, format!("array `{key}`: {message}"));
        let is_bytes = matches!(&member.dtype, DType::Plain(ty) if ty.type_char() == TypeChar::ByteStr);
        if !is_bytes || member.count != 1 {
            return Err(fail(format!(
                "expected one byte string, found {} of shape {:?}",
                dtype_name(&member.dtype),
                member.shape
            )));
        }
        let mut first = None;
        each::<Vec<u8>, _>(npy, 1, |v| {
            first = Some(v);
            Ok(())
        })
        .map_err(fail)?;
        Ok(first.unwrap_or_default())
    }

    /// `key` as one integer (shape `()` or `(1,)`), e.g. a count.
    pub fn read_scalar_int(&mut self, key: &str) -> Result<i64, DataError> {
        let array = self.read(key, |v, _| v.as_i64().ok_or_else(|| format!("expected an integer, found {v}")))?;
        match array.data[..] {
            [value] => Ok(value),
            _ => Err(self.fail(key, format!("expected one integer, found shape {:?}", array.shape))),
        }
    }
}

/// Reads `count` elements of type `T`, stopping at the first error (a short member ends in an
/// I/O error here, never in a long allocation).
fn each<T: Deserialize, R: Read>(
    npy: NpyFile<R>,
    count: usize,
    mut visit: impl FnMut(T) -> Result<(), String>,
) -> Result<(), String> {
    let reader = npy.data::<T>().map_err(|e| e.to_string())?;
    let mut read = 0usize;
    for value in reader.take(count) {
        let value =
            value.map_err(|e| format!("ends after {read} of the {count} elements its header declares ({e})"))?;
        visit(value)?;
        read += 1;
    }
    if read != count {
        return Err(format!("holds {read} of the {count} elements its header declares"));
    }
    Ok(())
}

/// Fortran-ordered 2-D data (numpy writes a transposed array so) to C order.
fn to_c_order<T>(data: Vec<T>, shape: &[usize]) -> Result<Vec<T>, String> {
    let [rows, cols] = shape[..] else {
        return Err(format!("Fortran-ordered arrays of {} dimensions are not read", shape.len()));
    };
    let mut slots: Vec<Option<T>> = data.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for r in 0..rows {
        for c in 0..cols {
            // Fortran order: element (r, c) sits at c·rows + r.
            out.push(slots[c * rows + r].take().ok_or("element read twice")?);
        }
    }
    Ok(out)
}

/// `<f4`, `|S3`, or numpy's description of a structured dtype.
fn dtype_name(dtype: &DType) -> String {
    match dtype {
        DType::Plain(ty) => ty.to_string(),
        other => other.descr(),
    }
}

fn invalid(path: &Path, message: String) -> DataError {
    DataError::Invalid { path: path.to_owned(), message }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Writing small `.npz` files for tests, with npyz's writer.

    use std::io::Write;
    use std::path::Path;

    use npyz::npz::NpzWriter;
    use npyz::zip::write::FileOptions;
    use npyz::{AutoSerialize, WriterBuilder};

    /// One array to write: its name, shape, and elements (C order).
    pub trait Entry {
        fn write_into(&self, npz: &mut NpzWriter<std::io::BufWriter<std::fs::File>>, options: FileOptions);
    }

    pub struct Arr<T>(pub &'static str, pub Vec<u64>, pub Vec<T>);

    impl<T: AutoSerialize + Clone> Entry for Arr<T> {
        fn write_into(&self, npz: &mut NpzWriter<std::io::BufWriter<std::fs::File>>, options: FileOptions) {
            let Arr(name, shape, data) = self;
            let mut writer = npz.array::<T>(name, options).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
            writer.extend(data.iter().cloned()).unwrap();
            writer.finish().unwrap();
        }
    }

    /// Writes `entries` as `path`, stored (as `np.savez` does) or deflated (`np.savez_compressed`).
    pub fn write_npz(path: &Path, entries: &[&dyn Entry], compressed: bool) {
        let mut npz = NpzWriter::create(path).unwrap();
        let method =
            if compressed { npyz::zip::CompressionMethod::Deflated } else { npyz::zip::CompressionMethod::Stored };
        let options = FileOptions::default().compression_method(method);
        for entry in entries {
            entry.write_into(&mut npz, options);
        }
        npz.zip_writer().finish().unwrap();
    }

    /// A member written with raw bytes (a hand-made .npy with any header), for hostile files.
    pub fn write_raw_npz(path: &Path, members: &[(&str, Vec<u8>)]) {
        let mut npz = NpzWriter::create(path).unwrap();
        let options = FileOptions::default().compression_method(npyz::zip::CompressionMethod::Stored);
        for (name, bytes) in members {
            let zip = npz.zip_writer();
            zip.start_file(format!("{name}.npy"), options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        npz.zip_writer().finish().unwrap();
    }

    /// A version-1 .npy: the magic, the header dict padded to 64 bytes, then `body`.
    pub fn npy_bytes(header: &str, body: &[u8]) -> Vec<u8> {
        let mut text = header.to_string();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{npy_bytes, write_npz, write_raw_npz, Arr};
    use super::*;

    fn ints(npz: &mut Npz, key: &str) -> Result<Array<i64>, DataError> {
        npz.read(key, |v, _| v.as_i64().ok_or_else(|| format!("not an integer: {v}")))
    }

    #[test]
    fn reads_every_supported_dtype_stored_and_deflated() {
        for compressed in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.npz");
            write_npz(
                &path,
                &[
                    &Arr("i1", vec![3], vec![-1i8, 0, 1]),
                    &Arr("i4", vec![2, 2], vec![1i32, 2, 3, 4]),
                    &Arr("u8", vec![2], vec![7u64, 9]),
                    &Arr("f4", vec![1, 3], vec![0.5f32, -1.0, 2.0]),
                    &Arr("f8", vec![2], vec![1.5f64, 3.0]),
                    &Arr("b", vec![2], vec![true, false]),
                ],
                compressed,
            );
            let mut npz = Npz::open(&path).unwrap();
            assert_eq!(npz.names(), ["b", "f4", "f8", "i1", "i4", "u8"]);
            assert_eq!(ints(&mut npz, "i1").unwrap().data, vec![-1, 0, 1]);
            let i4 = ints(&mut npz, "i4").unwrap();
            assert_eq!((i4.shape, i4.data), (vec![2, 2], vec![1, 2, 3, 4]));
            assert_eq!(ints(&mut npz, "u8").unwrap().data, vec![7, 9]);
            assert_eq!(npz.read("f4", |v, _| Ok(v.as_f64())).unwrap().data, vec![0.5, -1.0, 2.0]);
            assert!(ints(&mut npz, "f8").unwrap_err().to_string().contains("element 0: not an integer: 1.5"));
            assert_eq!(ints(&mut npz, "b").unwrap().data, vec![1, 0]);
        }
    }

    #[test]
    fn fortran_order_is_transposed_to_c_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npz");
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let body: Vec<u8> = [1i64, 4, 2, 5, 3, 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }";
        write_raw_npz(&path, &[("m", npy_bytes(header, &body))]);
        let array = ints(&mut Npz::open(&path).unwrap(), "m").unwrap();
        assert_eq!((array.shape, array.data), (vec![2, 3], vec![1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn a_huge_declared_shape_is_refused_before_anything_is_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.npz");
        let members = [
            ("tera", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", &[0; 16])),
            (
                "overflow",
                npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", &[]),
            ),
            ("short", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", &[1, 0, 0, 0])),
        ];
        write_raw_npz(&path, &members);
        let mut npz = Npz::open(&path).unwrap();
        let started = std::time::Instant::now();
        let tera = ints(&mut npz, "tera").unwrap_err().to_string();
        assert!(
            tera.contains("h.npz") && tera.contains("`tera`") && tera.contains("needs 4000000000000 bytes"),
            "{tera}"
        );
        let overflow = ints(&mut npz, "overflow").unwrap_err().to_string();
        assert!(overflow.contains("`overflow`") && overflow.contains("more elements than"), "{overflow}");
        let short = ints(&mut npz, "short").unwrap_err().to_string();
        assert!(short.contains("`short`") && short.contains("ends after 1 of the 5 elements"), "{short}");
        assert!(started.elapsed().as_secs() < 2);
    }

    #[test]
    fn missing_keys_unsupported_dtypes_and_non_archives_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.npz");
        let members = [
            ("c", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", &[0; 8])),
            ("s", npy_bytes("{'descr': '|S3', 'fortran_order': False, 'shape': (), }", b"coo")),
        ];
        write_raw_npz(&path, &members);
        let mut npz = Npz::open(&path).unwrap();
        let missing = ints(&mut npz, "label").unwrap_err().to_string();
        assert!(
            missing.contains("k.npz") && missing.contains("no array `label`") && missing.contains("c, s"),
            "{missing}"
        );
        let complex = ints(&mut npz, "c").unwrap_err().to_string();
        assert!(complex.contains("`c`") && complex.contains("unsupported dtype <c8"), "{complex}");
        assert_eq!(npz.read_bytes("s").unwrap(), b"coo");
        assert!(npz.read_bytes("c").unwrap_err().to_string().contains("byte string"));
        let text = dir.path().join("t.npz");
        std::fs::write(&text, "not a zip").unwrap();
        let message = Npz::open(&text).err().unwrap().to_string();
        assert!(message.contains("t.npz") && message.contains("not a readable .npz"), "{message}");
    }
}
