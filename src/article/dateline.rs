//! Datelines: the place and brand that open the first paragraph of an Indonesian news story
//! ("MOSKWA, KOMPAS.com - ", "Liputan6.com, Jakarta - ", "Mataram, NTB (ANTARA News) - ", "Jakarta - ").
//! The place is kept as metadata, the brand names the site, and both are cut from the body.

use std::sync::LazyLock;

use regex::Regex;

/// A dateline found at the start of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dateline {
    /// The place, as printed (`MOSKWA`, `Mataram, NTB`), if any.
    pub place: Option<String>,
    /// The brand (`KOMPAS.com`, `CNN Indonesia`, `ANTARA News`), if any.
    pub brand: Option<String>,
    /// An agency credited after the brand (`PRNewswire` in `(Antara/PRNewswire)`).
    pub source: Option<String>,
    /// Length in bytes of the dateline, dash and following space.
    pub len: usize,
}

const DASH: &str = r"(?:-{1,2}|–|—)";

static PLACE_THEN_BRAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<place>\p{{Lu}}[\p{{L}} .']{{1,40}}?),\s*(?P<brand>(?i:kompas\.com|cnn indonesia|cnbc indonesia|detik[a-z]*|[a-z0-9]+\.(?:com|co\.id|co|id)))\s*{DASH}(?:\s+|$)"
    ))
    .expect("valid regex")
});
static BRAND_THEN_PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<brand>(?i:[a-z0-9]+\.(?:com|co\.id|co|id|net)|detik[a-z]*))(?:\s*,\s*(?P<place>\p{{Lu}}[\p{{L}} .']{{1,40}}?))?\s*{DASH}(?:\s+|$)"
    ))
    .expect("valid regex")
});
static ANTARA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<place>\p{{Lu}}[^()\n]{{1,60}}?)\s*\((?P<brand>(?i:antara(?: news)?|antaranews(?:\.com)?))(?:/(?P<source>[^)]{{1,30}}))?\)\s*{DASH}(?:\s+|$)"
    ))
    .expect("valid regex")
});
static BARE_PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<place>\p{{Lu}}[\p{{L}}.']+(?:\s\p{{Lu}}[\p{{L}}.']+){{0,2}})\s+{DASH}(?:\s+|$)"
    ))
    .expect("valid regex")
});
static NO_PLACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^{DASH}\s+")).expect("valid regex"));

/// Parse a dateline at the start of `line`. What follows it must be empty (a dateline on its own line)
/// or read like the start of a story (capital, digit or quote, and at least five words), so headlines
/// such as "Persija - Persib Imbang" are not mistaken for one.
pub(crate) fn parse(line: &str) -> Option<Dateline> {
    let found = [
        &*PLACE_THEN_BRAND,
        &*ANTARA,
        &*BRAND_THEN_PLACE,
        &*BARE_PLACE,
        &*NO_PLACE,
    ]
    .iter()
    .find_map(|re| re.captures(line))?;
    let len = found.get(0).map_or(0, |m| m.end());
    let rest = line[len..].trim();
    if len == 0 || !(rest.is_empty() || starts_story(rest)) {
        return None;
    }
    let text = |name| {
        found
            .name(name)
            .map(|m| m.as_str().trim().to_string())
            .filter(|s| !s.is_empty())
    };
    if rest.is_empty() && text("place").is_none() && text("brand").is_none() {
        return None;
    }
    Some(Dateline {
        place: text("place").map(|p| strip_date(&p)),
        brand: text("brand"),
        source: text("source"),
        len,
    })
}

fn starts_story(rest: &str) -> bool {
    let first = rest
        .chars()
        .find(|c| !matches!(c, '"' | '“' | '\'' | '‘' | '('));
    first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        && rest.split_whitespace().count() >= 5
}

/// "ISTANBUL, 23 Februari 2016" → "ISTANBUL": press-release datelines carry the date after the place.
fn strip_date(place: &str) -> String {
    let parts: Vec<&str> = place.split(',').map(str::trim).collect();
    let keep = parts
        .iter()
        .take_while(|p| !p.chars().any(|c| c.is_ascii_digit()))
        .count()
        .max(1);
    parts[..keep].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dl(line: &str) -> Option<(Option<String>, Option<String>, String)> {
        parse(line).map(|d| (d.place, d.brand, line[d.len..].to_string()))
    }

    fn some(
        place: Option<&str>,
        brand: Option<&str>,
        rest: &str,
    ) -> Option<(Option<String>, Option<String>, String)> {
        Some((
            place.map(String::from),
            brand.map(String::from),
            rest.to_string(),
        ))
    }

    const REST: &str = "Rusia menghentikan aktivitas misi diplomasi.";

    #[test]
    fn site_datelines() {
        assert_eq!(
            dl(&format!("MOSKWA, KOMPAS.com - {REST}")),
            some(Some("MOSKWA"), Some("KOMPAS.com"), REST)
        );
        assert_eq!(
            dl(&format!("JAKARTA, KOMPAS.com — {REST}")),
            some(Some("JAKARTA"), Some("KOMPAS.com"), REST)
        );
        assert_eq!(
            dl(&format!("Jakarta, CNN Indonesia -- {REST}")),
            some(Some("Jakarta"), Some("CNN Indonesia"), REST)
        );
        assert_eq!(
            dl(&format!("Liputan6.com, Jakarta - {REST}")),
            some(Some("Jakarta"), Some("Liputan6.com"), REST)
        );
        assert_eq!(
            dl(&format!("TEMPO.CO, Jakarta - {REST}")),
            some(Some("Jakarta"), Some("TEMPO.CO"), REST)
        );
        assert_eq!(
            dl(&format!("IHRAM.CO.ID, BANJARMASIH -- {REST}")),
            some(Some("BANJARMASIH"), Some("IHRAM.CO.ID"), REST)
        );
        assert_eq!(
            dl(&format!("VIVA.co.id - {REST}")),
            some(None, Some("VIVA.co.id"), REST)
        );
        assert_eq!(
            dl(&format!("Suara.com - {REST}")),
            some(None, Some("Suara.com"), REST)
        );
        assert_eq!(
            dl(&format!("JAKARTA - {REST}")),
            some(Some("JAKARTA"), None, REST)
        );
        assert_eq!(dl(&format!("- {REST}")), some(None, None, REST));
    }

    #[test]
    fn antara_datelines() {
        assert_eq!(
            dl(&format!("Mataram, NTB (ANTARA News) - {REST}")),
            some(Some("Mataram, NTB"), Some("ANTARA News"), REST)
        );
        let d = parse("ISTANBUL, 23 Februari 2016 (Antara/PRNewswire) --").expect("dateline");
        assert_eq!(d.place.as_deref(), Some("ISTANBUL"));
        assert_eq!(d.source.as_deref(), Some("PRNewswire"));
    }

    #[test]
    fn dateline_alone_on_its_line() {
        assert_eq!(dl("Jakarta -"), some(Some("Jakarta"), None, ""));
        assert_eq!(
            dl("Jakarta, CNN Indonesia --"),
            some(Some("Jakarta"), Some("CNN Indonesia"), "")
        );
    }

    #[test]
    fn not_datelines() {
        assert_eq!(dl("Persija - Persib Imbang"), None);
        assert_eq!(dl("Kompas.com - 19/10/2021, 09:20 WIB"), None);
        assert_eq!(dl("Rusia menghentikan aktivitas - kata Lavrov."), None);
        assert_eq!(dl("- satu dua"), None);
    }
}
