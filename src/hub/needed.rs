//! Which of a model repository's files the classifier needs. Pure logic over file names.

/// The model's configuration.
pub(crate) const CONFIG: &str = "config.json";

/// Tokenizer files, by preference: the fast tokenizer, else a slow RoBERTa one, else a slow
/// BERT one. A slow tokenizer also takes its options file when the repository has one.
const TOKENIZERS: &[&[&str]] = &[
    &["tokenizer.json"],
    &["vocab.json", "merges.txt"],
    &["vocab.txt"],
];
const SLOW_TOKENIZER_OPTIONS: &str = "tokenizer_config.json";

/// Weights files, by preference (safetensors: no pickle, memory-mappable).
const WEIGHTS: &[&str] = &["model.safetensors", "pytorch_model.bin"];

/// The files to fetch from a repository that lists `listed`.
///
/// # Errors
/// The name of the first kind of file the listing lacks: `config.json`, `tokenizer.json` (no
/// tokenizer of any kind) or `model.safetensors` (no weights of either format).
pub(crate) fn files_to_fetch(listed: &[&str]) -> Result<Vec<&'static str>, &'static str> {
    let has = |file: &str| listed.contains(&file);
    choose(has)
}

/// Whether a folder where `present` tells which files exist holds everything a model needs.
///
/// # Errors
/// As [`files_to_fetch`].
pub(crate) fn check_complete(present: impl Fn(&str) -> bool) -> Result<(), &'static str> {
    choose(present).map(drop)
}

fn choose(has: impl Fn(&str) -> bool) -> Result<Vec<&'static str>, &'static str> {
    if !has(CONFIG) {
        return Err(CONFIG);
    }
    let mut files = vec![CONFIG];
    let tokenizer = TOKENIZERS
        .iter()
        .position(|set| set.iter().all(|file| has(file)))
        .ok_or(TOKENIZERS[0][0])?;
    files.extend_from_slice(TOKENIZERS[tokenizer]);
    if tokenizer > 0 && has(SLOW_TOKENIZER_OPTIONS) {
        files.push(SLOW_TOKENIZER_OPTIONS);
    }
    let weights = WEIGHTS.iter().find(|file| has(file)).ok_or(WEIGHTS[0])?;
    files.push(weights);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_fast_tokenizer_and_safetensors() {
        let listed = [
            "README.md",
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "vocab.json",
            "merges.txt",
            "pytorch_model.bin",
            "model.safetensors",
            "tf_model.h5",
        ];
        assert_eq!(
            files_to_fetch(&listed),
            Ok(vec!["config.json", "tokenizer.json", "model.safetensors"])
        );
    }

    #[test]
    fn slow_tokenizers_and_pickle_weights_when_that_is_all() {
        let roberta = [
            "config.json",
            "vocab.json",
            "merges.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "pytorch_model.bin",
        ];
        assert_eq!(
            files_to_fetch(&roberta),
            Ok(vec![
                "config.json",
                "vocab.json",
                "merges.txt",
                "tokenizer_config.json",
                "pytorch_model.bin"
            ])
        );
        let bert = ["config.json", "vocab.txt", "model.safetensors"];
        assert_eq!(
            files_to_fetch(&bert),
            Ok(vec!["config.json", "vocab.txt", "model.safetensors"])
        );
    }

    #[test]
    fn names_what_is_missing() {
        assert_eq!(files_to_fetch(&[]), Err("config.json"));
        assert_eq!(
            files_to_fetch(&["config.json", "vocab.json", "model.safetensors"]),
            Err("tokenizer.json")
        );
        assert_eq!(
            files_to_fetch(&["config.json", "tokenizer.json", "tf_model.h5"]),
            Err("model.safetensors")
        );
        assert_eq!(check_complete(|f| f != "config.json"), Err("config.json"));
        assert_eq!(check_complete(|_| true), Ok(()));
    }
}
