//! A small, bounded unpickler for the Python pickles of the Planetoid datasets, and nothing more.
//!
//! The `ind.NAME.*` files are protocol-2 pickles of three kinds of object: a
//! `scipy.sparse.csr_matrix` (`NEWOBJ` of the class, then `BUILD` with its `__dict__`: `_shape`,
//! `indptr`, `indices`, `data`), a numpy array (`numpy.core.multiarray._reconstruct`, then
//! `BUILD` with `(version, shape, dtype, fortran, raw bytes)`), and a `defaultdict(list)` of node
//! id → neighbour ids. Python 3 writes byte strings at protocol 2 as `_codecs.encode(text,
//! 'latin1')`, so that is understood too.
//!
//! This is not a Python interpreter: it knows the opcodes those files use (see [`OPCODES`]) and
//! the callables in [`ALLOWED_GLOBALS`], and refuses every other opcode and global by name.
//! Every length is bounded before anything is allocated for it: strings by the bytes left in the
//! input, the stack, the mark stack and the memo by [`Limits`], and everything the unpickled
//! objects hold together by [`Limits::max_held`] (a multiple of the input's size), so a
//! hostile file is an error naming the byte offset of the opcode at fault, never a panic or a
//! huge allocation. Objects live in an arena and the stack holds handles, so a `BINGET` of a
//! large string copies nothing and a later `BUILD` on a memoized object is seen through the memo,
//! as in Python.

use std::collections::HashMap;

/// What went wrong, and where: the byte offset of the opcode at fault (or of the end).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {message}")]
pub struct PickleError {
    pub offset: usize,
    pub message: String,
}

/// Bounds on an unpickling. [`Limits::for_input`] gives the ones gcnsim uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Values on the stack (the Planetoid graphs need about 2,000: pickle batches 1,000 items).
    pub max_stack: usize,
    /// Open `MARK`s.
    pub max_marks: usize,
    /// Distinct memo slots.
    pub max_memo: usize,
    /// Bytes of one string.
    pub max_string: usize,
    /// Bytes that all objects together may hold (strings, array data, container slots).
    pub max_held: usize,
}

impl Limits {
    /// The limits for an input of `len` bytes: objects may hold 16 times the input plus 1 MiB
    /// (a list item costs 16 bytes and 2 or 3 input bytes; array data is copied once).
    pub fn for_input(len: usize) -> Self {
        Self {
            max_stack: 1 << 20,
            max_marks: 1 << 16,
            max_memo: 1 << 22,
            max_string: 1 << 30,
            max_held: len.saturating_mul(16).saturating_add(1 << 20),
        }
    }
}

/// Element types of numpy arrays, as numpy spells them (`i4`, `f8`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl DType {
    fn parse(text: &[u8]) -> Option<(DType, Option<u8>)> {
        let (order, rest) = match text.first() {
            Some(&c @ (b'<' | b'>' | b'=' | b'|')) => (Some(c), &text[1..]),
            _ => (None, text),
        };
        let dtype = match rest {
            b"b1" | b"?" => DType::Bool,
            b"i1" => DType::I8,
            b"i2" => DType::I16,
            b"i4" => DType::I32,
            b"i8" => DType::I64,
            b"u1" => DType::U8,
            b"u2" => DType::U16,
            b"u4" => DType::U32,
            b"u8" => DType::U64,
            b"f4" => DType::F32,
            b"f8" => DType::F64,
            _ => return None,
        };
        Some((dtype, order))
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    fn is_integer(self) -> bool {
        !matches!(self, DType::F32 | DType::F64)
    }
}

/// A numpy array: C order, data in little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Array {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every element as f32 (integers converted, f64 rounded; may give ±inf for huge f64).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.chunks_exact(self.dtype.size()).map(|b| element_f64(self.dtype, b) as f32).collect()
    }

    /// Every element as i64; an error for a float array.
    pub fn to_i64(&self) -> Result<Vec<i64>, String> {
        if !self.dtype.is_integer() {
            return Err(format!("expected an integer array, found {:?}", self.dtype));
        }
        let convert = |b: &[u8]| match self.dtype {
            DType::U64 => i64::try_from(u64::from_le_bytes(b.try_into().unwrap_or_default()))
                .map_err(|_| "u64 element beyond i64".to_string()),
            _ => Ok(element_f64(self.dtype, b) as i64),
        };
        // i64 through f64 would lose precision above 2^53: read it directly.
        if self.dtype == DType::I64 {
            return Ok(self
                .data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
                .collect());
        }
        self.data.chunks_exact(self.dtype.size()).map(convert).collect()
    }
}

