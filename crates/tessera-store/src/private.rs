//! The data directory and the SQLite files in it are private to the account Tessera runs as:
//! they hold password hashes, session digests and sealed keys.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) if missing, and makes it `0700` whether it was just made
/// or already there.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Makes the SQLite database `file` and its `-wal`/`-shm` companions `0600`, those that exist.
/// SQLite creates the companions with the database's own mode, so this also covers the ones
/// made later.
pub fn restrict_database_files(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut companions = Vec::with_capacity(3);
        companions.push(file.to_owned());
        for suffix in ["-wal", "-shm"] {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            companions.push(name.into());
        }
        for path in companions {
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
