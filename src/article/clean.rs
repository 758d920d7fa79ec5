//! Removing what news sites wrap around a story, from copied text or from the lines the HTML stage
//! extracted. The same passes serve both, in this order:
//!
//! 1. normalise each line and cut spans that are never body text wherever they are (ad markers,
//!    embeds, paging), splitting the line there;
//! 2. drop whole lines of page furniture, related-article links and repeats;
//! 3. find where the story starts (its dateline, else its first prose line): the lines before it are
//!    the header, mined for title, date, author and source;
//! 4. cut footers (from a footer marker, or from the author initials that close Detik and CNN stories);
//! 5. peel credits, initials, tags and teasers off the end;
//! 6. strip photo credits;
//! 7. join the remaining lines into paragraphs and spot subheadings.
//!
//! Every dropped span is recorded with its reason. When a rule is unsure it keeps the text: a dropped
//! body paragraph is worse than a kept link line. Long prose stops every region cut.

use super::dateline;
use super::rules::{self, ends_sentence, is_long_prose, is_prose, looks_like_headline, word_count};
use super::{Metadata, ParagraphKind, Removed};

/// One line of input for the cleaner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub text: String,
    pub hint: Hint,
    /// A blank line (text) or a block element (HTML) came before it.
    pub new_block: bool,
}

/// What the markup says about a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    Plain,
    /// A Markdown `# title`.
    Title,
    /// An HTML `<h1>`-`<h6>` or a Markdown `##` heading.
    Heading,
    /// Every character of the line is bold.
    Bold,
}

/// The cleaner's result.
#[derive(Debug, Default)]
pub(crate) struct Cleaned {
    pub paragraphs: Vec<(String, ParagraphKind)>,
    pub removed: Vec<Removed>,
    pub warnings: Vec<String>,
}

/// Collapse runs of whitespace (including no-break spaces) to one space, drop invisible format
/// characters (zero-width spaces, direction marks, soft hyphens), and trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if !is_invisible(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{00ad}' | '\u{202a}'..='\u{202e}')
}

/// A line being cleaned.
#[derive(Debug, Clone)]
struct Work {
    text: String,
    hint: Hint,
    new_block: bool,
    /// Glued to the line before (what was between them was cut mid-sentence).
    cont: bool,
    /// Why it was dropped, if it was.
    dropped: Option<String>,
}

impl Work {
    fn alive(&self) -> bool {
        self.dropped.is_none()
    }
}

struct Cleaner<'m> {
    lines: Vec<Work>,
    meta: &'m mut Metadata,
    warnings: Vec<String>,
    /// Input may be hard-wrapped (plain text), not reflowed markup.
    wrapped_input: bool,
}

/// Clean `lines` into paragraphs, filling `meta` with what the header and dateline tell.
pub(crate) fn clean(lines: Vec<Line>, meta: &mut Metadata, wrapped_input: bool) -> Cleaned {
    // Lines that normalise to nothing go, but pass on the block boundary they opened.
    let mut opens_block = false;
    let lines = lines
        .into_iter()
        .filter_map(|l| {
            let text = collapse_ws(&l.text);
            if text.is_empty() {
                opens_block |= l.new_block;
                return None;
            }
            let new_block = l.new_block || std::mem::take(&mut opens_block);
            Some(Work {
                text,
                hint: l.hint,
                new_block,
                cont: false,
                dropped: None,
            })
        })
        .collect();
    let mut c = Cleaner {
        lines,
        meta,
        warnings: Vec::new(),
        wrapped_input,
    };
    c.cut_inline_spans();
    c.drop_furniture_lines();
    c.drop_related_links();
    let start = c.header_and_dateline();
    c.cut_footers(start);
    c.peel_end();
    c.strip_photo_credits(start);
    c.drop_title_repeats();
    let paragraphs = c.paragraphs();
    Cleaned {
        paragraphs,
        removed: c.removed(),
        warnings: c.warnings,
    }
}

