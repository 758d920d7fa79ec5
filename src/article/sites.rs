//! What we know about the Indonesian news sites the issue names: how to recognise them, where their
//! article body lives in a saved page, and which parts of that body are not the article.
//!
//! Selectors come from `../shared/docs/cleaning-patterns.md` (current layouts, as used by public
//! scrapers) plus the older layouts seen in the fixtures (2015-2017 pages). They are tried in order;
//! a selector that matches nothing, or too little text, falls through to the next and finally to the
//! generic readability extractor, so a redesign degrades to "generic" rather than to garbage.

/// One news site.
#[derive(Debug)]
pub(crate) struct Site {
    /// Name shown to users (`site` in JSON).
    pub name: &'static str,
    /// Host names (a page's host matches when it equals one or ends with `.` + one).
    pub hosts: &'static [&'static str],
    /// Brands as printed in datelines and credits, lower-case (`kompas.com`, `antara`).
    pub brands: &'static [&'static str],
    /// Selectors of the article body, best first.
    pub body: &'static [&'static str],
    /// Selectors of things inside the body that are not the article.
    pub drop: &'static [&'static str],
    /// Selectors of markers where the article ends: they and everything after them are dropped.
    pub end: &'static [&'static str],
}

/// Drops that hold for every site: related-link boxes, share bars, tags, paging, comments, embeds.
/// Generic extractors miss these because their class names are Indonesian (`baca-juga`, `linksisip`).
pub(crate) const SHARED_DROP: &[&str] = &[
    ".baca-juga",
    ".bacajuga",
    ".baca_juga",
    ".baca_juga2",
    ".linksisip",
    ".lihatjg",
    ".terkait",
    ".berita-terkait",
    ".detail-share",
    ".share",
    ".social-share",
    ".video_detail",
    ".tags",
    ".tag-list",
    ".pagination",
    "#komentar",
    ".komentar",
    ".para_caption",
    ".ads",
    ".advertisement",
    ".iklan",
    "figcaption",
];

