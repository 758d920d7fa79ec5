//! Fact checks shared by translation and summaries (numbers, dates, names).
//!
//! The faithfulness guard: every number and every capitalised name in an English summary must be
//! supported by the Indonesian source or its English translation (entity and number precision, as in
//! Nan et al. 2021).
//!
//! Numbers are compared by value, not by spelling: `1.200`, `1,200`, `1200`, `1.2 thousand` and
//! `seribu dua ratus` are one number; `3,5` is `3.5`; `delapan` and `eight` are `8`; `Rp 60 M` and
//! `60 billion rupiah` are `60e9`; `18/10/2021` supports `October 18, 2021`. Where a spelling is ambiguous
//! (`1.200` is 1200 in Indonesian and 1.2 in English) every reading counts. The source side is lenient
//! (a scaled number also supports its bare figure), the checked side strict, so "60 million" is caught
//! against "60 miliar".
//!
//! The same number normaliser checks translations paragraph by paragraph: [`number_mismatches`].

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;

/// What one number mention can stand for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    Quantity(f64),
    /// A month, from a month name in either language or the middle of a `dd/mm/yyyy` date.
    Month(u8),
    /// A time of day in minutes (`09:20`, `09.20 WIB`), so that it supports no count.
    Time(u16),
}

impl NumberValue {
    fn same(self, other: NumberValue) -> bool {
        match (self, other) {
            (NumberValue::Quantity(a), NumberValue::Quantity(b)) => {
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
            }
            (NumberValue::Month(a), NumberValue::Month(b)) => a == b,
            (NumberValue::Time(a), NumberValue::Time(b)) => a == b,
            _ => false,
        }
    }
}

/// A number as written in a text, with the values it can stand for.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberMention {
    /// As written, e.g. `Rp 60 M`, `1.200`, `delapan`, `Oktober`.
    pub text: String,
    /// Every reading of the mention.
    pub values: Vec<NumberValue>,
    /// Further values the mention supports when it is on the source side (the bare figure of `60 miliar`).
    pub loose: Vec<NumberValue>,
}

impl NumberMention {
    /// Whether some mention in `support` stands for one of this mention's values.
    fn supported_by(&self, support: &[NumberMention]) -> bool {
        self.values.iter().any(|v| {
            support
                .iter()
                .any(|s| s.values.iter().chain(&s.loose).any(|w| v.same(*w)))
        })
    }
}

/// What the guard found unsupported in a summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub unsupported_numbers: Vec<String>,
    pub unsupported_names: Vec<String>,
}

impl Findings {
    pub fn is_clean(&self) -> bool {
        self.unsupported_numbers.is_empty() && self.unsupported_names.is_empty()
    }

    /// Everything unsupported, numbers first.
    pub fn items(&self) -> Vec<String> {
        self.unsupported_numbers
            .iter()
            .chain(&self.unsupported_names)
            .cloned()
            .collect()
    }
}

/// Check `summary` against `sources` (the Indonesian article and, when there is one, its translation).
pub fn check(summary: &str, sources: &[&str]) -> Findings {
    let support: Vec<NumberMention> = sources.iter().flat_map(|s| numbers(s)).collect();
    let mut unsupported_numbers = Vec::new();
    for m in numbers(summary) {
        if !m.supported_by(&support) && !unsupported_numbers.contains(&m.text) {
            unsupported_numbers.push(m.text);
        }
    }
    Findings {
        unsupported_numbers,
        unsupported_names: unsupported_names(summary, sources),
    }
}

/// Numbers of a source paragraph that its translation lacks (`missing 1.200`) and numbers the translation
/// has that the source does not (`added 1,500`). Empty when they agree.
pub fn number_mismatches(source: &str, target: &str) -> Vec<String> {
    let src = numbers(source);
    let tgt = numbers(target);
    let mut out = Vec::new();
    for m in &src {
        let item = format!("missing {}", m.text);
        if !m.supported_by(&tgt) && !out.contains(&item) {
            out.push(item);
        }
    }
    for m in &tgt {
        let item = format!("added {}", m.text);
        if !m.supported_by(&src) && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Date,
    Time,
    Num,
    Word,
    /// A sentence boundary.
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    kind: Kind,
    start: usize,
    end: usize,
}

fn token_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?P<date>\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b)",
            r"|(?P<time>\b\d{1,2}:\d{2}\b|\b\d{1,2}\.\d{2}\s*(?:WIB|WITA|WIT)\b)",
            r"|(?P<num>\d+(?:[.,]\d+)*)",
            r"|(?P<word>\p{L}+(?:['’]\p{L}+)*)",
            r"|(?P<end>[.!?;:]+(?:\s|$)|\n)",
        ))
        .expect("valid regex")
    })
}

/// `U.S.` and friends would otherwise read as sentence ends.
fn normalise_abbreviations(text: &str) -> String {
    text.replace("U.S.", "US")
        .replace("U.K.", "UK")
        .replace("U.N.", "UN")
        .replace("E.U.", "EU")
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    token_regex()
        .captures_iter(text)
        .filter_map(|c| {
            let (kind, m) = if let Some(m) = c.name("date") {
                (Kind::Date, m)
            } else if let Some(m) = c.name("time") {
                (Kind::Time, m)
            } else if let Some(m) = c.name("num") {
                (Kind::Num, m)
            } else if let Some(m) = c.name("word") {
                (Kind::Word, m)
            } else {
                (Kind::End, c.name("end")?)
            };
            Some(Token {
                text: m.as_str(),
                kind,
                start: m.start(),
                end: m.end(),
            })
        })
        .collect()
}

