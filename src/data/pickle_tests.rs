//! Known answers on hand-built pickles (and a few written by Python's own `pickle.dumps`), and
//! every refusal path of the unpickler.

use super::*;

/// A protocol-2 pickle, written opcode by opcode.
#[derive(Clone)]
pub(crate) struct P(pub(crate) Vec<u8>);

impl P {
    pub(crate) fn new() -> Self {
        P(vec![0x80, 2])
    }

    pub(crate) fn op(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }

    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub(crate) fn int(self, n: i64) -> Self {
        match n {
            0..=0xff => self.op(b'K').raw(&[n as u8]),
            0x100..=0xffff => self.op(b'M').raw(&(n as u16).to_le_bytes()),
            _ => self.op(b'J').raw(&(n as i32).to_le_bytes()),
        }
    }

    pub(crate) fn bstr(self, s: &[u8]) -> Self {
        if s.len() < 256 {
            self.op(b'U').raw(&[s.len() as u8]).raw(s)
        } else {
            self.op(b'T').raw(&(s.len() as u32).to_le_bytes()).raw(s)
        }
    }

    pub(crate) fn ustr(self, s: &str) -> Self {
        self.op(b'X').raw(&(s.len() as u32).to_le_bytes()).raw(s.as_bytes())
    }

    pub(crate) fn global(self, module: &str, name: &str) -> Self {
        self.op(b'c').raw(format!("{module}\n{name}\n").as_bytes())
    }

    pub(crate) fn ints(self, values: &[i64]) -> Self {
        values.iter().fold(self.op(b'('), |p, &v| p.int(v)).op(b't')
    }

    /// A numpy array as numpy 1.x pickles it at protocol 2 (`raw` given by `data`).
    pub(crate) fn array(self, shape: &[i64], dtype: &str, order: &str, data: impl FnOnce(Self) -> Self) -> Self {
        let p = self.global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
        let p = p.int(0).op(0x85).bstr(b"b").op(0x87).op(b'R');
        let p = p.op(b'(').int(1).ints(shape).global("numpy", "dtype").bstr(dtype.as_bytes()).int(0).int(1);
        let p = p.op(0x87).op(b'R').op(b'(').int(3).bstr(order.as_bytes()).op(b'N').op(b'N').op(b'N');
        let p = p.int(-1).int(-1).int(0).op(b't').op(b'b').op(0x89);
        data(p).op(b't').op(b'b')
    }

    pub(crate) fn csr(self, shape: (i64, i64), indptr: &[i32], indices: &[i32], data: &[f32]) -> Self {
        let bytes = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let floats: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let (ptr, idx) = (bytes(indptr), bytes(indices));
        let p = self.global("scipy.sparse.csr", "csr_matrix").op(b')').op(0x81).op(b'}').op(b'(');
        let p = p.bstr(b"format").bstr(b"csr").bstr(b"_shape").int(shape.0).int(shape.1).op(0x86);
        let p = p.bstr(b"indptr").array(&[indptr.len() as i64], "i4", "<", |p| p.bstr(&ptr));
        let p = p.bstr(b"indices").array(&[indices.len() as i64], "i4", "<", |p| p.bstr(&idx));
        let p = p.bstr(b"maxprint").int(50);
        let p = p.bstr(b"data").array(&[data.len() as i64], "f4", "<", |p| p.bstr(&floats));
        p.op(b'u').op(b'b')
    }

    pub(crate) fn stop(self) -> Vec<u8> {
        self.op(b'.').0
    }
}

fn load(bytes: &[u8]) -> Result<Pickled, PickleError> {
    unpickle(bytes, &Limits::for_input(bytes.len()))
}

fn refused(bytes: &[u8]) -> PickleError {
    match load(bytes) {
        Ok(p) => panic!("expected a refusal, got {p:?}"),
        Err(e) => e,
    }
}