impl Cleaner<'_> {
    fn alive_indices(&self) -> Vec<usize> {
        (0..self.lines.len())
            .filter(|&i| self.lines[i].alive())
            .collect()
    }

    fn drop(&mut self, i: usize, reason: &str) {
        if self.lines[i].dropped.is_none() {
            self.lines[i].dropped = Some(reason.to_string());
        }
    }

    /// Replace line `i` by its [`pieces`] (for one-off cuts; passes that cut many lines rebuild the
    /// list in one sweep instead, so a 5 MB input full of ad markers stays linear).
    fn split_line(&mut self, i: usize, range: std::ops::Range<usize>, reason: &str) -> usize {
        let parts = pieces(self.lines[i].clone(), range, reason);
        let n = parts.len();
        self.lines.splice(i..=i, parts);
        n
    }

    /// Pass 1: ad markers, embeds, video teasers and paging, anywhere in a line.
    fn cut_inline_spans(&mut self) {
        let old = std::mem::take(&mut self.lines);
        let mut out = Vec::with_capacity(old.len());
        for line in old {
            // All matches of all rules, found once per rule (linear even on one 5 MB line), then
            // taken in order without overlaps.
            let mut found: Vec<(std::ops::Range<usize>, &'static str)> = Vec::new();
            if line.alive() {
                for (re, reason) in rules::INLINE_SPANS.iter() {
                    found.extend(re.find_iter(&line.text).map(|m| (m.range(), *reason)));
                }
            }
            if found.is_empty() {
                out.push(line);
                continue;
            }
            found.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
            let mut cuts: Vec<(std::ops::Range<usize>, &str)> = Vec::with_capacity(found.len());
            for (range, reason) in found {
                if cuts.last().is_some_and(|(prev, _)| range.start < prev.end) {
                    continue;
                }
                if reason == "page navigation" {
                    let span = line.text[range.clone()].to_string();
                    self.note_paging(&span);
                }
                cuts.push((range, reason));
            }
            out.extend(cut_many(line, &cuts));
        }
        self.lines = out;
    }

    fn note_paging(&mut self, span: &str) {
        let Some(c) = rules::PAGE_OF.captures(span) else {
            return;
        };
        let num = |a: usize, b: usize| {
            c.get(a)
                .or_else(|| c.get(b))
                .and_then(|m| m.as_str().parse::<u32>().ok())
        };
        if let (Some(page), Some(total)) = (num(1, 3), num(2, 4)) {
            if total > 1 && !self.warnings.iter().any(|w| w.contains("pages")) {
                self.warnings.push(format!(
                    "the article has {total} pages but only one was captured (\"{span}\" was seen, page {page}); \
                     save the whole article (many sites offer ?page=all) to translate all of it"
                ));
            }
        }
    }

    /// Pass 2: promos, widgets, share prompts, repeated lines.
    fn drop_furniture_lines(&mut self) {
        let mut prev: Option<String> = None;
        for i in 0..self.lines.len() {
            if !self.lines[i].alive() {
                continue;
            }
            let text = &self.lines[i].text;
            let reason = rules::LINE_DROPS
                .iter()
                .find(|(re, _)| re.is_match(text) && word_count(text) <= 60)
                .map(|(_, r)| *r)
                .or_else(|| (prev.as_deref() == Some(text.as_str())).then_some("repeated line"));
            prev = Some(text.clone());
            if let Some(reason) = reason {
                self.drop(i, reason);
            }
        }
    }

    /// Pass 2b: "Baca juga: …" / "Lihat juga: …" links, on their own line or run into the text when a
    /// copy collapsed the newlines.
    fn drop_related_links(&mut self) {
        let old = std::mem::take(&mut self.lines);
        let mut out = Vec::with_capacity(old.len());
        // After a bare "Baca juga:" heading, how many of the following short lines may be its list.
        let mut list_left = 0;
        for mut line in old {
            if list_left > 0 {
                if line.alive() && !is_prose(&line.text) && word_count(&line.text) <= 20 {
                    line.dropped = Some("related link".into());
                    out.push(line);
                    list_left -= 1;
                    continue;
                }
                list_left = 0;
            }
            if !line.alive() {
                out.push(line);
                continue;
            }
            let text = line.text.as_str();
            let mut cuts: Vec<(std::ops::Range<usize>, &str)> = Vec::new();
            let mut whole_line = false;
            let mut pos = 0;
            while let Some(c) = rules::RELATED.captures_at(text, pos) {
                let m = c.get(0).expect("group 0 always matches");
                pos = m.end();
                if !(m.start() == 0 || after_sentence(&text[..m.start()])) {
                    continue;
                }
                let rest = &text[m.end()..];
                // "Pilihan Editor: <headline>": only with a headline after it (bare, such a label
                // heads a footer list, which the footer pass cuts).
                let label = c.name("label").is_some();
                if label
                    && !rest
                        .chars()
                        .find(|c| c.is_alphanumeric())
                        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                {
                    continue;
                }
                if m.start() == 0
                    && rest.split_whitespace().take(31).count() <= 30
                    && (!label || looks_like_headline(rest))
                {
                    // The whole line is the link; a bare "Baca juga:" heads a list of them.
                    list_left = if rest.trim().is_empty() { 10 } else { 0 };
                    whole_line = true;
                    break;
                }
                // Run into the text: cut up to where the headline ends, or keep it if unsure.
                if let Some(end) = headline_end(rest) {
                    cuts.push((m.start()..m.end() + end, "related link"));
                    pos = m.end() + end;
                }
            }
            if whole_line {
                line.dropped = Some("related link".into());
                out.push(line);
            } else if cuts.is_empty() {
                out.push(line);
            } else {
                out.extend(cut_many(line, &cuts));
            }
        }
        self.lines = out;
    }

    /// Pass 3: the header before the story, and the dateline that opens it. Returns the index of the
    /// first body line.
    fn header_and_dateline(&mut self) -> usize {
        let alive = self.alive_indices();
        let Some(&first_alive) = alive.first() else {
            return 0;
        };
        let window = &alive[..alive.len().min(15)];
        let mut prose_words = 0;
        let mut found = None;
        for &i in window {
            let text = &self.lines[i].text;
            if rules::DATE_LINE.is_match(text) {
                continue;
            }
            if let Some(d) = dateline::parse(text) {
                found = Some((i, d));
                break;
            }
            if is_prose(text) {
                prose_words += word_count(text);
            }
        }
        // More than a lead and a caption of prose before it: this "dateline" is inside the story.
        let found = found.filter(|_| prose_words <= 120);
        // Without a dateline the story starts at its first sentence, however many menu lines a
        // copied page puts before it.
        let mut start = match &found {
            Some((i, _)) => *i,
            None => alive
                .iter()
                .copied()
                .find(|&i| starts_body(&self.lines[i].text))
                .unwrap_or(first_alive),
        };
        if found.is_none() {
            start = self.paragraph_start(start);
        }
        // A line glued to the one before (an ad was cut mid-sentence) starts where that one starts.
        while self.lines[start].cont {
            match alive.iter().rev().find(|&&j| j < start) {
                Some(&j) => start = j,
                None => break,
            }
        }
        let header: Vec<usize> = alive.iter().copied().take_while(|&i| i < start).collect();
        self.read_header(&header, found.is_some());
        // The first sentence may still open with a dateline found late, or with the bare "- " a
        // copy leaves when it loses the place ("- Mengantisipasi pemudik …").
        let found = found.or_else(|| dateline::parse(&self.lines[start].text).map(|d| (start, d)));
        if let Some((i, d)) = found {
            self.take_dateline(i, d);
        }
        start
    }

    fn take_dateline(&mut self, i: usize, d: dateline::Dateline) {
        if self.meta.dateline.is_none() {
            self.meta.dateline = d.place.clone();
        }
        if let Some(brand) = d.brand.as_deref() {
            if self.meta.site.is_none() {
                self.meta.site = Some(
                    super::sites::by_brand(brand)
                        .map_or_else(|| brand.to_string(), |s| s.name.to_string()),
                );
            }
        }
        if self.meta.source.is_none() {
            self.meta.source = d.source.clone();
        }
        let n = self.split_line(i, 0..d.len, "dateline (kept as metadata)");
        if n == 1 {
            // The dateline stood alone: the next line opens the story.
            if let Some(next) = self.lines[i + 1..].iter_mut().find(|l| l.alive()) {
                next.new_block = true;
                next.cont = false;
            }
        } else if let Some(first) = self.lines.get_mut(i + 1) {
            first.new_block = true;
        }
    }

    /// Mine the header lines for metadata; everything in the header is dropped with its reason.
    fn read_header(&mut self, header: &[usize], has_dateline: bool) {
        let mut pending_label: Option<String> = None;
        let mut unlabelled: Vec<usize> = Vec::new();
        for &i in header {
            let text = self.lines[i].text.clone();
            let hint = self.lines[i].hint;
            if let Some(c) = rules::NAME_DATE_LINE.captures(&text) {
                self.set_once(Field::Date, &c["date"]);
                self.set_once(Field::Author, c["name"].trim());
                self.drop(i, "author and date (kept as metadata)");
                pending_label = None;
                continue;
            }
            if let Some(c) = rules::DATE_LINE.captures(&text) {
                self.set_once(Field::Date, &c["date"]);
                if let Some(site) = c
                    .name("brand")
                    .and_then(|b| super::sites::by_brand(b.as_str()))
                {
                    self.set_once(Field::Site, site.name);
                }
                self.drop(i, "date (kept as metadata)");
                continue;
            }
            if let Some(label) = pending_label.take() {
                if is_name_like(&text) {
                    let reason = self.credit(&label, &text);
                    self.drop(i, reason);
                    continue;
                }
            }
            // Colon-less labels ("Sumber Al Jazeera", "Penulis") only once the title is known, so a
            // headline such as "Sumber Daya Alam …" is not read as one.
            let title_known = self.meta.title.is_some();
            if let Some(c) = rules::CREDIT_LINE.captures(&text) {
                let colon = text.contains(':');
                let value = c["value"].trim().trim_start_matches(':').trim().to_string();
                if colon || title_known || value.is_empty() {
                    let label = c["label"].to_lowercase();
                    if value.is_empty() {
                        // Kompas prints the name first and the label under it.
                        match unlabelled.pop() {
                            Some(j) if is_name_like(&self.lines[j].text) => {
                                let name = self.lines[j].text.clone();
                                let reason = self.credit(&label, &name);
                                self.drop(j, reason);
                                self.drop(i, reason);
                            }
                            _ => {
                                self.drop(i, "credit");
                                pending_label = Some(label);
                            }
                        }
                    } else if word_count(&value) <= 8 {
                        let reason = self.credit(&label, &value);
                        self.drop(i, reason);
                    } else {
                        self.drop(i, "credit");
                    }
                    continue;
                }
            }
            if let Some(c) = rules::SOURCE_LINE.captures(&text) {
                if text.contains(':') || title_known {
                    self.set_once(Field::Source, c["value"].trim());
                    self.drop(i, "source (kept as metadata)");
                    continue;
                }
            }
            if (hint == Hint::Title || looks_like_headline(&text)) && self.meta.title.is_none() {
                self.meta.title = Some(text.clone());
                self.drop(i, "title (kept as metadata)");
                continue;
            }
            if self
                .meta
                .title
                .as_deref()
                .is_some_and(|t| same_text(t, &text))
            {
                self.drop(i, "title (kept as metadata)");
                continue;
            }
            unlabelled.push(i);
        }
        let reason = if has_dateline {
            "header before the dateline (menu, caption or teaser)"
        } else {
            "header before the first paragraph"
        };
        for i in unlabelled {
            self.drop(i, reason);
        }
    }

    /// Keep what a credit line says when it names the author or source; returns the reason to record.
    fn credit(&mut self, label: &str, value: &str) -> &'static str {
        let value = value.trim().trim_start_matches(':').trim();
        let field = match label {
            l if ["penulis", "reporter", "pewarta", "oleh", "laporan"]
                .iter()
                .any(|p| l.starts_with(p)) =>
            {
                Field::Author
            }
            "sumber" => Field::Source,
            _ => return "credit",
        };
        if value.is_empty() {
            return "credit";
        }
        self.set_once(field, value);
        "credit (kept as metadata)"
    }

    fn set_once(&mut self, field: Field, value: &str) {
        let slot = match field {
            Field::Date => &mut self.meta.date,
            Field::Author => &mut self.meta.author,
            Field::Source => &mut self.meta.source,
            Field::Site => &mut self.meta.site,
        };
        if slot.is_none() && !value.trim().is_empty() {
            *slot = Some(value.trim().to_string());
        }
    }

    /// Pass 4: footers. A footer runs from its marker (or from the author initials that end a Detik or
    /// CNN story) to the end, but stops at long prose, which a footer never holds.
    fn cut_footers(&mut self, start: usize) {
        let old = std::mem::take(&mut self.lines);
        let mut out = Vec::with_capacity(old.len());
        let mut region: Option<&'static str> = None;
        for (k, mut line) in old.into_iter().enumerate() {
            if k < start {
                out.push(line);
                continue;
            }
            if let Some(reason) = region {
                // The region runs to the end, except that it stops at prose: long prose for a
                // footer (its teasers can be sentences), any prose after the initials.
                let stop = line.alive()
                    && (is_long_prose(&line.text) || (reason != "footer" && is_prose(&line.text)));
                if !stop {
                    if line.alive() || reason == "footer" {
                        line.dropped = Some(reason.to_string());
                    }
                    out.push(line);
                    continue;
                }
                region = None;
            }
            // A marker counts even when an earlier rule already dropped it as a prompt or widget.
            if rules::FOOTER_START.iter().any(|re| re.is_match(&line.text)) {
                line.dropped = Some("footer".into());
                region = Some("footer");
                out.push(line);
                continue;
            }
            let captures = line
                .alive()
                .then(|| rules::INITIALS_TAIL.captures(&line.text))
                .flatten();
            let Some((ini, tags)) = captures.map(|c| {
                (
                    c.name("ini").map(|m| m.range()),
                    c.name("tags").map(|m| m.range()),
                )
            }) else {
                out.push(line);
                continue;
            };
            let mut parts = match tags.filter(|t| !t.is_empty()) {
                Some(tags) => pieces(line, tags, "tag list"),
                None => vec![line],
            };
            // The initials are in the first piece (before the tags).
            if let Some(ini) = ini {
                let head = parts.remove(0);
                let mut split = pieces(head, ini, "author initials");
                split.append(&mut parts);
                parts = split;
            }
            out.extend(parts);
            region = Some("after the author initials (end of the story)");
        }
        self.lines = out;
    }

    /// Pass 5: what closes a story after its last sentence: credits, initials, a reporter's name, tags,
    /// an embedded video's title. Short lines only; a long line without a full stop is body text.
    fn peel_end(&mut self) {
        while let Some(&i) = self.alive_indices().last() {
            let text = self.lines[i].text.clone();
            if let Some(m) = rules::CREDIT_SUFFIX
                .captures(&text)
                .and_then(|c| c.name("credit"))
            {
                self.split_line(i, m.range(), "author credit");
                continue;
            }
            let short_non_sentence = !ends_sentence(&text)
                && word_count(&text) < 25
                && (rules::is_title_case(&text) || word_count(&text) <= 8 || text.ends_with(':'));
            let reason = if rules::INITIALS_LINE.is_match(&text) {
                Some("author initials")
            } else if rules::RELEASE_LINE.is_match(&text) || rules::LIST_ITEM.is_match(&text) {
                // "Sumber:" and "KONTAK:" close press releases and belong to them; a numbered or
                // bulleted item ends a list in the story.
                None
            } else if let Some(c) = rules::CREDIT_LINE
                .captures(&text)
                .filter(|c| word_count(&c["value"]) <= 6 && !ends_sentence(&text))
            {
                let label = c["label"].to_lowercase();
                let value = c["value"].to_string();
                Some(self.credit(&label, &value))
            } else if rules::CREDIT_VALUE.is_match(&text) {
                Some("credit")
            } else if rules::CAPS_NAME.is_match(&text) && word_count(&text) <= 4 {
                Some("reporter name")
            } else if short_non_sentence {
                Some("trailing link, tag or teaser")
            } else {
                None
            };
            match reason {
                Some(r) => self.drop(i, r),
                None => break,
            }
        }
    }

    /// Pass 6: photo credits at the end of a line ("… (REUTERS / Danny Moloshok)"). When every
    /// paragraph was a captioned photo, the page is a gallery: say so.
    fn strip_photo_credits(&mut self, start: usize) {
        let mut captions = 0;
        let old = std::mem::take(&mut self.lines);
        let mut out = Vec::with_capacity(old.len());
        for (k, line) in old.into_iter().enumerate() {
            let credit = (k >= start && line.alive())
                .then(|| {
                    rules::PHOTO_CREDIT
                        .find(&line.text)
                        .filter(|m| m.start() > 0)
                        .map(|m| m.range())
                })
                .flatten();
            match credit {
                Some(range) => {
                    captions += 1;
                    out.extend(pieces(line, range, "photo credit"));
                }
                None => out.push(line),
            }
        }
        self.lines = out;
        let body = self
            .alive_indices()
            .into_iter()
            .filter(|&i| i >= start && is_prose(&self.lines[i].text))
            .count();
        if captions > 0 && captions >= body {
            self.warnings.push(format!(
                "this looks like a photo gallery, not an article: its only text is {captions} photo caption{}",
                if captions == 1 { "" } else { "s" }
            ));
        }
    }

    fn drop_title_repeats(&mut self) {
        let Some(title) = self.meta.title.clone() else {
            return;
        };
        for i in 0..self.lines.len() {
            if self.lines[i].alive() && same_text(&title, &self.lines[i].text) {
                self.drop(i, "title (repeated)");
            }
        }
    }

    /// Pass 7: lines into paragraphs. Lines of one block are joined when they are the pieces of one
    /// paragraph (a cut mid-sentence, a hard wrap, a lower-case continuation); a short line standing
    /// alone between paragraphs, or a bold or heading line, is a subheading.
    fn paragraphs(&self) -> Vec<(String, ParagraphKind)> {
        // Blocks of lines first, then paragraphs within each. A dropped line that opened a block
        // passes that on to the next kept line.
        let mut blocks: Vec<Vec<&Work>> = Vec::new();
        let mut opens_block = false;
        for l in &self.lines {
            if !l.alive() {
                opens_block |= l.new_block;
                continue;
            }
            let new_block = (l.new_block || opens_block) && !l.cont;
            opens_block = false;
            match blocks.last_mut() {
                Some(b) if !new_block => b.push(l),
                _ => blocks.push(vec![l]),
            }
        }
        let mut paras: Vec<(String, ParagraphKind, bool)> = Vec::new(); // (text, kind, alone in its block)
        for block in &blocks {
            let texts: Vec<&str> = block.iter().map(|l| l.text.as_str()).collect();
            let (wrapped, width) = self.block_shape(&texts);
            let first_para = paras.len();
            let mut prev: Option<&Work> = None;
            for l in block {
                let join = prev.is_some_and(|p| {
                    l.cont
                        || (p.hint == Hint::Plain
                            && l.hint == Hint::Plain
                            && continues(&p.text, &l.text, wrapped, width))
                });
                match paras.last_mut() {
                    Some((text, _, _)) if join => {
                        text.push(' ');
                        text.push_str(&l.text);
                    }
                    _ => paras.push((l.text.clone(), heading_hint(l), false)),
                }
                prev = Some(l);
            }
            if paras.len() == first_para + 1 {
                if let Some(p) = paras.last_mut() {
                    p.2 = true;
                }
            }
        }
        let n = paras.len();
        let kinds: Vec<ParagraphKind> = (0..n)
            .map(|k| {
                let (text, hinted, alone) = &paras[k];
                let between = k > 0 && k + 1 < n && paras[k - 1].1 == ParagraphKind::Body;
                let plain_subheading = *alone
                    && between
                    && word_count(text) <= 10
                    && text.chars().count() <= 80
                    && !text.ends_with(['.', ',', ';', ':', '!', '"', '”'])
                    && text
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
                let link = text.contains("://") || text.contains("www.") || text.contains('@');
                let hinted_subheading = *hinted == ParagraphKind::Heading
                    && word_count(text) <= 20
                    && !ends_sentence(text)
                    && k + 1 < n;
                if (hinted_subheading || plain_subheading) && !link {
                    ParagraphKind::Heading
                } else {
                    ParagraphKind::Body
                }
            })
            .collect();
        paras
            .into_iter()
            .zip(kinds)
            .map(|((t, _, _), k)| (t, k))
            .collect()
    }

    /// Whether a block of lines is hard-wrapped text (lines of at most 100 characters, most of them
    /// ending mid-sentence), and its width.
    fn block_shape(&self, lines: &[&str]) -> (bool, usize) {
        let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let unfinished = lines[..lines.len().saturating_sub(1)]
            .iter()
            .filter(|l| !ends_sentence(l))
            .count();
        let wrapped = self.wrapped_input
            && lines.len() >= 2
            && width <= 100
            && unfinished * 2 >= lines.len() - 1;
        (wrapped, width)
    }

    /// Move `start` back over the lines of its block that its paragraph continues (hard wraps).
    fn paragraph_start(&self, start: usize) -> usize {
        let mut block_start = start;
        while block_start > 0 && !self.lines[block_start].new_block {
            block_start -= 1;
        }
        let block: Vec<usize> = (block_start..self.lines.len())
            .take_while(|&j| j == block_start || !self.lines[j].new_block)
            .filter(|&j| self.lines[j].alive())
            .collect();
        let texts: Vec<&str> = block.iter().map(|&j| self.lines[j].text.as_str()).collect();
        let (wrapped, width) = self.block_shape(&texts);
        let mut pos = block.iter().position(|&j| j == start).unwrap_or(0);
        while pos > 0 && continues(texts[pos - 1], texts[pos], wrapped, width) {
            pos -= 1;
        }
        block.get(pos).copied().unwrap_or(start)
    }

    /// Dropped lines in document order, neighbours with the same reason merged into one span.
    fn removed(&self) -> Vec<Removed> {
        let mut out: Vec<Removed> = Vec::new();
        let mut last_was_dropped = false;
        for l in &self.lines {
            match &l.dropped {
                Some(reason) => {
                    match out.last_mut() {
                        Some(r) if last_was_dropped && &r.reason == reason => {
                            r.text.push('\n');
                            r.text.push_str(&l.text);
                        }
                        _ => out.push(Removed {
                            text: l.text.clone(),
                            reason: reason.clone(),
                        }),
                    }
                    last_was_dropped = true;
                }
                None => last_was_dropped = false,
            }
        }
        out
    }
}