/// Scale words after a figure: `3,5 juta`, `60 M`, `1.2 billion`.
fn scale(word: &str) -> Option<&'static [f64]> {
    // Case matters for the one-letter forms: "M" is miliar (Indonesian money) or million, "m" is metres.
    Some(match word {
        "M" => &[1e6, 1e9],
        "T" => &[1e12],
        _ => match word.to_lowercase().as_str() {
            "ribu" | "rb" | "thousand" => &[1e3],
            "juta" | "jt" | "million" | "mln" => &[1e6],
            "miliar" | "milyar" | "billion" | "bn" => &[1e9],
            "triliun" | "trilyun" | "trillion" | "tn" => &[1e12],
            _ => return None,
        },
    })
}

/// A number word: its value and how it combines (`Unit` adds, `Mul` multiplies the running group,
/// `Scale` closes a group, `Teen` adds ten as in `dua belas`).
#[derive(Debug, Clone, Copy)]
enum NumberWord {
    Unit(f64),
    Mul(f64),
    Teen,
    Scale(f64),
}

fn number_word(word: &str) -> Option<NumberWord> {
    use NumberWord::*;
    static WORDS: OnceLock<HashMap<&'static str, NumberWord>> = OnceLock::new();
    let map = WORDS.get_or_init(|| {
        let mut m = HashMap::new();
        let en = [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ];
        for (i, w) in en.iter().enumerate() {
            m.insert(*w, Unit(i as f64));
        }
        let tens = [
            "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        ];
        for (i, w) in tens.iter().enumerate() {
            m.insert(*w, Unit(20.0 + 10.0 * i as f64));
        }
        let id = [
            "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
        ];
        for (i, w) in id.iter().enumerate() {
            m.insert(*w, Unit(i as f64));
        }
        m.insert("sepuluh", Unit(10.0));
        m.insert("sebelas", Unit(11.0));
        m.insert("seratus", Unit(100.0));
        m.insert("belas", Teen);
        m.insert("puluh", Mul(10.0));
        m.insert("ratus", Mul(100.0));
        m.insert("hundred", Mul(100.0));
        m.insert("seribu", Scale(1e3));
        m.insert("sejuta", Scale(1e6));
        for w in ["ribu", "thousand"] {
            m.insert(w, Scale(1e3));
        }
        for w in ["juta", "million"] {
            m.insert(w, Scale(1e6));
        }
        for w in ["miliar", "milyar", "billion"] {
            m.insert(w, Scale(1e9));
        }
        for w in ["triliun", "trilyun", "trillion"] {
            m.insert(w, Scale(1e12));
        }
        m
    });
    map.get(word.to_lowercase().as_str()).copied()
}

/// Month number of an English or Indonesian month name (capitalised, as months are in both languages).
fn month(word: &str) -> Option<u8> {
    const NAMES: [(&str, &str); 12] = [
        ("January", "Januari"),
        ("February", "Februari"),
        ("March", "Maret"),
        ("April", "April"),
        ("May", "Mei"),
        ("June", "Juni"),
        ("July", "Juli"),
        ("August", "Agustus"),
        ("September", "September"),
        ("October", "Oktober"),
        ("November", "November"),
        ("December", "Desember"),
    ];
    NAMES
        .iter()
        .position(|(en, id)| {
            word == *en || word == *id || (*en == "February" && word == "Pebruari")
        })
        .map(|i| i as u8 + 1)
}

/// The readings of a written figure: `1.200` is 1200 or 1.2, `3,5` is 3.5, `1.200.000` is 1200000.
fn figure_values(text: &str) -> Vec<f64> {
    let parse = |s: &str| s.parse::<f64>().ok();
    let groups: Vec<&str> = text.split(['.', ',']).collect();
    let seps: Vec<char> = text.chars().filter(|c| *c == '.' || *c == ',').collect();
    match seps.len() {
        0 => parse(text).into_iter().collect(),
        1 => {
            let (int, frac) = (groups[0], groups[1]);
            let decimal = parse(&format!("{int}.{frac}"));
            let thousands = (frac.len() == 3 && !int.starts_with('0') && int.len() <= 3)
                .then(|| parse(&format!("{int}{frac}")))
                .flatten();
            thousands.into_iter().chain(decimal).collect()
        }
        _ => {
            let last = *seps.last().unwrap_or(&'.');
            let grouped = |gs: &[&str]| gs.iter().skip(1).all(|g| g.len() == 3) && gs[0].len() <= 3;
            if seps.iter().all(|c| *c == seps[0]) && grouped(&groups) {
                // 1.200.000 or 1,200,000
                parse(&groups.concat()).into_iter().collect()
            } else if seps[..seps.len() - 1].iter().all(|c| *c != last)
                && grouped(&groups[..groups.len() - 1])
            {
                // 1.200,50 or 1,200.50
                let int = groups[..groups.len() - 1].concat();
                parse(&format!("{int}.{}", groups[groups.len() - 1]))
                    .into_iter()
                    .collect()
            } else {
                // Version numbers and the like: each group on its own.
                Vec::new()
            }
        }
    }
}

/// Every number mention in `text`, in order.
pub fn numbers(text: &str) -> Vec<NumberMention> {
    let text = normalise_abbreviations(text);
    let toks = tokens(&text);
    let mut out = Vec::new();
    let mut i = 0;
    let q = NumberValue::Quantity;
    while i < toks.len() {
        let t = toks[i];
        match t.kind {
            Kind::Date => {
                let parts: Vec<u32> = t
                    .text
                    .split(['/', '-'])
                    .filter_map(|p| p.parse().ok())
                    .collect();
                out.extend(date_mentions(&parts));
                i += 1;
            }
            Kind::Time => {
                let digits: Vec<u16> = t
                    .text
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|p| p.parse().ok())
                    .collect();
                if let [h, m, ..] = digits[..] {
                    out.push(mention(t.text, vec![NumberValue::Time(h * 60 + m)], vec![]));
                }
                i += 1;
            }
            Kind::Num => {
                let base = figure_values(t.text);
                if base.is_empty() {
                    for g in t.text.split(['.', ',']) {
                        if let Ok(v) = g.parse::<f64>() {
                            out.push(mention(g, vec![q(v)], vec![]));
                        }
                    }
                    i += 1;
                    continue;
                }
                // A scale word right after the figure ("60 M", "3,5 juta"), or glued to it ("5bn").
                let next = toks.get(i + 1).filter(|n| n.kind == Kind::Word);
                if let Some((n, factors)) = next.and_then(|n| scale(n.text).map(|f| (n, f))) {
                    let values = base
                        .iter()
                        .flat_map(|b| factors.iter().map(move |f| q(b * f)))
                        .collect();
                    let loose = base.iter().map(|b| q(*b)).collect();
                    out.push(mention(&text[t.start..n.end], values, loose));
                    i += 2;
                } else {
                    out.push(mention(t.text, base.into_iter().map(q).collect(), vec![]));
                    i += 1;
                }
            }
            Kind::Word => {
                if let Some(m) = month(t.text) {
                    // "May" at the start of a sentence is more likely the verb.
                    let sentence_start = i == 0 || toks[i - 1].kind == Kind::End;
                    if !(t.text == "May" && sentence_start) {
                        out.push(mention(t.text, vec![NumberValue::Month(m)], vec![]));
                    }
                    i += 1;
                    continue;
                }
                // Number words run on only across spaces and hyphens: "eight, nine" is two numbers.
                let joined = |j: usize| {
                    j == i || matches!(text[toks[j - 1].end..toks[j].start].trim(), "" | "-")
                };
                let run_end = (i..toks.len())
                    .find(|&j| {
                        toks[j].kind != Kind::Word
                            || number_word(toks[j].text).is_none()
                            || !joined(j)
                    })
                    .unwrap_or(toks.len());
                if run_end == i {
                    i += 1;
                    continue;
                }
                let words: Vec<&str> = toks[i..run_end].iter().map(|t| t.text).collect();
                // A lone "one"/"satu" is mostly a pronoun or "one of"; not a figure worth checking.
                let lone_one = words.len() == 1
                    && matches!(
                        words[0].to_lowercase().as_str(),
                        "one" | "satu" | "nol" | "zero"
                    );
                if !lone_one {
                    if let Some(v) = words_value(&words) {
                        out.push(mention(
                            &text[t.start..toks[run_end - 1].end],
                            vec![q(v)],
                            vec![],
                        ));
                    }
                }
                i = run_end;
            }
            Kind::End => i += 1,
        }
    }
    out
}