fn assert_refused(bytes: &[u8], offset: usize, parts: &[&str]) {
    let e = refused(bytes);
    for part in parts {
        assert!(e.message.contains(part), "`{e}` should mention `{part}`");
    }
    assert_eq!(e.offset, offset, "{e}");
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn a_one_dimensional_int_array() {
    let bytes = P::new().array(&[3], "i4", "<", |p| p.bstr(&i32_bytes(&[1, -2, 70000]))).stop();
    let Pickled::Array(a) = load(&bytes).unwrap() else { panic!() };
    assert_eq!((a.shape.clone(), a.dtype), (vec![3], DType::I32));
    assert_eq!(a.to_i64().unwrap(), vec![1, -2, 70000]);
    assert_eq!(a.to_f32(), vec![1.0, -2.0, 70000.0]);
}

#[test]
fn a_two_dimensional_float_array_and_every_dtype() {
    let data: Vec<u8> = [0.5f64, -1.0, 2.0, 3.0, 4.0, 1e300].iter().flat_map(|x| x.to_le_bytes()).collect();
    let bytes = P::new().array(&[2, 3], "f8", "<", |p| p.bstr(&data)).stop();
    let Pickled::Array(a) = load(&bytes).unwrap() else { panic!() };
    assert_eq!(a.shape, vec![2, 3]);
    assert_eq!(a.to_f32()[..5], [0.5, -1.0, 2.0, 3.0, 4.0]);
    assert!(a.to_f32()[5].is_infinite(), "f64 beyond f32 becomes inf (the reader refuses it)");
    assert!(a.to_i64().unwrap_err().contains("integer"));
    let cases: [(&str, &[u8], Vec<i64>); 7] = [
        ("b1", &[1, 0], vec![1, 0]),
        ("i1", &[0xff, 1], vec![-1, 1]),
        ("u1", &[0xff, 1], vec![255, 1]),
        ("i2", &[0xfe, 0xff], vec![-2]),
        ("u2", &[0xfe, 0xff], vec![65534]),
        ("u4", &[0xff, 0xff, 0xff, 0xff], vec![u32::MAX as i64]),
        ("i8", &(-(1i64 << 60)).to_le_bytes(), vec![-(1i64 << 60)]),
    ];
    for (dtype, raw, expected) in cases {
        let n = expected.len() as i64;
        let bytes = P::new().array(&[n], dtype, "|", |p| p.bstr(raw)).stop();
        let Pickled::Array(a) = load(&bytes).unwrap() else { panic!() };
        assert_eq!(a.to_i64().unwrap(), expected, "{dtype}");
    }
}

#[test]
fn big_endian_arrays_are_swapped() {
    let bytes = P::new().array(&[2], "i4", ">", |p| p.bstr(&[0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe])).stop();
    let Pickled::Array(a) = load(&bytes).unwrap() else { panic!() };
    assert_eq!(a.to_i64().unwrap(), vec![7, -2]);
}

#[test]
fn python3_byte_strings_through_codecs_encode() {
    // What Python 3 writes for an array's raw bytes at protocol 2: text, then encode(·, latin1).
    let raw = [1u8, 0, 0, 0, 0xff, 0, 0, 0];
    let text: String = raw.iter().map(|&b| b as char).collect();
    let bytes = P::new()
        .array(&[2], "<i4", "<", |p| p.global("_codecs", "encode").ustr(&text).ustr("latin1").op(0x86).op(b'R'))
        .stop();
    let Pickled::Array(a) = load(&bytes).unwrap() else { panic!() };
    assert_eq!(a.to_i64().unwrap(), vec![1, 255]);
}

#[test]
fn a_csr_matrix() {
    let bytes = P::new().csr((2, 3), &[0, 2, 3], &[0, 2, 1], &[1.0, 0.5, -2.0]).stop();
    let Pickled::Csr(m) = load(&bytes).unwrap() else { panic!() };
    assert_eq!((m.rows, m.cols, m.indptr.clone()), (2, 3, vec![0, 2, 3]));
    assert_eq!(m.to_dense(), vec![1.0, 0.0, 0.5, 0.0, -2.0, 0.0]);
    // Duplicate entries add up, as scipy's todense does.
    let dup = P::new().csr((1, 2), &[0, 2], &[1, 1], &[1.0, 2.0]).stop();
    let Pickled::Csr(m) = load(&dup).unwrap() else { panic!() };
    assert_eq!(m.to_dense(), vec![0.0, 3.0]);
}

#[test]
fn dicts_of_lists_as_python_writes_them() {
    // pickle.dumps(defaultdict(list, {0: [1, 2], 2: [0], 1: []}), protocol=2)
    let dd = b"\x80\x02ccollections\ndefaultdict\nq\x00c__builtin__\nlist\nq\x01\x85q\x02Rq\x03(K\x00]q\x04(K\x01K\x02eK\x02]q\x05K\x00aK\x01]q\x06u.";
    assert_eq!(load(dd).unwrap(), Pickled::IntLists(vec![(0, vec![1, 2]), (2, vec![0]), (1, vec![])]));
    // pickle.dumps({5: [300, 70000, -1]}, protocol=2)
    let plain = b"\x80\x02}q\x00K\x05]q\x01(M,\x01Jp\x11\x01\x00J\xff\xff\xff\xffes.";
    assert_eq!(load(plain).unwrap(), Pickled::IntLists(vec![(5, vec![300, 70000, -1])]));
    // A key given twice keeps its last list, as a Python dict does.
    let ok = P::new().op(b'}').op(b'(').int(1).op(b']').int(7).op(b'a').int(1).op(b']').op(b'u').stop();
    assert_eq!(load(&ok).unwrap(), Pickled::IntLists(vec![(1, vec![])]));
}

#[test]
fn the_memo_shares_objects_like_python() {
    // A list memoized, then appended to: the memo sees the append (the dtype of the Planetoid
    // files is BUILT after its BINPUT and fetched again by BINGET).
    let bytes = P::new().op(b'}').int(0).op(b']').op(b'r').raw(&9u32.to_le_bytes()).int(4).op(b'a').op(b's');
    let bytes = bytes.int(1).op(b'j').raw(&9u32.to_le_bytes()).op(b's').stop();
    assert_eq!(load(&bytes).unwrap(), Pickled::IntLists(vec![(0, vec![4]), (1, vec![4])]));
}

#[test]
fn refuses_opcodes_by_name_and_unknown_bytes() {
    for (op, name) in [(b'i', "INST"), (b'o', "OBJ"), (0x93, "STACK_GLOBAL"), (b'S', "STRING"), (0x95, "FRAME")] {
        let bytes = P::new().op(op).stop();
        assert_refused(&bytes, 2, &[name, "not supported"]);
    }
    assert_refused(&P::new().op(0xf0).stop(), 2, &["unknown opcode byte 0xf0"]);
    assert_refused(&P(vec![0x80, 4]).op(b'N').stop(), 0, &["protocol 4"]);
}

#[test]
fn refuses_globals_outside_the_allow_list() {
    let bytes = P::new().global("os", "system").ustr("true").op(0x85).op(b'R').stop();
    assert_refused(&bytes, 2, &["GLOBAL", "`os.system` is not allowed", "numpy.dtype"]);
    let bytes = P::new().global("numpy", "csr_matrix").stop();
    assert_refused(&bytes, 2, &["`numpy.csr_matrix` is not allowed"]);
    let long = "x".repeat(300);
    assert_refused(&P::new().global(&long, "y").stop(), 2, &["no end of line"]);
    // Allowed globals may only be called the way the Planetoid files call them.
    let call_list = P::new().global("__builtin__", "list").op(b')').op(b'R').stop();
    assert_refused(&call_list, call_list.len() - 2, &["REDUCE", "may not call List"]);
    let new_list = P::new().global("builtins", "list").op(b')').op(0x81).stop();
    assert_refused(&new_list, new_list.len() - 2, &["NEWOBJ", "only csr_matrix"]);
    let call_int = P::new().int(3).op(b')').op(b'R').stop();
    assert_refused(&call_int, 5, &["REDUCE", "calls a int"]);
}

#[test]
fn refuses_bad_calls_of_allowed_globals() {
    let reconstruct = P::new().global("numpy.core.multiarray", "_reconstruct").int(1).op(0x85).op(b'R').stop();
    assert_refused(&reconstruct, reconstruct.len() - 2, &["_reconstruct takes"]);
    let dtype = P::new().global("numpy", "dtype").bstr(b"c16").op(0x85).op(b'R').stop();
    assert_refused(&dtype, dtype.len() - 2, &["dtype `c16` is not supported"]);
    let dd = P::new().global("collections", "defaultdict").int(1).op(0x85).op(b'R').stop();
    assert_refused(&dd, dd.len() - 2, &["defaultdict takes list"]);
    let encode =
        |text: &str, enc: &str| P::new().global("_codecs", "encode").ustr(text).ustr(enc).op(0x86).op(b'R').stop();
    let (utf8, euro) = (encode("ab", "utf8"), encode("€", "latin1"));
    assert_refused(&utf8, utf8.len() - 2, &["latin1 only"]);
    assert_refused(&euro, euro.len() - 2, &["beyond latin-1"]);
    let not_text = P::new().global("_codecs", "encode").int(1).ustr("latin1").op(0x86).op(b'R').stop();
    assert_refused(&not_text, not_text.len() - 2, &["takes a string first"]);
}

#[test]
fn refuses_inconsistent_arrays() {
    let short = P::new().array(&[3], "i4", "<", |p| p.bstr(&[0; 8])).stop();
    assert_refused(&short, short.len() - 2, &["BUILD", "8 bytes", "needs 12"]);
    let huge = P::new().array(&[1 << 30, 1 << 30, 1 << 30], "f8", "<", |p| p.bstr(&[])).stop();
    assert_refused(&huge, huge.len() - 2, &["overflows"]);
    let negative = P::new().array(&[-1], "i4", "<", |p| p.bstr(&[])).stop();
    assert_refused(&negative, negative.len() - 2, &["negative"]);
    let p = P::new().array(&[2, 2], "u1", "|", |p| p.bstr(&[1, 2, 3, 4]));
    let at = p.0.iter().rposition(|&b| b == 0x89).unwrap();
    let mut bytes = p.stop();
    bytes[at] = 0x88;
    assert_refused(&bytes, bytes.len() - 2, &["Fortran"]);
    let no_order = P::new().array(&[1], "u1", "?", |p| p.bstr(&[1])).stop();
    assert!(refused(&no_order).message.contains("byte order"));
}

#[test]
fn refuses_inconsistent_csr_matrices() {
    let cases: [(Vec<u8>, &str); 7] = [
        (P::new().csr((2, 3), &[0, 2], &[0, 1], &[1.0, 1.0]).stop(), "indptr has 2 entries for 2 rows"),
        (P::new().csr((2, 3), &[0, 2, 2, 2], &[0], &[1.0]).stop(), "indptr has 4"),
        (P::new().csr((1, 3), &[0, 2], &[0], &[1.0]).stop(), "from 0 to the 1 entries"),
        (P::new().csr((1, 3), &[0, 1], &[0], &[1.0, 2.0]).stop(), "1 indices but 2 data values"),
        (P::new().csr((2, 3), &[0, 2, 1], &[0], &[1.0]).stop(), "indptr decreases"),
        (P::new().csr((1, 3), &[0, 1], &[3], &[1.0]).stop(), "column index 3 is outside 0..3"),
        (P::new().csr((1, 3), &[0, 1], &[-1], &[1.0]).stop(), "column index -1 is outside"),
    ];
    for (i, (bytes, part)) in cases.iter().enumerate() {
        let e = refused(bytes);
        assert!(e.message.contains(part), "{i}: {e}");
        assert_eq!(e.offset, bytes.len(), "csr checks happen after STOP: {e}");
    }
}

#[test]
fn refuses_a_root_of_another_kind_and_bad_dict_contents() {
    assert_refused(&P::new().int(3).stop(), 5, &["holds a int", "not a numpy array"]);
    let unbuilt = P::new().global("scipy.sparse._csr", "csr_matrix").op(b')').op(0x81).stop();
    assert!(refused(&unbuilt).message.contains("holds a csr_matrix"));
    let str_key = P::new().op(b'}').bstr(b"k").op(b']').op(b's').stop();
    assert!(refused(&str_key).message.contains("key that is a byte string"));
    let not_list = P::new().op(b'}').int(1).int(2).op(b's').stop();
    assert!(refused(&not_list).message.contains("value of key 1 is a int"));
    let bad_item = P::new().op(b'}').int(1).op(b']').op(b'N').op(b'a').op(b's').stop();
    assert!(refused(&bad_item).message.contains("holds a None"));
}

#[test]
fn refuses_malformed_streams() {
    assert_refused(&P::new().int(1).0, 4, &["ends without a STOP"]);
    assert_refused(&P::new().stop(), 2, &["leaves 0 values"]);
    assert_refused(&P::new().int(1).int(2).stop(), 6, &["leaves 2 values"]);
    assert_refused(&P::new().op(b'(').op(b'}').stop(), 4, &["MARK still open"]);
    assert_refused(&P::new().op(b't').stop(), 2, &["TUPLE", "no MARK"]);
    assert_refused(&P::new().int(1).op(b'(').op(b'a').stop(), 5, &["APPEND", "below its MARK"]);
    assert_refused(&P::new().op(0x86).stop(), 2, &["TUPLE2", "needs 2 values"]);
    assert_refused(&P::new().op(b'q').raw(&[1]).stop(), 2, &["BINPUT", "needs a value"]);
    assert_refused(&P::new().op(b'h').raw(&[1]).stop(), 2, &["BINGET", "memo slot 1 was never set"]);
    assert_refused(&P::new().op(b'J').raw(&[1, 2]).0, 2, &["BININT", "needs 4 more bytes"]);
    assert_refused(&P::new().int(1).op(b'a').stop(), 4, &["APPEND", "needs a value"]);
    assert_refused(&P::new().int(1).int(2).op(b'a').stop(), 6, &["APPEND", "a int, not a list"]);
    assert_refused(&P::new().op(b']').int(1).int(2).op(b's').stop(), 7, &["SETITEM", "not a dict"]);
    assert_refused(&P::new().op(b'}').op(b'(').int(1).op(b'u').stop(), 6, &["SETITEMS", "odd number"]);
    assert_refused(&P::new().op(b']').op(b']').op(b'b').stop(), 4, &["BUILD on a list"]);
    assert_refused(&P::new().int(1).op(b'N').op(b'b').stop(), 5, &["BUILD on a int"]);
    let not_utf8 = P::new().op(b'X').raw(&2u32.to_le_bytes()).raw(&[0xff, 0xfe]).stop();
    assert_refused(&not_utf8, 2, &["BINUNICODE", "not UTF-8"]);
}

#[test]
fn every_length_is_bounded_before_allocation() {
    // A 4 GB string claimed by a 10-byte file.
    let long = P::new().op(b'T').raw(&0x3fff_ffffu32.to_le_bytes()).stop();
    assert_refused(&long, 2, &["BINSTRING", "needs 1073741823 more bytes"]);
    let longer = P::new().op(b'T').raw(&0x7fff_ffffu32.to_le_bytes()).stop();
    assert_refused(&longer, 2, &["BINSTRING", "2147483647 bytes exceeds the 1073741824-byte limit"]);
    let negative = P::new().op(b'T').raw(&(-5i32).to_le_bytes()).stop();
    assert_refused(&negative, 2, &["negative string length -5"]);
    let unicode = P::new().op(b'X').raw(&u32::MAX.to_le_bytes()).stop();
    assert_refused(&unicode, 2, &["BINUNICODE", "exceeds the 1073741824-byte limit"]);
    let small = Limits { max_stack: 4, max_marks: 2, max_memo: 2, max_string: 3, max_held: 1 << 20 };
    let run = |p: P| unpickle(&p.stop(), &small).unwrap_err().to_string();
    assert!(run(P::new().int(1).int(1).int(1).int(1).int(1)).contains("stack would exceed 4"));
    assert!(run(P::new().op(b'(').op(b'(').op(b'(')).contains("more than 2 open MARKs"));
    let memo = P::new().op(b']').op(b'q').raw(&[0]).op(b'q').raw(&[1]).op(b'q').raw(&[0]).op(b'q').raw(&[2]);
    assert!(run(memo).contains("more than 2 memo slots"));
    assert!(run(P::new().bstr(b"abcd")).contains("exceeds the 3-byte limit"));
    // Repeated BINGETs of a list appended to itself cost slots, bounded by max_held.
    let mut p = P::new().op(b']').op(b'q').raw(&[0]).op(b'(');
    for _ in 0..3 {
        p = p.op(b'h').raw(&[0]);
    }
    let tight = Limits { max_held: 100, ..Limits::for_input(0) };
    let e = unpickle(&p.op(b'e').stop(), &tight).unwrap_err();
    assert!(e.message.contains("more than 100 bytes"), "{e}");
}

#[test]
fn held_bytes_are_bounded_by_the_input_size() {
    // Encoding the same memoized 1 KiB text again and again would copy it each time.
    let text = "a".repeat(1024);
    let mut p = P::new().ustr(&text).op(b'q').raw(&[0]).op(b'(');
    for _ in 0..4000 {
        p = p.global("_codecs", "encode").op(b'h').raw(&[0]).ustr("latin1").op(0x86).op(b'R');
    }
    let bytes = p.op(b't').stop();
    let e = refused(&bytes);
    assert!(e.message.contains("would hold more than"), "{e}");
}

#[test]
fn opcode_names_cover_every_byte_pickle_defines() {
    assert_eq!(opcode_name(b'R'), Some("REDUCE"));
    assert_eq!(opcode_name(0x8c), Some("SHORT_BINUNICODE"));
    assert_eq!(opcode_name(0xff), None);
    let mut all: Vec<u8> = OPCODES.iter().chain(&REFUSED_OPCODES).map(|(b, _)| *b).collect();
    all.sort_unstable();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "an opcode listed twice");
    assert_eq!(n, 68, "protocols 0-5 define 68 opcodes");
}

