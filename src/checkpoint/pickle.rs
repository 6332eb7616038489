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

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

use safetensors::Dtype;

use super::weights::{RawTensor, Weights};
use crate::error::{Error, Result};

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
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Global),
    Storage {
        dtype: Dtype,
        key: String,
    },
    Tensor(TensorRef),
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
    let bytes = crate::layout::read(path)?;
    let invalid = |e: PickleError| Error::InvalidWeights {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    let tensors = parse_archive(&bytes).map_err(invalid)?;
    Ok(Weights::new(path, tensors))
}

fn parse_archive(bytes: &[u8]) -> Result<HashMap<String, RawTensor>, PickleError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let pickle_name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .map(|n| n.into_owned())
        .ok_or(PickleError::NoPickle)?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let pickle = read_entry(&mut archive, &pickle_name)?;
    let state = Machine::default().run(&pickle)?;
    let Value::Dict(entries) = state else {
        return Err(PickleError::Malformed("the pickle is not a dict"));
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut tensors = HashMap::new();
    for (key, value) in entries {
        let (Value::Str(name), Value::Tensor(tensor)) = (key, value) else {
            // State dicts may hold non-tensor entries (e.g. `_metadata`); only tensors matter.
            continue;
        };
        if !storages.contains_key(&tensor.storage) {
            let entry = format!("{prefix}data/{}", tensor.storage);
            let data = read_entry(&mut archive, &entry)
                .map_err(|_| PickleError::MissingStorage(name.clone(), tensor.storage.clone()))?;
            storages.insert(tensor.storage.clone(), data);
        }
        let storage = &storages[&tensor.storage];
        let data = slice_contiguous(&tensor, storage).ok_or(PickleError::Layout(name.clone()))?;
        let raw = RawTensor {
            dtype: tensor.dtype,
            shape: tensor.shape.iter().map(|&d| d as i64).collect(),
            data: data.to_vec(),
        };
        tensors.insert(name, raw);
    }
    Ok(tensors)
}

fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
) -> Result<Vec<u8>, PickleError> {
    let mut file = archive.by_name(name)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| PickleError::Entry(name.to_string(), e))?;
    Ok(data)
}

/// The bytes of a contiguous tensor inside its storage, or `None` if it is strided or out of
/// bounds.
fn slice_contiguous<'a>(tensor: &TensorRef, storage: &'a [u8]) -> Option<&'a [u8]> {
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
    storage.get(start..end)
}

/// The pickle stack machine, restricted to what state dicts use.
#[derive(Default)]
struct Machine {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
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
                b'(' => self.stack.push(Value::Mark),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Scalar),
                0x89 => self.stack.push(Value::Scalar),
                b'K' => {
                    let v = r.u8()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(r.array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'J' => {
                    let v = i32::from_le_bytes(r.array()?);
                    self.stack.push(Value::Int(i64::from(v)));
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
                    self.stack.push(Value::Int(i64::from_le_bytes(buf)));
                }
                b'G' => {
                    r.take(8)?;
                    self.stack.push(Value::Scalar);
                }
                b'X' => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    let s = r.string(n)?;
                    self.stack.push(Value::Str(s));
                }
                0x8c => {
                    let n = usize::from(r.u8()?);
                    let s = r.string(n)?;
                    self.stack.push(Value::Str(s));
                }
                b'c' => {
                    let module = r.line()?;
                    let name = r.line()?;
                    self.stack
                        .push(Value::Global(Global::resolve(&module, &name)?));
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.stack
                        .push(Value::Global(Global::resolve(&module, &name)?));
                }
                b't' => {
                    let items = self.pop_to_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(PickleError::Malformed("tuple of missing items"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::List(list)) => list.push(item),
                        _ => return Err(PickleError::Malformed("APPEND to a non-list")),
                    }
                }
                b'e' => {
                    let items = self.pop_to_mark()?;
                    match self.stack.last_mut() {
                        Some(Value::List(list)) => list.extend(items),
                        _ => return Err(PickleError::Malformed("APPENDS to a non-list")),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.dict_top()?.push((key, value));
                }
                b'u' => {
                    let items = self.pop_to_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(PickleError::Malformed("SETITEMS with an odd count"));
                    }
                    let dict = self.dict_top()?;
                    let mut items = items.into_iter();
                    while let (Some(k), Some(v)) = (items.next(), items.next()) {
                        dict.push((k, v));
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
                    self.stack.push(persistent_storage(pid)?);
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack.push(reduce(callable, args)?);
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

    fn dict_top(&mut self) -> Result<&mut Vec<(Value, Value)>, PickleError> {
        match self.stack.last_mut() {
            Some(Value::Dict(dict)) => Ok(dict),
            _ => Err(PickleError::Malformed("SETITEM on a non-dict")),
        }
    }

    fn memoize(&mut self, key: u32) -> Result<(), PickleError> {
        let top = self
            .stack
            .last()
            .ok_or(PickleError::Malformed("memoize on an empty stack"))?;
        self.memo.insert(key, top.clone());
        Ok(())
    }

    fn recall(&mut self, key: u32) -> Result<(), PickleError> {
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
    match items.as_slice() {
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
    match callable {
        Value::Global(Global::OrderedDict) => Ok(Value::Dict(Vec::new())),
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
        let storage = vec![0u8; 4 * 12];
        assert_eq!(
            slice_contiguous(&t(0, vec![3, 4], vec![4, 1]), &storage).map(<[u8]>::len),
            Some(48)
        );
        assert_eq!(
            slice_contiguous(&t(4, vec![2, 4], vec![4, 1]), &storage).map(<[u8]>::len),
            Some(32)
        );
        assert!(slice_contiguous(&t(8, vec![2, 4], vec![4, 1]), &storage).is_none());
        assert!(slice_contiguous(&t(0, vec![4, 3], vec![1, 4]), &storage).is_none());
    }
}
