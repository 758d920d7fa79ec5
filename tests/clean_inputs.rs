//! `warta clean` on inputs a user can get wrong, odd encodings, and adversarial articles.
//!
//! Every refusal must be one line on standard error that names the input and says what to do, a
//! non-zero exit, nothing on standard output, and no output file created or overwritten.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/articles/text/kompas-2021-rusia-nato-copied.txt"
);

fn warta() -> Command {
    Command::cargo_bin("warta").expect("binary")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn clean_file(path: &Path) -> Value {
    json_of(
        &warta()
            .args(["clean", "--format", "json"])
            .arg(path)
            .output()
            .expect("runs"),
    )
}

fn paragraphs(v: &Value) -> Vec<String> {
    v["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .map(|p| p.as_str().expect("string").to_string())
        .collect()
}

/// An Indonesian body long enough for the language check, with three paragraphs.
const BODY: &str = "Pemerintah Kota Bandung meresmikan jembatan penyeberangan baru di kawasan Dago pada Senin pagi.\n\n\
\"Jembatan ini kami bangun agar pejalan kaki lebih aman,\" kata Wali Kota kepada wartawan.\n\n\
Pembangunan jembatan itu menelan biaya Rp 3,5 miliar dan selesai dalam waktu empat bulan, lebih cepat dari rencana.";

/// Run `warta clean` on `input` and check the refusal: one line naming `name`, containing `says`.
fn assert_refused(input: &str, extra: &[&str], name: &str, says: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = write(dir.path(), "existing.txt", b"KEEP ME");
    let fresh = dir.path().join("fresh.txt");
    for output in [&existing, &fresh] {
        let out = warta()
            .arg("clean")
            .arg(input)
            .args(extra)
            .arg("-o")
            .arg(output)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{input}: accepted");
        assert_eq!(out.status.code(), Some(1), "{input}: exit code");
        assert!(out.stdout.is_empty(), "{input}: wrote to stdout");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{input}: not one line: {stderr}"
        );
        assert!(
            stderr.starts_with("warta: ") && stderr.contains(name) && stderr.contains(says),
            "{input}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read(&existing).expect("still there"),
        b"KEEP ME",
        "{input}: output overwritten"
    );
    assert!(!fresh.exists(), "{input}: output file created");
}

#[test]
fn missing_path_is_refused() {
    assert_refused(
        "/no/such/article.txt",
        &[],
        "/no/such/article.txt",
        "no such file; check the path",
    );
}

#[test]
fn directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_string_lossy().to_string();
    assert_refused(&d, &[], &d, "is a directory");
}

#[test]
fn binary_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nul = write(
        dir.path(),
        "data.bin",
        b"\x00\x01\x02binary\x00data\xff\xfe\x00",
    );
    assert_refused(
        &nul.to_string_lossy(),
        &[],
        "data.bin",
        "not a text or HTML file",
    );
    let pdf = write(
        dir.path(),
        "paper.txt",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    );
    assert_refused(&pdf.to_string_lossy(), &[], "paper.txt", "a PDF document");
    let controls: Vec<u8> = (0..400u32).map(|i| (i % 8 + 1) as u8).collect();
    let ctl = write(dir.path(), "noise", &controls);
    assert_refused(
        &ctl.to_string_lossy(),
        &[],
        "noise",
        "not a text or HTML file",
    );
}

#[test]
fn oversized_input_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small_limit = write(dir.path(), "long.txt", BODY.repeat(20).as_bytes());
    assert_refused(
        &small_limit.to_string_lossy(),
        &["--max-bytes", "1000"],
        "long.txt",
        "raise --max-bytes",
    );
    // The default limit is 5 MB.
    let big = write(dir.path(), "big.txt", &vec![b'a'; 5_000_001]);
    assert_refused(
        &big.to_string_lossy(),
        &[],
        "big.txt",
        "more than the limit of 5000000 bytes",
    );
}

#[test]
fn oversized_stdin_is_refused() {
    let out = warta()
        .args(["clean", "-", "--max-bytes", "100"])
        .write_stdin(BODY)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("<stdin>") && stderr.contains("--max-bytes"),
        "{stderr}"
    );
}

