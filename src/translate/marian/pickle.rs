//! A bounded reader for the pickles in PyTorch checkpoints (`pytorch_model.bin`): the zip format's
//! `data.pkl` and the legacy format's state dict (see [`super::legacy_pth`]).
//!
//! It runs the opcodes `torch.save` writes, with the semantics of candle's `pickle::Stack` (which the
//! weights were proven against), but a hostile file cannot make it use more than a budget
//! proportional to its size: objects nest at most [`MAX_DEPTH`] deep, and every object built —
//! including each copy a memo lookup makes — counts against [`Budget`], so a "billion laughs" of
//! memo references fails instead of doubling memory. Tensor layouts are taken apart with checked
//! indexing and arithmetic, so a malformed `_rebuild_tensor_v2` is an error, not a panic.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use candle_core::{DType, Layout, Shape};

/// Deepest object nesting (state dicts nest about 5 deep).
pub const MAX_DEPTH: u32 = 256;

/// Why a pickle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("the pickle is truncated or unreadable ({0})")]
    Io(#[from] std::io::Error),
    #[error("the pickle is invalid: {0}")]
    Invalid(String),
    #[error("the pickle nests objects more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("the pickle builds more than {0} objects, far more than its size can hold (a pickle bomb?)")]
    TooBig(u64),
}

fn invalid(s: impl Into<String>) -> PickleError {
    PickleError::Invalid(s.into())
}

/// A pickled value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Mark,
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Class { module: String, name: String },
    Tuple(Vec<Node>),
    List(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    Reduce(Box<Node>, Box<Node>),
    Build(Box<Node>, Box<Node>),
    PersistentLoad(Box<Node>),
}

/// A value with its nesting depth and object count, kept so that limits are checked in O(1).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    depth: u32,
    size: u64,
}

impl Node {
    fn leaf(value: Value) -> Node {
        Node {
            value,
            depth: 1,
            size: 1,
        }
    }

    fn of(value: Value, children: &[&Node]) -> Result<Node, PickleError> {
        let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        let size = 1 + children.iter().map(|c| c.size).sum::<u64>();
        Ok(Node { value, depth, size })
    }

    fn seq(value: fn(Vec<Node>) -> Value, items: Vec<Node>) -> Result<Node, PickleError> {
        let refs: Vec<&Node> = items.iter().collect();
        let mut n = Node::of(Value::None, &refs)?;
        n.value = value(items);
        Ok(n)
    }

    /// Account for `child` joining this container.
    fn grow(&mut self, child: &Node) -> Result<(), PickleError> {
        self.depth = self.depth.max(child.depth + 1);
        if self.depth > MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        self.size += child.size;
        Ok(())
    }

    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    fn tuple(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Tuple(t) => Some(t),
            _ => None,
        }
    }

    fn class(&self) -> Option<(&str, &str)> {
        match &self.value {
            Value::Class { module, name } => Some((module, name)),
            _ => None,
        }
    }
}

/// How many objects a pickle may have built after reading `consumed` bytes: each opcode is at least
/// a byte, so honest pickles stay far below this; a memo lookup's copy is charged in full.
fn allowance(consumed: u64) -> u64 {
    consumed.saturating_mul(4).saturating_add(1 << 16)
}

/// Counts the bytes a pickle takes from its reader.
struct Counted<'r, R> {
    inner: &'r mut R,
    n: u64,
}

impl<R: BufRead> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.n += amt as u64;
        self.inner.consume(amt);
    }
}

/// Read one pickle (up to its STOP) from `r`, leaving `r` just after it.
pub fn read<R: BufRead>(r: &mut R) -> Result<Node, PickleError> {
    let mut r = Counted { inner: r, n: 0 };
    let mut vm = Vm {
        stack: Vec::new(),
        memo: HashMap::new(),
        built: 0,
        consumed: 0,
    };
    loop {
        let stop = vm.step(&mut r)?;
        vm.consumed = r.n;
        if stop {
            break;
        }
    }
    let top = vm.stack.pop().ok_or_else(|| invalid("STOP with an empty stack"))?;
    Ok(top)
}

struct Vm {
    stack: Vec<Node>,
    memo: HashMap<u32, Node>,
    built: u64,
    /// Bytes read before the current opcode.
    consumed: u64,
}

