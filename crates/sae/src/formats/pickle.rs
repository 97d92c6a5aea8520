//! A guard for torch `.pt` files: walks every pickle opcode and refuses any `GLOBAL`, `INST`,
//! `STACK_GLOBAL` or extension code that names something other than the torch tensor-rebuild
//! functions, storage types and `collections.OrderedDict`.
//!
//! candle's pickle reader never executes code, but it silently turns unknown callables into
//! inert objects; a checkpoint that would run `os.system` under `torch.load(weights_only=False)`
//! should be reported, not half-loaded. The walk follows CPython's `pickletools` opcode table
//! (protocols 0-5).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Callables a `torch.save(state_dict)` pickle may name.
const ALLOWED: [&str; 19] = [
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2",
    "torch._tensor.Tensor",
    "torch.Tensor",
    "torch.FloatStorage",
    "torch.DoubleStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.nn.parameter.Parameter",
];

enum Finding {
    Refused(String),
    Corrupt(String),
}

/// Checks every `*.pkl` member of the torch zip checkpoint at `path`.
pub(crate) fn check_torch_zip(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::bad_file(path, format!("not a zip-format torch checkpoint (torch.save since 1.6): {e}")))?;
    let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    if !names.iter().any(|n| n.ends_with("data.pkl")) {
        return Err(Error::bad_file(path, "torch checkpoint has no data.pkl"));
    }
    for name in names.iter().filter(|n| n.ends_with(".pkl")) {
        let mut data = Vec::new();
        zip.by_name(name)
            .map_err(|e| Error::bad_file(path, format!("{name}: {e}")))?
            .read_to_end(&mut data)
            .map_err(|e| Error::bad_file(path, format!("{name}: {e}")))?;
        match scan(&data) {
            Ok(()) => {}
            Err(Finding::Refused(callable)) => return Err(Error::UnsafePickle { path: path.into(), callable }),
            Err(Finding::Corrupt(msg)) => return Err(Error::bad_file(path, format!("{name}: corrupt pickle: {msg}"))),
        }
    }
    Ok(())
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], Finding> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| Finding::Corrupt("truncated".into()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> std::result::Result<u64, Finding> {
        Ok(self.take(n)?.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn line(&mut self) -> std::result::Result<String, Finding> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| Finding::Corrupt("truncated line".into()))?;
        self.pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    fn sized(&mut self, len_bytes: usize) -> std::result::Result<&'a [u8], Finding> {
        let n = usize::try_from(self.uint(len_bytes)?).map_err(|_| Finding::Corrupt("length overflow".into()))?;
        self.take(n)
    }
}

fn allow(callable: String) -> std::result::Result<(), Finding> {
    if ALLOWED.contains(&callable.as_str()) {
        Ok(())
    } else {
        Err(Finding::Refused(callable))
    }
}

fn utf8(b: &[u8]) -> std::result::Result<String, Finding> {
    String::from_utf8(b.to_vec()).map_err(|_| Finding::Corrupt("invalid UTF-8 string".into()))
}

