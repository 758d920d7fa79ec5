//! SentencePiece unigram models (`source.spm`, `target.spm`), read and run without the C++ library.
//!
//! An `.spm` file is a serialised `ModelProto` protobuf: the pieces with their scores and types, and a
//! normaliser spec whose `precompiled_charsmap` is a darts-clone double-array trie of normalisation
//! rules (NFKC and friends). Encoding is the library's: normalise (rules, whitespace handling, dummy
//! prefix, `▁` escaping), then the Viterbi best segmentation over the pieces, with runs of unknown
//! characters merged into one piece. The code follows sentencepiece's `normalizer.cc` and
//! `unigram_model.cc` (`EncodeOptimized`) step by step, because MarianTokenizer calls exactly that and the
//! ids must match token for token. (The `tokenizers` crate's Unigram/Precompiled pair is close but not
//! identical: it normalises per grapheme and does not merge unknown runs the same way.)

use std::collections::HashMap;

/// Piece types of `ModelProto.SentencePiece.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    fn from_proto(v: u64) -> Option<PieceType> {
        Some(match v {
            1 => PieceType::Normal,
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Byte,
            6 => PieceType::Unused,
            _ => return None,
        })
    }
}

/// Why an `.spm` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpmError {
    #[error("not a SentencePiece model: {0}")]
    Malformed(&'static str),
    #[error("unsupported SentencePiece model: {0}")]
    Unsupported(String),
}