fn mention(text: &str, values: Vec<NumberValue>, loose: Vec<NumberValue>) -> NumberMention {
    NumberMention {
        text: text.to_string(),
        values,
        loose,
    }
}

/// `18/10/2021` (day first, as in Indonesian), `2021-10-18`, or `18/10` without a year. When day and
/// month could be swapped (both ≤ 12) both readings count.
fn date_mentions(parts: &[u32]) -> Vec<NumberMention> {
    use NumberValue::{Month, Quantity};
    let (day, mon, year) = match *parts {
        [y, m, d] if y > 31 => (d, m, Some(y)),
        [a, b, y] => (a, b, Some(y)),
        [a, b] => (a, b, None),
        _ => return Vec::new(),
    };
    let (day, mon) = if mon > 12 && day <= 12 {
        (mon, day)
    } else {
        (day, mon)
    };
    let ambiguous = day <= 12 || year.is_none();
    let mut day_values = vec![Quantity(f64::from(day))];
    let mut mon_values = vec![Month(mon as u8)];
    if ambiguous {
        // Without a year "18/10" might be a score or a fraction; swapped readings for 05/06/2021.
        mon_values.push(Quantity(f64::from(mon)));
        if day <= 12 {
            day_values.push(Month(day as u8));
        }
    }
    let mut out = vec![
        mention(&day.to_string(), day_values, vec![]),
        mention(&mon.to_string(), mon_values, vec![]),
    ];
    if let Some(y) = year {
        let y = if y < 100 { 2000 + y } else { y };
        out.push(mention(
            &y.to_string(),
            vec![Quantity(f64::from(y))],
            vec![],
        ));
    }
    out
}

/// The value of a run of number words: "dua puluh lima" = 25, "twenty five" = 25, "seratus ribu" =
/// 100000, "three hundred" = 300, "dua belas" = 12.
fn words_value(words: &[&str]) -> Option<f64> {
    let mut total = 0.0;
    let mut group = 0.0;
    let mut seen = false;
    for w in words {
        match number_word(w)? {
            NumberWord::Unit(v) => {
                group += v;
                seen = true;
            }
            NumberWord::Mul(f) => {
                group = if group == 0.0 { f } else { group * f };
                seen = true;
            }
            NumberWord::Teen => group += 10.0,
            NumberWord::Scale(f) => {
                total += if group == 0.0 { f } else { group * f };
                group = 0.0;
                seen = true;
            }
        }
    }
    seen.then_some(total + group)
}