#[test]
fn empty_input_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = write(dir.path(), "empty.txt", b"");
    assert_refused(
        &empty.to_string_lossy(),
        &[],
        "empty.txt",
        "the input is empty",
    );
    let blank = write(dir.path(), "blank.txt", b" \n\n\t \r\n");
    assert_refused(
        &blank.to_string_lossy(),
        &[],
        "blank.txt",
        "the input is empty",
    );
}

#[test]
fn page_with_no_prose_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let menu = "<!DOCTYPE html><html><head><title>Beranda - Contoh.com</title></head><body>\
        <nav><a href='/'>Beranda</a> <a href='/news'>News</a> <a href='/bola'>Bola</a></nav>\
        <div class='menu'><ul><li><a>Terpopuler</a></li><li><a>Video</a></li><li><a>Foto</a></li></ul></div>\
        <div><h3>Berita Terkait</h3><ul><li><a>Harga Cabai Naik Lagi</a></li><li><a>Jokowi Resmikan Tol</a></li></ul></div>\
        <footer>Copyright © 2024 Contoh.com</footer></body></html>";
    let page = write(dir.path(), "menu.html", menu.as_bytes());
    assert_refused(
        &page.to_string_lossy(),
        &[],
        "menu.html",
        "no article text left after cleaning",
    );
    let links = write(
        dir.path(),
        "links.txt",
        "Beranda\nNews\nBola\n\nTerpopuler\n\nVideo\nFoto\n".as_bytes(),
    );
    assert_refused(
        &links.to_string_lossy(),
        &[],
        "links.txt",
        "no article text left after cleaning",
    );
}

#[test]
fn stdin_gives_the_same_result_as_the_file() {
    let from_file = warta().args(["clean", REFERENCE]).output().expect("runs");
    let text = std::fs::read(REFERENCE).expect("reference");
    let from_stdin = warta()
        .args(["clean", "-"])
        .write_stdin(text)
        .output()
        .expect("runs");
    assert!(from_file.status.success() && from_stdin.status.success());
    assert_eq!(from_file.stdout, from_stdin.stdout);
}

#[test]
fn output_file_gets_what_stdout_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("clean.json");
    let to_file = warta()
        .args(["clean", REFERENCE, "--format", "json", "-o"])
        .arg(&target)
        .output()
        .expect("runs");
    assert!(to_file.status.success() && to_file.stdout.is_empty());
    let to_stdout = warta()
        .args(["clean", REFERENCE, "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(std::fs::read(&target).expect("written"), to_stdout.stdout);
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let bom: [u8; 2] = if big_endian {
        [0xfe, 0xff]
    } else {
        [0xff, 0xfe]
    };
    let units = text.encode_utf16().flat_map(|u| {
        if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        }
    });
    bom.into_iter().chain(units).collect()
}

#[test]
fn utf16_and_utf8_bom_read_like_utf8() {
    let text = std::fs::read_to_string(REFERENCE).expect("reference");
    let want = clean_file(Path::new(REFERENCE));
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in [
        ("le.txt", utf16(&text, false)),
        ("be.txt", utf16(&text, true)),
        ("bom.txt", [&b"\xef\xbb\xbf"[..], text.as_bytes()].concat()),
    ] {
        let got = clean_file(&write(dir.path(), name, &bytes));
        assert_eq!(paragraphs(&got), paragraphs(&want), "{name}");
        assert_eq!(got["title"], want["title"], "{name}");
    }
}

#[test]
fn windows_1252_is_detected_or_taken_from_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!("Kafe “Sénopati” dibuka kembali — {BODY}");
    // Plain text with no declaration: the encoding is detected, not replaced.
    let (cp1252, _, lossy) = encoding_rs::WINDOWS_1252.encode(&body);
    assert!(!lossy);
    let v = clean_file(&write(dir.path(), "legacy.txt", &cp1252));
    assert!(
        paragraphs(&v)[0].starts_with("Kafe “Sénopati” dibuka kembali — Pemerintah"),
        "{:?}",
        paragraphs(&v)
    );
    assert_eq!(v["input"]["encoding"], "windows-1252");
    // HTML that declares its charset with http-equiv.
    let page = format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><title>Judul</title></head>\
         <body><article><p>{}</p></article></body></html>",
        body.replace("\n\n", "</p><p>")
    );
    let (page, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
    let v = clean_file(&write(dir.path(), "legacy.html", &page));
    assert!(
        paragraphs(&v)[0].starts_with("Kafe “Sénopati” dibuka kembali"),
        "{:?}",
        paragraphs(&v)
    );
    assert_eq!(v["input"]["encoding"], "windows-1252");
}

