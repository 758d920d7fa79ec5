//! `warta clean` on the real article fixtures in `../shared/fixtures/articles` (see SOURCES.md there).
//!
//! Each saved page and copied text must come out as exactly its story body: the test compares on
//! content (letters and digits only, so whitespace, joined paragraphs and hard wraps do not matter)
//! against the body a scraper's own tests assert (`expected/`), and checks that the boilerplate seen
//! around the body in that very file is gone. The `expected/` files are scraper output, not a gold
//! standard; where one keeps something that is not story text (a credit, a caption's photo credit, a
//! related-links list), the case lists that span and why, instead of loosening the comparison for all.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/articles"
    ))
    .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Run `warta clean --format json` on a file and parse the result.
fn clean_json(path: &Path) -> Value {
    let out = Command::cargo_bin("warta")
        .expect("binary")
        .args(["clean", "--format", "json"])
        .arg(path)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn paragraphs(v: &Value) -> Vec<String> {
    strings(&v["paragraphs"])
}

/// Content key: letters and digits, lower-cased. Whitespace, punctuation and paragraph joins vanish.
fn key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Show where two content keys part, for a readable failure.
fn first_difference(got: &str, want: &str) -> String {
    let at = got
        .chars()
        .zip(want.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let window = |s: &str| {
        s.chars()
            .skip(at.saturating_sub(30))
            .take(90)
            .collect::<String>()
    };
    format!(
        "differ at char {at}:\n  got:  …{}\n  want: …{}",
        window(got),
        window(want)
    )
}

/// One saved page and what its expected body is.
struct Page {
    file: &'static str,
    /// The dateline the expected file starts with (we keep it as metadata, not body).
    expected_dateline: &'static str,
    /// Spans of the expected file that are not story text, with the reason (we remove them).
    scraper_extras: &'static [(&'static str, &'static str)],
    title: &'static str,
    site: &'static str,
    dateline: Option<&'static str>,
    /// Boilerplate present in the page around the body that must not reach the output.
    boilerplate: &'static [&'static str],
}

const PAGES: &[Page] = &[
    Page {
        file: "anpandu-antara-singlepage",
        expected_dateline: "Mataram, NTB (ANTARA News) - ",
        scraper_extras: &[],
        title: "29 penerbangan Bandara Internasional Lombok dibatalkan",
        site: "ANTARA",
        dateline: Some("Mataram, NTB"),
        boilerplate: &["Dokumentasi petugas Badan Meteorologi", "1.229 Views", "Ade Marboen", "COPYRIGHT", "DPR-RI prihatin"],
    },
    Page {
        file: "anpandu-antara-singlepage3",
        expected_dateline: "ISTANBUL, 23 Februari 2016 (Antara/PRNewswire) -",
        scraper_extras: &[],
        title: "Bantu pulihkan perdamaian dunia, Turki selenggarakan kontes film pendek internasional",
        site: "ANTARA",
        dateline: Some("ISTANBUL"),
        boilerplate: &["PR Wire", "COPYRIGHT"],
    },
    Page {
        file: "anpandu-detik-singlepage",
        expected_dateline: "Jakarta - ",
        scraper_extras: &[("(fyk/ash)", "author initials closing the story, not story text")],
        title: "Google Umbar Kelemahan Galaxy S6 Edge",
        site: "detikcom",
        dateline: Some("Jakarta"),
        boilerplate: &["(fyk/ash)", "Copyright", "Baca Juga"],
    },
    Page {
        file: "anpandu-kompas-singlepage2",
        expected_dateline: "JAKARTA, KOMPAS.com - ",
        scraper_extras: &[],
        title: "Menteri Yuddy Ancam PNS yang Rankingnya Terendah Akan \"Dipangkas\"",
        site: "Kompas.com",
        dateline: Some("JAKARTA"),
        boilerplate: &["NABILLA TASHANDRA", "Bayu Galih", "JAKARTA, KOMPAS.com"],
    },
    Page {
        file: "anpandu-okezone-singlepage2",
        expected_dateline: "JAKARTA - ",
        scraper_extras: &[
            ("(FHM)", "author initials after the last sentence"),
            ("0 Komentar", "comment counter of the page"),
        ],
        title: "Cara Indra Birowo Jaga Keromantisan dengan Istri",
        site: "Okezone",
        dateline: Some("JAKARTA"),
        boilerplate: &["(Foto: Vania/Okezone)", "(FHM)", "Komentar", "Selengkapnya"],
    },
    Page {
        file: "anpandu-republika-singlepage3",
        expected_dateline: "IHRAM.CO.ID, BANJARMASIH - ",
        scraper_extras: &[],
        title: "Jamaah Haji Ikuti Pemeriksaan Kesehatan Haji",
        site: "Republika",
        dateline: Some("BANJARMASIH"),
        boilerplate: &["IHRAM.CO.ID", "kemenag.go.id"],
    },
    Page {
        file: "anpandu-tempo-singlepage",
        expected_dateline: "TEMPO.CO, Jakarta - ",
        scraper_extras: &[("DINI TEJA", "the reporter's name in capitals closing the story")],
        title: "Ini 7 Alasan Mengapa Orang Malas Bergerak",
        site: "Tempo.co",
        dateline: Some("Jakarta"),
        boilerplate: &["DINI TEJA", "Berita Terkait", "detik lalu"],
    },
    Page {
        file: "anpandu-viva-singlepage",
        expected_dateline: "",
        scraper_extras: &[
            ("Foto: Grammy", "photo credit of an inline caption (the caption sentence is kept)"),
            ("Foto: Grammy", "photo credit of the second inline caption"),
        ],
        title: "Taylor Swift Standing Ovation untuk Pianis Cilik Indonesia",
        site: "VIVA.co.id",
        dateline: None,
        boilerplate: &["Penampilan Joey Alexander memukau musisi dunia", "(Grammy)", "Foto: Grammy", "BACA ARTIKEL MENARIK LAINNYA", "@TheGRAMMYs"],
    },
    Page {
        file: "slasherrb-kompas",
        expected_dateline: "JAKARTA, KOMPAS.com - ",
        scraper_extras: &[],
        title: "Supaya Timnya Mengalah, Eks Pelatih Mengaku Ditawari Rp 200 Juta",
        site: "Kompas.com",
        dateline: Some("JAKARTA"),
        boilerplate: &["Penulis", "Editor", "JAKARTA, KOMPAS.com"],
    },
    Page {
        file: "slasherrb-liputan6",
        expected_dateline: "Liputan6.com, Jakarta -  ",
        scraper_extras: &[("(Mvi/Ali)", "author initials closing the story")],
        title: "Wapres JK dan Ahok 'Blusukan' dari Udara",
        site: "Liputan6.com",
        dateline: Some("Jakarta"),
        boilerplate: &["Johan Tallo", "(Mvi/Ali)", "Popular Videos", "Liputan6.com, Jakarta"],
    },
    Page {
        file: "slasherrb-merdeka",
        expected_dateline: "Merdeka.com - ",
        scraper_extras: &[(
            "Baca juga:Kisah Mayor Raheem, masuk Islam dan jadi Imam di tentara ASKisah para tentara Islam berjuang di perang kemerdekaan Amerika",
            "a related-articles list under \"Baca juga:\" after the story",
        )],
        title: "Kisah penjaga penjara Guantanamo yang beralih memeluk Islam",
        site: "Merdeka.com",
        dateline: None,
        boilerplate: &["Reporter", "witnesstoguantanamo", "Baca juga", "Kisah Mayor Raheem", "[ian]", "EDITOR'S PICK"],
    },
    Page {
        file: "slasherrb-okezone",
        expected_dateline: "JAKARTA - ",
        scraper_extras: &[],
        title: "Ahok Dukung Jokowi Diberi Pangkat Bintang Lima",
        site: "Okezone",
        dateline: Some("JAKARTA"),
        boilerplate: &["(Foto: Okezone)", "okezone.com", "Terpopuler"],
    },
    Page {
        file: "slasherrb-suara",
        expected_dateline: "Suara.com - ",
        scraper_extras: &[("Luh Wayanti", "the reporter's name in brackets after the last sentence")],
        title: "Polda Bali Kumpulkan 4 Alat Bukti Pembunuhan Angeline",
        site: "Suara.com",
        dateline: None,
        boilerplate: &["Oke Atmaja", "Luh Wayanti", "suara.com"],
    },
    Page {
        file: "slasherrb-tribunnews",
        expected_dateline: "TRIBUNNEWS.COM, JAKARTA - ",
        scraper_extras: &[],
        title: "Kadishub DKI: Taksi Uber Tak Punya Izin Operasi, Uji KIR, Tidak Berargo dan Bermahkota",
        site: "Tribunnews.com",
        dateline: Some("JAKARTA"),
        boilerplate: &["Penulis:", "Editor:", "TRIBUNNEWS.COM"],
    },
];

#[test]
fn saved_pages_give_exactly_their_story_body() {
    for page in PAGES {
        let html_path = fixtures().join("html").join(format!("{}.html", page.file));
        let html = read(&html_path);
        let expected_raw = read(
            &fixtures()
                .join("expected")
                .join(format!("{}.expected.txt", page.file)),
        );
        let expected = expected_raw
            .strip_prefix(page.expected_dateline)
            .unwrap_or_else(|| {
                panic!(
                    "{}: expected file does not start with {:?}",
                    page.file, page.expected_dateline
                )
            });
        let mut expected = expected.to_string();
        for (extra, why) in page.scraper_extras {
            assert!(
                expected.contains(extra),
                "{}: scraper extra {extra:?} ({why}) not in expected file",
                page.file
            );
            expected = expected.replacen(extra, " ", 1);
        }
        let v = clean_json(&html_path);
        let body = paragraphs(&v).join("\n");
        let (got, want) = (key(&body), key(&expected));
        assert!(
            got == want,
            "{}: body is not the expected story; {}",
            page.file,
            first_difference(&got, &want)
        );

        for junk in page.boilerplate {
            assert!(
                html.contains(junk),
                "{}: {junk:?} is not in the page, so the check proves nothing",
                page.file
            );
            assert!(
                !body.contains(junk),
                "{}: boilerplate {junk:?} left in the body",
                page.file
            );
        }
        assert_eq!(v["title"], page.title, "{}", page.file);
        assert_eq!(v["site"], page.site, "{}", page.file);
        assert_eq!(v["dateline"].as_str(), page.dateline, "{}", page.file);
        assert_eq!(v["language"], "id", "{}", page.file);
        assert!(
            strings(&v["warnings"]).is_empty(),
            "{}: unexpected warnings {:?}",
            page.file,
            v["warnings"]
        );
    }
}

#[test]
fn tempo_subheadings_stay_as_headings() {
    let v = clean_json(&fixtures().join("html/anpandu-tempo-singlepage.html"));
    let paras = paragraphs(&v);
    let kinds = strings(&v["kinds"]);
    let headings: Vec<&str> = paras
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| *k == "heading")
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        headings,
        [
            "Kurang Motivasi",
            "Tidak Punya Waktu",
            "Pengaruh Media Sosial",
            "Kurang Berenergi",
            "Kurangnya Fasilitas Olahraga"
        ]
    );
}

