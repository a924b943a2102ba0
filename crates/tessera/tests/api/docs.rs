//! The verification snippets of docs/verify-tokens.md, run as a resource server would.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(the_python_and_node_snippets_verify_a_real_token_and_refuse_a_forged_one);

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// Runs a snippet; its exit status and standard output.
fn run(program: &str, snippet: &str, base: &str, token: &str) -> (bool, String) {
    let output = Command::new(program)
        .arg(docs().join("snippets").join(snippet))
        .args([base, token])
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} must be installed (the test command installs it): {e}")
        });
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_page_shows_the_snippets_exactly_as_tested() {
    let page = std::fs::read_to_string(docs().join("verify-tokens.md")).unwrap();
    for snippet in ["verify.py", "verify.mjs"] {
        let code = std::fs::read_to_string(docs().join("snippets").join(snippet)).unwrap();
        assert!(
            page.contains(&code),
            "docs/verify-tokens.md must include {snippet} verbatim"
        );
    }
}

async fn the_python_and_node_snippets_verify_a_real_token_and_refuse_a_forged_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.signup_test_user().await;
    let mut forged = user.access_token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");

    for (program, snippet) in [("python3", "verify.py"), ("node", "verify.mjs")] {
        let base = app.address.clone();
        let token = user.access_token.clone();
        let (ok, stdout) =
            tokio::task::spawn_blocking(move || run(program, snippet, &base, &token))
                .await
                .unwrap();
        assert!(ok, "{snippet} refused a valid token");
        assert!(stdout.starts_with(&user.id), "{snippet} printed {stdout:?}");
        assert!(stdout.contains(&user.session_id));

        let (base, token) = (app.address.clone(), forged.clone());
        let (ok, _) = tokio::task::spawn_blocking(move || run(program, snippet, &base, &token))
            .await
            .unwrap();
        assert!(!ok, "{snippet} accepted a forged signature");
    }
}