/// The pieces of `line` around a dropped `range`: the text before it, the dropped span, and the text
/// after it.
fn pieces(line: Work, range: std::ops::Range<usize>, reason: &str) -> Vec<Work> {
    cut_many(line, &[(range, reason)])
}

/// Cut sorted, non-overlapping `cuts` out of `line` in one pass, keeping the text between them. Text
/// that follows a cut starts a new paragraph when the kept text before it ended a sentence (ads and
/// links sit between paragraphs), and is glued back on when the cut was mid-sentence.
fn cut_many(line: Work, cuts: &[(std::ops::Range<usize>, &str)]) -> Vec<Work> {
    let mut parts: Vec<Work> = Vec::with_capacity(cuts.len() * 2 + 1);
    let mut last_kept: Option<usize> = None;
    let mut pos = 0;
    let keep = |parts: &mut Vec<Work>, last_kept: &mut Option<usize>, text: &str| {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let (new_block, cont) = match last_kept.map(|i| parts[i].text.as_str()) {
            None => (line.new_block, line.cont),
            Some(prev) if ends_sentence(prev) || ends_in_related_link(prev) => (true, false),
            Some(_) => (false, true),
        };
        *last_kept = Some(parts.len());
        parts.push(Work {
            text: text.to_string(),
            hint: line.hint,
            new_block,
            cont,
            dropped: None,
        });
    };
    for (range, reason) in cuts {
        keep(&mut parts, &mut last_kept, &line.text[pos..range.start]);
        let span = line.text[range.clone()].trim();
        if !span.is_empty() {
            parts.push(Work {
                text: span.to_string(),
                hint: Hint::Plain,
                new_block: false,
                cont: false,
                dropped: Some((*reason).to_string()),
            });
        }
        pos = range.end;
    }
    keep(&mut parts, &mut last_kept, &line.text[pos..]);
    parts
}