#[test]
fn press_release_keeps_its_contact_and_source_lines() {
    // Trap from cleaning-patterns.md: "Sumber:" and "KONTAK:" are body text in Antara press releases.
    let v = clean_json(&fixtures().join("html/anpandu-antara-singlepage3.html"));
    let paras = paragraphs(&v);
    assert_eq!(
        paras.last().map(String::as_str),
        Some("Sumber: Pemerintah Kota Cekmekoy")
    );
    assert!(paras
        .iter()
        .any(|p| p == "KONTAK: info@merhametveadalet.com"));
    assert_eq!(v["source"], "PRNewswire");
}

#[test]
fn photo_gallery_keeps_its_captions_and_says_it_is_a_gallery() {
    // The Liputan6 photo page has no article body: its only prose is five photo captions. They are
    // real sentences about the event, so they are kept (menus, tags and related lists are not), their
    // photo credits are removed, and a warning says the page is a gallery. The expected file is the
    // first caption five times over (a scraper bug): each of its sentences must be among ours.
    let path = fixtures().join("html/anpandu-liputan6-singlepage3.html");
    let out = Command::cargo_bin("warta")
        .expect("binary")
        .args(["clean", "--format", "json"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let paras = paragraphs(&v);
    assert_eq!(paras.len(), 5, "{paras:?}");
    let expected = read(&fixtures().join("expected/anpandu-liputan6-singlepage3.expected.txt"));
    let caption = expected
        .split(" (REUTERS / Danny Moloshok)")
        .next()
        .expect("caption")
        .trim();
    assert_eq!(paras[0], caption);
    for p in &paras {
        assert!(
            p.contains("Grammy Awards ke-58") && !p.contains("REUTERS"),
            "{p}"
        );
    }
    let warnings = strings(&v["warnings"]).join(" ");
    assert!(warnings.contains("photo gallery"), "{warnings}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("photo gallery"));
}

/// A copied text whose body is the file minus the spans SOURCES.md describes as boilerplate.
struct Copied {
    file: &'static str,
    /// Spans of the raw text that are boilerplate (ad markers, links, paging, initials, tags).
    boilerplate: &'static [&'static str],
    title: Option<&'static str>,
    dateline: Option<&'static str>,
    site: Option<&'static str>,
    paragraphs: usize,
    /// How the body starts, once the dateline (or the bare "- " a copy left of it) is gone.
    starts: &'static str,
}

const COPIED: &[Copied] = &[
    Copied {
        file: "detik-d8116969-multipage-raw.txt",
        boilerplate: &[
            "Jakarta - ",
            "SCROLL TO CONTINUE WITH CONTENT",
            "ADVERTISEMENT",
            "Baca juga: Kepala Legal Wilmar Bantah Urus Suap Rp 60 M untuk Vonis Lepas Kasus Migor",
            "Baca juga: Jaksa Gali Aliran Duit Djuyamto: Bangun Kantor Terpadu NU, Nafkahi Istri",
            "Halaman 2 dari 3",
            "(mib/haf)",
            "hakim suap vonis lepas cpo kasus suap vonis lepas migor",
        ],
        title: None,
        dateline: Some("Jakarta"),
        site: None,
        // Ads and links sat between paragraphs; where they were cut, paragraphs are restored.
        paragraphs: 5,
        starts: "Jaksa menghadirkan istri terdakwa",
    },
    Copied {
        file: "detik-d8116958-bacajuga-raw.txt",
        boilerplate: &[
            "Jakarta - ",
            "Baca juga: Angga Raka Resmi Jadi Kepala Badan Komunikasi Pemerintah",
            "SCROLL TO CONTINUE WITH CONTENT",
            "ADVERTISEMENT",
            "Baca juga: Lengkap! Daftar Nama Menteri Kabinet Prabowo-Gibran Usai Pelantikan Hari Ini",
            "(eva/fca)",
            "badan komunikasi pemerintah pco prabowo subianto",
        ],
        title: None,
        dateline: Some("Jakarta"),
        site: None,
        paragraphs: 4,
        starts: "Menteri Sekretaris Negara",
    },
    Copied {
        file: "detik-d4967256-videoteaser-initials.txt",
        boilerplate: &[
            "Bupati Situbondo Sebut Warga yang Mudik akan Jadi Target Karantina",
            "Pemerintah Usul Pemudik Diberi Pekerjaan di Bidang Pertanian:",
            "(fat/fat)",
        ],
        title: Some("Bupati Situbondo Sebut Warga yang Mudik akan Jadi Target Karantina"),
        dateline: None,
        site: None,
        paragraphs: 8,
        starts: "Mengantisipasi pemudik",
    },
    Copied {
        file: "cnnindonesia-519184-content-fragment.html",
        boilerplate: &[
            "Jakarta, CNN Indonesia -- ",
            "Lihat juga: 150 Petugas Satpol PP Akan Awasi 8 Titik CFD Jakpus Besok",
            "Lihat juga: Pedagang Positif Corona, Pasar Minggu Tutup Sementara 3 Hari",
            "(dis/ugo)",
            "[Gambas:Video CNN]",
        ],
        title: None,
        dateline: Some("Jakarta"),
        site: Some("CNN Indonesia"),
        paragraphs: 11,
        starts: "Arus lalu lintas",
    },
];

#[test]
fn copied_texts_give_the_text_minus_its_boilerplate() {
    for case in COPIED {
        let path = fixtures().join("text").join(case.file);
        let raw = read(&path);
        // The body is the raw text without the boilerplate spans (and, for the fragment, its tags).
        let mut want = raw.replace("<p>", " ").replace("</p>", " ");
        for junk in case.boilerplate {
            assert!(
                want.contains(junk),
                "{}: {junk:?} not in the fixture",
                case.file
            );
            want = want.replacen(junk, " ", 1);
        }
        let v = clean_json(&path);
        let paras = paragraphs(&v);
        let body = paras.join("\n");
        let (got, want) = (key(&body), key(&want));
        assert!(
            got == want,
            "{}: {}",
            case.file,
            first_difference(&got, &want)
        );
        for junk in case.boilerplate.iter().filter(|j| j.len() > 12) {
            assert!(
                !body.contains(junk),
                "{}: {junk:?} left in the body",
                case.file
            );
        }
        assert_eq!(paras.len(), case.paragraphs, "{}: {paras:#?}", case.file);
        assert!(
            paras[0].starts_with(case.starts),
            "{}: starts {:?}",
            case.file,
            paras[0]
        );
        assert_eq!(v["title"].as_str(), case.title, "{}", case.file);
        assert_eq!(v["dateline"].as_str(), case.dateline, "{}", case.file);
        if let Some(site) = case.site {
            assert_eq!(v["site"], site, "{}", case.file);
        }
        assert_eq!(v["language"], "id", "{}", case.file);
        // Every dropped span is listed for auditing.
        let removed: Vec<String> = v["removed"]
            .as_array()
            .expect("removed")
            .iter()
            .map(|r| r["text"].as_str().expect("text").to_string())
            .collect();
        for junk in case.boilerplate {
            assert!(
                removed.iter().any(|r| r.contains(junk.trim())),
                "{}: {junk:?} not listed in removed",
                case.file
            );
        }
    }
}

#[test]
fn multi_page_capture_warns() {
    let path = fixtures().join("text/detik-d8116969-multipage-raw.txt");
    let v = clean_json(&path);
    let warnings = strings(&v["warnings"]).join(" ");
    assert!(warnings.contains("3 pages"), "{warnings}");
}

const REFERENCE: &str = "text/kompas-2021-rusia-nato-copied.txt";

/// The reference example's body, read from the file itself: the lines from the dateline paragraph
/// to "…lebih dekat ke perbatasannya.", without the "Baca juga" lines and the dateline.
fn reference_body() -> Vec<String> {
    let raw = read(&fixtures().join(REFERENCE));
    let lines: Vec<String> = raw
        .lines()
        .map(collapse)
        .filter(|l| !l.is_empty())
        .collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("MOSKWA, KOMPAS.com - "))
        .expect("dateline line");
    let last = lines
        .iter()
        .position(|l| l.ends_with("lebih dekat ke perbatasannya."))
        .expect("last line");
    lines[first..=last]
        .iter()
        .filter(|l| !l.starts_with("Baca juga:"))
        .map(|l| l.trim_start_matches("MOSKWA, KOMPAS.com - ").to_string())
        .collect()
}

#[test]
fn reference_example_is_exactly_its_17_paragraphs() {
    let v = clean_json(&fixtures().join(REFERENCE));
    let paras = paragraphs(&v);
    let want = reference_body();
    assert_eq!(want.len(), 17);
    assert_eq!(paras, want);
    assert!(paras[0].starts_with("Rusia menghentikan aktivitas misi diplomasi"));
    assert!(paras[16].ends_with("lebih dekat ke perbatasannya."));
    let kinds = strings(&v["kinds"]);
    let heading: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == "heading")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(heading, [8]);
    assert_eq!(paras[8], "Mata-mata Rusia");

    assert_eq!(
        v["title"],
        "Setelah 8 Delegasi Diusir, Rusia Balas NATO dengan Hentikan Misi Diplomasi"
    );
    assert_eq!(v["date"], "19/10/2021, 09:20 WIB");
    assert_eq!(v["author"], "Shintaloka Pradita Sicca");
    assert_eq!(v["source"], "Al Jazeera");
    assert_eq!(v["dateline"], "MOSKWA");
    assert_eq!(v["site"], "Kompas.com");
    assert_eq!(v["language"], "id");
    assert!(strings(&v["warnings"]).is_empty());

    let sentences = v["sentences"].as_array().expect("sentences");
    assert_eq!(sentences.len(), 17);
    assert_eq!(sentences[9].as_array().expect("sentence list").len(), 2);
}

