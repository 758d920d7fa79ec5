//! The terminology glossary: Indonesian news words that small models get wrong ("mata-mata" read as
//! "proxy", "diusir" as "deported"), with their English.
//!
//! The built-in list is `prompts/glossary.tsv`, embedded at build time; `--glossary FILE` adds entries or
//! replaces those with the same Indonesian (an English of `-` removes one). Only the entries whose
//! words occur in the text at hand become hints in a prompt, in the order they first occur, capped, so a
//! prompt stays short and the lead's words come first.
//!
//! Indonesian builds words with affixes, so a base word matches its derived forms: `usir` (expel)
//! matches `diusir`, `mengusir`, `usirnya`; `tuduh` matches `menuduh` (the nasal prefix swallows the
//! `t`); `mata-mata` matches `memata-matai`; `negara` would match `negara-negara`. Where several
//! entries fit a word, the one that needs the least stripping wins (`dibandingkan` is "compare", from
//! `bandingkan`, not "appeal", from `banding`), and a phrase wins over its single words.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::PromptError;

const BUILTIN: &str = include_str!("../../prompts/glossary.tsv");

/// Derived forms must keep at least this many letters of stem: shorter stems match too much by chance.
const MIN_STEM: usize = 4;

/// An Indonesian → English term list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Glossary {
    /// Indonesian (lowercase words joined by one space) → English.
    entries: HashMap<String, String>,
    /// Longest entry in words.
    max_words: usize,
    /// The first words of multi-word entries (`unjuk`, `daftar pencarian`), so a phrase search stops
    /// as soon as no entry can follow.
    prefixes: HashSet<String>,
}

/// One glossary entry found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The words as the text has them (lowercase), e.g. `diusir`.
    pub found: String,
    /// The glossary entry they matched, e.g. `usir`.
    pub indonesian: String,
    pub english: String,
}

impl Glossary {
    /// The built-in glossary.
    pub fn builtin() -> Glossary {
        let mut g = Glossary::default();
        // The built-in file is checked by a unit test; a bad line there cannot reach a user.
        if let Ok(entries) = parse(BUILTIN, "built-in prompts/glossary.tsv") {
            g.apply(entries);
        }
        g
    }