// ---------------------------------------------------------------------------------------------------
// Names

/// English names and the Indonesian (or other English) forms that support them. Keys are lowercase;
/// multi-word keys are matched as phrases in the summary before single words.
const EXONYMS: &[(&str, &[&str])] = &[
    ("united states", &["amerika serikat", "as", "amerika", "us"]),
    (
        "united nations",
        &["perserikatan bangsa-bangsa", "pbb", "un"],
    ),
    ("european union", &["uni eropa", "ue", "eu"]),
    ("united kingdom", &["inggris", "britania raya", "uk"]),
    ("saudi arabia", &["arab saudi"]),
    ("new zealand", &["selandia baru"]),
    ("middle east", &["timur tengah"]),
    ("south korea", &["korea selatan"]),
    ("north korea", &["korea utara"]),
    ("south africa", &["afrika selatan"]),
    ("east timor", &["timor leste", "timor-leste"]),
    ("the hague", &["den haag"]),
    ("cold war", &["perang dingin"]),
    ("us", &["amerika serikat", "as", "amerika", "us"]),
    ("usa", &["amerika serikat", "as", "amerika"]),
    ("america", &["amerika serikat", "as", "amerika"]),
    ("american", &["amerika serikat", "as", "amerika"]),
    ("americans", &["amerika serikat", "as", "amerika"]),
    ("un", &["pbb", "perserikatan bangsa-bangsa"]),
    ("eu", &["uni eropa", "ue"]),
    ("uk", &["inggris", "britania raya"]),
    ("britain", &["inggris", "britania"]),
    ("british", &["inggris", "britania"]),
    ("england", &["inggris"]),
    ("english", &["inggris"]),
    ("russia", &["rusia"]),
    ("russian", &["rusia"]),
    ("russians", &["rusia"]),
    ("moscow", &["moskwa", "moskow", "moskva"]),
    ("belgium", &["belgia"]),
    ("belgian", &["belgia"]),
    ("ukraine", &["ukraina"]),
    ("ukrainian", &["ukraina"]),
    ("ukrainians", &["ukraina"]),
    ("kyiv", &["kiev", "kyiv", "kiew"]),
    ("kiev", &["kiev", "kyiv", "kiew"]),
    ("crimea", &["krimea", "krimia"]),
    ("brussels", &["brussel", "brusel", "brussels"]),
    ("netherlands", &["belanda"]),
    ("dutch", &["belanda"]),
    ("germany", &["jerman"]),
    ("german", &["jerman"]),
    ("france", &["prancis", "perancis"]),
    ("french", &["prancis", "perancis"]),
    ("japan", &["jepang"]),
    ("japanese", &["jepang"]),
    ("china", &["tiongkok", "cina", "china"]),
    ("chinese", &["tiongkok", "cina", "china"]),
    ("egypt", &["mesir"]),
    ("egyptian", &["mesir"]),
    ("turkey", &["turki"]),
    ("turkish", &["turki"]),
    ("spain", &["spanyol"]),
    ("spanish", &["spanyol"]),
    ("italy", &["italia"]),
    ("italian", &["italia"]),
    ("greece", &["yunani"]),
    ("greek", &["yunani"]),
    ("poland", &["polandia"]),
    ("polish", &["polandia"]),
    ("sweden", &["swedia"]),
    ("norway", &["norwegia"]),
    ("finland", &["finlandia"]),
    ("switzerland", &["swiss"]),
    ("philippines", &["filipina"]),
    ("filipino", &["filipina"]),
    ("singapore", &["singapura"]),
    ("canada", &["kanada"]),
    ("mexico", &["meksiko"]),
    ("brazil", &["brasil", "brazil"]),
    ("palestine", &["palestina"]),
    ("palestinian", &["palestina"]),
    ("palestinians", &["palestina"]),
    ("iraq", &["irak"]),
    ("syria", &["suriah"]),
    ("syrian", &["suriah"]),
    ("jordan", &["yordania"]),
    ("yemen", &["yaman"]),
    ("morocco", &["maroko"]),
    ("europe", &["eropa"]),
    ("european", &["eropa"]),
    ("africa", &["afrika"]),
    ("african", &["afrika"]),
    ("geneva", &["jenewa"]),
    ("cairo", &["kairo"]),
    ("mecca", &["mekah", "makkah"]),
    ("medina", &["madinah"]),
    ("jerusalem", &["yerusalem"]),
    ("lebanon", &["lebanon", "libanon"]),
    ("indonesian", &["indonesia"]),
    ("indonesians", &["indonesia"]),
    ("muslim", &["muslim", "islam"]),
    ("muslims", &["muslim", "islam"]),
    ("christian", &["kristen", "kristiani"]),
    ("catholic", &["katolik"]),
    ("pope", &["paus"]),
    ("christmas", &["natal"]),
    ("monday", &["senin"]),
    ("tuesday", &["selasa"]),
    ("wednesday", &["rabu"]),
    ("thursday", &["kamis"]),
    ("friday", &["jumat", "jum'at"]),
    ("saturday", &["sabtu"]),
    ("sunday", &["minggu", "ahad"]),
];