#[derive(Clone, Copy)]
enum Field {
    Date,
    Author,
    Source,
    Site,
}

fn heading_hint(l: &Work) -> ParagraphKind {
    match l.hint {
        Hint::Heading | Hint::Bold => ParagraphKind::Heading,
        Hint::Plain | Hint::Title => ParagraphKind::Body,
    }
}

/// Whether `next` continues the paragraph of `prev` inside one block.
fn continues(prev: &str, next: &str, wrapped: bool, width: usize) -> bool {
    if wrapped {
        // Hard-wrapped text: a line that fills the width was wrapped; a short one ended a paragraph.
        return !ends_sentence(prev) || prev.chars().count() * 4 >= width * 3;
    }
    !ends_sentence(prev)
        && next
            .chars()
            .next()
            .is_some_and(|c| c.is_lowercase() || c.is_ascii_digit())
}

/// The text ends with a related-article link (its headline has no full stop), so whatever was cut
/// after it sat between paragraphs.
fn ends_in_related_link(text: &str) -> bool {
    rules::RELATED
        .find_iter(text)
        .any(|m| after_sentence(&text[..m.start()]))
}

/// The text before a match ends a sentence (or a quote or bracket after one).
fn after_sentence(before: &str) -> bool {
    let b = before.trim_end();
    b.is_empty() || ends_sentence(b) || b.ends_with(['"', '”', ')'])
}

