//! Classifies its arguments with the model named by EMOTION_MODEL, through the public API only,
//! and checks the answer has the model's shape.
use emotion_classifier::EmotionClassifier;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let classifier = EmotionClassifier::builder().build()?;
    // build.rs exports the crate's MKL vendor check, as the README tells dependents to.
    if !emotion_classifier::mkl_vendor_override_active() {
        return Err("the MKL vendor override is not in effect: check build.rs".into());
    }
    let texts: Vec<String> = std::env::args().skip(1).collect();
    let all = classifier.classify_batch(&texts)?;
    if all.len() != texts.len() {
        return Err(format!("{} texts gave {} results", texts.len(), all.len()).into());
    }
    for (text, scores) in texts.iter().zip(&all) {
        let sum: f32 = scores.scores().iter().sum();
        if scores.len() != classifier.labels().len() || !sum.is_finite() {
            return Err(format!("malformed scores for {text:?}").into());
        }
        println!("{text}\t{}\t{:.3}", scores.top().label, scores.top().score);
    }
    Ok(())
}