pub(crate) static SITES: &[Site] = &[
    Site {
        name: "Kompas.com",
        hosts: &["kompas.com"],
        brands: &["kompas.com", "kompas"],
        body: &[".read__content", ".kcm-read-text", ".kcm-read-content-text"],
        drop: &[
            ".read__paging",
            ".kompasidRec",
            ".ads-on-body",
            ".read__credit",
            ".read__photo",
            ".fb-quote",
            ".gate-kgplus",
            ".inner-link-baca-juga",
            ".photo",
            ".kcm-read-author",
        ],
        end: &["#EndOfArticle"],
    },
    Site {
        name: "detikcom",
        hosts: &["detik.com"],
        brands: &[
            "detikcom",
            "detik.com",
            "detiknews",
            "detikinet",
            "detikfinance",
            "detiksport",
            "detikhot",
            "detikoto",
            "detiktravel",
            "detikfood",
            "detikhealth",
        ],
        body: &[
            ".detail__body-text",
            ".itp_bodycontent",
            "#detikdetailtext",
            ".text_detail",
        ],
        drop: &[
            ".detail__body-tag",
            ".staticdetail_container",
            ".sisip_embed_sosmed",
            ".detail__long-nav",
            ".nav",
        ],
        end: &[],
    },
    Site {
        name: "CNN Indonesia",
        hosts: &["cnnindonesia.com"],
        brands: &["cnn indonesia", "cnnindonesia.com"],
        body: &[".detail-text", ".detail_text"],
        drop: &[".media_artikel", ".paradetail"],
        end: &[],
    },
    Site {
        name: "CNBC Indonesia",
        hosts: &["cnbcindonesia.com"],
        brands: &["cnbc indonesia", "cnbcindonesia.com"],
        body: &[".detail_text", ".detail-text"],
        drop: &[".media-institusi", ".media_artikel"],
        end: &[],
    },
    Site {
        name: "Liputan6.com",
        hosts: &["liputan6.com"],
        brands: &["liputan6.com", "liputan6"],
        body: &[
            ".article-content-body__item-content",
            ".article-content-body",
            ".text-detail",
        ],
        drop: &[
            "div.promo",
            "div.advertisement-text",
            ".article-content-body__item-break",
            ".article-content-body__item-page",
            ".baca-juga-collections",
            ".read-page--photo-gallery--item__caption-button",
        ],
        end: &[],
    },
    Site {
        name: "Tribunnews.com",
        hosts: &["tribunnews.com"],
        brands: &["tribunnews.com", "tribunnews"],
        body: &[".side-article.txt-article", ".txt-article"],
        drop: &["p.baca", ".side-article:not(.txt-article)"],
        end: &[],
    },
    Site {
        name: "ANTARA",
        hosts: &["antaranews.com", "antara.co.id"],
        brands: &["antara", "antara news", "antaranews", "antaranews.com"],
        body: &[".post-content", "#content_news"],
        drop: &[
            "span.baca-juga",
            "p:has(span.baca-juga)",
            "p.text-muted",
            "ul.blog-tags",
            ".boxtxt",
            ".box_content",
        ],
        end: &[],
    },
    Site {
        name: "Tempo.co",
        hosts: &["tempo.co"],
        brands: &["tempo.co", "tempo"],
        body: &["#isi", ".detail-konten", ".artikel"],
        drop: &[".bacajuga", ".artikel-terkait"],
        end: &[],
    },
    Site {
        name: "Okezone",
        hosts: &["okezone.com"],
        brands: &["okezone.com", "okezone"],
        body: &["#contentx", ".read", ".ctn-desc"],
        drop: &[".box-gnews", ".detads-bottom", ".video-wrap", ".video_ok"],
        end: &[],
    },
    Site {
        name: "Republika",
        hosts: &["republika.co.id", "ihram.co.id"],
        brands: &["republika.co.id", "republika", "ihram.co.id"],
        body: &[".article-content", ".artikel", ".teaser"],
        drop: &[".baca-juga", ".picked-article", ".set-sosmed"],
        end: &[],
    },
    Site {
        name: "Suara.com",
        hosts: &["suara.com"],
        brands: &["suara.com"],
        body: &[".detail-content", "#contentImageCaption", ".contentDetail"],
        drop: &[".baca-juga-new", ".photo-caption"],
        end: &[],
    },
    Site {
        name: "Merdeka.com",
        hosts: &["merdeka.com"],
        brands: &["merdeka.com"],
        body: &[".mdk-body-paragraph", "#mdk-body-newsarea"],
        drop: &["#mdk-tag-news", ".mdk-tag", ".mdk-body-ads"],
        end: &[],
    },
    Site {
        name: "VIVA.co.id",
        hosts: &["viva.co.id"],
        brands: &["viva.co.id", "viva"],
        body: &[".main-content-detail", "#article-content"],
        drop: &[".bacajuga", ".artikel-terkait", ".twitter-tweet"],
        end: &[],
    },
];

/// The site a page belongs to, from its URL host.
pub(crate) fn by_host(host: &str) -> Option<&'static Site> {
    let host = host.trim_start_matches("www.").to_ascii_lowercase();
    SITES.iter().find(|s| {
        s.hosts
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    })
}

/// The site a brand (dateline, `og:site_name`, header line) belongs to.
pub(crate) fn by_brand(brand: &str) -> Option<&'static Site> {
    let b = brand.trim().to_lowercase();
    SITES
        .iter()
        .find(|s| s.brands.contains(&b.as_str()) || s.name.to_lowercase() == b)
}

/// The host part of a URL, without scheme, port or path.
pub(crate) fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?.split(':').next()?;
    (!host.is_empty() && host.contains('.')).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_hosts_and_brands() {
        assert_eq!(
            by_host("nasional.kompas.com").map(|s| s.name),
            Some("Kompas.com")
        );
        assert_eq!(
            by_host("www.cnnindonesia.com").map(|s| s.name),
            Some("CNN Indonesia")
        );
        assert_eq!(by_host("notkompas.com").map(|s| s.name), None);
        assert_eq!(by_brand("KOMPAS.com").map(|s| s.name), Some("Kompas.com"));
        assert_eq!(by_brand("TEMPO.CO").map(|s| s.name), Some("Tempo.co"));
        assert_eq!(by_brand("IHRAM.CO.ID").map(|s| s.name), Some("Republika"));
        assert_eq!(
            host_of("https://inet.detik.com/read/2015?x=1"),
            Some("inet.detik.com")
        );
    }

    #[test]
    fn every_selector_parses() {
        for s in SITES.iter() {
            for sel in s.body.iter().chain(s.drop).chain(s.end) {
                assert!(dom_query::Matcher::new(sel).is_ok(), "bad selector {sel}");
            }
        }
        for sel in SHARED_DROP {
            assert!(dom_query::Matcher::new(sel).is_ok(), "bad selector {sel}");
        }
    }
}