/// Indonesian place names a small model tends to copy into English text, with their English form.
const INDONESIAN_PLACES: &[(&str, &str)] = &[
    ("Amerika Serikat", "United States"),
    ("Arab Saudi", "Saudi Arabia"),
    ("Korea Selatan", "South Korea"),
    ("Korea Utara", "North Korea"),
    ("Selandia Baru", "New Zealand"),
    ("Timur Tengah", "Middle East"),
    ("Uni Eropa", "European Union"),
    ("Perang Dingin", "Cold War"),
    ("Den Haag", "The Hague"),
    ("Rusia", "Russia"),
    ("Moskwa", "Moscow"),
    ("Moskow", "Moscow"),
    ("Belgia", "Belgium"),
    ("Ukraina", "Ukraine"),
    ("Krimea", "Crimea"),
    ("Brussel", "Brussels"),
    ("Jerman", "Germany"),
    ("Prancis", "France"),
    ("Perancis", "France"),
    ("Jepang", "Japan"),
    ("Tiongkok", "China"),
    ("Mesir", "Egypt"),
    ("Turki", "Turkey"),
    ("Belanda", "Netherlands"),
    ("Spanyol", "Spain"),
    ("Italia", "Italy"),
    ("Yunani", "Greece"),
    ("Polandia", "Poland"),
    ("Swedia", "Sweden"),
    ("Norwegia", "Norway"),
    ("Finlandia", "Finland"),
    ("Filipina", "Philippines"),
    ("Singapura", "Singapore"),
    ("Kanada", "Canada"),
    ("Meksiko", "Mexico"),
    ("Palestina", "Palestine"),
    ("Irak", "Iraq"),
    ("Suriah", "Syria"),
    ("Yordania", "Jordan"),
    ("Yaman", "Yemen"),
    ("Maroko", "Morocco"),
    ("Eropa", "Europe"),
    ("Afrika", "Africa"),
    ("Jenewa", "Geneva"),
    ("Kairo", "Cairo"),
    ("Yerusalem", "Jerusalem"),
];

/// English text with Indonesian place names (`Rusia`, `Moskwa`, `Amerika Serikat`) in their English
/// form. Only whole capitalised words are replaced; the guard still accepts either form.
pub fn english_place_names(text: &str) -> String {
    static RE: OnceLock<(Regex, HashMap<&'static str, &'static str>)> = OnceLock::new();
    let (re, map) = RE.get_or_init(|| {
        let alternatives: Vec<String> = INDONESIAN_PLACES
            .iter()
            .map(|(id, _)| regex::escape(id))
            .collect();
        let re = Regex::new(&format!(r"\b(?:{})\b", alternatives.join("|"))).expect("valid regex");
        (re, INDONESIAN_PLACES.iter().copied().collect())
    });
    re.replace_all(text, |c: &regex::Captures| {
        map.get(&c[0]).copied().unwrap_or("").to_string()
    })
    .into_owned()
}

/// Words that are capitalised in English summaries without being names that need support: sentence
/// openers, and the common words of titles and institutions ("Foreign Minister", "Cold War").
const COMMON: &str = "
a an the this that these those it its he she they we i you his her their our my your there here
in on at by for from with without to of as after before during since until while when where why how
what which who whom whose if although though because but and or nor so yet also however meanwhile
moreover furthermore therefore thus then now today yesterday tomorrow earlier later according despite
amid among between both each every all some many most several few no not other another such only just
even still already once instead besides nevertheless overall finally first second third last next new
recently currently previously separately additionally similarly likewise indeed about around over under
through into onto upon against along across behind beyond near within per via than more less one two
let is are was were be been has have had do does did will would can could should may might must
mr mrs ms dr prof sir madam minister ministry president presidential vice prime secretary general
foreign affairs defence defense interior home state states government governor mayor regent council
committee commission parliament house senate assembly court supreme justice department agency office
party army navy air force forces military police national international federal regional central
republic democratic union alliance organization organisation treaty agreement accord pact war world
summit conference bank fund company group university institute school hospital city province district
regency village island islands river mountain lake sea ocean gulf north south east west northern
southern eastern western chief head director chairman chairwoman chair spokesperson spokesman
spokeswoman ambassador embassy consulate mission missions delegation delegate delegates representative
member members nuclear intermediate range missile missiles security cooperation development economic
economy finance financial trade health education energy environment transport transportation
communication communications information technology human rights public works religious social
intelligence service services station airport port street road avenue square palace day year month
week news breaking liaison officer officers diplomat diplomats diplomatic permanent observer attorney
prosecutor commander troops soldiers people citizens residents officials official sources source
report reports reported statement press agency minister's president's reform reforms empowerment
apparatus bureaucratic bureaucracy administration planning";

/// Frequent English words that are never proper nouns (built by scripts/english-words.py).
fn english_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| include_str!("english-words.txt").lines().collect())
}

fn common_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.split_whitespace().collect())
}

