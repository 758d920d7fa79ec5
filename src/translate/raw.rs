//! `warta translate --raw`: plain lines in, the same number of lines out. No cleaning, no sentence
//! splitting; empty (or blank) lines stay empty; all other lines go to the translator in one call so it
//! can batch them.

use serde::Serialize;

use super::{TranslateError, Translator};

/// Result of a raw run, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RawOutput {
    pub lines: Vec<String>,
    pub translator: String,
    pub model: String,
    pub warnings: Vec<String>,
    pub timings: RawTimings,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RawTimings {
    pub load_s: f64,
    pub translate_s: f64,
    pub total_s: f64,
    pub lines_per_s: f64,
}

/// Read the raw input: a file, or standard input for `-`. It must be UTF-8 (a BOM is dropped) and at
/// most `max_bytes` long.
pub fn read_input(input: &str, max_bytes: u64) -> Result<String, TranslateError> {
    use std::io::Read;
    let err = |reason: String| TranslateError::Input {
        path: if input == "-" {
            "<stdin>".into()
        } else {
            input.to_string()
        },
        reason,
    };
    let mut bytes = Vec::new();
    let limit = max_bytes.saturating_add(1);
    let read = if input == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(input).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    read.map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(err(format!(
            "larger than {max_bytes} bytes; raise --max-bytes or split the file"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        err(format!(
            "not UTF-8 text (invalid byte at offset {}); convert it to UTF-8 first (e.g. with iconv)",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// The lines of `text` (`\n` or `\r\n` separated; a final newline does not start another line).
pub fn split_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// Translate every non-blank line; blank lines map to empty lines.
pub fn translate_lines(
    translator: &mut dyn Translator,
    lines: &[String],
) -> Result<Vec<String>, TranslateError> {
    let todo: Vec<String> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .cloned()
        .collect();
    let mut done = translator.translate_segments(&todo)?.into_iter();
    let out: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                // A translation never spans lines, whatever the model produced.
                done.next().unwrap_or_default().replace(['\r', '\n'], " ")
            }
        })
        .collect();
    Ok(out)
}

/// Text output: one line per input line.
pub fn render_text(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::EngineInfo;

    struct Upper(usize);

    impl Translator for Upper {
        fn info(&self) -> EngineInfo {
            EngineInfo::default()
        }
        fn translate_segments(&mut self, s: &[String]) -> Result<Vec<String>, TranslateError> {
            self.0 += 1;
            Ok(s.iter().map(|x| x.to_uppercase()).collect())
        }
    }

    #[test]
    fn blank_lines_stay_blank_and_count_is_kept() {
        let lines = split_lines("satu\n\n  \r\ndua\r\n");
        assert_eq!(lines, ["satu", "", "  ", "dua"]);
        let mut t = Upper(0);
        let out = translate_lines(&mut t, &lines).unwrap();
        assert_eq!(out, ["SATU", "", "", "DUA"]);
        assert_eq!(t.0, 1, "one batched call");
        assert_eq!(render_text(&out), "SATU\n\n\nDUA\n");
    }
}