/// Where a related-article headline that runs into the next sentence ends (byte offset into `rest`).
/// Headlines capitalise every word but a few short ones ("untuk", "di", "yang"); the first other
/// lower-case word belongs to the body sentence, which starts at the capitalised word before it.
/// Gives up (keeps the text) when no such boundary shows within 30 words.
fn headline_end(rest: &str) -> Option<usize> {
    let words: Vec<(usize, &str)> = rest
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - rest.as_ptr() as usize, w))
        .take(31)
        .collect();
    for k in 1..words.len() {
        let (_, w) = words[k];
        let first = w.chars().find(|c| c.is_alphabetic());
        if first.is_some_and(|c| c.is_lowercase()) && !rules::is_headline_lower(w) {
            let (prev_off, prev) = words[k - 1];
            let capital = prev
                .chars()
                .find(|c| c.is_alphanumeric())
                .is_some_and(|c| c.is_uppercase());
            return (k >= 2 && capital).then_some(prev_off);
        }
    }
    (words.len() <= 30).then_some(rest.len())
}

/// Without a dateline, the story starts at its first sentence: prose, or a short sentence that is
/// not a capitalised headline.
fn starts_body(s: &str) -> bool {
    is_prose(s) || (ends_sentence(s) && word_count(s) >= 3 && !rules::is_title_case(s))
}