/// The whitespace and normalisation settings of `NormalizerSpec`.
#[derive(Debug, Clone)]
struct NormalizerSpec {
    charsmap: Option<CharsMap>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

/// A loaded SentencePiece unigram model.
#[derive(Debug, Clone)]
pub struct SentencePiece {
    pieces: Vec<(String, f32, PieceType)>,
    /// Normal, user-defined and unused pieces (the ones the encoder's trie holds) → index.
    lookup: HashMap<String, usize>,
    /// Control, unknown and byte pieces → their type.
    reserved: HashMap<String, PieceType>,
    max_piece_len: usize,
    /// User-defined pieces are matched before normalisation and never normalised.
    user_defined: Vec<String>,
    unk_id: usize,
    /// What the `<unk>` piece itself decodes to (`TrainerSpec.unk_surface`).
    unk_surface: String,
    min_score: f32,
    max_score: f32,
    normalizer: NormalizerSpec,
}

const SPACE_SYMBOL: &str = "\u{2581}";
const UNK_PENALTY: f32 = 10.0;

impl SentencePiece {
    /// Parse a serialised `ModelProto`.
    pub fn from_bytes(bytes: &[u8]) -> Result<SentencePiece, SpmError> {
        let mut pieces = Vec::new();
        let mut normalizer = NormalizerSpec {
            charsmap: None,
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        let mut model_type = 1; // UNIGRAM
        let mut byte_fallback = false;
        let mut suffix_whitespace = false;
        let mut unk_surface = " \u{2047} ".to_string();
        for field in Proto::new(bytes) {
            match field? {
                (1, Value::Bytes(b)) => pieces.push(parse_piece(b)?),
                (2, Value::Bytes(b)) => {
                    for f in Proto::new(b) {
                        match f? {
                            (3, Value::Varint(v)) => model_type = v,
                            (24, Value::Varint(v)) => suffix_whitespace = v != 0,
                            (35, Value::Varint(v)) => byte_fallback = v != 0,
                            (44, Value::Bytes(b)) => {
                                unk_surface = String::from_utf8_lossy(b).into_owned()
                            }
                            _ => {}
                        }
                    }
                }
                (3, Value::Bytes(b)) => {
                    for f in Proto::new(b) {
                        match f? {
                            (2, Value::Bytes(map)) if !map.is_empty() => {
                                normalizer.charsmap = Some(CharsMap::new(map)?)
                            }
                            (3, Value::Varint(v)) => normalizer.add_dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => normalizer.remove_extra_whitespaces = v != 0,
                            (5, Value::Varint(v)) => normalizer.escape_whitespaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model_type != 1 {
            return Err(SpmError::Unsupported(format!(
                "model type {model_type} (only unigram models, type 1, are supported)"
            )));
        }
        if byte_fallback {
            return Err(SpmError::Unsupported("byte fallback".into()));
        }
        if suffix_whitespace {
            return Err(SpmError::Unsupported("treat_whitespace_as_suffix".into()));
        }
        let unk_id = pieces
            .iter()
            .position(|p: &(String, f32, PieceType)| p.2 == PieceType::Unknown)
            .ok_or(SpmError::Malformed("no <unk> piece"))?;
        let mut lookup = HashMap::new();
        let mut reserved = HashMap::new();
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN);
        let mut user_defined = Vec::new();
        for (i, (piece, score, kind)) in pieces.iter().enumerate() {
            if piece.is_empty() {
                return Err(SpmError::Malformed("empty piece"));
            }
            if matches!(
                kind,
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused
            ) {
                lookup.entry(piece.clone()).or_insert(i);
            } else {
                reserved.entry(piece.clone()).or_insert(*kind);
            }
            if *kind == PieceType::UserDefined {
                user_defined.push(piece.clone());
            }
            if *kind == PieceType::Normal {
                min_score = min_score.min(*score);
                max_score = max_score.max(*score);
            }
        }
        let max_piece_len = lookup.keys().map(String::len).max().unwrap_or(0);
        Ok(SentencePiece {
            pieces,
            lookup,
            reserved,
            max_piece_len,
            user_defined,
            unk_id,
            unk_surface,
            min_score,
            max_score,
            normalizer,
        })
    }

    /// The pieces of `text`, as `SentencePieceProcessor::EncodeAsPieces` returns them.
    pub fn encode(&self, text: &str) -> Vec<String> {
        let normalized = self.normalize(text);
        self.segment(&normalized)
    }

    /// The normaliser of `normalizer.cc`: rules from the charsmap, leading/trailing/repeated spaces
    /// dropped, a dummy `▁` prefix, spaces escaped as `▁`.
    pub fn normalize(&self, input: &str) -> String {
        let spec = &self.normalizer;
        let mut input = input;
        let mut out = String::with_capacity(input.len() * 3);
        if spec.remove_extra_whitespaces {
            while !input.is_empty() {
                let (piece, consumed) = self.normalize_prefix(input);
                if piece != " " {
                    break;
                }
                input = &input[consumed..];
            }
        }
        if input.is_empty() {
            return out;
        }
        let space = if spec.escape_whitespaces {
            SPACE_SYMBOL
        } else {
            " "
        };
        if spec.add_dummy_prefix {
            out.push_str(space);
        }
        let mut is_prev_space = spec.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut piece, consumed) = self.normalize_prefix(input);
            // Spaces right after a space are dropped.
            if is_prev_space {
                piece = piece.trim_start_matches(' ');
            }
            if !piece.is_empty() {
                for c in piece.chars() {
                    if spec.escape_whitespaces && c == ' ' {
                        out.push_str(SPACE_SYMBOL);
                    } else {
                        out.push(c);
                    }
                }
                is_prev_space = piece.ends_with(' ');
            }
            input = &input[consumed..];
            if !spec.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if spec.remove_extra_whitespaces {
            while let Some(rest) = out.strip_suffix(space) {
                out.truncate(rest.len());
            }
        }
        out
    }

    /// The normalised form of the longest rule matching the start of `input`, and how many bytes it
    /// consumed.
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        // User-defined symbols are kept as they are (longest match wins).
        if let Some(len) = self
            .user_defined
            .iter()
            .filter(|u| input.starts_with(u.as_str()))
            .map(|u| u.len())
            .max()
        {
            return (&input[..len], len);
        }
        if let Some((replacement, len)) = self
            .normalizer
            .charsmap
            .as_ref()
            .and_then(|m| m.longest_match(input.as_bytes()))
        {
            // A rule can only end inside a character in a corrupt map; treat that as no rule.
            if input.is_char_boundary(len) {
                return (replacement, len);
            }
        }
        let len = input.chars().next().map_or(0, char::len_utf8);
        (&input[..len], len)
    }

    /// Viterbi segmentation of normalised text (`EncodeOptimized`), with unknown runs merged.
    fn segment(&self, normalized: &str) -> Vec<String> {
        #[derive(Clone, Copy)]
        struct Best {
            id: usize,
            score: f32,
            starts_at: Option<usize>,
        }
        let size = normalized.len();
        if size == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                starts_at: None
            };
            size + 1
        ];
        let mut starts_at = 0;
        while starts_at < size {
            let here = best[starts_at].score;
            let rest = &normalized[starts_at..];
            let mblen = rest.chars().next().map_or(1, char::len_utf8);
            let mut has_single_node = false;
            // Candidates in order of increasing length, as the trie walk yields them.
            let mut end = 0;
            for c in rest.chars() {
                end += c.len_utf8();
                if end > self.max_piece_len {
                    break;
                }
                let Some(&id) = self.lookup.get(&rest[..end]) else {
                    continue;
                };
                let kind = self.pieces[id].2;
                if kind == PieceType::Unused {
                    continue;
                }
                let score = if kind == PieceType::UserDefined {
                    (end as f64 * f64::from(self.max_score) - 0.1) as f32
                } else {
                    self.pieces[id].1
                };
                let candidate = score + here;
                let target = &mut best[starts_at + end];
                if target.starts_at.is_none() || candidate > target.score {
                    *target = Best {
                        id,
                        score: candidate,
                        starts_at: Some(starts_at),
                    };
                }
                if end == mblen {
                    has_single_node = true;
                }
            }
            if !has_single_node {
                let candidate = unk_score + here;
                let target = &mut best[starts_at + mblen];
                if target.starts_at.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        starts_at: Some(starts_at),
                    };
                }
            }
            starts_at += mblen;
        }
        // Backtrack from the end, then merge runs of unknown pieces as `PopulateSentencePieceText` does.
        let mut spans = Vec::new();
        let mut end = size;
        while end > 0 {
            let node = best[end];
            let start = node.starts_at.unwrap_or(0);
            spans.push((start, end, node.id == self.unk_id));
            end = start;
        }
        spans.reverse();
        let mut out: Vec<String> = Vec::with_capacity(spans.len());
        let mut prev_unk = false;
        for (start, end, unk) in spans {
            let piece = &normalized[start..end];
            match out.last_mut() {
                Some(last) if prev_unk && unk => last.push_str(piece),
                _ => out.push(piece.to_string()),
            }
            prev_unk = unk;
        }
        out
    }