#[test]
fn entities_are_decoded_quotes_kept_and_text_normalised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = "<html><body><article><p>JAKARTA, KOMPAS.com - Harga &quot;cabai&quot; &amp; bawang naik, kata &#8220;pedagang&#8221; di pasar Senen pada Senin pagi.</p>\
        <p>Se\u{301}nopati ramai pengunjung yang ingin berbelanja kebutuhan pokok menjelang akhir pekan ini.</p></article></body></html>";
    let v = clean_file(&write(dir.path(), "page.html", page.as_bytes()));
    let p = paragraphs(&v);
    assert_eq!(
        p[0],
        "Harga \"cabai\" & bawang naik, kata “pedagang” di pasar Senen pada Senin pagi."
    );
    assert!(
        p[1].starts_with("Sénopati") && p[1].starts_with("S\u{e9}"),
        "not NFC: {:?}",
        p[1]
    );
    assert_eq!(v["dateline"], "JAKARTA");
    let txt = write(
        dir.path(),
        "copied.txt",
        "Harga cabai &amp; bawang naik lagi di pasar pada Senin pagi, kata pedagang.".as_bytes(),
    );
    assert_eq!(
        paragraphs(&clean_file(&txt))[0],
        "Harga cabai & bawang naik lagi di pasar pada Senin pagi, kata pedagang."
    );
}

#[test]
fn parentheses_inside_body_text_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "JAKARTA, KOMPAS.com - Polisi memeriksa uji kelayakan jalan (KIR,-red) lima taksi (semuanya Toyota/Avanza) pada Senin (6/4/2020).\n\n\
        Pemeriksaan melibatkan PT Jasa Marga (Persero) Tbk dan Dinas Perhubungan (Dishub) DKI Jakarta sejak pagi.\n\n\
        \"Kami menemukan (dua) pelanggaran,\" kata Kepala Dishub (kiri/kanan dalam foto) kepada wartawan. (ANT)";
    let v = clean_file(&write(dir.path(), "kurung.txt", text.as_bytes()));
    let p = paragraphs(&v);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].contains("(KIR,-red)")
            && p[0].contains("(semuanya Toyota/Avanza)")
            && p[0].contains("(6/4/2020)")
    );
    assert!(p[1].contains("(Persero)") && p[1].contains("(Dishub)"));
    assert!(p[2].contains("(dua)") && p[2].contains("(kiri/kanan dalam foto)"));
    assert!(
        p[2].ends_with("kepada wartawan."),
        "credit after the last sentence is removed: {}",
        p[2]
    );
}

#[test]
fn sumber_inside_a_press_release_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "JAKARTA, 12 Maret 2024 (Antara/PRNewswire) -- PT Contoh Sejahtera meluncurkan program beasiswa untuk\n\
        seribu mahasiswa di seluruh Indonesia. Program ini dibuka hingga akhir\n\
        April dan terbuka bagi mahasiswa semua jurusan.\n\n\
        Menurut perusahaan, data penerima diambil dari beberapa lembaga. Sumber: Kementerian Pendidikan dan\n\
        Badan Pusat Statistik, yang dihimpun sejak tahun lalu.\n\n\
        KONTAK: humas@contoh.co.id\n\n\
        Sumber: PT Contoh Sejahtera";
    let v = clean_file(&write(dir.path(), "rilis.txt", text.as_bytes()));
    let p = paragraphs(&v);
    assert_eq!(
        p,
        [
            "PT Contoh Sejahtera meluncurkan program beasiswa untuk seribu mahasiswa di seluruh Indonesia. Program ini dibuka hingga akhir April dan terbuka bagi mahasiswa semua jurusan.",
            "Menurut perusahaan, data penerima diambil dari beberapa lembaga. Sumber: Kementerian Pendidikan dan Badan Pusat Statistik, yang dihimpun sejak tahun lalu.",
            "KONTAK: humas@contoh.co.id",
            "Sumber: PT Contoh Sejahtera",
        ]
    );
    assert_eq!(v["dateline"], "JAKARTA");
    assert_eq!(v["source"], "PRNewswire");
}