/// Capitalised words of `summary` that neither the sources nor a known exonym support.
fn unsupported_names(summary: &str, sources: &[&str]) -> Vec<String> {
    let summary = normalise_abbreviations(summary);
    let sources: Vec<String> = sources.iter().map(|s| normalise_abbreviations(s)).collect();
    // Lowercase words of the sources, and the sources as one lowercase string for phrases.
    let mut vocab: HashSet<String> = HashSet::new();
    let mut upper: HashSet<&str> = HashSet::new();
    for s in &sources {
        for t in tokens(s) {
            if t.kind == Kind::Word {
                vocab.insert(t.text.to_lowercase());
                for part in t.text.split(['\'', '’']) {
                    vocab.insert(part.to_lowercase());
                }
                if t.text.chars().all(|c| c.is_uppercase()) {
                    upper.insert(t.text);
                }
            }
        }
    }
    let joined: String = sources
        .iter()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    let has_phrase = |phrase: &str| {
        if phrase.contains(' ') || phrase.contains('-') {
            joined.contains(phrase)
        } else if phrase.len() <= 3 {
            // Short forms (AS, US, UE, PBB) count only as capitalised acronyms in the source.
            upper.contains(phrase.to_uppercase().as_str())
        } else {
            vocab.contains(phrase)
        }
    };

    let toks = tokens(&summary);
    let words: Vec<(usize, Token)> = toks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == Kind::Word)
        .map(|(i, t)| (i, *t))
        .collect();
    let adjacent = |a: usize, b: usize| {
        words[b].0 == words[a].0 + 1
            && matches!(summary[words[a].1.end..words[b].1.start].trim(), "" | "-")
    };
    let commonish = |w: &str| {
        let lower = w.trim_end_matches("'s").to_lowercase();
        common_words().contains(lower.as_str()) || english_words().contains(lower.as_str())
    };
    // Runs of adjacent capitalised words made only of ordinary English words are titles of offices
    // and institutions ("Liaison Office", "Nuclear Forces Treaty"), not names to look for.
    let mut in_common_title = vec![false; words.len()];
    let mut w = 0;
    while w < words.len() {
        let mut e = w + 1;
        if starts_upper(words[w].1.text) {
            while e < words.len() && starts_upper(words[e].1.text) && adjacent(e - 1, e) {
                e += 1;
            }
            let all_common = (w..e).all(|k| {
                let t = words[k].1.text;
                t.chars().all(char::is_uppercase) || commonish(t)
            });
            if e - w >= 2 && all_common {
                in_common_title[w..e].fill(true);
            }
        }
        w = e;
    }

    let mut out: Vec<String> = Vec::new();
    let mut skip_until = 0;
    for (w, &(i, t)) in words.iter().enumerate() {
        if w < skip_until || !starts_upper(t.text) {
            continue;
        }
        // Multi-word exonyms first ("United States").
        if let Some((len, alternatives)) = phrase_at(&words, w) {
            skip_until = w + len;
            let phrase = &summary[t.start..words[w + len - 1].1.end];
            let supported =
                has_phrase(&phrase.to_lowercase()) || alternatives.iter().any(|a| has_phrase(a));
            if !supported && !out.iter().any(|o| o == phrase) {
                out.push(phrase.to_string());
            }
            continue;
        }
        let word = t.text.trim_end_matches("'s").trim_end_matches("’s");
        let lower = word.to_lowercase();
        if word.chars().count() < 2 || month(word).is_some() {
            continue;
        }
        // Acronyms are always checked ("US" is not "us"). The words of titles are skipped wherever
        // they stand ("Foreign Minister"); any ordinary English word is skipped at the start of a
        // sentence ("Contacts between …") and inside an all-common title; a word that is also a name
        // ("Turkey", "China") is not in the ordinary list and stays checked.
        let is_acronym = word.chars().all(|c| c.is_uppercase());
        let sentence_start = i == 0 || toks[i - 1].kind == Kind::End;
        if !is_acronym
            && (common_words().contains(lower.as_str())
                || (english_words().contains(lower.as_str())
                    && (sentence_start || in_common_title[w])))
        {
            continue;
        }
        if name_supported(&lower, &vocab, &has_phrase) {
            continue;
        }
        if !out.iter().any(|o| o == word) {
            out.push(word.to_string());
        }
    }
    out
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// A multi-word exonym starting at word `w`: its length in words and its alternatives.
fn phrase_at(words: &[(usize, Token)], w: usize) -> Option<(usize, &'static [&'static str])> {
    EXONYMS
        .iter()
        .filter(|(k, _)| k.contains(' '))
        .find_map(|(k, alts)| {
            let parts: Vec<&str> = k.split(' ').collect();
            let matches = parts.iter().enumerate().all(|(j, p)| {
                words
                    .get(w + j)
                    .is_some_and(|(_, t)| t.text.eq_ignore_ascii_case(p))
                    // The words must be adjacent (no sentence end between them).
                    && (j == 0 || words[w + j].0 == words[w + j - 1].0 + 1)
            });
            matches.then_some((parts.len(), *alts))
        })
}

/// Whether a lowercase single word is supported: present in the sources, an exonym of something
/// present, a demonym of it (Russian → Russia → Rusia), or a one-letter variant of a long source word
/// (Sergei ↔ Sergey).
fn name_supported(lower: &str, vocab: &HashSet<String>, has_phrase: &dyn Fn(&str) -> bool) -> bool {
    let mut forms = vec![lower.to_string()];
    for (suffix, replacement) in [
        ("n", ""),
        ("ian", "e"),
        ("ian", "a"),
        ("ese", "a"),
        ("ese", ""),
        ("i", ""),
        ("s", ""),
    ] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            if stem.len() >= 3 {
                forms.push(format!("{stem}{replacement}"));
            }
        }
    }
    for f in &forms {
        if vocab.contains(f.as_str()) {
            return true;
        }
        if let Some((_, alts)) = EXONYMS.iter().find(|(k, _)| k == f) {
            if alts.iter().any(|a| has_phrase(a)) {
                return true;
            }
        }
    }
    lower.chars().count() >= 6
        && vocab
            .iter()
            .any(|v| v.chars().count() >= 5 && within_one_edit(lower, v))
}