    /// The piece with SentencePiece id `id`, if there is one.
    pub fn piece(&self, id: usize) -> Option<&str> {
        self.pieces.get(id).map(|p| p.0.as_str())
    }

    /// The type of a piece that is not in the encoder's lookup (control, unknown, byte), if any.
    fn reserved_kind(&self, piece: &str) -> Option<PieceType> {
        self.reserved.get(piece).copied()
    }

    /// `DecodePieces`: concatenate, `▁` back to spaces, the leading space of the first piece dropped.
    pub fn decode_pieces(&self, pieces: &[&str]) -> String {
        let mut out = String::new();
        let mut at_start = true;
        for piece in pieces {
            let known = self.lookup.contains_key(*piece);
            match self.reserved_kind(piece) {
                Some(PieceType::Control) if !known => continue,
                Some(PieceType::Unknown) if !known => {
                    out.push_str(&self.unk_surface);
                    at_start = false;
                    continue;
                }
                _ => {}
            }
            let mut p: &str = piece;
            if known
                && at_start
                && (self.normalizer.add_dummy_prefix || self.normalizer.remove_extra_whitespaces)
            {
                p = p.strip_prefix(SPACE_SYMBOL).unwrap_or(p);
            }
            let surface = if known {
                p.replace(SPACE_SYMBOL, " ")
            } else {
                // Pieces this model does not know are returned verbatim.
                p.to_string()
            };
            if at_start && !surface.is_empty() {
                at_start = false;
            }
            out.push_str(&surface);
        }
        out
    }
}

fn parse_piece(bytes: &[u8]) -> Result<(String, f32, PieceType), SpmError> {
    let (mut piece, mut score, mut kind) = (None, 0.0f32, PieceType::Normal);
    for f in Proto::new(bytes) {
        match f? {
            (1, Value::Bytes(b)) => {
                piece = Some(
                    String::from_utf8(b.to_vec())
                        .map_err(|_| SpmError::Malformed("piece is not UTF-8"))?,
                )
            }
            (2, Value::Fixed32(v)) => score = f32::from_bits(v),
            (3, Value::Varint(v)) => {
                kind = PieceType::from_proto(v).ok_or(SpmError::Malformed("unknown piece type"))?
            }
            _ => {}
        }
    }
    Ok((
        piece.ok_or(SpmError::Malformed("piece without text"))?,
        score,
        kind,
    ))
}

/// The precompiled normalisation rules: a darts-clone double array mapping UTF-8 prefixes to offsets
/// of NUL-terminated replacement strings.
#[derive(Debug, Clone)]
struct CharsMap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

impl CharsMap {
    fn new(blob: &[u8]) -> Result<CharsMap, SpmError> {
        let bad = SpmError::Malformed("bad precompiled_charsmap");
        let size = blob
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(SpmError::Malformed("bad precompiled_charsmap"))?;
        let trie = blob.get(4..4 + size).ok_or(bad)?;
        if size % 4 != 0 {
            return Err(SpmError::Malformed("bad precompiled_charsmap"));
        }
        let units = trie
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(CharsMap {
            units,
            normalized: blob[4 + size..].to_vec(),
        })
    }

