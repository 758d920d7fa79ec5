//! The phrase rules of the cleaner and the small text tests they rely on. Patterns come from
//! `../shared/docs/cleaning-patterns.md`; each is anchored to a whole line, or to a span that cannot be
//! body text (upper-case ad markers, bracketed embeds), so that body sentences mentioning the same
//! words survive.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

/// Spans removed wherever they occur, even mid-sentence (collapsed copies put them anywhere).
pub(crate) static INLINE_SPANS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (
            re(r"SCROLL TO (?:CONTINUE WITH|RESUME) CONTENT"),
            "ad marker",
        ),
        (re(r"\bADVERTISEMENT\b"), "ad marker"),
        (re(r"\[Gambas:[^\]\n]{0,200}\]"), "embed"),
        (
            re(
                r#"(?:Simak|Saksikan|Tonton)(?: juga)? [Vv]ideo\s*(?:"[^"\n]{1,200}"|“[^”\n]{1,200}”)"#,
            ),
            "video teaser",
        ),
        (
            re(r"(?i)\bhalaman\s+\d{1,3}\s+dari\s+\d{1,3}\b"),
            "page navigation",
        ),
        (
            re(r"(?i)\b\d{1,3}\s+dari\s+\d{1,3}\s+halaman\b"),
            "page navigation",
        ),
    ]
});

/// Page numbering: which page and how many ("Halaman 2 dari 3", "1 dari 4 halaman").
pub(crate) static PAGE_OF: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:halaman\s+(\d{1,3})\s+dari\s+(\d{1,3}))|(?:(\d{1,3})\s+dari\s+(\d{1,3})\s+halaman)")
});

/// Whole lines that are page furniture, with the reason given in `removed`.
pub(crate) static LINE_DROPS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (
            re(r"(?i)^Baca berita tanpa iklan\.?(?:\s*Gabung Kompas\.com\+?)?$"),
            "promo",
        ),
        (re(r"(?i)^Kompas(?:\.com|com)\+.{0,40}tanpa iklan"), "promo"),
        (re(r"(?i)^(?:Download|Unduh) aplikasi\b.{0,80}$"), "promo"),
        (
            re(r"(?i)^Artikel ini telah (?:tayang|terbit|dimuat) di\b"),
            "share text",
        ),
        (
            re(
                r"(?i)^(?:Dapatkan|Ikuti|Simak|Follow|Gabung|Baca berita)\b.{0,120}\b(?:Google News|WhatsApp|Telegram|Instagram|Twitter|Facebook|TikTok|YouTube|Line Today)\b.{0,120}$",
            ),
            "social media prompt",
        ),
        (
            re(r"(?i)^Jangan sampai ketinggalan berita\b"),
            "newsletter prompt",
        ),
        (re(r"(?i)^Email berhasil dikirim\b"), "newsletter prompt"),
        (
            re(
                r"(?i)^(?:close ads|oke|ok|bagikan(?: artikel ini)?(?: melalui)?:?|share|tweet|komentar|\d+ komentar|komentar \(\d+\)|video lainnya|perbesar|selanjutnya|sebelumnya|lanjutkan membaca|advertisement|iklan|scroll to (?:continue|resume)(?: with)? content|login untuk memaksimalkan pengalaman mengakses .{1,40}|tulis komentar.{0,40}|lihat semua|muat lainnya|credits? \(\d+\)|rate artikel ini|like \(\d+\)|dislike \(\d+\)|comments?|success|salin (?:link|tautan)|copy link|tags?:?|topik:?|\+ share)$",
            ),
            "page widget",
        ),
        (
            re(r"(?i)^(?:Simak|Saksikan|Tonton)\s+(?:juga\s+)?(?:video|live)\b.{0,200}$"),
            "video teaser",
        ),
        (re(r"(?i)^\[Gambas:.{0,200}\]$"), "embed"),
    ]
});

