//! A strict reader for PyTorch's `torch.save` zip checkpoints (`pytorch_model.bin`).
//!
//! Over 450 lines on purpose: one pickle machine (opcodes, stack, memo, the allowed globals)
//! whose parts only make sense together; split up, each piece would expose the machine's
//! internals to the others.
//!
//! The checkpoint is a zip holding `<name>/data.pkl`, a pickle of the state dict, and one file
//! per tensor storage under `<name>/data/`. Pickle is a small stack machine that can call any
//! Python function, which is why loading it in Python can run code. This reader runs no code: it
//! knows the handful of opcodes a state dict uses and accepts exactly these globals:
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`
//! and the `torch.*Storage` types. Anything else is [`Error::InvalidWeights`] naming what it met.
//!
//! Bounded for a stranger's file: the work is linear in the pickle's length (every opcode
//! reads at least one byte); the values it may build, memo copies included, are charged
//! against [`VALUE_BUDGET`] before they are made, so a few hundred bytes of memo recalls cannot
//! ask for 2^40 values; nesting is capped at [`MAX_DEPTH`], so neither building nor dropping
//! a value can overflow the stack; and every tensor is a view into its storage, read once, so
//! a thousand tensors on one storage cost that storage once.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use safetensors::Dtype;

use super::weights::{RawTensor, SharedBytes, Weights};
use crate::error::{Error, Result};

/// The bytes of values (memo copies included) one pickle may build: a state dict of a
/// thousand tensors builds well under 4 MiB.
const VALUE_BUDGET: usize = 64 << 20;

/// The deepest nesting of tuples, lists and dicts a pickle may build: a state dict's is 4.
const MAX_DEPTH: usize = 32;

/// Why a checkpoint was rejected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PickleError {
    #[error("not a zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot read {0} from the archive: {1}")]
    Entry(String, #[source] std::io::Error),
    #[error("the archive has no data.pkl")]
    NoPickle,
    #[error("pickle opcode 0x{0:02x} at byte {1} is not one a state dict uses")]
    Opcode(u8, usize),
    #[error("pickle global {0} is not allowed")]
    Global(String),
    #[error("the pickle ended early")]
    Truncated,
    #[error("malformed pickle: {0}")]
    Malformed(&'static str),
    #[error("tensor {0} uses storage {1}, which the archive lacks")]
    MissingStorage(String, String),
    #[error("tensor {0} lies outside its storage or is not contiguous")]
    Layout(String),
    #[error("the pickle builds more than {VALUE_BUDGET} bytes of values (a memo bomb?)")]
    TooLarge,
    #[error("the pickle nests values more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// The allowed callables and classes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    Storage(Dtype),
}

impl Global {
    fn resolve(module: &str, name: &str) -> Result<Self, PickleError> {
        let dtype = match (module, name) {
            ("collections", "OrderedDict") => return Ok(Self::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => return Ok(Self::RebuildTensor),
            ("torch._utils", "_rebuild_parameter") => return Ok(Self::RebuildParameter),
            ("torch", "FloatStorage") => Dtype::F32,
            ("torch", "HalfStorage") => Dtype::F16,
            ("torch", "BFloat16Storage") => Dtype::BF16,
            ("torch", "DoubleStorage") => Dtype::F64,
            ("torch", "LongStorage") => Dtype::I64,
            ("torch", "IntStorage") => Dtype::I32,
            ("torch", "ShortStorage") => Dtype::I16,
            ("torch", "CharStorage") => Dtype::I8,
            ("torch", "ByteStorage") => Dtype::U8,
            ("torch", "BoolStorage") => Dtype::BOOL,
            _ => return Err(PickleError::Global(format!("{module}.{name}"))),
        };
        Ok(Self::Storage(dtype))
    }
}

/// A value on the pickle machine's stack.
#[derive(Debug, Clone)]
enum Value {
    Mark,
    None,
    /// A bool or float: state dicts carry them (`requires_grad`), tensors never need them.
    Scalar,
    Int(i64),
    Str(String),
    Tuple(Items),
    List(Items),
    /// Keys and values, alternating.
    Dict(Items),
    Global(Global),
    Storage {
        dtype: Dtype,
        key: String,
    },
    Tensor(TensorRef),
}

/// The values of a tuple, list or dict, with their nesting depth and size kept up to date, so
/// that neither needs a walk (which, on a shared memo value, could be exponential).
#[derive(Debug, Clone, Default)]
struct Items {
    values: Vec<Value>,
    /// 1 + the deepest item's depth.
    depth: usize,
    /// The bytes this value and its items take, about.
    weight: usize,
}

impl Items {
    fn new(values: Vec<Value>) -> Result<Self, PickleError> {
        let mut items = Self {
            values: Vec::with_capacity(values.len()),
            depth: 1,
            weight: std::mem::size_of::<Value>(),
        };
        for value in values {
            items.push(value)?;
        }
        Ok(items)
    }

    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        let depth = value.depth() + 1;
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        self.depth = self.depth.max(depth);
        self.weight = self.weight.saturating_add(value.weight());
        self.values.push(value);
        Ok(())
    }
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Self::Tuple(items) | Self::List(items) | Self::Dict(items) => items.depth,
            _ => 0,
        }
    }

    /// About the bytes the value takes, in O(1).
    fn weight(&self) -> usize {
        let own = std::mem::size_of::<Self>();
        match self {
            Self::Str(s) => own + s.len(),
            Self::Storage { key, .. } => own + key.len(),
            Self::Tensor(t) => own + t.storage.len() + 8 * (t.shape.len() + t.stride.len()),
            Self::Tuple(items) | Self::List(items) | Self::Dict(items) => items.weight,
            _ => own,
        }
    }
}

/// A tensor as the pickle describes it: a view into a storage file.
#[derive(Debug, Clone)]
struct TensorRef {
    dtype: Dtype,
    storage: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// Reads `pytorch_model.bin` into named tensors.
pub(crate) fn read_torch_zip(path: &Path) -> Result<Weights> {
    let bytes = Arc::new(crate::layout::read(path)?);
    let invalid = |e: PickleError| Error::InvalidWeights {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let tensors = parse_archive(&bytes).map_err(invalid)?;
    Ok(Weights::new(path, tensors))
}

/// Runs the pickle machine over `pickle` alone (the fuzz targets' entry).
pub(crate) fn run_pickle(
    pickle: &[u8],
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Machine::default().run(pickle).map(drop).map_err(Into::into)
}

/// Parses a whole `torch.save` archive held in memory (the fuzz targets' entry): the number of
/// tensors.
pub(crate) fn parse_archive_bytes(
    bytes: Vec<u8>,
) -> std::result::Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    Ok(parse_archive(&Arc::new(bytes))?.len())
}

fn parse_archive(bytes: &Arc<Vec<u8>>) -> Result<HashMap<String, RawTensor>, PickleError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.as_slice()))?;
    let pickle_name = archive
        .file_names()
        .filter_map(std::result::Result::ok)
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .map(|n| n.into_owned())
        .ok_or(PickleError::NoPickle)?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let pickle = read_entry(&mut archive, bytes, &pickle_name)?;
    let state = Machine::default().run(pickle.as_slice())?;
    let Value::Dict(entries) = state else {
        return Err(PickleError::Malformed("the pickle is not a dict"));
    };
    let mut storages: HashMap<String, SharedBytes> = HashMap::new();
    let mut tensors = HashMap::new();
    let mut entries = entries.values.into_iter();
    while let (Some(key), Some(value)) = (entries.next(), entries.next()) {
        let (Value::Str(name), Value::Tensor(tensor)) = (key, value) else {
            // State dicts may hold non-tensor entries (e.g. `_metadata`); only tensors matter.
            continue;
        };
        if !storages.contains_key(&tensor.storage) {
            let entry = format!("{prefix}data/{}", tensor.storage);
            let data = read_entry(&mut archive, bytes, &entry)
                .map_err(|_| PickleError::MissingStorage(name.clone(), tensor.storage.clone()))?;
            storages.insert(tensor.storage.clone(), data);
        }
        let storage = storages
            .get(&tensor.storage)
            .ok_or_else(|| PickleError::MissingStorage(name.clone(), tensor.storage.clone()))?;
        let data = slice_contiguous(&tensor, storage).ok_or(PickleError::Layout(name.clone()))?;
        let raw = RawTensor {
            dtype: tensor.dtype,
            shape: tensor.shape.iter().map(|&d| d as i64).collect(),
            data,
        };
        tensors.insert(name, raw);
    }
    Ok(tensors)
}

/// An entry's bytes: a view into the file for a stored (uncompressed) entry, as `torch.save`
/// writes them, else its bytes read out, never more than the file's size.
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    bytes: &Arc<Vec<u8>>,
    name: &str,
) -> Result<SharedBytes, PickleError> {
    let file = archive.by_name(name)?;
    if file.compression() == zip::CompressionMethod::Stored {
        let view = file.data_start().and_then(|start| {
            let start = usize::try_from(start).ok()?;
            let end = start.checked_add(usize::try_from(file.size()).ok()?)?;
            SharedBytes::new(bytes, start..end)
        });
        if let Some(view) = view {
            return Ok(view);
        }
    }
    let mut data = Vec::new();
    file.take(bytes.len() as u64)
        .read_to_end(&mut data)
        .map_err(|e| PickleError::Entry(name.to_string(), e))?;
    Ok(SharedBytes::whole(data))
}

/// The bytes of a contiguous tensor inside its storage, or `None` if it is strided or out of
/// bounds.
fn slice_contiguous(tensor: &TensorRef, storage: &SharedBytes) -> Option<SharedBytes> {
    let mut expected = 1usize;
    for (&dim, &stride) in tensor.shape.iter().zip(&tensor.stride).rev() {
        if dim > 1 && stride != expected {
            return None;
        }
        expected = expected.checked_mul(dim)?;
    }
    if tensor.shape.len() != tensor.stride.len() {
        return None;
    }
    let size = tensor.dtype.bitsize() / 8;
    let start = tensor.offset.checked_mul(size)?;
    let end = start.checked_add(expected.checked_mul(size)?)?;
    storage.slice(start..end)
}

/// The pickle stack machine, restricted to what state dicts use.
#[derive(Default)]
struct Machine {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    /// Bytes of values built so far, copies included ([`VALUE_BUDGET`]).
    built: usize,
}
impl Machine {
    fn run(mut self, data: &[u8]) -> Result<Value, PickleError> {
        let mut r = Reader { data, pos: 0 };
        loop {
            let at = r.pos;
            let op = r.u8()?;
            match op {
                0x80 => {
                    r.u8()?; // PROTO n
                }
                0x95 => {
                    r.take(8)?; // FRAME length
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.push(Value::Mark)?,
                b')' => self.push(Value::Tuple(Items::new(Vec::new())?))?,
                b']' => self.push(Value::List(Items::new(Vec::new())?))?,
                b'}' => self.push(Value::Dict(Items::new(Vec::new())?))?,
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Scalar)?,
                0x89 => self.push(Value::Scalar)?,
                b'K' => {
                    let v = r.u8()?;
                    self.push(Value::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(r.array()?);
                    self.push(Value::Int(i64::from(v)))?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(r.array()?);
                    self.push(Value::Int(i64::from(v)))?;
                }
                0x8a => {
                    let n = usize::from(r.u8()?);
                    let bytes = r.take(n)?;
                    if n > 8 {
                        return Err(PickleError::Malformed("integer wider than 64 bits"));
                    }
                    let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                        [0xff; 8]
                    } else {
                        [0; 8]
                    };
                    buf[..n].copy_from_slice(bytes);
                    self.push(Value::Int(i64::from_le_bytes(buf)))?;
                }
                b'G' => {
                    r.take(8)?;
                    self.push(Value::Scalar)?;
                }
                b'X' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    let s = r.string(n)?;
                    self.push(Value::Str(s))?;
                }
                0x8c => {
                    let n = usize::from(r.u8()?);
                    let s = r.string(n)?;
                    self.push(Value::Str(s))?;
                }
                b'c' => {
                    let module = r.line()?;
                    let name = r.line()?;
                    self.push(Value::Global(Global::resolve(&module, &name)?))?;
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.push(Value::Global(Global::resolve(&module, &name)?))?;
                }
                b't' => {
                    let items = self.pop_to_mark()?;
                    self.push_built(Value::Tuple(Items::new(items)?))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(PickleError::Malformed("tuple of missing items"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push_built(Value::Tuple(Items::new(items)?))?;
                }
                b'a' => {
                    let item = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::List(list)) => list.push(item)?,
                        _ => return Err(PickleError::Malformed("APPEND to a non-list")),
                    }
                }
                b'e' => {
                    let items = self.pop_to_mark()?;
                    match self.stack.last_mut() {
                        Some(Value::List(list)) => {
                            for item in items {
                                list.push(item)?;
                            }
                        }
                        _ => return Err(PickleError::Malformed("APPENDS to a non-list")),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.dict_top()?;
                    dict.push(key)?;
                    dict.push(value)?;
                }
                b'u' => {
                    let items = self.pop_to_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(PickleError::Malformed("SETITEMS with an odd count"));
                    }
                    let dict = self.dict_top()?;
                    for item in items {
                        dict.push(item)?;
                    }
                }
                b'q' => {
                    let key = u32::from(r.u8()?);
                    self.memoize(key)?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(r.array()?);
                    self.memoize(key)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len())
                        .map_err(|_| PickleError::Malformed("memo too large"))?;
                    self.memoize(key)?;
                }
                b'h' => {
                    let key = u32::from(r.u8()?);
                    self.recall(key)?;
                }
                b'j' => {
                    let key = u32::from_le_bytes(r.array()?);
                    self.recall(key)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.push(persistent_storage(pid)?)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.push(reduce(callable, args)?)?;
                }
                b'b' => {
                    // BUILD sets attributes (a state dict's `_metadata`); tensors need none.
                    self.pop()?;
                    if self.stack.is_empty() {
                        return Err(PickleError::Malformed("BUILD on an empty stack"));
                    }
                }
                other => return Err(PickleError::Opcode(other, at)),
            }
        }
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(PickleError::Malformed("stack underflow")),
            Some(v) => Ok(v),
        }
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()? {
            Value::Str(s) => Ok(s),
            _ => Err(PickleError::Malformed("expected a string")),
        }
    }

    fn pop_to_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or(PickleError::Malformed("no mark"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn dict_top(&mut self) -> Result<&mut Items, PickleError> {
        match self.stack.last_mut() {
            Some(Value::Dict(dict)) => Ok(dict),
            _ => Err(PickleError::Malformed("SETITEM on a non-dict")),
        }
    }

    /// Pushes a value made from the pickle's bytes, charging its size.
    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        self.charge(value.weight())?;
        self.stack.push(value);
        Ok(())
    }

    /// Pushes a container of values already charged, charging only the container.
    fn push_built(&mut self, value: Value) -> Result<(), PickleError> {
        self.charge(std::mem::size_of::<Value>())?;
        self.stack.push(value);
        Ok(())
    }

    /// Counts `bytes` more of values against [`VALUE_BUDGET`], before they are made.
    fn charge(&mut self, bytes: usize) -> Result<(), PickleError> {
        self.built = self.built.saturating_add(bytes);
        if self.built > VALUE_BUDGET {
            return Err(PickleError::TooLarge);
        }
        Ok(())
    }

    fn memoize(&mut self, key: u32) -> Result<(), PickleError> {
        let weight = self
            .stack
            .last()
            .ok_or(PickleError::Malformed("memoize on an empty stack"))?
            .weight();
        self.charge(weight)?;
        let top = self
            .stack
            .last()
            .ok_or(PickleError::Malformed("memoize on an empty stack"))?;
        self.memo.insert(key, top.clone());
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<(), PickleError> {
        let weight = self
            .memo
            .get(&key)
            .ok_or(PickleError::Malformed("unknown memo key"))?
            .weight();
        self.charge(weight)?;
        let value = self
            .memo
            .get(&key)
            .ok_or(PickleError::Malformed("unknown memo key"))?;
        self.stack.push(value.clone());
        Ok(())
    }
}

/// `('storage', StorageType, key, location, numel)` to a storage reference.
fn persistent_storage(pid: Value) -> Result<Value, PickleError> {
    let Value::Tuple(items) = pid else {
        return Err(PickleError::Malformed("persistent id is not a tuple"));
    };
    match items.values.as_slice() {
        [Value::Str(kind), Value::Global(Global::Storage(dtype)), Value::Str(key), ..]
            if kind == "storage" =>
        {
            Ok(Value::Storage {
                dtype: *dtype,
                key: key.clone(),
            })
        }
        _ => Err(PickleError::Malformed("persistent id is not a storage")),
    }
}

/// Applies one of the allowed callables.
fn reduce(callable: Value, args: Value) -> Result<Value, PickleError> {
    let Value::Tuple(args) = args else {
        return Err(PickleError::Malformed("REDUCE arguments are not a tuple"));
    };
    let args = args.values;
    match callable {
        Value::Global(Global::OrderedDict) => Ok(Value::Dict(Items::new(Vec::new())?)),
        Value::Global(Global::RebuildParameter) => args.into_iter().next().ok_or(
            PickleError::Malformed("_rebuild_parameter without a tensor"),
        ),
        Value::Global(Global::RebuildTensor) => {
            let mut args = args.into_iter();
            let (Some(Value::Storage { dtype, key }), Some(Value::Int(offset))) =
                (args.next(), args.next())
            else {
                return Err(PickleError::Malformed("_rebuild_tensor_v2 arguments"));
            };
            let shape = int_tuple(args.next())?;
            let stride = int_tuple(args.next())?;
            Ok(Value::Tensor(TensorRef {
                dtype,
                storage: key,
                offset: usize::try_from(offset)
                    .map_err(|_| PickleError::Malformed("negative offset"))?,
                shape,
                stride,
            }))
        }
        _ => Err(PickleError::Malformed("REDUCE of something not callable")),
    }
}

fn int_tuple(value: Option<Value>) -> Result<Vec<usize>, PickleError> {
    let Some(Value::Tuple(items)) = value else {
        return Err(PickleError::Malformed("expected a tuple of sizes"));
    };
    items
        .values
        .into_iter()
        .map(|v| match v {
            Value::Int(i) => {
                usize::try_from(i).map_err(|_| PickleError::Malformed("negative size"))
            }
            _ => Err(PickleError::Malformed("size is not an integer")),
        })
        .collect()
}

/// A cursor over the pickle bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(PickleError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn string(&mut self, n: usize) -> Result<String, PickleError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| PickleError::Malformed("bad UTF-8"))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated)?;
        let line = self.string(end)?;
        self.pos += 1;
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_globals_without_running_them() {
        // cos\nsystem\n(S'echo pwned'\ntR.  -- the classic pickle exploit.
        let exploit = b"cos\nsystem\n(S'echo pwned'\ntR.";
        match Machine::default().run(exploit) {
            Err(PickleError::Global(name)) => assert_eq!(name, "os.system"),
            other => panic!("expected a rejected global, got {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_opcodes_and_truncation() {
        assert!(matches!(
            Machine::default().run(b"\x80\x02S'x'\n."),
            Err(PickleError::Opcode(b'S', 2))
        ));
        assert!(matches!(
            Machine::default().run(b"\x80\x02X\x05\x00\x00\x00ab"),
            Err(PickleError::Truncated)
        ));
        assert!(matches!(
            Machine::default().run(b"."),
            Err(PickleError::Malformed(_))
        ));
    }

    #[test]
    fn contiguity_and_bounds_are_checked() {
        let t = |offset, shape: Vec<usize>, stride: Vec<usize>| TensorRef {
            dtype: Dtype::F32,
            storage: "0".into(),
            offset,
            shape,
            stride,
        };
        let storage = SharedBytes::whole(vec![0u8; 4 * 12]);
        let len = |t: &TensorRef| slice_contiguous(t, &storage).map(|s| s.len());
        assert_eq!(len(&t(0, vec![3, 4], vec![4, 1])), Some(48));
        assert_eq!(len(&t(4, vec![2, 4], vec![4, 1])), Some(32));
        assert_eq!(len(&t(8, vec![2, 4], vec![4, 1])), None);
        assert_eq!(len(&t(0, vec![4, 3], vec![1, 4])), None);
        assert_eq!(len(&t(usize::MAX / 2, vec![2], vec![1])), None);
    }

    /// Runs `pickle` and says how long it took.
    fn timed(pickle: &[u8]) -> (Result<Value, PickleError>, std::time::Duration) {
        let begun = std::time::Instant::now();
        let outcome = Machine::default().run(pickle);
        (outcome, begun.elapsed())
    }

    #[test]
    fn a_million_nested_tuples_are_refused_not_a_stack_overflow() {
        // N, then TUPLE1 a million times: each wraps the top one level deeper.
        let mut pickle = b"\x80\x02N".to_vec();
        pickle.extend(std::iter::repeat_n(0x85u8, 1_000_000));
        pickle.push(b'.');
        let (outcome, took) = timed(&pickle);
        assert!(matches!(outcome, Err(PickleError::TooDeep)), "{outcome:?}");
        assert!(took.as_secs_f64() < 1.0, "{took:?}");
        // As deep as the cap allows is fine.
        let mut shallow = b"\x80\x02N".to_vec();
        shallow.extend(std::iter::repeat_n(0x85u8, MAX_DEPTH));
        shallow.push(b'.');
        assert_eq!(
            Machine::default().run(&shallow).map(|v| v.depth()).ok(),
            Some(MAX_DEPTH)
        );
    }

    #[test]
    fn a_memo_bomb_is_refused_within_its_budget() {
        // memo[0] = None; memo[k + 1] = (memo[k], memo[k]): 2^40 values from 300 bytes.
        let mut pickle = b"\x80\x02Nq\x00".to_vec();
        for k in 0u8..40 {
            pickle.extend([b'h', k, b'h', k, 0x86, b'q', k + 1]);
        }
        pickle.push(b'.');
        assert!(pickle.len() < 400);
        let (outcome, took) = timed(&pickle);
        assert!(matches!(outcome, Err(PickleError::TooLarge)), "{outcome:?}");
        assert!(took.as_secs_f64() < 1.0, "{took:?}");
        // A list that recalls itself grows the same way.
        let mut lists = b"\x80\x02]q\x00".to_vec();
        for _ in 0..40 {
            lists.extend([b'h', 0, b'h', 0, 0x86, b'a', b'h', 0, b'q', 0]);
        }
        let (outcome, took) = timed(&lists);
        assert!(outcome.is_err(), "{outcome:?}");
        assert!(took.as_secs_f64() < 1.0, "{took:?}");
    }

    /// A `torch.save` archive whose state dict has `tensors` entries named `t0`, `t1`, ...,
    /// each `[rows, 4]` f32 at offset 0 of storage `0`, which holds `storage_bytes` bytes.
    fn shared_storage_archive(tensors: usize, rows: i32, storage_bytes: usize) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.push(b'X');
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        let mut p = b"\x80\x02ccollections\nOrderedDict\n)R(".to_vec();
        for i in 0..tensors {
            string(&mut p, &format!("t{i}"));
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
            p.extend(b"(");
            string(&mut p, "storage");
            p.extend(b"ctorch\nFloatStorage\n");
            string(&mut p, "0");
            string(&mut p, "cpu");
            p.extend(b"K\x01tQ");
            p.extend(b"K\x00");
            p.push(b'J');
            p.extend(rows.to_le_bytes());
            p.extend(b"K\x04\x86K\x04K\x01\x86\x89)tR");
        }
        p.extend(b"u.");
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("archive/data.pkl", stored).expect("entry");
        std::io::Write::write_all(&mut zip, &p).expect("pickle");
        zip.start_file("archive/data/0", stored).expect("entry");
        std::io::Write::write_all(&mut zip, &vec![7u8; storage_bytes]).expect("storage");
        zip.finish().expect("zip").into_inner()
    }

    #[test]
    fn tensors_on_one_storage_share_its_bytes() {
        // 400 tensors of 1 MiB each on one 1 MiB storage: a copy each would be 400 MiB.
        let bytes = Arc::new(shared_storage_archive(400, 65536, 1 << 20));
        let begun = std::time::Instant::now();
        let tensors = parse_archive(&bytes).expect("a valid archive");
        assert!(begun.elapsed().as_secs_f64() < 1.0);
        assert_eq!(tensors.len(), 400);
        let file = bytes.as_ptr_range();
        for tensor in tensors.values() {
            assert_eq!(tensor.shape, [65536, 4]);
            let data = tensor.data.as_slice();
            assert_eq!(data.len(), 1 << 20);
            // A view into the file itself, not a copy.
            assert!(file.contains(&data.as_ptr()), "tensor bytes were copied");
        }
        // A tensor that claims more than its storage holds is refused, naming it.
        let bytes = Arc::new(shared_storage_archive(1, 65535, 16));
        match parse_archive(&bytes) {
            Err(PickleError::Layout(name)) => assert_eq!(name, "t0"),
            other => panic!("expected a layout error, got {other:?}"),
        }
    }
}