    /// darts-clone `commonPrefixSearch`, keeping the longest match.
    fn longest_match(&self, key: &[u8]) -> Option<(&str, usize)> {
        let unit = |i: usize| self.units.get(i).copied();
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let mut id = offset(unit(0)?);
        let mut found = None;
        for (i, &b) in key.iter().enumerate() {
            id ^= b as usize;
            let u = unit(id)?;
            if u & ((1 << 31) | 0xFF) != b as u32 {
                break;
            }
            id ^= offset(u);
            if (u >> 8) & 1 == 1 {
                let value = (unit(id)? & ((1 << 31) - 1)) as usize;
                found = Some((value, i + 1));
            }
        }
        let (value, len) = found?;
        let tail = self.normalized.get(value..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let replacement = std::str::from_utf8(&tail[..end]).ok()?;
        Some((replacement, len))
    }
}

/// A protobuf field value (only the wire types `ModelProto` uses).
enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8]),
}

/// Iterates over the fields of one protobuf message.
struct Proto<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> Proto<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Proto { buf, failed: false }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn field(&mut self) -> Option<(u64, Value<'a>)> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            _ => return None,
        };
        Some((key >> 3, value))
    }
}

impl<'a> Iterator for Proto<'a> {
    type Item = Result<(u64, Value<'a>), SpmError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        match self.field() {
            Some(f) => Some(Ok(f)),
            None => {
                self.failed = true;
                Some(Err(SpmError::Malformed("truncated or corrupt protobuf")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf writer just big enough to build test models.
    fn field(out: &mut Vec<u8>, num: u64, wire: u64, payload: &[u8]) {
        let mut key = (num << 3) | wire;
        loop {
            let b = (key & 0x7f) as u8;
            key >>= 7;
            out.push(if key == 0 { b } else { b | 0x80 });
            if key == 0 {
                break;
            }
        }
        if wire == 2 {
            let mut n = payload.len() as u64;
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                out.push(if n == 0 { b } else { b | 0x80 });
                if n == 0 {
                    break;
                }
            }
        }
        out.extend_from_slice(payload);
    }

    fn model(pieces: &[(&str, f32, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, score, kind) in pieces {
            let mut m = Vec::new();
            field(&mut m, 1, 2, p.as_bytes());
            field(&mut m, 2, 5, &score.to_le_bytes());
            field(&mut m, 3, 0, &[*kind]);
            field(&mut out, 1, 2, &m);
        }
        out
    }

    fn toy() -> SentencePiece {
        SentencePiece::from_bytes(&model(&[
            ("<unk>", 0.0, 2),
            ("<s>", 0.0, 3),
            ("</s>", 0.0, 3),
            ("\u{2581}", -2.0, 1),
            ("\u{2581}ab", -1.0, 1),
            ("a", -3.0, 1),
            ("b", -3.0, 1),
            ("c", -3.5, 1),
            ("\u{2581}abc", -5.0, 1),
        ]))
        .unwrap()
    }

    #[test]
    fn viterbi_picks_the_best_segmentation() {
        let sp = toy();
        // ▁ab + c (-4.5) beats ▁abc (-5.0).
        assert_eq!(sp.encode("abc"), ["\u{2581}ab", "c"]);
        assert_eq!(sp.encode("  ab   ab "), ["\u{2581}ab", "\u{2581}ab"]);
        assert!(sp.encode("   ").is_empty());
        assert!(sp.encode("").is_empty());
    }

    #[test]
    fn unknown_runs_are_merged() {
        let sp = toy();
        assert_eq!(
            sp.encode("axyz b"),
            ["\u{2581}", "a", "xyz", "\u{2581}", "b"]
        );
    }

    #[test]
    fn decode_drops_the_dummy_prefix() {
        let sp = toy();
        assert_eq!(
            sp.decode_pieces(&["\u{2581}ab", "c", "\u{2581}ab"]),
            "abc ab"
        );
        assert_eq!(sp.decode_pieces(&["</s>", "\u{2581}ab"]), "ab");
    }

    #[test]
    fn corrupt_models_are_errors_not_panics() {
        let good = model(&[("<unk>", 0.0, 2), ("a", -1.0, 1)]);
        for cut in 0..good.len() {
            let _ = SentencePiece::from_bytes(&good[..cut]);
        }
        assert!(SentencePiece::from_bytes(b"\xff\xff\xff").is_err());
        assert!(SentencePiece::from_bytes(&model(&[("a", -1.0, 1)])).is_err());
        // A charsmap whose trie points outside itself.
        let mut m = good.clone();
        let mut norm = Vec::new();
        field(
            &mut norm,
            2,
            2,
            &[8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4],
        );
        field(&mut m, 3, 2, &norm);
        let sp = SentencePiece::from_bytes(&m).unwrap();
        assert_eq!(sp.encode("a"), ["\u{2581}", "a"]);
    }
}
