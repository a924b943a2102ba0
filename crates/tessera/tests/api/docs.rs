//! The snippets of the docs, run: verification as a resource server would
//! (docs/verify-tokens.md), and browser mode on the wire (docs/browser-apps.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

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
fn the_pages_show_the_snippets_exactly_as_tested() {
    for (page, snippets) in [
        ("verify-tokens.md", &["verify.py", "verify.mjs"][..]),
        ("browser-apps.md", &["cookie-mode.sh"][..]),
    ] {
        let text = std::fs::read_to_string(docs().join(page)).unwrap();
        for snippet in snippets {
            let code = std::fs::read_to_string(docs().join("snippets").join(snippet)).unwrap();
            assert!(
                text.contains(&code),
                "docs/{page} must include {snippet} verbatim"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_mode_walkthrough_runs_as_the_page_says() {
    let origin = "http://127.0.0.1:3000";
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.cookies.dev_insecure = true;
        settings.cors.allowed_origins = vec![origin.into()];
    })
    .await;
    let base = app.address.clone();

    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(docs().join("snippets").join("cookie-mode.sh"))
            .args([&base, origin])
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "GET /users/me: 200\n\
         refresh without X-CSRF-Token: 403\n\
         refresh from a foreign origin: 403\n\
         refresh with X-CSRF-Token: 200\n\
         logout clears cookies: 3\n"
    );
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
