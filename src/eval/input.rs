//! Reading hypothesis, reference and source files the way sacreBLEU's command line reads them.
//!
//! sacreBLEU opens files as UTF-8 with `newline="\n"` (no universal newlines): lines end at `\n` only, a
//! final line without `\n` still counts, and every line is `rstrip()`ped, which also removes the `\r` of
//! CRLF files and any trailing Python whitespace. A byte-order mark is kept as part of the first line,
//! as sacreBLEU keeps it.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{pystr, EvalError};

/// The lines of a file (`-` for standard input), as sacreBLEU reads them.
pub fn read_lines(path: &Path) -> Result<Vec<String>, EvalError> {
    let read_err = |source| EvalError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
    } else {
        bytes = std::fs::read(path).map_err(read_err)?;
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        EvalError::NotUtf8 {
            path: path.to_path_buf(),
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
        }
    })?;
    Ok(split_lines(&text))
}

/// Split text into lines like iterating over a Python file opened with `newline="\n"`, then `rstrip()`.
fn split_lines(text: &str) -> Vec<String> {
    text.split_terminator('\n')
        .map(|line| pystr::rstrip(line).to_string())
        .collect()
}

/// Read a hypothesis (or source) file and its reference, keep the first `limit` lines of each, and check
/// that they pair up line for line. `what` names the first file in errors ("hypothesis", "source").
pub fn read_pair(
    what: &'static str,
    path: &Path,
    ref_path: &Path,
    limit: Option<usize>,
) -> Result<(Vec<String>, Vec<String>), EvalError> {
    let mut lines = read_lines(path)?;
    let mut refs = read_lines(ref_path)?;
    if let Some(n) = limit {
        lines.truncate(n);
        refs.truncate(n);
    }
    if lines.len() != refs.len() {
        return Err(EvalError::LineCount {
            what,
            path: path.to_path_buf(),
            lines: lines.len(),
            ref_path: ref_path.to_path_buf(),
            ref_lines: refs.len(),
            limited: limit
                .map(|n| format!(" (counting at most --limit {n} lines of each)"))
                .unwrap_or_default(),
        });
    }
    if lines.is_empty() {
        return Err(EvalError::Empty {
            path: PathBuf::from(path),
        });
    }
    Ok((lines, refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_python_text_files() {
        assert_eq!(split_lines("a\nb\n"), ["a", "b"]);
        assert_eq!(split_lines("a\nb"), ["a", "b"]);
        assert_eq!(split_lines("a\r\n\r\nb \t\r\n"), ["a", "", "b"]);
        assert_eq!(split_lines("a\n\n"), ["a", ""]);
        assert_eq!(split_lines("\n"), [""]);
        assert!(split_lines("").is_empty());
        // A lone \r, U+2028 or U+0085 inside a line does not end it (no universal newlines).
        assert_eq!(
            split_lines("a\rb\u{2028}c\u{85}d\n"),
            ["a\rb\u{2028}c\u{85}d"]
        );
        assert_eq!(split_lines("\u{feff}x \u{a0}\n"), ["\u{feff}x"]);
    }

    #[test]
    fn errors_name_files_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let (hyp, reference, bad) = (
            dir.path().join("h.txt"),
            dir.path().join("r.txt"),
            dir.path().join("bad.txt"),
        );
        std::fs::write(&hyp, "one\ntwo\nthree\n").unwrap();
        std::fs::write(&reference, "one\ntwo\n").unwrap();
        std::fs::write(&bad, b"ok\nok\n\xff\xfe\n").unwrap();

        let err = read_pair("hypothesis", &hyp, &reference, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("h.txt has 3 lines") && err.contains("r.txt has 2"),
            "{err}"
        );
        let (h, r) = read_pair("hypothesis", &hyp, &reference, Some(2)).unwrap();
        assert_eq!((h.len(), r.len()), (2, 2));
        let err = read_pair("source", &reference, &hyp, Some(3))
            .unwrap_err()
            .to_string();
        assert!(err.contains("source") && err.contains("--limit 3"), "{err}");

        let err = read_lines(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.txt is not valid UTF-8 (line 3)"), "{err}");
        let err = read_lines(&dir.path().join("missing.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.txt"), "{err}");

        std::fs::write(&hyp, "").unwrap();
        std::fs::write(&reference, "").unwrap();
        let err = read_pair("hypothesis", &hyp, &reference, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no lines to score"), "{err}");
    }
}
