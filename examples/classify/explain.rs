//! `--explain` and `--explain-html`: explanations shown in a terminal (24-bit colors, through
//! `anstyle`, which clap already brings; plain text when stdout is not a terminal or `NO_COLOR`
//! is set), as JSON lines (`--json`), or written as a small HTML page; for each text's top
//! label, or the one `--explain-label` names.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anstyle::{Color, RgbColor, Style};
use emotion_classifier::{EmotionClassifier, ErrorChain, Explanation};

/// What `--explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Nothing (only the HTML page).
    Nothing,
    /// The text with its words marked, then the words ranked; colored or plain.
    Text { color: bool },
    /// One JSON object a text: the `Explanation` as the library serializes it.
    Json,
}

/// Colors only for a terminal, and never with `NO_COLOR` set (no-color.org).
pub fn color_wanted() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// Explains every text for `label` (else its top label); prints and/or writes the page. Exit
/// code 1 if any text failed.
pub fn run(
    classifier: &EmotionClassifier,
    texts: &[String],
    shown: Shown,
    label: Option<&str>,
    html: Option<&Path>,
) -> ExitCode {
    let mut failed = false;
    let mut explained = Vec::new();
    for text in texts {
        match classifier.explain(text) {
            Ok(explanation) => {
                match shown {
                    Shown::Nothing => {}
                    Shown::Text { color } => print!("{}", in_terminal(&explanation, label, color)),
                    Shown::Json => match serde_json::to_string(&explanation) {
                        Ok(line) => println!("{line}"),
                        Err(e) => {
                            failed = true;
                            eprintln!("error: {text:?}: {e}");
                        }
                    },
                }
                explained.push(explanation);
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {text:?}: {}", ErrorChain(&e));
            }
        }
    }
    if let Some(path) = html {
        if let Err(e) = std::fs::write(path, page(&explained, label)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The label explained (`label`, else the top one), its score, and each word's attribution
/// to it.
fn chosen_label(explanation: &Explanation, label: Option<&str>) -> (String, f32, Vec<f32>) {
    let top = explanation.scores().top();
    let (name, score) = match label {
        Some(name) => (name, explanation.scores().get(name).unwrap_or(f32::NAN)),
        None => (top.label, top.score),
    };
    let attributions = explanation.for_label(name).unwrap_or_default();
    (name.to_owned(), score, attributions)
}

/// The largest attribution's size, at least 0.01 so that faint words stay faint.
fn scale(attributions: &[f32]) -> f32 {
    attributions.iter().fold(0.01_f32, |m, a| m.max(a.abs()))
}

/// Green for a word that raised the label, red for one that lowered it, stronger for more.
fn color(attribution: f32, scale: f32) -> (u8, u8, u8) {
    let strength = (attribution.abs() / scale).clamp(0.0, 1.0);
    let fade = (255.0 * (1.0 - 0.75 * strength)) as u8;
    if attribution >= 0.0 {
        (fade, 255, fade)
    } else {
        (255, fade, fade)
    }
}

fn in_terminal(explanation: &Explanation, label: Option<&str>, colored: bool) -> String {
    let text = explanation.text();
    let (label, score, attributions) = chosen_label(explanation, label);
    let scale = scale(&attributions);
    let mut line = String::new();
    let mut at = 0;
    for (word, &a) in explanation.words().iter().zip(&attributions) {
        line.push_str(&text[at..word.bytes.start]);
        if colored {
            let (r, g, b) = color(a, scale);
            let style = Style::new()
                .bg_color(Some(Color::Rgb(RgbColor(r, g, b))))
                .fg_color(Some(Color::Rgb(RgbColor(0, 0, 0))));
            let _ = write!(line, "{style}{}{style:#}", word.in_text(text));
        } else {
            line.push_str(word.in_text(text));
        }
        at = word.bytes.end;
    }
    line.push_str(&text[at..]);
    let mut out = format!("{label} {score:.3}  {line}\n");
    let mut ranked: Vec<(usize, f32)> = attributions.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (i, a) in ranked.iter().take(5) {
        let word = explanation.words()[*i].in_text(text);
        let _ = writeln!(out, "    {a:+.3}  {word}");
    }
    out
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(explanations: &[Explanation], label: Option<&str>) -> String {
    let mut body = String::new();
    for explanation in explanations {
        let text = explanation.text();
        let (label, score, attributions) = chosen_label(explanation, label);
        let scale = scale(&attributions);
        let _ = write!(body, "<p><b>{}</b> {score:.3}<br>", escape(&label));
        let mut at = 0;
        for (word, &a) in explanation.words().iter().zip(&attributions) {
            body.push_str(&escape(&text[at..word.bytes.start]));
            let (r, g, b) = color(a, scale);
            let _ = write!(
                body,
                "<span style=\"background:rgb({r},{g},{b})\" title=\"{a:+.4} to {}\">{}</span>",
                escape(&label),
                escape(word.in_text(text))
            );
            at = word.bytes.end;
        }
        body.push_str(&escape(&text[at..]));
        body.push_str("</p>\n");
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Explanations</title>\n\
         <style>body{{font:16px/2 sans-serif;max-width:50em;margin:2em auto}}\
         span{{padding:0.1em 0.2em;border-radius:0.2em}}</style></head><body>\n\
         <h1>Which words drove the label</h1>\n\
         <p>Green raised the label's score, red lowered it (occlusion: the score without the \
         word). Hover a word for its number.</p>\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_colors_by_sign() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(color(0.5, 0.5), (63, 255, 63));
        assert_eq!(color(-0.5, 0.5), (255, 63, 63));
        assert_eq!(color(0.0, 0.5), (255, 255, 255));
    }

    #[test]
    fn a_chosen_label_plain_for_pipes_and_json_for_programs() {
        let models = std::env::var_os("EMOTION_TEST_MODELS").expect("EMOTION_TEST_MODELS");
        let classifier = EmotionClassifier::builder()
            .model(std::path::PathBuf::from(models).join("tiny-distilbert-emotion"))
            .build()
            .expect("model");
        let explanation = classifier
            .explain("I love this so much")
            .expect("explained");
        let plain = in_terminal(&explanation, Some("anger"), false);
        assert!(plain.starts_with("anger "), "{plain}");
        assert!(
            !plain.contains('\u{1b}'),
            "escape codes in plain output: {plain:?}"
        );
        assert!(plain.contains("I love this so much"));
        let anger = explanation.scores().get("anger").expect("anger");
        assert!(plain.contains(&format!("{anger:.3}")));
        let colored = in_terminal(&explanation, None, true);
        assert!(colored.contains('\u{1b}'));
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&explanation).expect("json"))
                .expect("parses");
        assert_eq!(json["text"], "I love this so much");
        assert_eq!(json["words"].as_array().map(Vec::len), Some(5));
        let page = page(&[explanation], Some("anger"));
        assert!(page.contains("<b>anger</b>"));
    }
}
