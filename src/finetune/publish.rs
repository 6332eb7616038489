//! Publishing a finished run's model folder, crash-safely: the folder is staged whole inside
//! the run's checkpoint folder, then moved into place in one step, and the checkpoint removed
//! only after that.
//!
//! - No output yet: one `rename`.
//! - `--overwrite` of an existing output: on Linux one `renameat2(RENAME_EXCHANGE)` swaps the
//!   staged and the old folder atomically (no moment without a model), then the old one, now
//!   inside the checkpoint folder, is removed. Elsewhere, or on a file system without the
//!   exchange, the old folder is renamed aside first, which leaves a moment without one.
//! - An existing output without `--overwrite` is never touched: [`FineTuneError::OutputExists`].

use std::path::Path;

use super::checkpoint::STATE_FILE;
use super::error::FineTuneError;
use super::export::{sync_dir, sync_parent, write_error};
use crate::error::Result;

/// Moves the folder `staged` to `output` (see the module's docs).
pub(crate) fn publish(staged: &Path, output: &Path, overwrite: bool) -> Result<()> {
    if output.exists() {
        if !overwrite {
            return Err(FineTuneError::OutputExists {
                path: output.to_path_buf(),
            }
            .into());
        }
        if !exchange(staged, output) {
            let aside = staged.with_file_name("previous-output");
            if aside.exists() {
                std::fs::remove_dir_all(&aside).map_err(write_error(&aside))?;
            }
            std::fs::rename(output, &aside).map_err(write_error(output))?;
            std::fs::rename(staged, output).map_err(write_error(output))?;
            sync_parent(output)?;
            std::fs::remove_dir_all(&aside).map_err(write_error(&aside))?;
            return Ok(());
        }
        sync_parent(output)?;
        crate::failpoint::hit("finish-exchanged");
        // `staged` now holds the old output.
        std::fs::remove_dir_all(staged).map_err(write_error(staged))?;
    } else {
        std::fs::rename(staged, output).map_err(write_error(output))?;
    }
    sync_parent(output)
}

/// Swaps two folders atomically, if this system can: `false` when it cannot (nothing moved).
fn exchange(a: &Path, b: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let (Ok(a), Ok(b)) = (
            CString::new(a.as_os_str().as_bytes()),
            CString::new(b.as_os_str().as_bytes()),
        ) else {
            return false;
        };
        // SAFETY: both are NUL-terminated paths that outlive the call.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        done == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        false
    }
}

/// Removes the checkpoint folder `dir` of a published run: everything but the state first,
/// then the state, then the folder, so a crash on the way leaves a state that says the run
/// is published (a resumed run then only finishes this).
pub(crate) fn remove_checkpoint(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(write_error(dir))?;
    for entry in entries {
        let entry = entry.map_err(write_error(dir))?;
        let path = entry.path();
        if entry.file_name() == STATE_FILE {
            continue;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(write_error(&path))?;
    }
    sync_dir(dir)?;
    crate::failpoint::hit("finish-cleaning");
    let state = dir.join(STATE_FILE);
    std::fs::remove_file(&state).map_err(write_error(&state))?;
    std::fs::remove_dir(dir).map_err(write_error(dir))?;
    sync_parent(dir)
}