/// Levenshtein distance ≤ 1.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if short.len() == long.len() {
        prefix == short.len() || short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Vec<NumberValue>> {
        numbers(text).into_iter().map(|m| m.values).collect()
    }

    fn q(v: f64) -> NumberValue {
        NumberValue::Quantity(v)
    }

    #[test]
    fn figures_in_both_conventions() {
        assert_eq!(values("1.200"), vec![vec![q(1200.0), q(1.2)]]);
        assert_eq!(values("1,200"), vec![vec![q(1200.0), q(1.2)]]);
        assert_eq!(values("3,5"), vec![vec![q(3.5)]]);
        assert_eq!(values("0,250"), vec![vec![q(0.25)]]);
        assert_eq!(values("1.200.000"), vec![vec![q(1_200_000.0)]]);
        assert_eq!(
            values("1.200,50 dan 1,200.50"),
            vec![vec![q(1200.5)], vec![q(1200.5)]]
        );
        assert_eq!(values("in 2014."), vec![vec![q(2014.0)]]);
        assert_eq!(values("25%"), vec![vec![q(25.0)]]);
        assert_eq!(values("18th"), vec![vec![q(18.0)]]);
    }

    #[test]
    fn words_and_scales() {
        assert_eq!(values("delapan"), vec![vec![q(8.0)]]);
        assert_eq!(values("eight diplomats"), vec![vec![q(8.0)]]);
        assert_eq!(values("dua puluh lima"), vec![vec![q(25.0)]]);
        assert_eq!(values("twenty-five"), vec![vec![q(25.0)]]);
        assert_eq!(values("dua belas"), vec![vec![q(12.0)]]);
        assert_eq!(values("seratus ribu"), vec![vec![q(100_000.0)]]);
        assert_eq!(values("three hundred thousand"), vec![vec![q(300_000.0)]]);
        assert_eq!(values("Rp 3,5 juta"), vec![vec![q(3_500_000.0)]]);
        assert_eq!(values("60 M"), vec![vec![q(60e6), q(60e9)]]);
        assert_eq!(values("60 billion rupiah"), vec![vec![q(60e9)]]);
        // Lone "one"/"satu" are not figures.
        assert!(values("one of the members, salah satu anggota").is_empty());
        assert_eq!(values("5 m"), vec![vec![q(5.0)]]);
    }

    #[test]
    fn dates_and_months() {
        use NumberValue::Month;
        let m = values("Senin (18/10/2021)");
        assert_eq!(m, vec![vec![q(18.0)], vec![Month(10)], vec![q(2021.0)]]);
        assert_eq!(values("pada awal Oktober"), vec![vec![Month(10)]]);
        assert_eq!(values("early October"), vec![vec![Month(10)]]);
        assert_eq!(values("May is here"), Vec::<Vec<NumberValue>>::new());
        assert_eq!(values("2021-10-18").len(), 3);
        assert_eq!(
            values("09:20 dan 09.20 WIB"),
            vec![vec![NumberValue::Time(560)]; 2]
        );
        let f = check(
            "Lavrov expelled 9 diplomats at 9:20.",
            &["19/10/2021, 09:20 WIB"],
        );
        assert_eq!(f.unsupported_numbers, vec!["9"]);
        let src = "diumumkan pada Senin (18/10/2021) oleh Lavrov";
        assert!(check("Lavrov announced it on October 18, 2021.", &[src]).is_clean());
        assert!(check("Lavrov announced it on 18 October 2021.", &[src]).is_clean());
        // The month of a date is not a count.
        let f = check("Lavrov expelled 10 diplomats.", &[src]);
        assert_eq!(f.unsupported_numbers, vec!["10"]);
        let f = check("Lavrov announced it on November 18.", &[src]);
        assert_eq!(f.unsupported_numbers, vec!["November"]);
    }

    #[test]
    fn summary_numbers_need_support() {
        let src = "NATO mengusir delapan anggota misi Rusia. Nilainya Rp 60 M, naik 3,5 persen \
                   dari 1.200 orang.";
        let ok = "NATO expelled eight members of Russia's mission, worth 60 billion rupiah, up \
                  3.5% from 1,200 people.";
        assert!(check(ok, &[src]).is_clean(), "{:?}", check(ok, &[src]));
        let bad = check(
            "NATO expelled 9 members; the deal was worth 60 million, up 4.5%.",
            &[src],
        );
        assert_eq!(bad.unsupported_numbers, vec!["9", "4.5"]);
        // "60 million" against "60 M": M may be million, so it passes; against "60 miliar" it fails.
        let bad = check("It cost 60 million.", &["Biayanya 60 miliar."]);
        assert_eq!(bad.unsupported_numbers, vec!["60 million"]);
        assert!(check("It cost 60 billion.", &["Biayanya 60 miliar."]).is_clean());
    }

    #[test]
    fn translation_number_mismatches() {
        assert!(number_mismatches(
            "Sebanyak 1.200 orang dan delapan diplomat, 3,5 persen.",
            "A total of 1,200 people and 8 diplomats, 3.5 percent."
        )
        .is_empty());
        assert_eq!(
            number_mismatches("Sebanyak 1.200 orang hadir.", "About 1,500 people came."),
            vec!["missing 1.200", "added 1,500"]
        );
        assert!(number_mismatches(
            "Langkah itu diumumkan pada Senin (18/10/2021).",
            "The step was announced on Monday (October 18, 2021)."
        )
        .is_empty());
        assert!(number_mismatches("Rp 60 M", "60 billion rupiah").is_empty());
    }

    const NATO: &str = "MOSKWA, KOMPAS.com - Rusia menghentikan aktivitas misi diplomasi dengan NATO, \
        setelah 8 delegasinya diusir dari Brussels. Menteri Luar Negeri Rusia Sergey Lavrov mengatakan \
        kontak dapat dilakukan melalui kedutaan Rusia di Belgia. Aliansi yang dipimpin Amerika Serikat. \
        Aneksasi Moskow atas Krimea dari Ukraina pada 2014. Sekretaris Jenderal NATO Jens Stoltenberg.";

    #[test]
    fn names_with_exonyms_pass() {
        let summary = "Russia is suspending its mission to NATO after the alliance expelled eight \
            Russian diplomats from Brussels as spies. Foreign Minister Sergei Lavrov said contacts \
            could go through the Russian embassy in Belgium. The US-led alliance, whose Secretary \
            General is Jens Stoltenberg, has been at odds with Moscow since it annexed Crimea from \
            Ukraine in 2014. The United States leads it.";
        let f = check(summary, &[NATO]);
        assert!(f.is_clean(), "{f:?}");
    }

    #[test]
    fn invented_names_are_caught() {
        let f = check(
            "Russia is suspending its NATO mission, Vladimir Putin said in Washington. The \
             European Union agreed.",
            &[NATO],
        );
        assert_eq!(
            f.unsupported_names,
            vec!["Vladimir", "Putin", "Washington", "European Union"]
        );
        // Sentence-initial common words are not names; sentence-initial names are.
        let f = check("However, Lavrov spoke. Meanwhile Germany agreed.", &[NATO]);
        assert_eq!(f.unsupported_names, vec!["Germany"]);
        let f = check(
            "Contacts stopped. Putin spoke. Turkey agreed. Sarah Collins left.",
            &[NATO],
        );
        assert_eq!(
            f.unsupported_names,
            vec!["Putin", "Turkey", "Sarah", "Collins"]
        );
        // Titles of ordinary words are not names, mid-sentence included.
        let f = check(
            "Russia closed the Military Liaison Office in Moscow.",
            &[NATO],
        );
        assert!(f.is_clean(), "{f:?}");
        let f = check("Germany agreed.", &[NATO]);
        assert_eq!(f.unsupported_names, vec!["Germany"]);
    }

    #[test]
    fn edit_distance() {
        assert!(within_one_edit("sergei", "sergey"));
        assert!(within_one_edit("moscow", "moskow"));
        assert!(within_one_edit("abc", "abcd"));
        assert!(within_one_edit("abcd", "bcd"));
        assert!(!within_one_edit("austria", "australia"));
        assert!(!within_one_edit("abcd", "badc"));
    }

    #[test]
    fn realistic_summaries_of_the_reference_article() {
        let src = include_str!("../../examples/kompas-nato.txt");
        for ok in [
            "Russia has suspended its diplomatic mission to NATO and will close the alliance's \
             military liaison and information offices in Moscow after NATO expelled eight Russian \
             diplomats from Brussels, accusing them of being spies. Foreign Minister Sergey Lavrov \
             announced the move on Monday, October 18, 2021, saying it takes effect in early November. \
             NATO said it had noted Lavrov's comments but received no official communication from Russia.",
            "Moscow is halting the work of its permanent mission to NATO, including its chief military \
             representative, from November 1, after the alliance expelled 8 members of the Russian \
             mission as undeclared intelligence officers. NATO Secretary General Jens Stoltenberg said \
             relations with Russia are at their lowest point since the end of the Cold War. Russia has \
             had an observer mission as part of the NATO-Russia Council for two decades, which has \
             largely not functioned since Moscow's annexation of Crimea from Ukraine in 2014.",
            "Contacts between the Western alliance and Moscow can go through the Russian embassy in \
             Belgium, Lavrov told reporters in Moscow, as reported by Al Jazeera. Stoltenberg cited the \
             military build-up along the Ukrainian border and a violation of the Intermediate-Range \
             Nuclear Forces (INF) Treaty as evidence of aggressive action by the US-led alliance's rival.",
        ] {
            let f = check(ok, &[src]);
            assert!(f.is_clean(), "{f:?} in {ok}");
        }
        let f = check(
            "Russia suspended its NATO mission after NATO expelled 12 diplomats, President Vladimir \
             Putin said in Washington on October 20.",
            &[src],
        );
        assert_eq!(f.unsupported_numbers, vec!["12", "20"]);
        assert_eq!(f.unsupported_names, vec!["Vladimir", "Putin", "Washington"]);
    }

    #[test]
    fn number_words_split_at_punctuation() {
        assert_eq!(values("eight, nine"), vec![vec![q(8.0)], vec![q(9.0)]]);
    }

    #[test]
    fn indonesian_place_names_become_english() {
        assert_eq!(
            english_place_names("Rusia left; Moskwa and Amerika Serikat. Rusian? Perusia"),
            "Russia left; Moscow and United States. Rusian? Perusia"
        );
    }
}