fn element_f64(dtype: DType, b: &[u8]) -> f64 {
    let word = |n: usize| {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(w)
    };
    match dtype {
        DType::Bool => (b[0] != 0) as u8 as f64,
        DType::I8 => b[0] as i8 as f64,
        DType::I16 => word(2) as u16 as i16 as f64,
        DType::I32 => word(4) as u32 as i32 as f64,
        DType::I64 => word(8) as i64 as f64,
        DType::U8 => b[0] as f64,
        DType::U16 => word(2) as u16 as f64,
        DType::U32 => word(4) as u32 as f64,
        DType::U64 => word(8) as f64,
        DType::F32 => f32::from_bits(word(4) as u32) as f64,
        DType::F64 => f64::from_bits(word(8)),
    }
}

/// A `scipy.sparse.csr_matrix`, checked: `indptr` starts at 0, never decreases and ends at the
/// number of entries; every column index is below `cols`.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrMatrix {
    pub rows: usize,
    pub cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl CsrMatrix {
    /// Row-major dense copy; duplicate entries add up, as in scipy's `todense`. The caller
    /// bounds `rows × cols`.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0f32; self.rows * self.cols];
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                dense[r * self.cols + self.indices[k] as usize] += self.data[k];
            }
        }
        dense
    }
}

/// What a Planetoid pickle holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Pickled {
    Array(Array),
    Csr(CsrMatrix),
    /// A dict (or `defaultdict(list)`) of int → list of ints, in the order the file gives them;
    /// a key given twice keeps its last list, as in Python.
    IntLists(Vec<(i64, Vec<i64>)>),
}

/// Unpickles `input` within `limits`.
pub fn unpickle(input: &[u8], limits: &Limits) -> Result<Pickled, PickleError> {
    let mut machine = Machine::new(input, limits);
    let root = machine.run()?;
    machine.finish(root).map_err(|message| PickleError { offset: input.len(), message })
}

// ---------------------------------------------------------------------------------------------
// Opcodes and globals
// ---------------------------------------------------------------------------------------------

/// The opcodes understood, by byte and pickletools name.
pub const OPCODES: [(u8, &str); 31] = [
    (0x80, "PROTO"),
    (b'.', "STOP"),
    (b'(', "MARK"),
    (b'c', "GLOBAL"),
    (b'q', "BINPUT"),
    (b'r', "LONG_BINPUT"),
    (b'h', "BINGET"),
    (b'j', "LONG_BINGET"),
    (b')', "EMPTY_TUPLE"),
    (b't', "TUPLE"),
    (0x85, "TUPLE1"),
    (0x86, "TUPLE2"),
    (0x87, "TUPLE3"),
    (b']', "EMPTY_LIST"),
    (b'a', "APPEND"),
    (b'e', "APPENDS"),
    (b'}', "EMPTY_DICT"),
    (b's', "SETITEM"),
    (b'u', "SETITEMS"),
    (b'N', "NONE"),
    (0x88, "NEWTRUE"),
    (0x89, "NEWFALSE"),
    (b'J', "BININT"),
    (b'K', "BININT1"),
    (b'M', "BININT2"),
    (b'U', "SHORT_BINSTRING"),
    (b'T', "BINSTRING"),
    (b'X', "BINUNICODE"),
    (b'R', "REDUCE"),
    (0x81, "NEWOBJ"),
    (b'b', "BUILD"),
];

