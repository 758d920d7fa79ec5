//! The repetition guard: a Marian model can fall into a loop ("the the the …", or one phrase said over
//! and over) and run to the length limit. The search asks [`looping`] after every token of a sentence's
//! best hypothesis; when the output ends in a degenerate repeat the sentence stops there, keeping the
//! first occurrence of the repeated n-gram.
//!
//! A period of `p` tokens repeated `r` times back to back is degenerate when `r >= MIN_REPEATS` and
//! the repeats cover at least `MIN_SPAN` tokens: one word said 16 times, two words 8 times, a phrase
//! of four or more tokens 4 times. Ordinary text ("very, very", "1.000.000") never reaches that. A
//! source that itself repeats (three copies over 8 tokens, see [`source_repeats`]) turns the guard off for its
//! sentence, since its translation may rightly repeat too.

/// Repeats of the same n-gram that count as a loop (at least).
pub const MIN_REPEATS: usize = 4;
/// Tokens the repeats must cover before they count as a loop.
pub const MIN_SPAN: usize = 16;
/// Longest period looked for.
pub const MAX_PERIOD: usize = 64;

/// Repeats needed for period `p` to count as a loop, with the thresholds `repeats` and `span`.
fn needed(p: usize, repeats: usize, span: usize) -> usize {
    repeats.max(span.div_ceil(p))
}

/// Whether `tokens` ends in `needed(p)` back-to-back copies of its last `p` tokens, for some `p`;
/// returns how many tokens to keep (everything up to the end of the first copy).
fn ends_in_repeat(tokens: &[u32], repeats: usize, span: usize) -> Option<usize> {
    let n = tokens.len();
    for p in 1..=MAX_PERIOD.min(n / repeats.max(1)) {
        let k = needed(p, repeats, span);
        if k * p > n {
            continue;
        }
        let tail = &tokens[n - p..];
        if (1..k).all(|r| &tokens[n - (r + 1) * p..n - r * p] == tail) {
            return Some(n - (k - 1) * p);
        }
    }
    None
}

/// When the output `tokens` so far ends in a degenerate loop, how many of them to keep.
pub fn looping(tokens: &[u32]) -> Option<usize> {
    ends_in_repeat(tokens, MIN_REPEATS, MIN_SPAN)
}

/// The earliest point at which `tokens` contains a loop (as [`looping`] would have seen it had it been
/// asked after every token): how many tokens to keep.
pub fn first_loop(tokens: &[u32]) -> Option<usize> {
    (1..=tokens.len()).find_map(|end| looping(&tokens[..end]))
}

/// Whether a source sentence repeats itself enough (three copies covering half the output's span,
/// anywhere in it) that
/// its translation may legitimately repeat: the guard then leaves that sentence alone.
pub fn source_repeats(source: &[u32]) -> bool {
    let (repeats, span) = (MIN_REPEATS - 1, MIN_SPAN / 2);
    (1..=source.len()).any(|end| ends_in_repeat(&source[..end], repeats, span).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `prefix` then `unit` repeated `times`.
    fn stream(prefix: &[u32], unit: &[u32], times: usize) -> Vec<u32> {
        let mut v = prefix.to_vec();
        for _ in 0..times {
            v.extend_from_slice(unit);
        }
        v
    }

    #[test]
    fn one_word_looping_is_cut_after_its_first_occurrence() {
        let s = stream(&[9, 10, 11], &[5], 15);
        assert_eq!(looping(&s), None, "15 repeats of one token are not yet a loop");
        let s = stream(&[9, 10, 11], &[5], 16);
        assert_eq!(looping(&s), Some(4));
        assert_eq!(first_loop(&stream(&[9, 10, 11], &[5], 30)), Some(4));
    }

    #[test]
    fn a_repeated_phrase_is_a_loop_at_four_copies() {
        let phrase = [20, 21, 22, 23, 24, 25];
        let s = stream(&[1, 2], &phrase, 3);
        assert_eq!(looping(&s), None);
        let s = stream(&[1, 2], &phrase, 4);
        assert_eq!(looping(&s), Some(2 + phrase.len()));
        // Two-token units need 8 copies (16 tokens).
        assert_eq!(looping(&stream(&[7], &[3, 4], 7)), None);
        assert_eq!(looping(&stream(&[7], &[3, 4], 8)), Some(3));
    }

    #[test]
    fn ordinary_repetition_is_left_alone() {
        // "very, very good", a number with repeated groups, a phrase said twice, a long varied text.
        assert_eq!(first_loop(&[1, 40, 41, 40, 42, 0]), None);
        assert_eq!(first_loop(&[1, 7, 8, 9, 8, 9, 8, 9, 0]), None);
        let twice = stream(&[1], &[30, 31, 32, 33, 34], 2);
        assert_eq!(first_loop(&twice), None);
        let varied: Vec<u32> = (0..300).map(|i| (i * 7919 % 1000) as u32).collect();
        assert_eq!(first_loop(&varied), None);
        // A loop longer than the longest period looked for is not detected (nor expected).
        let long: Vec<u32> = (0..MAX_PERIOD as u32 + 1).collect();
        assert_eq!(first_loop(&stream(&[], &long, 4)), None);
    }

    #[test]
    fn the_first_loop_is_found_even_when_the_stream_goes_on() {
        let mut s = stream(&[1, 2, 3], &[8, 9, 10, 11], 5);
        s.extend([50, 51, 52, 0]);
        assert_eq!(looping(&s), None);
        assert_eq!(first_loop(&s), Some(7));
    }

    #[test]
    fn repetitive_sources_are_recognised() {
        assert!(source_repeats(&stream(&[4], &[6], 8)));
        assert!(source_repeats(&stream(&[4], &[6, 7, 8], 3)));
        assert!(!source_repeats(&stream(&[4], &[6, 7, 8], 2)));
        assert!(!source_repeats(&[4, 6, 6, 6, 5, 0]));
        assert!(!source_repeats(&[10, 11, 12, 13, 14, 0]));
    }
}