/// Lines where the page's closing furniture begins: related lists, copyright, footers.
pub(crate) static FOOTER_START: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    vec![
        re(r"(?i)^Simak breaking news dan berita pilihan kami\b"),
        re(
            r"(?i)^(?:Terkini Lainnya|Video rekomendasi|Rekomendasi untuk Anda|Terpopuler|Pilihan Editor|EDITOR'?S PICK)\s*:?$",
        ),
        re(
            r"(?i)^(?:Berita|Artikel) (?:Terkait|Lainnya|Terbaru|Populer|Pilihan|Rekomendasi|Menarik Lainnya)\s*:?$",
        ),
        re(r"(?i)^Baca (?:Selengkapnya|Lainnya)\s*:?$"),
        re(r"(?i)^BACA ARTIKEL MENARIK LAINNYA\b"),
        re(r"(?i)^\*?\s*BACA BERITA TERKINI\b"),
        re(r"(?i)^(?:COPYRIGHT|Hak Cipta)\s*(?:©|\(c\))"),
        re(r"(?i)^©\s*(?:\d{4}|copyright)"),
    ]
});

/// "Baca juga:" and its siblings: a related-article link. The `label` group matches the names of
/// related-headline lists used as a link's label (Tempo's "Pilihan Editor: <headline>", "Berita
/// Terkait: …"); these need their colon and a headline after it, since bare, they head a footer.
pub(crate) static RELATED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:\bSilakan\s+)?\b(?:(?:baca|lihat|simak)\s+(?:juga|pula)\b\s*:?|(?P<label>pilihan\s+editor|editor'?s\s+pick|(?:berita|artikel)\s+(?:terkait|lainnya|terbaru|pilihan|populer)|baca\s+(?:selengkapnya|lainnya)|terpopuler)\s*:)\s*",
    )
});

/// Author initials with a slash at the end of a story, maybe with the tag list Detik glues on:
/// "(mib/haf)", "(dis/ugo)", "(a/b/c)", "(eva/fca) badan komunikasi pemerintah".
pub(crate) static INITIALS_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:^|[.!?"”’)\]]\s+)(?P<ini>[(\[](?:[A-Za-z]{1,5}/)+[A-Za-z]{1,5}[)\]])(?P<tags>(?:\s+[\p{Ll}\d][\p{Ll}\d'-]*)*)\s*$"#,
    )
});

/// A whole line of initials, with or without a slash: "(FHM)", "[ian]", "(fyk/ash)".
pub(crate) static INITIALS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^[(\[](?:[A-Za-z]{1,5}/)*[A-Za-z]{1,5}(?:,?\s*-?\s*[A-Za-z]{1,5})?[)\]]$")
});

/// Initials or a reporter's name in brackets after the last sentence: "… tandasnya. (FHM)",
/// "… Denpasar. (Luh Wayanti)". Only applied to the very end of the story.
pub(crate) static CREDIT_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"[.!?"”’]\s*(?P<credit>\((?:[A-Za-z]{2,5}(?:/[A-Za-z]{2,5})*|\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+){1,3})\))\s*$"#,
    )
});

/// A reporter's name in capitals closing the story (Tempo: "DINI TEJA").
pub(crate) static CAPS_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\p{Lu}[\p{Lu}.']+(?: \p{Lu}[\p{Lu}.']*){0,3}$"));

/// A numbered or bulleted list item: "1. Arah Ancol: …", "- Jalan Salemba Raya".
pub(crate) static LIST_ITEM: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:\d{1,2}[.)]|[-•*–])\s+\S"));

/// Credit lines: "Penulis: …", "Editor : …", "Pewarta: …", and the bare labels Kompas prints under
/// or over a name.
pub(crate) static CREDIT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?P<label>penulis|reporter|pewarta|penyunting|editor|redaktur|kontributor|fotografer|sumber foto|oleh|laporan wartawan(?: [\w.]+){0,4})(?:\s*:\s*|\s+|$)(?P<value>.{0,80})$",
    )
});

/// A credit line that is only a value continuing a label on the line before (": Bayu Galih").
pub(crate) static CREDIT_VALUE: LazyLock<Regex> = LazyLock::new(|| re(r"^:\s*(?P<value>.{1,60})$"));

/// "Sumber: …" and "Sumber …" lines (Kompas headers name the agency this way).
pub(crate) static SOURCE_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^sumber(?:\s*:\s*|\s+)(?P<value>[^:]{2,60})$"));

/// Lines that press releases end with and that belong to them (see the traps in cleaning-patterns.md).
pub(crate) static RELEASE_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:sumber|kontak|contact|informasi lebih lanjut|narahubung)\s*:"));

