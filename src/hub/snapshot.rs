//! One model's folder in the Hugging Face cache, read without the network.
//!
//! The layout is `huggingface_hub`'s: `models--owner--name/refs/<branch>` holds a commit hash,
//! `snapshots/<commit>/<file>` links to `blobs/<etag>`. Downloads in progress are
//! `blobs/<etag>.part` files, never linked from a snapshot, so never taken for a file.

use std::path::{Path, PathBuf};

use crate::config::ModelConfig;
use crate::layout::{self, ModelFiles};

/// The cache folder of one model repository.
pub(crate) struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    pub(crate) fn new(cache_dir: &Path, id: &str) -> Self {
        Self {
            root: cache_dir.join(format!("models--{}", id.replace('/', "--"))),
        }
    }

    /// The folder of one commit's files.
    pub(crate) fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    /// The commit `revision` names here: itself if it is a commit hash with a snapshot, else
    /// what `refs/<revision>` says.
    fn commit_for(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) && self.snapshot_dir(revision).is_dir() {
            return Some(revision.to_owned());
        }
        let commit = std::fs::read_to_string(self.root.join("refs").join(revision)).ok()?;
        let commit = commit.trim();
        is_commit_hash(commit).then(|| commit.to_owned())
    }

    /// The snapshot folder of `revision` if it holds everything the model needs.
    ///
    /// # Errors
    /// The first needed file that is missing (`config.json` when there is no snapshot at all).
    pub(crate) fn complete_snapshot(&self, revision: &str) -> Result<PathBuf, &'static str> {
        let dir = self.commit_for(revision).map(|c| self.snapshot_dir(&c));
        let dir = dir.ok_or(layout::CONFIG)?;
        // A config that is missing or cannot be read counts as missing: the model needs it.
        let architecture = ModelConfig::from_file(&dir.join(layout::CONFIG))
            .map_err(|_| layout::CONFIG)?
            .architecture();
        ModelFiles::choose(architecture, |file| dir.join(file).is_file())?;
        Ok(dir)
    }

    /// Records that branch or tag `revision` is at `commit` (nothing to record for a commit).
    pub(crate) fn write_ref(&self, revision: &str, commit: &str) -> std::io::Result<()> {
        if revision == commit {
            return Ok(());
        }
        let path = self.root.join("refs").join(revision);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, commit)
    }
}

/// A full 40-digit lowercase hex commit hash, safe to use as a folder name.
pub(crate) fn is_commit_hash(text: &str) -> bool {
    text.len() == 40 && super::verify::is_lower_hex(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    /// A valid config, whose architecture (BERT) decides the tokenizer files.
    const BERT_CONFIG: &str = r#"{"model_type":"bert","id2label":{"0":"a","1":"b"},
        "max_position_embeddings":512,"vocab_size":100,"hidden_size":8,"intermediate_size":16,
        "num_attention_heads":2,"num_hidden_layers":1}"#;

    fn fill(cache: &RepoCache, files: &[&str]) {
        let dir = cache.snapshot_dir(COMMIT);
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            let content = if *file == "config.json" {
                BERT_CONFIG
            } else {
                "x"
            };
            std::fs::write(dir.join(file), content).unwrap();
        }
    }

    #[test]
    fn finds_complete_snapshots_by_branch_or_commit() {
        let temp = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(temp.path(), "owner/name");
        assert_eq!(cache.complete_snapshot("main"), Err("config.json"));
        fill(&cache, &["config.json", "tokenizer.json"]);
        assert_eq!(cache.complete_snapshot(COMMIT), Err("model.safetensors"));
        fill(&cache, &["pytorch_model.bin"]);
        assert_eq!(
            cache.complete_snapshot(COMMIT),
            Ok(cache.snapshot_dir(COMMIT))
        );
        // A branch needs its ref.
        assert_eq!(cache.complete_snapshot("main"), Err("config.json"));
        cache.write_ref("main", COMMIT).unwrap();
        assert_eq!(
            cache.complete_snapshot("main"),
            Ok(cache.snapshot_dir(COMMIT))
        );
        assert!(temp.path().join("models--owner--name/refs/main").is_file());
    }

    #[test]
    fn part_files_do_not_count_and_bad_refs_are_ignored() {
        let temp = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(temp.path(), "owner/name");
        fill(
            &cache,
            &["config.json", "tokenizer.json", "model.safetensors.part"],
        );
        assert_eq!(cache.complete_snapshot(COMMIT), Err("model.safetensors"));
        cache.write_ref("main", "../../escape").unwrap();
        assert_eq!(cache.complete_snapshot("main"), Err("config.json"));
    }

    #[test]
    fn the_configs_architecture_decides_which_tokenizer_counts() {
        let temp = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(temp.path(), "owner/name");
        // BERT reads vocab.txt; RoBERTa's files are no tokenizer for it.
        fill(
            &cache,
            &[
                "config.json",
                "vocab.json",
                "merges.txt",
                "model.safetensors",
            ],
        );
        assert_eq!(cache.complete_snapshot(COMMIT), Err("tokenizer.json"));
        fill(&cache, &["vocab.txt"]);
        assert_eq!(
            cache.complete_snapshot(COMMIT),
            Ok(cache.snapshot_dir(COMMIT))
        );
        // A config that cannot be read is as good as none.
        std::fs::write(cache.snapshot_dir(COMMIT).join("config.json"), "{").unwrap();
        assert_eq!(cache.complete_snapshot(COMMIT), Err("config.json"));
    }

    #[test]
    fn commit_hashes() {
        assert!(is_commit_hash(COMMIT));
        assert!(!is_commit_hash("main"));
        assert!(!is_commit_hash(&COMMIT.to_uppercase()));
        assert!(!is_commit_hash("../../../../../../../../../../../../../x"));
    }
}