/// A person's name: two to six words, no sentence punctuation.
fn is_name_like(s: &str) -> bool {
    (1..=6).contains(&word_count(s))
        && !s.contains(['.', ':', '!', '?', '|'])
        && s.chars().next().is_some_and(char::is_uppercase)
}

fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let (a, b) = (norm(a), norm(b));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paragraphs, metadata, removed spans and warnings of one cleaning.
    type Run = (
        Vec<(String, ParagraphKind)>,
        Metadata,
        Vec<Removed>,
        Vec<String>,
    );

    fn text(s: &str) -> Vec<Line> {
        super::super::text::text_lines(s)
    }

    fn run(s: &str) -> Run {
        let mut meta = Metadata::default();
        let c = clean(text(s), &mut meta, true);
        (c.paragraphs, meta, c.removed, c.warnings)
    }

    fn bodies(s: &str) -> Vec<String> {
        run(s).0.into_iter().map(|(t, _)| t).collect()
    }

    const P1: &str = "Presiden meresmikan jembatan baru di Kalimantan pada Senin pagi.";
    const P2: &str = "Jembatan itu menghubungkan dua kabupaten yang selama ini terpisah sungai.";

    #[test]
    fn collapse_ws_removes_nbsp_and_invisibles() {
        assert_eq!(
            collapse_ws(" Rusia\u{a0} menghentikan\u{200e} misi\u{a0} \u{a0}"),
            "Rusia menghentikan misi"
        );
    }

    #[test]
    fn related_link_run_into_the_next_sentence() {
        let s = format!("{P1} Baca juga: Kepala Legal Wilmar Bantah Urus Suap Rp 60 M untuk Vonis Lepas Kasus Migor Ayu mengatakan Djuyamto tak pernah bercerita.");
        let (paras, _, removed, _) = run(&s);
        assert_eq!(
            paras.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            [P1, "Ayu mengatakan Djuyamto tak pernah bercerita."]
        );
        assert!(removed
            .iter()
            .any(|r| r.reason == "related link" && r.text.ends_with("Kasus Migor")));
    }

    #[test]
    fn related_link_lines_and_lists() {
        let s = format!("{P1}\n\nBaca juga: NATO Usir 8 Delegasi Rusia\n\n{P2}\n\nBaca juga:\nKisah Mayor Raheem, masuk Islam\nKisah para tentara Islam\n\n{P1}");
        assert_eq!(bodies(&s), [P1, P2, P1]);
    }

    #[test]
    fn labelled_related_headlines_go() {
        // Tempo's "Pilihan Editor:" and the other list names used as a link's label, on their own
        // line or run into the text; audited in `removed`.
        for label in [
            "Pilihan Editor",
            "PILIHAN EDITOR",
            "Editor's Pick",
            "Berita Terkait",
            "Artikel Terkait",
            "Baca Selengkapnya",
            "Terpopuler",
        ] {
            let s = format!("{P1}\n\n{label}: Jokowi Resmikan Bendungan Baru di Jawa Tengah\n\n{P2}");
            let (paras, _, removed, _) = run(&s);
            assert_eq!(
                paras.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
                [P1, P2],
                "{label}"
            );
            assert!(
                removed.iter().any(|r| r.reason == "related link"
                    && r.text == format!("{label}: Jokowi Resmikan Bendungan Baru di Jawa Tengah")),
                "{label}: {removed:?}"
            );
        }
        let s = format!("{P1} Pilihan Editor: Harga Beras Naik Lagi di Pasar Induk Pedagang mengeluhkan sepinya pembeli.");
        assert_eq!(bodies(&s), [P1, "Pedagang mengeluhkan sepinya pembeli."]);
        // Body sentences that use the words are kept: no colon, or no headline after it.
        let keep = "Berita terkait kasus itu sudah dimuat pada pekan lalu oleh banyak media nasional.";
        assert_eq!(bodies(&format!("{P1}\n\n{keep}")), [P1, keep]);
        let keep = "Pilihan editor: kami memuat tulisan ini karena pembaca banyak bertanya soal harga.";
        assert_eq!(bodies(&format!("{P1}\n\n{keep}")), [P1, keep]);
    }

    #[test]
    fn ad_markers_mid_sentence_are_glued_back() {
        let s = "Jaksa menghadirkan istri terdakwa ADVERTISEMENT sebagai saksi di persidangan hari ini.";
        assert_eq!(
            bodies(s),
            ["Jaksa menghadirkan istri terdakwa sebagai saksi di persidangan hari ini."]
        );
        let s = format!("{P1} SCROLL TO CONTINUE WITH CONTENT {P2}");
        assert_eq!(bodies(&s), [P1, P2]);
    }

    #[test]
    fn parentheses_inside_body_text_survive() {
        let s = format!("{P1}\n\n\"Mempunyai uji kelayakan jalan (KIR,-red). Ada izin operasi (dll/dsb) juga,\" ujarnya.\n\n{P2} (ANT)");
        let (paras, ..) = run(&s);
        assert!(paras[1].0.contains("(KIR,-red)") && paras[1].0.contains("(dll/dsb) juga"));
        assert_eq!(paras[2].0, P2);
    }

    #[test]
    fn press_release_source_and_contact_are_body() {
        let s = format!("{P1}\n\nKONTAK: info@contoh.co.id\n\nSumber: Pemerintah Kota Cekmekoy");
        assert_eq!(
            bodies(&s),
            [
                P1,
                "KONTAK: info@contoh.co.id",
                "Sumber: Pemerintah Kota Cekmekoy"
            ]
        );
    }

    #[test]
    fn hard_wrapped_lines_are_joined() {
        let s = "Pemerintah kota Cekmekoy, Istanbul, Turki, meresmikan kontes film pendek\ninternasional bertema rasa belas kasihan dan keadilan. Kontes ini ditujukan\nuntuk memperkenalkan keragaman aspek hidup.\n\nParagraf kedua ada di sini dan cukup panjang untuk dihitung.";
        assert_eq!(bodies(s).len(), 2);
        assert!(bodies(s)[0].contains("pendek internasional"));
    }

    #[test]
    fn one_paragraph_per_line_stays_split() {
        let s = format!("{P1}\n{P2}\n{P1}");
        assert_eq!(bodies(&s).len(), 3);
    }

    #[test]
    fn subheading_between_paragraphs() {
        let s = format!("{P1}\n\nMata-mata Rusia\n\n{P2}");
        let (paras, ..) = run(&s);
        assert_eq!(
            paras[1],
            ("Mata-mata Rusia".to_string(), ParagraphKind::Heading)
        );
        assert_eq!(paras[0].1, ParagraphKind::Body);
    }

    #[test]
    fn long_paragraph_without_full_stop_is_kept() {
        let s = "kata ".repeat(10_000);
        let (paras, ..) = run(&s);
        assert_eq!(paras.len(), 1);
        assert_eq!(word_count(&paras[0].0), 10_000);
    }

    #[test]
    fn headline_end_needs_a_sentence_after_it() {
        assert_eq!(
            headline_end("NATO Usir 8 Delegasi Rusia"),
            Some("NATO Usir 8 Delegasi Rusia".len())
        );
        let rest = "Jaksa Gali Aliran Duit Djuyamto: Bangun Kantor Terpadu NU, Nafkahi Istri Sebagai informasi, majelis";
        assert_eq!(
            &rest[..headline_end(rest).expect("found")].trim_end(),
            &"Jaksa Gali Aliran Duit Djuyamto: Bangun Kantor Terpadu NU, Nafkahi Istri"
        );
        assert_eq!(headline_end(&"Kata ".repeat(40)), None);
    }

    #[test]
    fn share_texts_prompts_and_embeds_go() {
        let s = format!(
            "{P1} [Gambas:Video CNN] {P2}\n\nPerbesar\n\nArtikel ini telah tayang di Kompas.com dengan judul \"X\", Klik untuk baca: https://kmp.im/a\n\nFollow berita Okezone di Google News\n\n{P1}"
        );
        let (paras, _, removed, _) = run(&s);
        assert_eq!(
            paras.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            [P1, P2, P1]
        );
        let reasons: Vec<&str> = removed.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["embed", "page widget", "share text", "social media prompt"]
        );
    }

    #[test]
    fn footer_cut_stops_at_long_prose() {
        let long = "Warga kemudian mendatangi balai desa untuk meminta penjelasan. Kepala desa berjanji akan menjawab semua pertanyaan warga pada pertemuan berikutnya yang dijadwalkan pekan depan, setelah ia berkonsultasi dengan pemerintah kabupaten dan para tokoh masyarakat setempat.";
        let s = format!("{P1}\n\nBerita Terkait\n\nHarga Cabai Naik\n\n{long}");
        let (paras, _, removed, _) = run(&s);
        assert_eq!(
            paras.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            [P1, long]
        );
        assert_eq!(removed[0].text, "Berita Terkait\nHarga Cabai Naik");
        assert_eq!(removed[0].reason, "footer");
    }

    #[test]
    fn initials_end_the_story_and_take_the_tags_with_them() {
        let s = format!("{P1} (eva/fca) badan komunikasi pemerintah\n\nSejuta Rumah\n\nAhok");
        let (paras, _, removed, _) = run(&s);
        assert_eq!(paras.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), [P1]);
        let got: Vec<(&str, &str)> = removed
            .iter()
            .map(|r| (r.text.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("(eva/fca)", "author initials"),
                ("badan komunikasi pemerintah", "tag list"),
                (
                    "Sejuta Rumah\nAhok",
                    "after the author initials (end of the story)"
                )
            ]
        );
    }

    #[test]
    fn paging_warns_about_missing_pages() {
        let (paras, _, _, warnings) = run(&format!("{P1} Halaman 2 dari 3"));
        assert_eq!(paras[0].0, P1);
        assert!(warnings[0].contains("3 pages"), "{warnings:?}");
    }

    #[test]
    fn header_metadata_from_label_lines() {
        let s = format!("Judul Berita yang Panjang Sekali\n\nReporter :\nRamadhian Fadillah | Jumat, 19 Juni 2015 03:40\n\nEditor: Ade\n\n{P1}");
        let (paras, meta, _, _) = run(&s);
        assert_eq!(paras[0].0, P1);
        assert_eq!(
            meta.title.as_deref(),
            Some("Judul Berita yang Panjang Sekali")
        );
        assert_eq!(meta.author.as_deref(), Some("Ramadhian Fadillah"));
        assert_eq!(meta.date.as_deref(), Some("Jumat, 19 Juni 2015 03:40"));
    }
}