const DATE: &str = r"(?:(?:Senin|Selasa|Rabu|Kamis|Jumat|Jum'at|Sabtu|Minggu|Ahad),?\s*)?(?:\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\s+(?:Jan(?:uari)?|Feb(?:ruari)?|Mar(?:et)?|Apr(?:il)?|Mei|Jun(?:i)?|Jul(?:i)?|Agu(?:stus)?|Agt|Ags|Sep(?:tember)?|Okt(?:ober)?|Nov(?:ember)?|Des(?:ember)?)\s+\d{4})(?:,?\s*(?:pukul\s*)?\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)?(?:\s*(?:WIB|WITA|WIT))?";

/// A header line that is a date, maybe with the brand before it and counters after it:
/// "Kompas.com - 19/10/2021, 09:20 WIB", "Kamis, 5 November 2015 14:56 WIB | 1.229 Views".
pub(crate) static DATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^(?:(?P<brand>[\w.]+(?: [\w.]+)?)\s*[-–—|]\s*)?(?P<date>{DATE})(?:\s*\|.{{0,40}})?$"
    ))
});

/// "Ramadhian Fadillah | Jumat, 19 Juni 2015 03:40" (Merdeka).
pub(crate) static NAME_DATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^(?P<name>[^|\d]{{3,60}}?)\s*\|\s*(?P<date>{DATE})$"
    ))
});

/// A photo credit closing a caption: "(ANTARA FOTO/Budi Setya)", "(REUTERS / Danny Moloshok)",
/// "(Liputan6.com/Johan Tallo)", "(Foto: Vania/Okezone)", "[suara.com/Oke Atmaja]", "Foto: Grammy",
/// "©witnesstoguantanamo.com".
pub(crate) static PHOTO_CREDIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\s*(?:\([^()]{0,60}\b(?:FOTO|Foto|foto|PHOTO|Photo|REUTERS|Reuters|AFP|AP Photo|EPA|Getty Images|Shutterstock|Dok\.?|Dokumentasi|Ilustrasi)\b[^()]{0,60}\)|\([\w.-]+\.(?:com|co\.id|co|id)\s*/\s*[^()]{1,60}\)|\[[\w.-]+\.(?:com|co\.id|co|id)\s*/[^\]]{1,60}\]|(?:Foto|FOTO|Photo)\s*:\s*[^.!?()]{1,50}|©\s*\S{3,60})\s*$",
    )
});

/// Lower-case words Indonesian headlines leave uncapitalised ("… Suap Rp 60 M untuk Vonis Lepas …"),
/// so they do not mark the start of a sentence-case body sentence.
const HEADLINE_LOWER: &[&str] = &[
    "di", "ke", "dari", "dan", "yang", "untuk", "pada", "dengan", "atau", "dalam", "oleh",
    "sebagai", "tentang", "bagi", "antara", "hingga", "sampai", "agar", "karena", "akan", "telah",
    "sudah", "masih", "jadi", "ini", "itu", "si", "pun", "juga", "lagi", "tak", "tidak", "belum",
    "bisa", "usai", "jelang", "saat", "per", "vs", "atas", "soal", "kah", "lah", "nya", "the",
    "of", "and", "in", "on", "for", "to", "a", "an",
];

pub(crate) fn is_headline_lower(word: &str) -> bool {
    let w: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    HEADLINE_LOWER.contains(&w.as_str())
}