/// Walks the opcodes of one pickle up to STOP.
fn scan(data: &[u8]) -> std::result::Result<(), Finding> {
    let mut c = Cursor { data, pos: 0 };
    // The values pushed most recently (Some for string literals), for STACK_GLOBAL's operands,
    // and the memo (strings only) for operands fetched with GET.
    let mut recent: Vec<Option<String>> = Vec::new();
    let mut memo: HashMap<u64, Option<String>> = HashMap::new();
    loop {
        let op = c.take(1)?[0];
        let pushed: Option<String> = match op {
            b'.' => return Ok(()),
            b'c' | b'i' => {
                let (module, name) = (c.line()?, c.line()?);
                allow(format!("{module}.{name}"))?;
                None
            }
            0x93 => {
                // STACK_GLOBAL: module and name are the two values below the top.
                match recent.as_slice() {
                    [.., Some(m), Some(n)] => allow(format!("{m}.{n}"))?,
                    _ => return Err(Finding::Refused("STACK_GLOBAL with computed operands".into())),
                }
                None
            }
            0x82..=0x84 => {
                let code = c.uint([1, 2, 4][usize::from(op - 0x82)])?;
                return Err(Finding::Refused(format!("copyreg extension code {code}")));
            }
            // Memo writes push nothing.
            b'p' | b'q' | b'r' | 0x94 => {
                let idx = match op {
                    b'p' => c.line()?.trim().parse().map_err(|_| Finding::Corrupt("bad PUT index".into()))?,
                    b'q' => c.uint(1)?,
                    b'r' => c.uint(4)?,
                    _ => memo.len() as u64,
                };
                memo.insert(idx, recent.last().cloned().flatten());
                continue;
            }
            0x95 => {
                c.take(8)?; // FRAME
                continue;
            }
            b'g' | b'h' | b'j' => {
                let idx = match op {
                    b'g' => c.line()?.trim().parse().map_err(|_| Finding::Corrupt("bad GET index".into()))?,
                    b'h' => c.uint(1)?,
                    _ => c.uint(4)?,
                };
                memo.get(&idx).cloned().flatten()
            }
            // String literals.
            b'S' | b'V' => Some(c.line()?.trim_matches(|ch| ch == '\'' || ch == '"').to_string()),
            b'T' | b'X' => Some(utf8(c.sized(4)?)?),
            b'U' | 0x8c => Some(utf8(c.sized(1)?)?),
            0x8d => Some(utf8(c.sized(8)?)?),
            // Other arguments.
            b'I' | b'L' | b'F' | b'P' => {
                c.line()?;
                None
            }
            b'B' => c.sized(4).map(|_| None)?,
            b'C' | 0x8a => c.sized(1).map(|_| None)?,
            0x8b => c.sized(4).map(|_| None)?,
            0x8e | 0x96 => c.sized(8).map(|_| None)?,
            b'J' => c.take(4).map(|_| None)?,
            b'K' | 0x80 => c.take(1).map(|_| None)?,
            b'M' => c.take(2).map(|_| None)?,
            b'G' => c.take(8).map(|_| None)?,
            // No argument.
            b'N'
            | b']'
            | b'a'
            | b'e'
            | b'l'
            | b')'
            | b't'
            | b'}'
            | b'd'
            | b's'
            | b'u'
            | b'0'
            | b'2'
            | b'1'
            | b'('
            | b'R'
            | b'b'
            | b'o'
            | b'Q'
            | 0x81
            | 0x85..=0x89
            | 0x8f..=0x92
            | 0x97
            | 0x98 => None,
            other => return Err(Finding::Corrupt(format!("unknown opcode 0x{other:02x} at byte {}", c.pos - 1))),
        };
        recent.push(pushed);
        if recent.len() > 2 {
            recent.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &[u8]) -> String {
        match scan(p) {
            Err(Finding::Refused(c)) => c,
            Err(Finding::Corrupt(m)) => panic!("corrupt: {m}"),
            Ok(()) => panic!("accepted"),
        }
    }

    #[test]
    fn global_and_stack_global_are_checked() {
        // protocol 2: GLOBAL 'os system', (arg,) REDUCE, STOP
        assert_eq!(refused(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."), "os.system");
        // protocol 4: SHORT_BINUNICODE 'builtins' MEMOIZE SHORT_BINUNICODE 'eval' MEMOIZE STACK_GLOBAL
        assert_eq!(refused(b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93."), "builtins.eval");
        // operands fetched back from the memo
        assert_eq!(refused(b"\x80\x04\x8c\x02os\x94\x8c\x06system\x9400h\x00h\x01\x93."), "os.system");
        assert!(scan(b"\x80\x02ccollections\nOrderedDict\nq\x00)R.").is_ok());
        assert!(matches!(scan(b"\x80\x02ccollections\nOrderedDict\n"), Err(Finding::Corrupt(_))));
    }
}