/// The other opcodes of pickle protocols 0 to 5, refused by name.
const REFUSED_OPCODES: [(u8, &str); 37] = [
    (b'0', "POP"),
    (b'1', "POP_MARK"),
    (b'2', "DUP"),
    (b'F', "FLOAT"),
    (b'I', "INT"),
    (b'L', "LONG"),
    (b'P', "PERSID"),
    (b'Q', "BINPERSID"),
    (b'S', "STRING"),
    (b'V', "UNICODE"),
    (b'G', "BINFLOAT"),
    (b'd', "DICT"),
    (b'g', "GET"),
    (b'i', "INST"),
    (b'l', "LIST"),
    (b'o', "OBJ"),
    (b'p', "PUT"),
    (0x82, "EXT1"),
    (0x83, "EXT2"),
    (0x84, "EXT4"),
    (0x8a, "LONG1"),
    (0x8b, "LONG4"),
    (b'B', "BINBYTES"),
    (b'C', "SHORT_BINBYTES"),
    (0x8c, "SHORT_BINUNICODE"),
    (0x8d, "BINUNICODE8"),
    (0x8e, "BINBYTES8"),
    (0x8f, "EMPTY_SET"),
    (0x90, "ADDITEMS"),
    (0x91, "FROZENSET"),
    (0x92, "NEWOBJ_EX"),
    (0x93, "STACK_GLOBAL"),
    (0x94, "MEMOIZE"),
    (0x95, "FRAME"),
    (0x96, "BYTEARRAY8"),
    (0x97, "NEXT_BUFFER"),
    (0x98, "READONLY_BUFFER"),
];

const NEWOBJ: u8 = 0x81;

/// The pickletools name of an opcode byte, or `None` for a byte that is no opcode.
pub fn opcode_name(op: u8) -> Option<&'static str> {
    OPCODES.iter().chain(&REFUSED_OPCODES).find(|(b, _)| *b == op).map(|(_, name)| *name)
}

/// The callables a pickle may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    CsrMatrix,
    Reconstruct,
    NdArray,
    DType,
    DefaultDict,
    List,
    Encode,
}

/// `(module, name)` pairs that `GLOBAL` may name: old and new spellings of the same callables.
pub const ALLOWED_GLOBALS: [(&str, &str); 10] = [
    ("scipy.sparse.csr", "csr_matrix"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "defaultdict"),
    ("__builtin__", "list"),
    ("builtins", "list"),
    ("_codecs", "encode"),
];

fn global_of(module: &str, name: &str) -> Option<Global> {
    let g = match (module, name) {
        (_, "csr_matrix") => Global::CsrMatrix,
        (_, "_reconstruct") => Global::Reconstruct,
        (_, "ndarray") => Global::NdArray,
        (_, "dtype") => Global::DType,
        (_, "defaultdict") => Global::DefaultDict,
        (_, "list") => Global::List,
        (_, "encode") => Global::Encode,
        _ => return None,
    };
    ALLOWED_GLOBALS.contains(&(module, name)).then_some(g)
}

// ---------------------------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------------------------

/// A stack value: small things inline, everything else a handle into the object arena.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Obj(usize),
}

#[derive(Debug)]
enum Obj {
    /// A Python 2 `str` or Python 3 `bytes`.
    Bytes(Vec<u8>),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Global),
    /// A dtype, and whether its data is big-endian (`BUILD` sets the byte order).
    DType(DType, bool),
    /// An array from `_reconstruct`, filled by `BUILD`.
    Array(Option<Array>),
    /// A `csr_matrix`, its `__dict__` given by `BUILD`.
    Csr(Option<Value>),
}

impl Obj {
    fn kind(&self) -> &'static str {
        match self {
            Obj::Bytes(_) => "byte string",
            Obj::Str(_) => "string",
            Obj::Tuple(_) => "tuple",
            Obj::List(_) => "list",
            Obj::Dict(_) => "dict",
            Obj::Global(_) => "global",
            Obj::DType(..) => "numpy dtype",
            Obj::Array(_) => "numpy array",
            Obj::Csr(_) => "csr_matrix",
        }
    }
}

/// Bytes a value slot costs against [`Limits::max_held`].
const SLOT: usize = std::mem::size_of::<Value>();

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    stack: Vec<Value>,
    /// Stack lengths at each open `MARK`; nothing below the top one may be popped.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objs: Vec<Obj>,
    held: usize,
}

type Step<T = ()> = Result<T, String>;

impl<'a> Machine<'a> {
    fn new(input: &'a [u8], limits: &'a Limits) -> Self {
        Self {
            input,
            pos: 0,
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            objs: Vec::new(),
            held: 0,
        }
    }