/// The last character that is not a closing quote or bracket.
fn last_significant(s: &str) -> Option<char> {
    s.trim_end()
        .chars()
        .rev()
        .find(|c| !matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»'))
}

/// Ends like a sentence: `.`, `!`, `?` or `…`, maybe inside quotes or brackets.
pub(crate) fn ends_sentence(s: &str) -> bool {
    matches!(last_significant(s), Some('.' | '!' | '?' | '…'))
}

pub(crate) fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Most words capitalised, as headlines are written ("Rusia Balas NATO dengan Hentikan Misi Diplomasi").
pub(crate) fn is_title_case(s: &str) -> bool {
    let mut upper = 0;
    let mut lower = 0;
    for w in s.split_whitespace() {
        let Some(first) = w.chars().find(|c| c.is_alphabetic()) else {
            continue;
        };
        if first.is_uppercase() {
            upper += 1;
        } else if !is_headline_lower(w) {
            lower += 1;
        }
    }
    upper >= 2 && lower * 5 <= upper
}

/// Running text: a sentence in sentence case, or simply long. Menus, tags, headlines and labels are not.
pub(crate) fn is_prose(s: &str) -> bool {
    let words = word_count(s);
    words >= 25 || (words >= 6 && ends_sentence(s) && !is_title_case(s))
}

/// Long, several-sentence running text: what a footer or related-links list never contains.
pub(crate) fn is_long_prose(s: &str) -> bool {
    word_count(s) >= 25 && !is_title_case(s) && s.matches(['.', '!', '?']).count() >= 2
}

/// Could be a headline: short, no full stop at the end, starts with a capital or digit.
pub(crate) fn looks_like_headline(s: &str) -> bool {
    let words = word_count(s);
    let first = s.chars().find(|c| c.is_alphanumeric());
    (2..=30).contains(&words)
        && !s.trim_end().ends_with('.')
        && !s.trim_end().ends_with(':')
        && first.is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_and_headlines() {
        assert!(is_title_case(
            "Setelah 8 Delegasi Diusir, Rusia Balas NATO dengan Hentikan Misi Diplomasi"
        ));
        assert!(!is_title_case(
            "Langkah tersebut diumumkan pada Senin oleh Menteri Luar Negeri Rusia."
        ));
        assert!(is_prose(
            "Hal itu menandai keretakan hubungan yang semakin lebar antara Rusia dan NATO."
        ));
        assert!(!is_prose(
            "Mengapa Angka Kelahiran di Korea Selatan Terus Menurun?"
        ));
        assert!(!is_prose("Mata-mata Rusia"));
        assert!(looks_like_headline(
            "Setelah 8 Delegasi Diusir, Rusia Balas NATO dengan Hentikan Misi Diplomasi"
        ));
        assert!(ends_sentence("kata Lavrov.”"));
        assert!(!ends_sentence(
            "Pemerintah Usul Pemudik Diberi Pekerjaan di Bidang Pertanian:"
        ));
    }

    #[test]
    fn credits_and_initials() {
        assert!(INITIALS_TAIL
            .is_match("kata Pras. (eva/fca) badan komunikasi pemerintah pco prabowo subianto"));
        assert!(INITIALS_TAIL.is_match("(mib/haf) hakim suap vonis lepas cpo"));
        assert!(!INITIALS_TAIL.is_match("uji kelayakan jalan (KIR,-red). Ada izin operasi."));
        assert!(INITIALS_LINE.is_match("(FHM)"));
        assert!(INITIALS_LINE.is_match("[ian]"));
        assert!(CREDIT_SUFFIX.is_match("di Jalan Sedap Malam, Denpasar. (Luh Wayanti)"));
        assert!(!CREDIT_SUFFIX.is_match("dalam 1 tahun (MBR) dan"));
        assert!(CAPS_NAME.is_match("DINI TEJA"));
        assert!(PHOTO_CREDIT.is_match("Senin (15/2). (REUTERS / Danny Moloshok)"));
        assert!(PHOTO_CREDIT.is_match("Jumat (29/5/2015). (Liputan6.com/Johan Tallo)"));
        assert!(PHOTO_CREDIT.is_match("Indra Birowo. (Foto: Vania/Okezone)"));
        assert!(PHOTO_CREDIT.is_match("untuk Joey Alexander. Foto: Grammy"));
        assert!(!PHOTO_CREDIT.is_match("uji kelayakan jalan (KIR,-red)."));
    }

    #[test]
    fn header_lines() {
        let c = DATE_LINE
            .captures("Kompas.com - 19/10/2021, 09:20 WIB")
            .expect("date line");
        assert_eq!(&c["date"], "19/10/2021, 09:20 WIB");
        assert_eq!(&c["brand"], "Kompas.com");
        assert!(DATE_LINE.is_match("Kamis, 5 November 2015 14:56 WIB | 1.229 Views"));
        let c = NAME_DATE_LINE
            .captures("Ramadhian Fadillah | Jumat, 19 Juni 2015 03:40")
            .expect("name/date");
        assert_eq!(&c["name"], "Ramadhian Fadillah");
        assert!(CREDIT_LINE.is_match("Penulis"));
        assert!(CREDIT_LINE.is_match("Editor: Ade Marboen"));
        assert!(!CREDIT_LINE.is_match("Oleh-oleh khas Bandung laris."));
        assert_eq!(
            &SOURCE_LINE.captures("Sumber Al Jazeera").expect("source")["value"],
            "Al Jazeera"
        );
    }
}
