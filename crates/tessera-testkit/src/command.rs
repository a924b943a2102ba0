//! Running the `tessera` binary (or any child) from a test: a command without the caller's
//! configuration, a run to completion off the async workers, and a guard that kills on drop.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};

/// What a finished command printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The `tessera` binary at `binary`, without the `TESSERA_*` and `RUST_LOG` variables of the
/// caller's environment, so a developer's shell settings cannot change a test.
pub fn tessera_command(binary: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("TESSERA_") || text == "RUST_LOG" {
            command.env_remove(&name);
        }
    }
    command
}

/// Runs `command` to completion on a blocking thread, so servers on the test's runtime keep
/// serving meanwhile. Panics when it cannot be started.
pub async fn run_cli(mut command: Command) -> CliOutput {
    let program = Path::new(command.get_program()).display().to_string();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .unwrap_or_else(|err| panic!("{program} runs: {err}"));
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A child process killed (SIGKILL) when the test ends, unless it has exited already.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