#[test]
fn ten_thousand_words_without_a_full_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let words = [
        "pemerintah",
        "akan",
        "membangun",
        "jalan",
        "baru",
        "di",
        "daerah",
        "yang",
        "terpencil",
        "itu",
    ];
    let text: String = (0..10_000)
        .map(|i| words[i % words.len()])
        .collect::<Vec<_>>()
        .join(" ");
    let v = clean_file(&write(dir.path(), "panjang.txt", text.as_bytes()));
    let p = paragraphs(&v);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].split_whitespace().count(), 10_000);
    assert_eq!(v["sentences"][0].as_array().expect("sentences").len(), 1);
}

#[test]
fn five_megabyte_input_is_accepted() {
    // Under the default limit: cleaned, not refused (its speed is measured separately, not here).
    let dir = tempfile::tempdir().expect("tempdir");
    // Distinct paragraphs: identical neighbours would be dropped as repeats.
    let para = BODY.replace("\n\n", " ");
    let mut text = String::new();
    let mut n = 0;
    while text.len() + para.len() + 40 < 5_000_000 {
        n += 1;
        text.push_str(&format!("{para} Ini paragraf nomor {n}.\n\n"));
    }
    let v = clean_file(&write(dir.path(), "besar.txt", text.as_bytes()));
    assert_eq!(paragraphs(&v).len(), n);
}

#[test]
fn english_input_is_cleaned_with_a_warning() {
    let text = "Russia has suspended its diplomatic mission to NATO after the alliance expelled eight members of its mission, \
        accusing them of being undeclared intelligence officers. The move was announced on Monday by the foreign minister.";
    let out = warta()
        .args(["clean", "-", "--format", "json"])
        .write_stdin(text)
        .output()
        .expect("runs");
    let v = json_of(&out);
    assert_eq!(v["language"], "en");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: <stdin>: the text looks English")
    );
    let quiet = warta()
        .args(["clean", "-", "-q"])
        .write_stdin(text)
        .output()
        .expect("runs");
    assert!(quiet.status.success() && quiet.stderr.is_empty());
}

#[test]
fn markdown_input_keeps_its_headings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = format!("# Jembatan Baru di Dago\n\n{}\n\n## Biaya\n\nBiaya pembangunan ditanggung **APBD** kota, kata [Dinas PU](https://pu.example.id).", BODY);
    let v = clean_file(&write(dir.path(), "berita.md", md.as_bytes()));
    assert_eq!(v["title"], "Jembatan Baru di Dago");
    let p = paragraphs(&v);
    let i = p.iter().position(|x| x == "Biaya").expect("heading kept");
    assert_eq!(v["kinds"][i], "heading");
    assert_eq!(
        p.last().map(String::as_str),
        Some("Biaya pembangunan ditanggung APBD kota, kata Dinas PU.")
    );
}

#[test]
fn extensionless_html_is_sniffed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = format!("<!DOCTYPE html><html><head><title>Jembatan Baru - Contoh</title></head><body><article><p>{}</p></article></body></html>", BODY.replace("\n\n", "</p><p>"));
    let v = clean_file(&write(dir.path(), "halaman", page.as_bytes()));
    assert_eq!(v["input"]["format"], "html");
    assert_eq!(paragraphs(&v).len(), 3);
}

#[test]
fn whole_copied_page_loses_its_menus() {
    // Select-all on a page copies the menus too; the story still starts at its dateline.
    let menu: String = [
        "Beranda",
        "News",
        "Nasional",
        "Global",
        "Megapolitan",
        "Regional",
        "Tekno",
        "Bola",
        "Lifestyle",
        "Otomotif",
        "Properti",
        "Travel",
        "Food",
        "Health",
        "Edukasi",
        "Video",
        "Foto",
        "Indeks",
        "Login",
        "Daftar",
    ]
    .join("\n");
    let text = format!(
        "{menu}\n\nJAKARTA, KOMPAS.com - {BODY}\n\nBerita Terkait\n\nHarga Cabai Naik Lagi\n\nJokowi Resmikan Tol Baru"
    );
    let out = warta()
        .args(["clean", "-", "--format", "json"])
        .write_stdin(text)
        .output()
        .expect("runs");
    let v = json_of(&out);
    let p = paragraphs(&v);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("Pemerintah Kota Bandung"), "{p:?}");
    assert!(p[2].ends_with("lebih cepat dari rencana."));
    assert_eq!(v["dateline"], "JAKARTA");
    assert_eq!(v["site"], "Kompas.com");
}