    /// The built-in glossary (unless `builtin` is false) extended by each file in turn.
    pub fn load(files: &[impl AsRef<Path>], builtin: bool) -> Result<Glossary, PromptError> {
        let mut g = if builtin {
            Glossary::builtin()
        } else {
            Glossary::default()
        };
        for file in files {
            let path = file.as_ref();
            let text =
                std::fs::read_to_string(path).map_err(|source| PromptError::ReadGlossary {
                    path: path.to_path_buf(),
                    source,
                })?;
            g.apply(parse(&text, &path.display().to_string())?);
        }
        Ok(g)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add entries; `None` removes the entry.
    fn apply(&mut self, entries: Vec<(String, Option<String>)>) {
        for (id, en) in entries {
            match en {
                Some(en) => {
                    self.entries.insert(id, en);
                }
                None => {
                    self.entries.remove(&id);
                }
            }
        }
        self.max_words = self
            .entries
            .keys()
            .map(|k| k.split(' ').count())
            .max()
            .unwrap_or(0);
        self.prefixes = self
            .entries
            .keys()
            .flat_map(|k| {
                let words: Vec<&str> = k.split(' ').collect();
                (1..words.len())
                    .map(|n| words[..n].join(" "))
                    .collect::<Vec<_>>()
            })
            .collect();
    }

    /// The entries that occur in `text`, in order of first occurrence, at most `cap`.
    pub fn hints(&self, text: &str, cap: usize) -> Vec<Hint> {
        if self.entries.is_empty() || cap == 0 {
            return Vec::new();
        }
        let words = words(text);
        let forms: Vec<Vec<String>> = words.iter().map(|w| forms(w)).collect();
        let mut hints: Vec<Hint> = Vec::new();
        let mut i = 0;
        while i < words.len() && hints.len() < cap {
            match self.best_at(&words, &forms, i) {
                Some((len, indonesian)) => {
                    if !hints.iter().any(|h| h.indonesian == indonesian) {
                        hints.push(Hint {
                            found: words[i..i + len].join(" "),
                            english: self.entries[&indonesian].clone(),
                            indonesian,
                        });
                    }
                    i += len;
                }
                None => i += 1,
            }
        }
        hints
    }

    /// The best entry starting at word `i`: its length in words and its Indonesian. More words beat
    /// fewer; then the form that needed less stripping (the word itself first).
    fn best_at(
        &self,
        words: &[String],
        forms: &[Vec<String>],
        i: usize,
    ) -> Option<(usize, String)> {
        let longest = self.max_words.min(words.len() - i);
        for len in (1..=longest).rev() {
            let mut key = String::new();
            if let Some(k) = self.phrase(forms, i, len, &mut key) {
                return Some((len, k));
            }
        }
        None
    }

    /// An entry made of one form of each of words `i..i+len` (tried in order of preference).
    fn phrase(
        &self,
        forms: &[Vec<String>],
        i: usize,
        len: usize,
        key: &mut String,
    ) -> Option<String> {
        let base = key.len();
        for form in &forms[i] {
            key.truncate(base);
            if base > 0 {
                key.push(' ');
            }
            key.push_str(form);
            if len == 1 {
                if self.entries.contains_key(key.as_str()) {
                    return Some(key.clone());
                }
            } else if self.prefixes.contains(key.as_str()) {
                if let Some(k) = self.phrase(forms, i + 1, len - 1, key) {
                    return Some(k);
                }
            }
        }
        key.truncate(base);
        None
    }
}

/// The hints as prompt lines: `- mata-mata = spy, spies`, or `- diusir (usir) = expel` where the text
/// has a derived form. Empty when there are none.
pub fn render(hints: &[Hint]) -> String {
    hints
        .iter()
        .map(|h| {
            if h.found == h.indonesian {
                format!("- {} = {}", h.found, h.english)
            } else {
                format!("- {} ({}) = {}", h.found, h.indonesian, h.english)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parse a glossary file: `indonesian<TAB>english` lines, `#` comments, blank lines ignored.
fn parse(text: &str, file: &str) -> Result<Vec<(String, Option<String>)>, PromptError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let syntax = |message: &str| PromptError::Syntax {
            file: file.to_string(),
            line: i + 1,
            message: message.to_string(),
        };
        let Some((id, en)) = line.split_once('\t') else {
            return Err(syntax(
                "expected the Indonesian, a tab, then the English (a glossary line has one tab)",
            ));
        };
        let id = words(id).join(" ");
        let en = en.trim();
        if id.is_empty() {
            return Err(syntax("the Indonesian before the tab is empty"));
        }
        if en.is_empty() || en.contains('\t') {
            return Err(syntax(
                "the English after the tab is empty or has another tab; write `-` to remove an entry",
            ));
        }
        out.push((id, (en != "-").then(|| en.to_string())));
    }
    Ok(out)
}

/// Lowercase words of `text`: letters, with hyphens inside a word kept (`mata-mata`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphabetic() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The word itself, then the stems it may be derived from, longest (least stripped) first.
pub(crate) fn forms(word: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![word.to_string()];
    let push = |f: String, out: &mut Vec<String>| {
        if f.chars().count() >= MIN_STEM && !out.contains(&f) {
            out.push(f);
        }
    };
    for stem in std::iter::once(word.to_string()).chain(stems(word)) {
        // Reduplication: `negara-negara` → `negara` (also after affixes: `memata-matai` → `mata-mata`
        // is itself an entry, `mata`-style halves are tried after it).
        push(stem.clone(), &mut out);
        if let Some((a, b)) = stem.split_once('-') {
            if a == b || stems(b).iter().any(|s| s == a) {
                push(a.to_string(), &mut out);
            }
        }
    }
    let first = out.remove(0);
    out.sort_by_key(|f| std::cmp::Reverse(f.chars().count()));
    out.insert(0, first);
    out
}

/// Stems `word` may be derived from by Indonesian prefixes and suffixes (not including `word`).
fn stems(word: &str) -> Vec<String> {
    const PARTICLES: &[&str] = &["lah", "kah", "pun", "tah"];
    const POSSESSIVES: &[&str] = &["nya", "ku", "mu"];
    let mut bases: Vec<String> = vec![word.to_string()];
    for layer in [PARTICLES, POSSESSIVES] {
        let mut next = bases.clone();
        for b in &bases {
            for s in layer {
                if let Some(r) = b.strip_suffix(s) {
                    next.push(r.to_string());
                }
            }
        }
        bases = next;
    }
    let mut out = Vec::new();
    for b in &bases {
        // Derivational suffixes: -kan and -an alone; -i only with a prefix (`kursi` is not `kurs` + -i).
        let mut with_suffix: Vec<(String, bool)> = vec![(b.clone(), true)];
        for s in ["kan", "an"] {
            if let Some(r) = b.strip_suffix(s) {
                with_suffix.push((r.to_string(), true));
            }
        }
        if let Some(r) = b.strip_suffix('i') {
            with_suffix.push((r.to_string(), false));
        }
        for (s, alone) in with_suffix {
            if alone {
                out.push(s.clone());
            }
            for p in unprefixed(&s) {
                out.push(p.clone());
                out.extend(unprefixed(&p));
            }
        }
    }
    out.retain(|s| s != word);
    out.dedup();
    out
}

/// `word` without one prefix, with the consonant a nasal prefix replaced put back: `menuduh` → `uduh`,
/// `tuduh`; `menyuap` → `yuap`, `suap`; `memukul` → `pukul`; `mengirim` → `kirim`.
fn unprefixed(word: &str) -> Vec<String> {
    const PREFIXES: &[&str] = &[
        "di", "ke", "se", "ter", "ber", "be", "per", "pe", "me", "mem", "men", "meng", "meny",
        "menge", "pem", "pen", "peng", "peny", "penge",
    ];
    let mut out = Vec::new();
    for p in PREFIXES {
        let Some(rest) = word.strip_prefix(p) else {
            continue;
        };
        if rest.chars().count() < 3 {
            continue;
        }
        out.push(rest.to_string());
        let starts_vowel = rest.starts_with(['a', 'e', 'i', 'o', 'u']);
        let restored = match *p {
            "meny" | "peny" if starts_vowel => Some('s'),
            "mem" | "pem" if starts_vowel => Some('p'),
            "men" | "pen" if starts_vowel => Some('t'),
            "meng" | "peng" if starts_vowel => Some('k'),
            _ => None,
        };
        if let Some(c) = restored {
            out.push(format!("{c}{rest}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glossary(text: &str) -> Glossary {
        let mut g = Glossary::default();
        g.apply(parse(text, "test").unwrap());
        g
    }

    fn found(g: &Glossary, text: &str) -> Vec<(String, String)> {
        g.hints(text, 50)
            .into_iter()
            .map(|h| (h.found, h.indonesian))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_builtin_glossary_parses_and_has_no_duplicates() {
        let entries = parse(BUILTIN, "built-in").unwrap();
        assert!(entries.len() > 300, "{}", entries.len());
        let mut seen = std::collections::HashSet::new();
        for (id, en) in &entries {
            assert!(seen.insert(id.clone()), "duplicate entry {id}");
            assert!(en.is_some(), "{id}: the built-in list removes nothing");
        }
        assert_eq!(Glossary::builtin().len(), entries.len());
    }

    #[test]
    fn affixed_forms_match_their_base_word() {
        let g = glossary("usir\texpel\ntuduh\taccuse\nsuap\tbribe\nmata-mata\tspy\nkecam\tcondemn\nsahkan\tpass\n");
        assert_eq!(
            found(
                &g,
                "Delapan delegasinya diusir karena dituduh sebagai mata-mata."
            ),
            pairs(&[
                ("diusir", "usir"),
                ("dituduh", "tuduh"),
                ("mata-mata", "mata-mata")
            ])
        );
        assert_eq!(
            found(
                &g,
                "Mereka menuduh, mengusir, menyuap, mengecam dan memata-matai."
            ),
            pairs(&[
                ("menuduh", "tuduh"),
                ("mengusir", "usir"),
                ("menyuap", "suap"),
                ("mengecam", "kecam"),
                ("memata-matai", "mata-mata"),
            ])
        );
        // Suffixes, particles and possessives; the same entry is hinted once.
        assert_eq!(
            found(&g, "Tuduhannya, usirlah, disahkan, tuduhan."),
            pairs(&[
                ("tuduhannya", "tuduh"),
                ("usirlah", "usir"),
                ("disahkan", "sahkan")
            ])
        );
    }

    #[test]
    fn reduplication_matches_the_single_word() {
        let g = glossary("negara\tcountry\n");
        assert_eq!(
            found(&g, "negara-negara dan negara-negaranya"),
            pairs(&[("negara-negara", "negara")])
        );
    }

    #[test]
    fn the_least_stripped_entry_and_phrases_win() {
        let g = glossary(
            "banding\tappeal\nbandingkan\tcompare\nunjuk rasa\tprotest\npengunjuk rasa\tprotester\nrasa\ttaste\n",
        );
        assert_eq!(
            found(
                &g,
                "Harga dibandingkan tahun lalu; jaksa mengajukan banding."
            ),
            pairs(&[("dibandingkan", "bandingkan"), ("banding", "banding")])
        );
        assert_eq!(
            found(&g, "Para pengunjuk rasa menggelar unjuk rasa."),
            pairs(&[
                ("pengunjuk rasa", "pengunjuk rasa"),
                ("unjuk rasa", "unjuk rasa")
            ])
        );
        // A phrase also matches with an affixed first word when it has no entry of its own.
        let g = glossary("unjuk rasa\tprotest\n");
        assert_eq!(
            found(&g, "berunjuk rasa"),
            pairs(&[("berunjuk rasa", "unjuk rasa")])
        );
    }

    #[test]
    fn chance_resemblances_do_not_match() {
        let g = glossary("kurs\texchange rate\nbui\tjail\nusir\texpel\n");
        // -i needs a prefix; stems shorter than four letters match only as whole words.
        assert!(found(&g, "Kursi DPR dan pembuian").is_empty());
        assert!(found(&g, "Kurusir").is_empty());
        assert_eq!(found(&g, "di bui"), pairs(&[("bui", "bui")]));
    }

    #[test]
    fn hints_are_capped_in_order_of_occurrence_and_rendered() {
        let g = glossary("usir\texpel\nmata-mata\tspy, spies\nsuap\tbribe\n");
        let h = g.hints("Suap. Mereka diusir sebagai mata-mata.", 2);
        assert_eq!(h.len(), 2);
        assert_eq!(render(&h), "- suap = bribe\n- diusir (usir) = expel");
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn user_files_extend_override_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.tsv");
        std::fs::write(
            &file,
            "# mine\nmata-mata\tspies\nkpk\tKPK anti-graft agency\r\nsuap\t-\n",
        )
        .unwrap();
        let g = Glossary::load(&[&file], true).unwrap();
        let h = g.hints("KPK menyelidiki suap oleh mata-mata.", 10);
        assert_eq!(
            render(&h),
            "- kpk = KPK anti-graft agency\n- mata-mata = spies"
        );
        assert_eq!(Glossary::builtin().len() - 1, g.len());
        // Without the built-in list only the file's entries are there.
        assert_eq!(Glossary::load(&[&file], false).unwrap().len(), 2);
    }

    #[test]
    fn bad_glossary_lines_name_the_file_and_line() {
        let e = parse("# ok\nmata-mata spy\n", "g.tsv").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("g.tsv, line 2") && msg.contains("tab"),
            "{msg}"
        );
        let e = parse("usir\t\n", "g.tsv").unwrap_err();
        assert!(e.to_string().contains("line 1"));
        let e = Glossary::load(&[Path::new("/nonexistent/g.tsv")], true).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/g.tsv"));
    }
}
