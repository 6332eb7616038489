//! Checking a download against the hash the hub announced for it.
//!
//! The hub names each file by its ETag, which `hf-hub` uses as the blob's file name: for files in
//! Git LFS (weights) the SHA-256 of the content, for the others Git's blob hash (SHA-1 of
//! `blob <length>\0` followed by the content). `hf-hub` 0.4 does not check either, nor the size,
//! so a body cut short and resumed wrongly, or changed on the way, would be kept; this check runs
//! once per downloaded file, costing one read of it (about 0.2 s for 300 MB).

use std::io::Read;
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The expected and actual hash of a file that does not match.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) expected: String,
    pub(crate) actual: String,
}

/// Checks the blob that `pointer` (a snapshot entry) leads to. On a mismatch both the blob and
/// the pointer are removed, so no later load trusts the file. ETags of other forms (a mirror's
/// own) cannot be checked and pass.
///
/// # Errors
/// Reading the file or removing it.
pub(crate) fn check_download(pointer: &Path) -> std::io::Result<Result<(), Mismatch>> {
    let blob = std::fs::canonicalize(pointer)?;
    let expected = blob
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let actual = match expected.len() {
        64 if is_lower_hex(&expected) => hash_file::<Sha256>(&blob, None)?,
        40 if is_lower_hex(&expected) => {
            let len = std::fs::metadata(&blob)?.len();
            hash_file::<Sha1>(&blob, Some(format!("blob {len}\0").as_bytes()))?
        }
        _ => return Ok(Ok(())),
    };
    if actual == expected {
        return Ok(Ok(()));
    }
    std::fs::remove_file(pointer)?;
    std::fs::remove_file(&blob)?;
    Ok(Err(Mismatch { expected, actual }))
}

/// Lowercase hexadecimal digits only (as the hub writes hashes and commits).
pub(super) fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hash_file<D: Digest>(path: &Path, prefix: Option<&[u8]>) -> std::io::Result<String> {
    let mut hasher = D::new();
    if let Some(prefix) = prefix {
        hasher.update(prefix);
    }
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git hash-object` of a file holding "hello\n".
    const GIT_HELLO: &str = "ce013625030ba8dba906f756967f9e9ca394464a";
    /// `sha256sum` of "hello\n".
    const SHA256_HELLO: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    fn blob_and_pointer(name: &str, content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let temp = tempfile::tempdir().unwrap();
        let blob = temp.path().join(name);
        std::fs::write(&blob, content).unwrap();
        let pointer = temp.path().join("config.json");
        std::os::unix::fs::symlink(&blob, &pointer).unwrap();
        (temp, pointer)
    }

    #[test]
    fn matching_files_pass() {
        for name in [GIT_HELLO, SHA256_HELLO, "weak-etag"] {
            let (_temp, pointer) = blob_and_pointer(name, "hello\n");
            assert_eq!(check_download(&pointer).unwrap(), Ok(()), "{name}");
            assert!(pointer.exists());
        }
    }

    #[test]
    fn mismatches_are_removed() {
        for name in [GIT_HELLO, SHA256_HELLO] {
            let (temp, pointer) = blob_and_pointer(name, "hell");
            let mismatch = check_download(&pointer).unwrap().unwrap_err();
            assert_eq!(mismatch.expected, name);
            assert_ne!(mismatch.actual, name);
            assert!(!pointer.exists() && !temp.path().join(name).exists());
        }
    }
}
