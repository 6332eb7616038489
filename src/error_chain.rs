//! An error and its chain of causes on one line, for command-line tools and logs.

use std::fmt;

/// Shows an error and every [`source`](std::error::Error::source) under it on one line,
/// `error: cause: cause`, leaving out a cause whose message the text already ends with (some
/// errors repeat their source in their own message). The crate's [`Error`](crate::Error)
/// keeps its causes as sources, so `Display` alone shows only the outermost.
///
/// ```
/// use emotion_classifier::{EmotionClassifier, ErrorChain};
///
/// let folder = std::path::Path::new("no/such/folder");
/// let Err(error) = EmotionClassifier::builder().model(folder).build() else {
///     unreachable!("the folder does not exist");
/// };
/// let line = ErrorChain(&error).to_string();
/// assert!(line.starts_with("model directory no/such/folder does not exist"), "{line}");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let message = cause.to_string();
            if !text.ends_with(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
            source = cause.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn every_cause_follows_once_and_a_repeated_one_is_left_out() {
        let inner = Layer("disk full", None);
        let middle = Layer("cannot write out.jsonl: disk full", Some(Box::new(inner)));
        let outer = Layer("the run failed", Some(Box::new(middle)));
        assert_eq!(
            ErrorChain(&outer).to_string(),
            "the run failed: cannot write out.jsonl: disk full"
        );
        assert_eq!(ErrorChain(&Layer("alone", None)).to_string(), "alone");
    }
}