    /// Runs to `STOP` and returns the value it leaves.
    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            let at = self.pos;
            let fail = |message: String| PickleError { offset: at, message };
            let Some(&op) = self.input.get(self.pos) else {
                return Err(fail("the pickle ends without a STOP opcode".into()));
            };
            self.pos += 1;
            if op == b'.' {
                return self.stop().map_err(fail);
            }
            self.step(op).map_err(|m| match opcode_name(op) {
                Some(name) => fail(format!("{name}: {m}")),
                None => fail(m),
            })?;
        }
    }

    fn stop(&mut self) -> Step<Value> {
        if !self.marks.is_empty() {
            return Err("STOP with a MARK still open".into());
        }
        match self.stack.as_slice() {
            [v] => Ok(*v),
            other => Err(format!("STOP leaves {} values on the stack, not one", other.len())),
        }
    }

    fn step(&mut self, op: u8) -> Step {
        match op {
            0x80 => self.proto(),
            b'(' => self.mark(),
            b'c' => self.global(),
            b'q' => self.put(1),
            b'r' => self.put(4),
            b'h' => self.get(1),
            b'j' => self.get(4),
            b')' => self.push_obj(Obj::Tuple(Vec::new())),
            b't' => self.pop_mark().and_then(|items| self.push_container(items, Obj::Tuple)),
            0x85..=0x87 => self.tuple_n((op - 0x84) as usize),
            b']' => self.push_obj(Obj::List(Vec::new())),
            b'a' => self.pop().and_then(|v| self.append(vec![v])),
            b'e' => self.pop_mark().and_then(|items| self.append(items)),
            b'}' => self.push_obj(Obj::Dict(Vec::new())),
            b's' => self.pop_n(2).and_then(|items| self.set_items(items)),
            b'u' => self.pop_mark().and_then(|items| self.set_items(items)),
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'J' => self.int(4),
            b'K' => self.int(1),
            b'M' => self.int(2),
            b'U' => self.string(1),
            b'T' => self.string(4),
            b'X' => self.unicode(),
            b'R' => self.reduce(),
            NEWOBJ => self.new_obj(),
            b'b' => self.build(),
            _ => Err(match opcode_name(op) {
                Some(_) => "is not supported (gcnsim reads only the opcodes of Planetoid pickles)".into(),
                None => format!("unknown opcode byte 0x{op:02x}"),
            }),
        }
    }

    // --- input --------------------------------------------------------------------------------

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        let left = self.input.len() - self.pos;
        if n > left {
            return Err(format!("needs {n} more bytes, the file has {left}"));
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn uint(&mut self, width: usize) -> Step<u64> {
        let mut word = [0u8; 8];
        word[..width].copy_from_slice(self.take(width)?);
        Ok(u64::from_le_bytes(word))
    }

    /// A `\n`-terminated line of at most 256 bytes (a `GLOBAL` argument).
    fn line(&mut self) -> Step<&'a str> {
        let rest = &self.input[self.pos..];
        let end = rest.iter().take(257).position(|&b| b == b'\n').ok_or("no end of line within 256 bytes")?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| "a name that is not UTF-8".into())
    }

    // --- stack, marks, memo, arena --------------------------------------------------------------

    fn push(&mut self, v: Value) -> Step {
        if self.stack.len() >= self.limits.max_stack {
            return Err(format!("the stack would exceed {} values", self.limits.max_stack));
        }
        self.stack.push(v);
        Ok(())
    }

    fn charge(&mut self, bytes: usize) -> Step {
        self.held = self.held.saturating_add(bytes);
        if self.held > self.limits.max_held {
            return Err(format!("the objects would hold more than {} bytes", self.limits.max_held));
        }
        Ok(())
    }

    fn alloc(&mut self, obj: Obj) -> Step<Value> {
        let payload = match &obj {
            Obj::Bytes(b) => b.len(),
            Obj::Str(s) => s.len(),
            Obj::Tuple(v) | Obj::List(v) => v.len() * SLOT,
            Obj::Dict(v) => v.len() * 2 * SLOT,
            Obj::Array(Some(a)) => a.data.len(),
            _ => 0,
        };
        self.charge(std::mem::size_of::<Obj>() + payload)?;
        self.objs.push(obj);
        Ok(Value::Obj(self.objs.len() - 1))
    }

    fn push_obj(&mut self, obj: Obj) -> Step {
        let v = self.alloc(obj)?;
        self.push(v)
    }

    fn push_container(&mut self, items: Vec<Value>, make: fn(Vec<Value>) -> Obj) -> Step {
        self.push_obj(make(items))
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Step<Value> {
        if self.stack.len() <= self.floor() {
            return Err("pops an empty stack (or below its MARK)".into());
        }
        Ok(self.stack.pop().unwrap_or(Value::None))
    }

    fn pop_n(&mut self, n: usize) -> Step<Vec<Value>> {
        if self.stack.len() < self.floor() + n {
            return Err(format!("needs {n} values on the stack above its MARK"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn mark(&mut self) -> Step {
        if self.marks.len() >= self.limits.max_marks {
            return Err(format!("more than {} open MARKs", self.limits.max_marks));
        }
        self.marks.push(self.stack.len());
        Ok(())
    }

    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        let mark = self.marks.pop().ok_or("no MARK is open")?;
        Ok(self.stack.split_off(mark))
    }

    fn top(&self) -> Step<Value> {
        if self.stack.len() <= self.floor() {
            return Err("needs a value on the stack above its MARK".into());
        }
        Ok(self.stack[self.stack.len() - 1])
    }

    fn put(&mut self, width: usize) -> Step {
        let index = self.uint(width)? as u32;
        let v = self.top()?;
        if !self.memo.contains_key(&index) && self.memo.len() >= self.limits.max_memo {
            return Err(format!("more than {} memo slots", self.limits.max_memo));
        }
        self.memo.insert(index, v);
        Ok(())
    }

    fn get(&mut self, width: usize) -> Step {
        let index = self.uint(width)? as u32;
        let v = *self.memo.get(&index).ok_or_else(|| format!("memo slot {index} was never set"))?;
        self.push(v)
    }

    fn obj(&self, v: Value) -> Option<&Obj> {
        match v {
            Value::Obj(i) => self.objs.get(i),
            _ => None,
        }
    }

    fn kind(&self, v: Value) -> &'static str {
        match v {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Obj(_) => self.obj(v).map_or("object", Obj::kind),
        }
    }

    // --- simple opcodes -------------------------------------------------------------------------

    fn proto(&mut self) -> Step {
        match self.uint(1)? {
            2 => Ok(()),
            p => Err(format!("protocol {p} is not supported (the Planetoid files use protocol 2)")),
        }
    }

    fn int(&mut self, width: usize) -> Step {
        let raw = self.uint(width)?;
        let value = if width == 4 { raw as u32 as i32 as i64 } else { raw as i64 };
        self.push(Value::Int(value))
    }

    fn string(&mut self, width: usize) -> Step {
        let len = self.uint(width)?;
        let len = if width == 4 { raw_len(len as u32 as i32 as i64)? } else { len as usize };
        self.check_string(len)?;
        let bytes = self.take(len)?.to_vec();
        self.push_obj(Obj::Bytes(bytes))
    }

    fn unicode(&mut self) -> Step {
        let len = self.uint(4)? as usize;
        self.check_string(len)?;
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| "text that is not UTF-8".to_string())?;
        self.push_obj(Obj::Str(text.to_string()))
    }

    fn check_string(&self, len: usize) -> Step {
        if len > self.limits.max_string {
            return Err(format!("a string of {len} bytes exceeds the {}-byte limit", self.limits.max_string));
        }
        Ok(())
    }

    fn tuple_n(&mut self, n: usize) -> Step {
        let items = self.pop_n(n)?;
        self.push_obj(Obj::Tuple(items))
    }

    fn append(&mut self, items: Vec<Value>) -> Step {
        let target = self.top()?;
        self.charge(items.len() * SLOT)?;
        match target {
            Value::Obj(i) if matches!(self.objs[i], Obj::List(_)) => {
                if let Obj::List(list) = &mut self.objs[i] {
                    list.extend(items);
                }
                Ok(())
            }
            other => Err(format!("appends to a {}, not a list", self.kind(other))),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Step {
        if !items.len().is_multiple_of(2) {
            return Err(format!("an odd number of values ({}) for key, value pairs", items.len()));
        }
        let target = self.top()?;
        self.charge(items.len() * SLOT)?;
        match target {
            Value::Obj(i) if matches!(self.objs[i], Obj::Dict(_)) => {
                if let Obj::Dict(dict) = &mut self.objs[i] {
                    dict.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
                }
                Ok(())
            }
            other => Err(format!("sets items of a {}, not a dict", self.kind(other))),
        }
    }

    fn global(&mut self) -> Step {
        let module = self.line()?;
        let name = self.line()?;
        let g = global_of(module, name).ok_or_else(|| {
            let allowed: Vec<String> = ALLOWED_GLOBALS.iter().map(|(m, n)| format!("{m}.{n}")).collect();
            format!("`{module}.{name}` is not allowed (allowed: {})", allowed.join(", "))
        })?;
        self.push_obj(Obj::Global(g))
    }

    // --- calls ----------------------------------------------------------------------------------

    fn callable(&self, v: Value) -> Step<Global> {
        match self.obj(v) {
            Some(Obj::Global(g)) => Ok(*g),
            _ => Err(format!("calls a {}, not an allowed global", self.kind(v))),
        }
    }

    fn tuple(&self, v: Value) -> Step<Vec<Value>> {
        match self.obj(v) {
            Some(Obj::Tuple(items)) => Ok(items.clone()),
            _ => Err(format!("expected a tuple, found a {}", self.kind(v))),
        }
    }

    fn text(&self, v: Value) -> Option<&[u8]> {
        match self.obj(v) {
            Some(Obj::Bytes(b)) => Some(b),
            Some(Obj::Str(s)) => Some(s.as_bytes()),
            _ => None,
        }
    }

    fn reduce(&mut self) -> Step {
        let args = self.pop()?;
        let callable = self.pop()?;
        let g = self.callable(callable)?;
        let args = self.tuple(args)?;
        let obj = match g {
            Global::Reconstruct => self.reconstruct(&args)?,
            Global::DType => self.dtype(&args)?,
            Global::DefaultDict => self.default_dict(&args)?,
            Global::Encode => self.encode(&args)?,
            other => return Err(format!("may not call {other:?}")),
        };
        self.push_obj(obj)
    }

    /// `_reconstruct(ndarray, (0,), b'b')`: an empty array that `BUILD` fills.
    fn reconstruct(&self, args: &[Value]) -> Step<Obj> {
        match args {
            [class, _, _] if self.obj(*class).is_some_and(|o| matches!(o, Obj::Global(Global::NdArray))) => {
                Ok(Obj::Array(None))
            }
            _ => Err("_reconstruct takes (numpy.ndarray, shape, typecode)".into()),
        }
    }

    /// `dtype('i4', 0, 1)`.
    fn dtype(&self, args: &[Value]) -> Step<Obj> {
        let text = args.first().and_then(|v| self.text(*v)).ok_or("dtype takes a type string first")?;
        let (dtype, order) =
            DType::parse(text).ok_or_else(|| format!("dtype `{}` is not supported", String::from_utf8_lossy(text)))?;
        Ok(Obj::DType(dtype, order == Some(b'>')))
    }

    /// `defaultdict(list)` (or with no factory): a dict.
    fn default_dict(&self, args: &[Value]) -> Step<Obj> {
        match args {
            [] => Ok(Obj::Dict(Vec::new())),
            [f] if matches!(self.obj(*f), Some(Obj::Global(Global::List))) => Ok(Obj::Dict(Vec::new())),
            _ => Err("defaultdict takes list as its only argument".into()),
        }
    }

    /// `_codecs.encode(text, 'latin1')`: Python 3's spelling of a byte string at protocol 2.
    fn encode(&self, args: &[Value]) -> Step<Obj> {
        let (text, encoding) = match args {
            [t, e] => (self.obj(*t), self.text(*e)),
            _ => return Err("_codecs.encode takes (text, encoding)".into()),
        };
        let Some(Obj::Str(text)) = text else { return Err("_codecs.encode takes a string first".into()) };
        if !matches!(encoding, Some(b"latin1" | b"latin-1")) {
            return Err("_codecs.encode is allowed with latin1 only".into());
        }
        let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c as u32).ok()).collect();
        bytes.map(Obj::Bytes).ok_or_else(|| "text with a character beyond latin-1".into())
    }

    fn new_obj(&mut self) -> Step {
        let args = self.pop()?;
        let class = self.pop()?;
        let g = self.callable(class)?;
        if g != Global::CsrMatrix || !self.tuple(args)?.is_empty() {
            return Err(format!("NEWOBJ creates only csr_matrix(), not {g:?}"));
        }
        self.push_obj(Obj::Csr(None))
    }

    fn build(&mut self) -> Step {
        let state = self.pop()?;
        let target = self.top()?;
        let Value::Obj(i) = target else { return Err(format!("BUILD on a {}", self.kind(target))) };
        match &self.objs[i] {
            Obj::Array(None) => {
                let array = self.array_from_state(state)?;
                self.charge(array.data.len())?;
                self.objs[i] = Obj::Array(Some(array));
            }
            Obj::DType(dtype, _) => {
                let dtype = *dtype;
                let big = self.byte_order(state)?;
                self.objs[i] = Obj::DType(dtype, big);
            }
            Obj::Csr(None) if matches!(self.obj(state), Some(Obj::Dict(_))) => self.objs[i] = Obj::Csr(Some(state)),
            other => return Err(format!("BUILD on a {} with a {}", other.kind(), self.kind(state))),
        }
        Ok(())
    }

    /// A dtype's state `(3, '<', None, None, None, -1, -1, 0)`: whether it is big-endian.
    fn byte_order(&self, state: Value) -> Step<bool> {
        let items = self.tuple(state)?;
        match items.get(1).and_then(|v| self.text(*v)) {
            Some(b"<" | b"|" | b"=") => Ok(false),
            Some(b">") => Ok(true),
            _ => Err("a dtype state without a byte order".into()),
        }
    }

    /// An array's state `(1, shape, dtype, is_fortran, raw bytes)`.
    fn array_from_state(&self, state: Value) -> Step<Array> {
        let items = self.tuple(state)?;
        let [_, shape, dtype, fortran, raw] = items.as_slice() else {
            return Err(format!("an array state of {} items, not 5", items.len()));
        };
        let shape = self.shape(*shape)?;
        let Some(Obj::DType(dtype, big)) = self.obj(*dtype) else {
            return Err("an array state without a dtype".into());
        };
        let raw = self.text(*raw).ok_or("array data that is not a byte string")?;
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("an array shape that overflows")?;
        let needed = count.checked_mul(dtype.size()).ok_or("an array shape that overflows")?;
        if raw.len() != needed {
            return Err(format!("array data of {} bytes; shape {shape:?} of {dtype:?} needs {needed}", raw.len()));
        }
        let fortran = matches!(fortran, Value::Bool(true) | Value::Int(1));
        if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
            return Err("Fortran-order arrays are not supported".into());
        }
        let mut data = raw.to_vec();
        if *big {
            data.chunks_exact_mut(dtype.size()).for_each(<[u8]>::reverse);
        }
        Ok(Array { shape, dtype: *dtype, data })
    }

    fn shape(&self, v: Value) -> Step<Vec<usize>> {
        self.tuple(v)?
            .iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                other => Err(format!("an array dimension that is a {} (or negative)", self.kind(*other))),
            })
            .collect()
    }

    // --- the result -----------------------------------------------------------------------------

    fn finish(&self, root: Value) -> Step<Pickled> {
        match self.obj(root) {
            Some(Obj::Array(Some(a))) => Ok(Pickled::Array(a.clone())),
            Some(Obj::Csr(Some(state))) => self.csr(*state).map(Pickled::Csr),
            Some(Obj::Dict(pairs)) => self.int_lists(pairs).map(Pickled::IntLists),
            _ => Err(format!(
                "the pickle holds a {}, not a numpy array, a csr_matrix or a dict of lists",
                self.kind(root)
            )),
        }
    }

    fn int_lists(&self, pairs: &[(Value, Value)]) -> Step<Vec<(i64, Vec<i64>)>> {
        let mut out: Vec<(i64, Vec<i64>)> = Vec::with_capacity(pairs.len());
        let mut index: HashMap<i64, usize> = HashMap::new();
        for &(k, v) in pairs {
            let Value::Int(key) = k else { return Err(format!("a dict key that is a {}, not an int", self.kind(k))) };
            let Some(Obj::List(items)) = self.obj(v) else {
                return Err(format!("the value of key {key} is a {}, not a list", self.kind(v)));
            };
            let list = items
                .iter()
                .map(|x| match x {
                    Value::Int(n) => Ok(*n),
                    other => Err(format!("the list of key {key} holds a {}, not an int", self.kind(*other))),
                })
                .collect::<Step<Vec<i64>>>()?;
            match index.get(&key) {
                Some(&at) => out[at].1 = list,
                None => {
                    index.insert(key, out.len());
                    out.push((key, list));
                }
            }
        }
        Ok(out)
    }

    fn csr_field(&self, state: &[(Value, Value)], key: &str) -> Option<Value> {
        state.iter().rev().find(|(k, _)| self.text(*k) == Some(key.as_bytes())).map(|(_, v)| *v)
    }

    fn csr_array(&self, state: &[(Value, Value)], key: &str) -> Step<&Array> {
        let v = self.csr_field(state, key).ok_or_else(|| format!("the csr_matrix has no `{key}`"))?;
        match self.obj(v) {
            Some(Obj::Array(Some(a))) if a.shape.len() == 1 => Ok(a),
            _ => Err(format!("the csr_matrix's `{key}` is not a 1-D numpy array")),
        }
    }

    fn csr(&self, state: Value) -> Step<CsrMatrix> {
        let Some(Obj::Dict(state)) = self.obj(state) else { return Err("a csr_matrix without a dict state".into()) };
        if let Some(format) = self.csr_field(state, "format") {
            if self.text(format) != Some(b"csr") {
                return Err("a sparse matrix whose format is not `csr`".into());
            }
        }
        let shape = self.csr_field(state, "_shape").or_else(|| self.csr_field(state, "shape"));
        let shape = shape.ok_or("the csr_matrix has no `_shape`")?;
        let [rows, cols] = self.shape(shape)?[..] else { return Err("a csr_matrix shape that is not 2-D".into()) };
        let indptr = self.csr_array(state, "indptr")?.to_i64()?;
        let indices = self.csr_array(state, "indices")?.to_i64()?;
        let data = self.csr_array(state, "data")?.to_f32();
        check_csr(rows, cols, indptr, indices, data)
    }
}

