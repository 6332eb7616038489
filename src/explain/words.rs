//! A text's words, with their spans, and the text with one of them taken out.

use std::ops::Range;

/// One word of a text: a maximal run of non-whitespace characters (punctuation stays with its
/// word: `"much!"`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Word {
    /// Its bytes in the original text: `&text[word.bytes.clone()]` is the word.
    pub bytes: Range<usize>,
    /// Its characters (Unicode scalar values) in the original text: what a JavaScript or
    /// Python caller indexes by (`text.chars().skip(start).take(end - start)`).
    pub chars: Range<usize>,
}

impl Word {
    /// The word, from the text it was found in.
    pub fn in_text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.bytes.clone()).unwrap_or("")
    }
}

/// The words of `text`, in order: maximal runs of characters that are not whitespace
/// (`char::is_whitespace`), with their byte and character spans.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut chars = 0;
    for (byte, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((byte, chars)),
            (true, Some((b, ch))) => {
                out.push(Word {
                    bytes: b..byte,
                    chars: ch..chars,
                });
                start = None;
            }
            _ => {}
        }
        chars += 1;
    }
    if let Some((b, ch)) = start {
        out.push(Word {
            bytes: b..text.len(),
            chars: ch..chars,
        });
    }
    out
}

/// `text` without `word`: the word is cut together with the whitespace that follows it, or,
/// for the last word, the whitespace before it, so that no doubled or trailing space is left
/// for a byte-level tokenizer to read as a token. These are the variants
/// [`explain`](crate::EmotionClassifier::explain) scores: classify one to check an attribution.
pub fn without_word(text: &str, word: &Word) -> String {
    let (mut start, mut end) = (word.bytes.start, word.bytes.end);
    let after = &text[end..];
    let trailing = after.len() - after.trim_start().len();
    if end + trailing < text.len() {
        end += trailing;
    } else {
        let before = &text[..start];
        start -= before.len() - before.trim_end().len();
        end = text.len();
    }
    format!("{}{}", &text[..start], &text[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_any_whitespace_with_byte_and_char_spans() {
        let text = " Je suis\ttrès content 😀!\n";
        let found = words(text);
        let as_text: Vec<&str> = found.iter().map(|w| w.in_text(text)).collect();
        assert_eq!(as_text, ["Je", "suis", "très", "content", "😀!"]);
        // "très" starts at char 9 and byte 9; it ends a byte later than a character later
        // (the 2-byte è), so "content" is one byte further on than it is in characters.
        assert_eq!(found[2].chars, 9..13);
        assert_eq!(found[2].bytes, 9..14);
        assert_eq!(found[3].chars, 14..21);
        assert_eq!(found[3].bytes, 15..22);
        let chars: Vec<char> = text.chars().collect();
        for w in &found {
            let by_chars: String = chars[w.chars.clone()].iter().collect();
            assert_eq!(by_chars, w.in_text(text));
        }
        assert!(words("  \t\n").is_empty());
        assert!(words("").is_empty());
    }

    #[test]
    fn a_removed_word_takes_its_following_space_or_the_last_its_preceding() {
        let text = "I love  this";
        let w = words(text);
        assert_eq!(without_word(text, &w[0]), "love  this");
        assert_eq!(without_word(text, &w[1]), "I this");
        assert_eq!(without_word(text, &w[2]), "I love");
        assert_eq!(without_word("alone", &words("alone")[0]), "");
        assert_eq!(without_word("  padded  ", &words("  padded  ")[0]), "");
    }
}
