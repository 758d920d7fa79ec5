//! Reading an input and turning its bytes into normalised Unicode text.
//!
//! Every refusal here happens before anything is written, so a bad input never produces partial output.
//! Decoding follows what a browser would do, in this order: a byte-order mark wins; valid UTF-8 is
//! UTF-8 (a saved page is often re-encoded while its `<meta charset>` still names the old encoding,
//! and non-ASCII UTF-8 is practically never valid in a legacy encoding); then an HTML declaration;
//! then `chardetng`'s guess. Bytes are never silently replaced.

use std::io::Read;
use std::path::Path;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};
use unicode_normalization::UnicodeNormalization;

use super::LoadError;

/// How the decoded text is structured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputFormat {
    Html,
    Text,
    Markdown,
}

impl InputFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            InputFormat::Html => "html",
            InputFormat::Text => "text",
            InputFormat::Markdown => "markdown",
        }
    }
}

/// A decoded input, ready for extraction.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub text: String,
    pub format: InputFormat,
    /// The encoding the bytes were read as (for `-v`).
    pub encoding: &'static str,
}

/// Read a file, refusing what cannot be an article before reading it whole.
pub(crate) fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, LoadError> {
    let name = || path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound { path: name() },
        _ => LoadError::Read {
            path: name(),
            source: e,
        },
    })?;
    if meta.is_dir() {
        return Err(LoadError::IsDirectory { path: name() });
    }
    if meta.len() > max_bytes {
        return Err(LoadError::TooLarge {
            path: name(),
            size: meta.len(),
            max: max_bytes,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| LoadError::Read {
        path: name(),
        source: e,
    })?;
    // The size can change between stat and read (a growing log, a FIFO): read one byte past the limit.
    read_limited(file, &name(), max_bytes)
}

/// Read all of standard input, up to `max_bytes`.
pub(crate) fn read_stdin(max_bytes: u64) -> Result<Vec<u8>, LoadError> {
    read_limited(std::io::stdin().lock(), super::STDIN, max_bytes)
}

fn read_limited(reader: impl Read, name: &str, max_bytes: u64) -> Result<Vec<u8>, LoadError> {
    let mut bytes = Vec::new();
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::Read {
            path: name.to_string(),
            source: e,
        })?;
    if bytes.len() as u64 > max_bytes {
        return Err(LoadError::TooLarge {
            path: name.to_string(),
            size: bytes.len() as u64,
            max: max_bytes,
        });
    }
    Ok(bytes)
}

/// Check, decode and normalise `bytes`. `hint` (the file name, if any) decides the format by extension;
/// without one the content is sniffed.
pub(crate) fn decode(
    bytes: &[u8],
    origin: &str,
    hint: Option<&Path>,
    max_bytes: u64,
) -> Result<Decoded, LoadError> {
    let name = || origin.to_string();
    if bytes.len() as u64 > max_bytes {
        return Err(LoadError::TooLarge {
            path: name(),
            size: bytes.len() as u64,
            max: max_bytes,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(LoadError::Empty { path: name() });
    }
    if let Some(kind) = binary_signature(bytes) {
        return Err(LoadError::Binary {
            path: name(),
            kind: kind.to_string(),
        });
    }
    let (text, encoding) = decode_bytes(bytes).ok_or_else(|| LoadError::Binary {
        path: name(),
        kind: "contains NUL bytes".to_string(),
    })?;
    if looks_binary(&text) {
        return Err(LoadError::Binary {
            path: name(),
            kind: "mostly control characters".to_string(),
        });
    }
    let text: String = text.nfc().collect();
    if text.trim().is_empty() {
        return Err(LoadError::Empty { path: name() });
    }
    let format = detect_format(&text, hint);
    Ok(Decoded {
        text,
        format,
        encoding: encoding.name(),
    })
}

/// Decode with the precedence described in the module docs. `None` means the bytes are not text.
fn decode_bytes(bytes: &[u8]) -> Option<(String, &'static Encoding)> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Some((text.into_owned(), enc));
    }
    // Text never contains NUL; UTF-16 without a BOM is not supported (the issue asks for BOMs).
    if bytes.contains(&0) {
        return None;
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some((s.to_string(), UTF_8));
    }
    let enc = declared_charset(bytes).unwrap_or_else(|| {
        let mut det = chardetng::EncodingDetector::new();
        det.feed(bytes, true);
        det.guess(None, true)
    });
    // A page that declares UTF-16 in ASCII cannot be UTF-16; browsers read it as UTF-8 too.
    let enc = if enc == UTF_16LE || enc == UTF_16BE {
        UTF_8
    } else {
        enc
    };
    let (text, _) = enc.decode_without_bom_handling(bytes);
    Some((text.into_owned(), enc))
}

/// The encoding an HTML document declares in its first 1024 bytes (`<meta charset=…>` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">`), the same window browsers pre-scan.
fn declared_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(pos) = rest.find("<meta") {
        let tag_end = rest[pos..].find('>').map_or(rest.len(), |e| pos + e);
        let tag = &rest[pos..tag_end];
        if let Some(cs) = tag.find("charset") {
            let value = tag[cs + "charset".len()..]
                .trim_start()
                .strip_prefix('=')?
                .trim_start();
            let value = value.trim_start_matches(['"', '\'']);
            let label: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
                .collect();
            if let Some(enc) = Encoding::for_label(label.as_bytes()) {
                return Some(enc);
            }
        }
        rest = &rest[tag_end..];
    }
    None
}