#[test]
fn reference_example_lists_every_removed_span() {
    let raw = read(&fixtures().join(REFERENCE));
    let v = clean_json(&fixtures().join(REFERENCE));
    let removed = v["removed"].as_array().expect("removed");
    let reasons_of = |needle: &str| -> Vec<String> {
        removed
            .iter()
            .filter(|r| r["text"].as_str().is_some_and(|t| t.contains(needle)))
            .map(|r| r["reason"].as_str().expect("reason").to_string())
            .collect()
    };
    let baca: Vec<&Value> = removed
        .iter()
        .filter(|r| {
            r["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Baca juga:"))
        })
        .collect();
    assert_eq!(baca.len(), 4, "each Baca juga line is its own span");
    assert!(baca.iter().all(|r| r["reason"] == "related link"));
    for header in [
        "Baca berita tanpa iklan",
        "Kompas.com - 19/10/2021, 09:20 WIB",
        "Penulis",
        "Sumber Al Jazeera",
        "MOSKWA, KOMPAS.com -",
    ] {
        assert!(!reasons_of(header).is_empty(), "{header:?} not listed");
    }
    for footer in [
        "Simak breaking news",
        "Terkini Lainnya",
        "Komentar",
        "Close Ads",
        "Login untuk memaksimalkan",
    ] {
        assert!(
            reasons_of(footer).iter().any(|r| r == "footer"),
            "{footer:?} not removed as footer"
        );
    }
    // Audit: every word of the input is either kept or listed as removed.
    let kept = paragraphs(&v).join(" ");
    let listed: String = removed
        .iter()
        .map(|r| r["text"].as_str().expect("text"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut pool: Vec<String> = format!("{kept} {listed} {}", v["title"].as_str().unwrap_or(""))
        .split_whitespace()
        .map(String::from)
        .collect();
    for word in raw.split_whitespace() {
        let pos = pool.iter().position(|w| w == word);
        assert!(
            pos.is_some(),
            "input word {word:?} is neither kept nor listed as removed"
        );
        if let Some(p) = pos {
            pool.swap_remove(p);
        }
    }
}

#[test]
fn reference_example_as_text_and_markdown() {
    let path = fixtures().join(REFERENCE);
    let run = |format: &str| {
        let out = Command::cargo_bin("warta")
            .expect("binary")
            .args(["clean", "--format", format])
            .arg(&path)
            .output()
            .expect("runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let body = reference_body();
    let title = "Setelah 8 Delegasi Diusir, Rusia Balas NATO dengan Hentikan Misi Diplomasi";
    assert_eq!(run("text"), format!("{title}\n\n{}\n", body.join("\n\n")));
    let md = run("markdown");
    assert!(md.starts_with(&format!("# {title}\n\n")));
    assert!(md.contains("**Site:** Kompas.com · **Date:** 19/10/2021, 09:20 WIB · **Author:** Shintaloka Pradita Sicca"));
    assert!(md.contains("\n\n## Mata-mata Rusia\n\n"));
    assert!(md.trim_end().ends_with("lebih dekat ke perbatasannya."));
}

#[test]
fn every_fixture_cleans_without_error() {
    for dir in ["html", "text"] {
        for entry in std::fs::read_dir(fixtures().join(dir)).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                continue; // scraper records, not inputs
            }
            let v = clean_json(&path);
            assert!(!paragraphs(&v).is_empty(), "{}", path.display());
        }
    }
}

#[test]
fn bundled_example_is_the_reference() {
    // README runs `warta clean examples/kompas-nato.txt`; it must behave exactly like the reference.
    let example = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/kompas-nato.txt"
    ));
    let (a, b) = (clean_json(example), clean_json(&fixtures().join(REFERENCE)));
    assert_eq!(a["paragraphs"], b["paragraphs"]);
    assert_eq!(a["removed"], b["removed"]);
    assert_eq!(a["title"], b["title"]);
}