fn byte<R: BufRead>(r: &mut R) -> Result<u8, PickleError> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn le<R: BufRead, const N: usize>(r: &mut R) -> Result<[u8; N], PickleError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

/// A line (GLOBAL's module and name), at most 4 KiB.
fn line<R: BufRead>(r: &mut R) -> Result<String, PickleError> {
    let mut out = Vec::new();
    std::io::Read::take(&mut *r, 4096).read_until(b'\n', &mut out)?;
    if out.pop() != Some(b'\n') {
        return Err(invalid("GLOBAL without a newline within 4 KiB"));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Vm {
    fn charge(&mut self, n: u64) -> Result<(), PickleError> {
        self.built = self.built.saturating_add(n);
        // The opcode being run has taken at least one more byte (its arguments, even more).
        let allowed = allowance(self.consumed + 1);
        if self.built > allowed {
            return Err(PickleError::TooBig(allowed));
        }
        Ok(())
    }

    fn push(&mut self, n: Node) -> Result<(), PickleError> {
        self.charge(1)?;
        self.stack.push(n);
        Ok(())
    }

    fn pop(&mut self) -> Result<Node, PickleError> {
        self.stack.pop().ok_or_else(|| invalid("pop from an empty stack"))
    }

    fn top(&mut self) -> Result<&mut Node, PickleError> {
        self.stack.last_mut().ok_or_else(|| invalid("empty stack"))
    }

    fn to_mark(&mut self) -> Result<Vec<Node>, PickleError> {
        let at = self
            .stack
            .iter()
            .rposition(|n| n.value == Value::Mark)
            .ok_or_else(|| invalid("no MARK on the stack"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn memo_get(&mut self, id: u32) -> Result<(), PickleError> {
        let size = self
            .memo
            .get(&id)
            .map(|n| n.size)
            .ok_or_else(|| invalid(format!("memo {id} is not set")))?;
        // The copy costs what it holds: charged before it is made.
        self.charge(size)?;
        if let Some(n) = self.memo.get(&id).cloned() {
            self.stack.push(n);
        }
        Ok(())
    }

    fn memo_put(&mut self, id: u32) -> Result<(), PickleError> {
        let size = self
            .stack
            .last()
            .map(|n| n.size)
            .ok_or_else(|| invalid("PUT with an empty stack"))?;
        self.charge(size)?;
        if let Some(n) = self.stack.last().cloned() {
            self.memo.insert(id, n);
        }
        Ok(())
    }

    fn two(&mut self) -> Result<(Node, Node), PickleError> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    fn pairs(items: Vec<Node>) -> Result<Vec<(Node, Node)>, PickleError> {
        if items.len() % 2 != 0 {
            return Err(invalid("an odd number of items for a dict"));
        }
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    fn set_items(&mut self, pairs: Vec<(Node, Node)>) -> Result<(), PickleError> {
        let top = self.top()?;
        let Value::Dict(_) = top.value else {
            return Err(invalid("SETITEM(S) on something that is not a dict"));
        };
        for (k, v) in &pairs {
            top.grow(k)?;
            top.grow(v)?;
        }
        if let Value::Dict(d) = &mut top.value {
            d.extend(pairs);
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Node>) -> Result<(), PickleError> {
        let top = self.top()?;
        let Value::List(_) = top.value else {
            return Err(invalid("APPEND(S) on something that is not a list"));
        };
        for v in &items {
            top.grow(v)?;
        }
        if let Value::List(l) = &mut top.value {
            l.extend(items);
        }
        Ok(())
    }

    /// One opcode; `true` at STOP.
    fn step<R: BufRead>(&mut self, r: &mut R) -> Result<bool, PickleError> {
        let op = byte(r)?;
        match op {
            0x80 => {
                byte(r)?; // PROTO
            }
            0x95 => {
                le::<R, 8>(r)?; // FRAME (protocol 4): a length hint only
            }
            b'c' => {
                let module = line(r)?;
                let name = line(r)?;
                self.push(Node::leaf(Value::Class { module, name }))?;
            }
            b'K' => {
                let v = byte(r)?;
                self.push(Node::leaf(Value::Int(i64::from(v))))?;
            }
            b'M' => {
                let v = u16::from_le_bytes(le(r)?);
                self.push(Node::leaf(Value::Int(i64::from(v))))?;
            }
            b'J' => {
                let v = i32::from_le_bytes(le(r)?);
                self.push(Node::leaf(Value::Int(i64::from(v))))?;
            }
            b'G' => {
                let v = f64::from_be_bytes(le(r)?);
                self.push(Node::leaf(Value::Float(v)))?;
            }
            0x8a => {
                // LONG1: n little-endian bytes, two's complement; only values that fit an i64.
                let n = byte(r)?;
                let mut v: i64 = 0;
                let mut last = 0u8;
                for i in 0..n {
                    last = byte(r)?;
                    if i < 8 {
                        v |= i64::from(last) << (8 * u32::from(i));
                    } else if last != if v < 0 { 0xff } else { 0 } {
                        return Err(invalid("LONG1 does not fit 64 bits"));
                    }
                }
                if (1..8).contains(&n) && last & 0x80 != 0 {
                    v -= 1i64 << (8 * u32::from(n));
                }
                self.push(Node::leaf(Value::Int(v)))?;
            }
            b'X' | 0x8c => {
                // BINUNICODE (u32 length) / SHORT_BINUNICODE (u8): read what is there, never
                // allocating the declared length up front.
                let len = if op == b'X' {
                    u64::from(u32::from_le_bytes(le(r)?))
                } else {
                    u64::from(byte(r)?)
                };
                let mut buf = Vec::new();
                std::io::Read::take(&mut *r, len).read_to_end(&mut buf)?;
                if buf.len() as u64 != len {
                    return Err(invalid(format!("a string of {len} bytes is cut short")));
                }
                let s = String::from_utf8(buf).map_err(|_| invalid("a string is not UTF-8"))?;
                self.charge(len / 16)?;
                self.push(Node::leaf(Value::Str(s)))?;
            }
            b'Q' => {
                let id = self.pop()?;
                let n = Node::of(Value::None, &[&id])?;
                self.push(Node {
                    value: Value::PersistentLoad(Box::new(id)),
                    ..n
                })?;
            }
            b't' => {
                let items = self.to_mark()?;
                self.push(Node::seq(Value::Tuple, items)?)?;
            }
            0x85 => {
                let a = self.pop()?;
                self.push(Node::seq(Value::Tuple, vec![a])?)?;
            }
            0x86 => {
                let (a, b) = self.two()?;
                self.push(Node::seq(Value::Tuple, vec![a, b])?)?;
            }
            0x87 => {
                let c = self.pop()?;
                let (a, b) = self.two()?;
                self.push(Node::seq(Value::Tuple, vec![a, b, c])?)?;
            }
            0x88 => self.push(Node::leaf(Value::Bool(true)))?,
            0x89 => self.push(Node::leaf(Value::Bool(false)))?,
            b'N' => self.push(Node::leaf(Value::None))?,
            b'a' => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            b'e' => {
                let items = self.to_mark()?;
                self.append(items)?;
            }
            b's' => {
                let (k, v) = self.two()?;
                self.set_items(vec![(k, v)])?;
            }
            b'u' => {
                let items = self.to_mark()?;
                let pairs = Self::pairs(items)?;
                self.set_items(pairs)?;
            }
            b'}' => self.push(Node::leaf(Value::Dict(Vec::new())))?,
            b'd' => {
                let items = self.to_mark()?;
                let refs: Vec<&Node> = items.iter().collect();
                let mut n = Node::of(Value::None, &refs)?;
                n.value = Value::Dict(Self::pairs(items)?);
                self.push(n)?;
            }
            b'(' => self.push(Node::leaf(Value::Mark))?,
            b')' => self.push(Node::leaf(Value::Tuple(Vec::new())))?,
            b']' => self.push(Node::leaf(Value::List(Vec::new())))?,
            b'R' | 0x81 => {
                // REDUCE / NEWOBJ: callable and arguments, applied later by whoever reads them;
                // REDUCE of an OrderedDict is the dict its SETITEMS will fill (as in candle).
                let (callable, args) = self.two()?;
                let ordered = op == b'R'
                    && matches!(
                        callable.class(),
                        Some(("collections", "OrderedDict" | "defaultdict"))
                    );
                if ordered {
                    self.push(Node::leaf(Value::Dict(Vec::new())))?;
                } else {
                    let n = Node::of(Value::None, &[&callable, &args])?;
                    self.push(Node {
                        value: Value::Reduce(Box::new(callable), Box::new(args)),
                        ..n
                    })?;
                }
            }
            b'b' => {
                // BUILD: a dict's state merges into it; anything else keeps both (as in candle).
                let args = self.pop()?;
                let obj = self.pop()?;
                match (obj.value, args.value) {
                    (Value::Dict(d), Value::Dict(extra)) => {
                        self.push(Node { value: Value::Dict(d), ..obj })?;
                        self.set_items(extra)?;
                    }
                    (o, a) => {
                        let obj = Node { value: o, ..obj };
                        let args = Node { value: a, ..args };
                        let n = Node::of(Value::None, &[&obj, &args])?;
                        self.push(Node {
                            value: Value::Build(Box::new(obj), Box::new(args)),
                            ..n
                        })?;
                    }
                }
            }
            b'h' => {
                let id = byte(r)?;
                self.memo_get(u32::from(id))?;
            }
            b'j' => {
                let id = u32::from_le_bytes(le(r)?);
                self.memo_get(id)?;
            }
            b'q' => {
                let id = byte(r)?;
                self.memo_put(u32::from(id))?;
            }
            b'r' => {
                let id = u32::from_le_bytes(le(r)?);
                self.memo_put(id)?;
            }
            0x94 => {
                // MEMOIZE (protocol 4): the next free index.
                let id = u32::try_from(self.memo.len()).map_err(|_| invalid("memo overflow"))?;
                self.memo_put(id)?;
            }
            b'.' => return Ok(true),
            other => return Err(invalid(format!("unsupported opcode 0x{other:02x}"))),
        }
        Ok(false)
    }
}

/// A tensor's place in a checkpoint, from its `_rebuild_tensor_v2` call.
#[derive(Debug, Clone)]
pub struct TensorRef {
    pub dtype: DType,
    pub layout: Layout,
    /// The storage's key (the file name under `data/` in the zip format).
    pub storage: String,
}

/// The tensors of a state dict (`name → TensorRef`); entries that are not tensors are skipped, as
/// candle does. A state dict inside a `__torch__.Module` BUILD is unwrapped.
pub fn state_dict(root: &Node) -> Result<Vec<(String, TensorRef)>, PickleError> {
    let root = match &root.value {
        Value::Build(obj, state) => match &obj.value {
            Value::Reduce(c, _) if c.class() == Some(("__torch__", "Module")) => &**state,
            _ => root,
        },
        _ => root,
    };
    let Value::Dict(entries) = &root.value else {
        return Err(invalid("the checkpoint does not hold a state dict"));
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.str() else { continue };
        if let Some(t) = tensor_ref(v)? {
            out.push((name.to_string(), t));
        }
    }
    Ok(out)
}

fn reduce(n: &Node) -> Option<(&Node, &Node)> {
    match &n.value {
        Value::Reduce(c, a) => Some((c, a)),
        _ => None,
    }
}

fn tensor_ref(v: &Node) -> Result<Option<TensorRef>, PickleError> {
    // `_rebuild_parameter(tensor, requires_grad, hooks)` (maybe under a BUILD) wraps the tensor.
    let v = match &v.value {
        Value::Build(obj, _) => obj,
        _ => v,
    };
    let Some((mut callable, mut args)) = reduce(v) else {
        return Ok(None);
    };
    match callable.class() {
        Some(("torch._utils", "_rebuild_parameter")) => {
            let Some(inner) = args.tuple().and_then(|a| a.first()).and_then(reduce) else {
                return Err(invalid("_rebuild_parameter without a tensor"));
            };
            (callable, args) = inner;
        }
        Some(("torch._tensor", "_rebuild_from_type_v2")) => {
            // (function, type, args, state): the tensor is function(*args).
            let a = args.tuple().unwrap_or_default();
            match (a.first(), a.get(2)) {
                (Some(f), Some(inner)) => (callable, args) = (f, inner),
                _ => return Err(invalid("_rebuild_from_type_v2 with too few arguments")),
            }
        }
        _ => {}
    }
    if callable.class() != Some(("torch._utils", "_rebuild_tensor_v2")) {
        return Ok(None);
    }
    rebuild_args(args).map(Some)
}

fn usizes(n: &Node, what: &str) -> Result<Vec<usize>, PickleError> {
    n.tuple()
        .ok_or_else(|| invalid(format!("tensor {what} is not a tuple")))?
        .iter()
        .map(|d| {
            d.int()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| invalid(format!("tensor {what} holds a negative or non-integer value")))
        })
        .collect()
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`, storage being a persistent id
/// `("storage", StorageClass, key, location, numel)`.
fn rebuild_args(args: &Node) -> Result<TensorRef, PickleError> {
    let a = args
        .tuple()
        .filter(|a| a.len() >= 4)
        .ok_or_else(|| invalid("_rebuild_tensor_v2 with fewer than 4 arguments"))?;
    let Value::PersistentLoad(id) = &a[0].value else {
        return Err(invalid("a tensor whose storage is not a persistent id"));
    };
    let id = id
        .tuple()
        .filter(|t| t.len() >= 5)
        .ok_or_else(|| invalid("a storage id with fewer than 5 fields"))?;
    let storage = id[2]
        .str()
        .ok_or_else(|| invalid("a storage key that is not a string"))?
        .to_string();
    let (_, class) = id[1]
        .class()
        .ok_or_else(|| invalid("a storage type that is not a class"))?;
    let dtype = match class {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "ByteStorage" => DType::U8,
        "LongStorage" => DType::I64,
        other => return Err(invalid(format!("unsupported storage type {other}"))),
    };
    let offset = a[1]
        .int()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| invalid("a negative or non-integer storage offset"))?;
    let size = usizes(&a[2], "size")?;
    let stride = usizes(&a[3], "stride")?;
    if size.len() != stride.len() {
        return Err(invalid("a tensor whose size and stride differ in rank"));
    }
    // Everything a layout multiplies out must fit: element count and byte offsets.
    let elems = size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid("a tensor with more elements than fit in memory"))?;
    elems
        .checked_mul(dtype.size_in_bytes())
        .ok_or_else(|| invalid("a tensor with more bytes than fit in memory"))?;
    let start = offset
        .checked_mul(dtype.size_in_bytes())
        .ok_or_else(|| invalid("a storage offset beyond memory"))?;
    Ok(TensorRef {
        dtype,
        layout: Layout::new(Shape::from(size), stride, start),
        storage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Result<Node, PickleError> {
        read(&mut &bytes[..])
    }

    #[test]
    fn memo_bombs_are_refused_within_the_budget() {
        // [] PUT 0, then (GET 0, GET 0) → TUPLE2 PUT 0, 60 times: 2^60 objects if copied.
        let mut p = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..60 {
            p.extend([b'h', 0, b'h', 0, 0x86, b'q', 0]);
        }
        p.push(b'.');
        assert!(matches!(run(&p), Err(PickleError::TooBig(_))));
    }

    #[test]
    fn endless_nesting_is_refused() {
        let mut p = vec![0x80, 2, b')'];
        for _ in 0..100_000 {
            p.push(0x85); // TUPLE1: wrap it once more
        }
        p.push(b'.');
        assert!(matches!(run(&p), Err(PickleError::TooDeep)));
        // Lists appended into lists, too.
        let mut p = vec![0x80, 2, b']'];
        for _ in 0..100_000 {
            p.extend([b']', b'a']);
        }
        p.push(b'.');
        // Each APPEND adds a sibling, not a level: shallow, and fine.
        assert!(run(&p).is_ok());
    }

    #[test]
    fn bad_tensor_calls_are_errors() {
        // _rebuild_tensor_v2 with a 1-tuple of arguments: candle's reader panics on this.
        let mut p = vec![0x80, 2, b'}', b'X', 1, 0, 0, 0, b'w'];
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
        p.extend([b'K', 1, 0x85, b'R', b's', b'.']);
        let root = run(&p).unwrap();
        assert!(state_dict(&root).is_err());
        // Huge declared strings are read only as far as the bytes go.
        let p = [0x80, 2, b'X', 0xff, 0xff, 0xff, 0xff, b'a'];
        assert!(run(&p).is_err());
    }
}
