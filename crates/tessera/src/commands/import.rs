//! `tessera import FILE`: users with bcrypt or argon2 hashes, one JSON object per line.
//!
//! A bad line is reported with its number and nothing of it is written; the rest goes in.
//! The command exits non-zero when any line was refused, so scripts notice.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tessera_core::account::{DisplayName, Email, NewUser, Role, StoredHash};
use tessera_core::{Clock, Conflict, StoreError, SystemClock, UserId};

use crate::startup::Core;

/// One line of the import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    password_hash: String,
    name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    email_verified: bool,
}

/// Imports every good line of `path`.
pub async fn run(core: &Core, path: &Path) -> anyhow::Result<()> {
    let (reader, total) = open(path)?;
    let progress = progress_bar(total);
    let (mut imported, mut refused) = (0u64, 0u64);
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.with_context(|| format!("reading line {number}"))?;
        progress.inc(1);
        if line.trim().is_empty() {
            continue;
        }
        match import_line(core, &line).await {
            Ok(()) => imported += 1,
            Err(LineError::Refused(reason)) => {
                refused += 1;
                progress.suspend(|| eprintln!("line {number}: {reason}"));
            }
            Err(LineError::Store(error)) => {
                progress.abandon();
                return Err(error).with_context(|| {
                    format!(
                        "line {number}: the database failed; {imported} user(s) imported so far"
                    )
                });
            }
        }
    }
    progress.finish_and_clear();
    println!("imported {imported} user(s), refused {refused} line(s)");
    if refused > 0 {
        bail!("{refused} line(s) refused; see the messages above");
    }
    Ok(())
}

enum LineError {
    Refused(String),
    Store(StoreError),
}

async fn import_line(core: &Core, line: &str) -> Result<(), LineError> {
    let refused = |reason: String| LineError::Refused(reason);
    let entry: ImportLine =
        serde_json::from_str(line).map_err(|e| refused(format!("not a valid entry: {e}")))?;
    let email = Email::parse(&entry.email).map_err(|e| refused(e.to_string()))?;
    StoredHash::check(&entry.password_hash).map_err(|unusable| refused(unusable.to_string()))?;
    let roles = Role::parse_all(&entry.roles).map_err(|e| refused(e.to_string()))?;
    let name = match entry.name.as_deref() {
        Some(name) => DisplayName::parse(name).map_err(|e| refused(e.to_owned()))?,
        None => None,
    };
    let user = NewUser {
        id: UserId::new(),
        email,
        name,
        roles,
        email_verified: entry.email_verified,
        created_at: SystemClock.now(),
    };
    match core
        .stores
        .users
        .create_user(&user, Some(&entry.password_hash))
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict(Conflict::Email)) => {
            Err(refused(format!("{} exists already", user.email)))
        }
        Err(error) => Err(LineError::Store(error)),
    }
}

/// The lines to read and, for a file, how many there are (for the progress bar).
fn open(path: &Path) -> anyhow::Result<(Box<dyn BufRead>, Option<u64>)> {
    if path == Path::new("-") {
        return Ok((Box::new(BufReader::new(std::io::stdin())), None));
    }
    let count = {
        let mut file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut lines = 0u64;
        loop {
            let read = file
                .read(&mut buffer)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if read == 0 {
                break;
            }
            lines += buffer[..read].iter().filter(|b| **b == b'\n').count() as u64;
        }
        lines
    };
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok((Box::new(BufReader::new(file)), Some(count)))
}

/// A bar on a terminal; nothing when the output is a pipe or a file.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total.unwrap_or(0));
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} lines ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
