//! The `13a` tokenizer: sacreBLEU's re-implementation of mteval-v13a.pl, BLEU's default tokenisation.
//!
//! This follows `sacrebleu/tokenizers/tokenizer_13a.py` and `tokenizer_re.py` (sacreBLEU 2.6.0) step by
//! step, with the same regular expressions applied in the same order; both regex engines find
//! leftmost, non-overlapping matches, so the substitutions agree character for character.

use std::sync::LazyLock;

use regex::Regex;

use super::pystr;

/// The substitutions of sacreBLEU's `TokenizerRegexp`, in order.
static RULES: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    let re = |pattern: &str| Regex::new(pattern).expect("13a patterns are valid");
    [
        // ASCII punctuation and symbols except `'`, `,`, `-` and `.` (Python: `[\{-\~\[-\` -\&\(-\+\:-\@\/]`).
        (
            re(r"([\x20-\x26\x28-\x2b\x2f\x3a-\x40\x5b-\x60\x7b-\x7e])"),
            " ${1} ",
        ),
        // Period and comma, unless preceded by a digit.
        (re(r"([^0-9])([\.,])"), "${1} ${2} "),
        // Period and comma, unless followed by a digit.
        (re(r"([\.,])([^0-9])"), " ${1} ${2}"),
        // Dash, when preceded by a digit.
        (re(r"([0-9])(-)"), "${1} ${2} "),
    ]
});

/// Tokenise one segment the way sacreBLEU's `Tokenizer13a` does; tokens are separated by single spaces.
pub fn tokenize(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (re, replacement) in RULES.iter() {
        if let std::borrow::Cow::Owned(replaced) = re.replace_all(&line, *replacement) {
            line = replaced;
        }
    }
    pystr::split(&line).collect::<Vec<_>>().join(" ")
}

/// Number of `13a` tokens in a segment: how warta counts target tokens for throughput figures.
pub fn count_tokens(line: &str) -> usize {
    pystr::split(&tokenize(line)).count()
}

#[cfg(test)]
mod tests {
    use super::tokenize;

    // Expected strings are sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(line), sacreBLEU 2.6.0.
    #[test]
    fn matches_sacrebleu_13a() {
        let cases = [
            ("Hello, world!", "Hello , world !"),
            (
                "It costs $1,000.50 (approx.).",
                "It costs $ 1,000.50 ( approx . ) .",
            ),
            ("3-4 times; e-mail re-use", "3 - 4 times ; e-mail re-use"),
            ("He said \"no\" & left.", "He said \" no \" & left ."),
            ("&quot;x&quot; &amp; y &lt;z&gt;", "\" x \" & y < z >"),
            ("a<skipped>b", "ab"),
            ("Rp10.000,-", "Rp10.000 , -"),
            ("don't 5.", "don't 5 ."),
            (
                "“Curly” quotes — and… dashes",
                "“Curly” quotes — and… dashes",
            ),
            ("a.,b", "a . , b"),
            ("", ""),
            ("   ", ""),
            ("x\u{a0}y\u{1c}z", "x y z"),
        ];
        for (line, expected) in cases {
            assert_eq!(tokenize(line), expected, "tokenizing {line:?}");
        }
    }
}