// ---------------------------------------------------------------------------------------------
// The fuzz target
// ---------------------------------------------------------------------------------------------

/// Valid pickles to mutate: one of each kind built here, and Cora's `y`, `x` and `graph` when
/// `planetoid-cora` is there.
fn fuzz_corpus() -> Vec<Vec<u8>> {
    let floats: Vec<u8> = [0.5f64, -1.0, 2.0, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let raw = [1u8, 0, 0, 0, 0xff, 0, 0, 0];
    let text: String = raw.iter().map(|&b| b as char).collect();
    let mut corpus = vec![
        P::new().array(&[3], "i4", "<", |p| p.bstr(&i32_bytes(&[1, -2, 70000]))).stop(),
        P::new().array(&[2, 2], "f8", "<", |p| p.bstr(&floats)).stop(),
        P::new().array(&[2], "i4", ">", |p| p.bstr(&[0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe])).stop(),
        P::new()
            .array(&[2], "<i4", "<", |p| p.global("_codecs", "encode").ustr(&text).ustr("latin1").op(0x86).op(b'R'))
            .stop(),
        P::new().csr((2, 3), &[0, 2, 3], &[0, 2, 1], &[1.0, 0.5, -2.0]).stop(),
        b"\x80\x02ccollections\ndefaultdict\nq\x00c__builtin__\nlist\nq\x01\x85q\x02Rq\x03(K\x00]q\x04(K\x01K\x02eK\x02]q\x05K\x00aK\x01]q\x06u.".to_vec(),
    ];
    if let Some(dir) = crate::data::testdata::dataset_dir("planetoid-cora") {
        for suffix in ["y", "x", "graph"] {
            corpus.push(std::fs::read(dir.join(format!("ind.cora.{suffix}"))).unwrap());
        }
    }
    corpus
}

/// One case: a corpus entry with 1 to 4 stacked byte mutations, unpickled. Refused, or accepted
/// with a result whose parts agree (array bytes = shape × element size, a CSR within its shape).
fn fuzz_case(corpus: &[Vec<u8>], m: &mut crate::fuzz::Mutator) -> crate::fuzz::Outcome {
    use crate::fuzz::Outcome;
    let mut bytes = m.pick(corpus).clone();
    let others: Vec<&[u8]> = corpus.iter().map(Vec::as_slice).collect();
    m.havoc(&mut bytes, &others, 4);
    match unpickle(&bytes, &Limits::for_input(bytes.len())) {
        Err(e) => {
            assert!(e.offset <= bytes.len(), "{e}");
            let kind = e.message.split(':').next().unwrap_or("").to_string();
            Outcome::Refused(if kind.len() < 20 { kind } else { "other".into() })
        }
        Ok(Pickled::Array(a)) => {
            assert_eq!(a.shape.iter().product::<usize>() * a.dtype.size(), a.data.len());
            assert_eq!(a.to_f32().len(), a.len());
            Outcome::Accepted
        }
        Ok(Pickled::Csr(c)) => {
            assert_eq!(c.indptr.len(), c.rows + 1);
            assert_eq!(c.indptr[c.rows], c.indices.len());
            assert!(c.indices.iter().all(|&i| (i as usize) < c.cols));
            if c.rows.saturating_mul(c.cols) <= 1 << 22 {
                assert_eq!(c.to_dense().len(), c.rows * c.cols);
            }
            Outcome::Accepted
        }
        Ok(Pickled::IntLists(lists)) => {
            let keys: std::collections::HashSet<i64> = lists.iter().map(|(k, _)| *k).collect();
            assert_eq!(keys.len(), lists.len(), "a key listed twice");
            Outcome::Accepted
        }
    }
}

#[test]
fn mutated_pickles_are_refused_or_consistent() {
    let corpus = fuzz_corpus();
    let report = crate::fuzz::run_cases("planetoid pickles", crate::fuzz::case_count(2000), 0x91c_e1e, |_, m| {
        fuzz_case(&corpus, m)
    });
    assert!(report.accepted > 0 && report.refused > report.cases / 4, "{report}");
}

/// The long run: `GCNSIM_FUZZ_CASES=1000000 cargo test --release --lib pickle_fuzz_long --
/// --ignored --nocapture`.
#[test]
#[ignore]
fn pickle_fuzz_long() {
    let corpus = fuzz_corpus();
    let n = crate::fuzz::case_count(1_000_000);
    let report = crate::fuzz::run_cases("planetoid pickles (long)", n, 0x10_91c_e1e, |_, m| fuzz_case(&corpus, m));
    println!("{report}");
}