/// Well-known binary formats, named so the error can say what the file is.
fn binary_signature(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive or Office document"),
        (b"\x1f\x8b", "gzip-compressed data"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x7fELF", "an executable"),
        (b"\xd0\xcf\x11\xe0", "an old Office document"),
        (b"RIFF", "a media file"),
        (b"BZh", "bzip2-compressed data"),
        (b"\xfd7zXZ", "xz-compressed data"),
        (b"7z\xbc\xaf", "a 7-Zip archive"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, what)| *what)
}

/// Text with many control characters (other than tab, newline, carriage return, form feed) is not an
/// article, whatever its encoding claims.
fn looks_binary(text: &str) -> bool {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars().take(65_536) {
        total += 1;
        if (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c')) || c == '\u{fffd}' {
            control += 1;
        }
    }
    total > 0 && control * 20 > total
}

fn detect_format(text: &str, hint: Option<&Path>) -> InputFormat {
    let ext = hint
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" | "xhtml" | "shtml" => InputFormat::Html,
        // A page saved with a .txt name is still a page.
        "txt" | "text" if starts_like_html(text) => InputFormat::Html,
        "txt" | "text" => InputFormat::Text,
        "md" | "markdown" => InputFormat::Markdown,
        _ if starts_like_html(text) || has_block_tags(text) => InputFormat::Html,
        _ => InputFormat::Text,
    }
}

fn starts_like_html(text: &str) -> bool {
    let head = lowercase_head(text.trim_start(), 64);
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<?xml")
}

/// Sniff a fragment (copied `innerHTML`): a few paragraph or break tags.
fn has_block_tags(text: &str) -> bool {
    let sample = lowercase_head(text, 65_536);
    ["<p>", "<p ", "</p>", "<br", "<div", "</div>"]
        .iter()
        .map(|t| sample.matches(t).count())
        .sum::<usize>()
        >= 2
}

/// The first `chars` characters of `text`, ASCII-lower-cased, for sniffing markup.
pub(crate) fn lowercase_head(text: &str, chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    text[..end].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8]) -> Decoded {
        decode(bytes, "t", None, 1 << 20).expect("decodes")
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(dec("Rusia “marah”".as_bytes()).text, "Rusia “marah”");
        assert_eq!(dec(b"\xef\xbb\xbfRusia").text, "Rusia");
    }

    #[test]
    fn utf16_with_bom() {
        let le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("Jakarta “ok”".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain("Jakarta “ok”".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(dec(&le).text, "Jakarta “ok”");
        assert_eq!(dec(&be).text, "Jakarta “ok”");
    }

    #[test]
    fn declared_html_charset_is_honoured() {
        let page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head><body>caf\xe9 \x93kutip\x94</body></html>";
        let d = dec(page);
        assert_eq!(d.encoding, "windows-1252");
        assert!(d.text.contains("café “kutip”"), "{}", d.text);
        let page = b"<meta charset='windows-1252'><p>S\xe9l\xe9ction</p>";
        assert!(dec(page).text.contains("Séléction"));
    }

    #[test]
    fn undeclared_legacy_bytes_are_detected_not_replaced() {
        let text = "Menteri mengatakan kafe “Sénopati” dibuka kembali setelah renovasi. Pengunjung antusias.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        assert_eq!(dec(&bytes).text, text);
    }

    #[test]
    fn text_is_nfc_normalised() {
        assert_eq!(dec("Se\u{301}nopati".as_bytes()).text, "Sénopati");
    }

    #[test]
    fn refuses_binary_and_empty() {
        assert!(matches!(
            decode(b"%PDF-1.7 ...", "t", None, 100),
            Err(LoadError::Binary { .. })
        ));
        assert!(matches!(
            decode(b"abc\0def", "t", None, 100),
            Err(LoadError::Binary { .. })
        ));
        assert!(matches!(
            decode(b" \n\t ", "t", None, 100),
            Err(LoadError::Empty { .. })
        ));
        assert!(matches!(
            decode(b"\x01\x02\x03\x04\x05abc", "t", None, 100),
            Err(LoadError::Binary { .. })
        ));
        assert!(matches!(
            decode(b"0123456789", "t", None, 5),
            Err(LoadError::TooLarge { .. })
        ));
    }

    #[test]
    fn format_by_extension_and_sniffing() {
        assert_eq!(
            detect_format("plain", Some(Path::new("a.html"))),
            InputFormat::Html
        );
        assert_eq!(
            detect_format("<p>x</p>", Some(Path::new("a.txt"))),
            InputFormat::Text
        );
        assert_eq!(
            detect_format("<!DOCTYPE html><p>x", Some(Path::new("a.txt"))),
            InputFormat::Html
        );
        assert_eq!(
            detect_format("# Judul", Some(Path::new("a.md"))),
            InputFormat::Markdown
        );
        assert_eq!(
            detect_format(" Jakarta <p>a</p> <p>b</p>", None),
            InputFormat::Html
        );
        assert_eq!(
            detect_format("Jakarta - Presiden tiba.", None),
            InputFormat::Text
        );
    }
}