/// A `BINSTRING` length: signed in the format, never negative in a valid file.
fn raw_len(len: i64) -> Step<usize> {
    usize::try_from(len).map_err(|_| format!("a negative string length {len}"))
}

fn check_csr(rows: usize, cols: usize, indptr: Vec<i64>, indices: Vec<i64>, data: Vec<f32>) -> Step<CsrMatrix> {
    if cols > u32::MAX as usize {
        return Err(format!("a csr_matrix of {cols} columns"));
    }
    if indptr.len() != rows.saturating_add(1) {
        return Err(format!("indptr has {} entries for {rows} rows", indptr.len()));
    }
    if indices.len() != data.len() {
        return Err(format!("{} indices but {} data values", indices.len(), data.len()));
    }
    if indptr.first() != Some(&0) || indptr.last() != Some(&(indices.len() as i64)) {
        return Err(format!("indptr must run from 0 to the {} entries", indices.len()));
    }
    if indptr.windows(2).any(|w| w[1] < w[0]) {
        return Err("indptr decreases".into());
    }
    let indices: Vec<u32> = indices
        .into_iter()
        .map(|c| u32::try_from(c).ok().filter(|&c| (c as usize) < cols).ok_or(c))
        .collect::<Result<_, i64>>()
        .map_err(|c| format!("column index {c} is outside 0..{cols}"))?;
    let indptr = indptr.into_iter().map(|p| p as usize).collect();
    Ok(CsrMatrix { rows, cols, indptr, indices, data })
}

#[cfg(test)]
#[path = "pickle_tests.rs"]
pub(crate) mod tests;
