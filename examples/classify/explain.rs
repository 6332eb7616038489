//! `--explain` and `--explain-html`: explanations shown in a terminal (24-bit colors, through
//! `anstyle`, which clap already brings) or written as a small HTML page.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anstyle::{Color, RgbColor, Style};
use emotion_classifier::{EmotionClassifier, ErrorChain, Explanation};

/// Explains every text; prints and/or writes the page. Exit code 1 if any text failed.
pub fn run(
    classifier: &EmotionClassifier,
    texts: &[String],
    terminal: bool,
    html: Option<&Path>,
) -> ExitCode {
    let mut failed = false;
    let mut explained = Vec::new();
    for text in texts {
        match classifier.explain(text) {
            Ok(explanation) => {
                if terminal {
                    print!("{}", in_terminal(&explanation));
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
        if let Err(e) = std::fs::write(path, page(&explained)) {
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

/// The top label and each word's attribution to it.
fn top_label(explanation: &Explanation) -> (String, f32, Vec<f32>) {
    let top = explanation.scores().top();
    let attributions = explanation.for_label(top.label).unwrap_or_default();
    (top.label.to_owned(), top.score, attributions)
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

fn in_terminal(explanation: &Explanation) -> String {
    let text = explanation.text();
    let (label, score, attributions) = top_label(explanation);
    let scale = scale(&attributions);
    let mut line = String::new();
    let mut at = 0;
    for (word, &a) in explanation.words().iter().zip(&attributions) {
        line.push_str(&text[at..word.bytes.start]);
        let (r, g, b) = color(a, scale);
        let style = Style::new()
            .bg_color(Some(Color::Rgb(RgbColor(r, g, b))))
            .fg_color(Some(Color::Rgb(RgbColor(0, 0, 0))));
        let _ = write!(line, "{style}{}{style:#}", word.in_text(text));
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

fn page(explanations: &[Explanation]) -> String {
    let mut body = String::new();
    for explanation in explanations {
        let text = explanation.text();
        let (label, score, attributions) = top_label(explanation);
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
         <h1>Which words drove the top label</h1>\n\
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
}
