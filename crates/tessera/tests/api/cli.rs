//! The command line, run as the real binary: configuration, migrations, user administration,
//! import, and `serve` with no configuration at all.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::account::{Email, HashPoolSettings, PasswordHasher, PasswordPolicy};
use tessera_testkit::Running;

use crate::both_backends;
use crate::helpers::{
    Backend, CliOutput, PgDatabase, TestApp, assert_problem, eventually, run_cli, spawn_app,
    tessera_command,
};

both_backends!(
    admin_commands_manage_an_account_the_running_server_sees,
    import_takes_good_lines_reports_bad_ones_and_upgrades_bcrypt_on_login,
    import_refuses_costly_hashes_and_checks_imported_ones_against_the_password_as_typed,
);

// ---------------------------------------------------------------------------------------------
// config check

#[tokio::test]
async fn config_check_prints_the_configuration_with_secrets_masked() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let hs256_secret = "hs256-secret-that-is-long-enough-0123456789";
    let cases = [
        (
            "postgres://tessera:pw-Sup3rSecret@127.0.0.1:5432/tessera",
            "pw-Sup3rSecret",
        ),
        (
            "postgres://tessera@127.0.0.1:5432/tessera?sslmode=disable&password=pw-Query5ecret",
            "pw-Query5ecret",
        ),
    ];

    for (database_url, password) in cases {
        let mut command = command_in(dir.path());
        command
            .args(["config", "check"])
            .env("TESSERA_MASTER_KEY", &master_key)
            .env("TESSERA_DATABASE_URL", database_url)
            .env("TESSERA_TOKENS__SIGNING_ALG", "HS256")
            .env("TESSERA_TOKENS__HS256_SECRET", hs256_secret);

        // Act
        let output = run_cli(command).await;

        // Assert
        assert!(output.status.success(), "{output:?}");
        for secret in [master_key.as_str(), password, hs256_secret] {
            assert!(!output.stdout.contains(secret), "{secret} in {output:?}");
            assert!(!output.stderr.contains(secret), "{secret} in {output:?}");
        }
        assert!(
            output.stdout.contains("127.0.0.1:5432/tessera"),
            "{output:?}"
        );
        assert!(
            output.stdout.contains(r#"signing_alg = "HS256""#),
            "{output:?}"
        );
        assert!(
            output
                .stdout
                .lines()
                .any(|l| l.starts_with("master_key = ") && l.contains("****")),
            "{output:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_key_in_the_file_fails_with_one_line_naming_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "audience = \"api\"\n[tokens]\naccess_tl = \"5m\"\n").unwrap();
    let mut command = command_in(dir.path());
    command.args(["config", "check", "--config"]).arg(&file);

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(!output.status.success(), "{output:?}");
    assert_one_line(&output);
    assert!(output.stderr.contains("access_tl"), "{output:?}");
}

#[tokio::test]
async fn config_check_refuses_an_unknown_variable() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let mut command = command_in(dir.path());
    command
        .args(["config", "check"])
        .env("TESSERA_LISTEN_ADDR", "127.0.0.1:9000");

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(!output.status.success(), "{output:?}");
    assert_one_line(&output);
    assert!(output.stderr.contains("TESSERA_LISTEN_ADDR"), "{output:?}");
}

#[tokio::test]
async fn an_absolute_lifetime_below_the_idle_one_is_accepted_and_absurd_durations_are_refused() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let check = |variable: &str, value: &str| {
        let mut command = command_in(dir.path());
        command.args(["config", "check"]).env(variable, value);
        command
    };

    // Act
    let short_absolute = run_cli(check("TESSERA_TOKENS__REFRESH_ABSOLUTE_TTL", "7d")).await;
    let absurd = [
        (
            "TESSERA_TOKENS__ACCESS_TTL",
            "100000000d",
            "tokens.access_ttl",
        ),
        (
            "TESSERA_TOKENS__REFRESH_IDLE_TTL",
            "500000000years",
            "tokens.refresh_idle_ttl",
        ),
        ("TESSERA_TOKENS__LEEWAY", "30000000d", "tokens.leeway"),
        (
            "TESSERA_RATE_LIMITS__LOGIN_PER_IP",
            "5/99999999d",
            "rate_limits.login_per_ip",
        ),
    ];

    // Assert: the absolute lifetime wins over the idle one (API.md §2).
    assert!(short_absolute.status.success(), "{short_absolute:?}");
    for (variable, value, name) in absurd {
        let output = run_cli(check(variable, value)).await;
        assert!(!output.status.success(), "{variable}={value}: {output:?}");
        assert_one_line(&output);
        assert!(output.stderr.contains(name), "{output:?}");
        assert!(!output.stderr.contains("panicked"), "{output:?}");
    }
}

#[tokio::test]
async fn the_config_flag_works_before_and_after_the_subcommand() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("elsewhere.toml");
    std::fs::write(&file, "audience = \"from-the-file\"\n").unwrap();
    let file = file.to_str().unwrap();
    let runs = [
        vec!["--config", file, "config", "check"],
        vec!["config", "--config", file, "check"],
        vec!["config", "check", "--config", file],
    ];

    for args in runs {
        let mut command = command_in(dir.path());
        command.args(&args);

        // Act
        let output = run_cli(command).await;

        // Assert
        assert!(output.status.success(), "{args:?}: {output:?}");
        assert!(
            output.stdout.contains(r#"audience = "from-the-file""#),
            "{args:?}: {output:?}"
        );
    }
    let mut without = command_in(dir.path());
    without.args(["config", "check"]);
    let output = run_cli(without).await;
    assert!(
        output.stdout.contains(r#"audience = "tessera""#),
        "{output:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// migrate

#[tokio::test]
async fn migrate_prepares_a_fresh_sqlite_data_dir() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act
    let first = run_cli(with_args(command_in(dir.path()), &["migrate"])).await;
    let again = run_cli(with_args(command_in(dir.path()), &["migrate"])).await;

    // Assert
    assert!(first.status.success(), "{first:?}");
    assert!(again.status.success(), "{again:?}");
    let database = dir.path().join("data").join("tessera.db");
    assert!(database.is_file(), "no {}", database.display());
    let stores = tessera_store::open("", &dir.path().join("data"))
        .await
        .unwrap();
    assert!(
        stores
            .users
            .list_users(None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn migrate_prepares_a_fresh_postgres_database() {
    // Arrange
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let database = PgDatabase::create().await;
    let mut connection = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' \
                  AND table_name IN ('users', 'sessions', 'signing_keys')";
    let before: i64 = sqlx::query_scalar(tables)
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(before, 0, "the database starts empty");
    let mut command = command_in(dir.path());
    command
        .arg("migrate")
        .env("TESSERA_DATABASE_URL", database.url());

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(output.status.success(), "{output:?}");
    let after: i64 = sqlx::query_scalar(tables)
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(after, 3);
    connection.close().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_every_file_tessera_makes_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    // Arrange: a data directory the command has to create (the test runner's umask would
    // let everyone read what it makes).
    let dir = tempfile::tempdir().unwrap();
    let mut command = command_in(dir.path());
    command.args([
        "user",
        "create",
        "--email",
        "kate@example.test",
        "--password",
        "pw-long-enough",
    ]);

    // Act
    let output = run_cli(command).await;

    // Assert
    assert!(output.status.success(), "{output:?}");
    let data = dir.path().join("data");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    let files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    for name in ["tessera.db", "master.key"] {
        assert!(files.contains(&data.join(name)), "{name} in {files:?}");
    }
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

// ---------------------------------------------------------------------------------------------
// user

async fn admin_commands_manage_an_account_the_running_server_sees(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let password = "a sturdy admin passphrase";

    // Act + Assert: create
    let created = app
        .cli(&[
            "user",
            "create",
            "--email",
            "Root@Example.com",
            "--password",
            password,
            "--name",
            "Root",
            "--role",
            "admin",
        ])
        .await;
    assert!(created.status.success(), "{created:?}");
    assert!(!created.stdout.contains(password) && !created.stderr.contains(password));
    let id = created.stdout.trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "not an id: {id:?}");
    let row = list_row(&app.cli(&["user", "list"]).await, &id);
    assert_eq!(row[1..], ["Root@Example.com", "active", "admin"], "{row:?}");
    let signed_in = login(&app, "root@example.com", password).await;
    assert_eq!(signed_in["user"]["id"], id);
    assert_eq!(signed_in["user"]["roles"], json!(["admin"]));
    assert_eq!(signed_in["user"]["name"], "Root");
    let admin_token = signed_in["access_token"].as_str().unwrap().to_owned();

    // set-roles: removing admin revokes the tokens that carried it, on the running server too.
    let set = app
        .cli(&["user", "set-roles", &id, "support", "billing"])
        .await;
    assert!(set.status.success(), "{set:?}");
    let row = list_row(&app.cli(&["user", "list"]).await, &id);
    assert_eq!(row[3], "billing,support", "{row:?}");
    crate::helpers::eventually(
        Duration::from_millis(1_500),
        "the demoted token refused",
        || async {
            let response = app.get_admin_users(&admin_token, "").await;
            (response.status() == StatusCode::UNAUTHORIZED).then_some(response)
        },
    )
    .await;
    assert_problem(app.get_me(&admin_token).await, 401, "token_revoked").await;
    app.catch_up_with_the_wall_clock();
    let signed_in = login(&app, "root@example.com", password).await;
    assert_eq!(signed_in["user"]["roles"], json!(["billing", "support"]));
    let token = signed_in["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_me(&token).await.status(), StatusCode::OK);

    // disable
    let disabled = app.cli(&["user", "disable", &id]).await;
    assert!(disabled.status.success(), "{disabled:?}");
    let row = list_row(&app.cli(&["user", "list"]).await, &id);
    assert_eq!(row[2], "disabled", "{row:?}");
    let refused = app
        .post_login(&json!({ "email": "root@example.com", "password": password }))
        .await;
    assert_problem(refused, 403, "account_disabled").await;
    // Another process disabled the account: the running server learns of it from the database
    // feed, within the contract's second.
    crate::helpers::eventually(
        Duration::from_millis(1_500),
        "the token refused",
        || async {
            let response = app.get_me(&token).await;
            (response.status() == StatusCode::UNAUTHORIZED).then_some(response)
        },
    )
    .await;
    assert_problem(app.get_me(&token).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn bad_user_input_fails_with_one_line_and_writes_nothing() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let good = run_cli(with_args(
        command_in(dir.path()),
        &[
            "user",
            "create",
            "--email",
            "kept@example.com",
            "--password",
            "correct horse battery",
        ],
    ))
    .await;
    assert!(good.status.success(), "{good:?}");
    let id = good.stdout.trim().to_owned();
    let list = || run_cli(with_args(command_in(dir.path()), &["user", "list"]));
    let before = list().await;
    assert!(before.stdout.contains("kept@example.com"), "{before:?}");
    let unknown = uuid::Uuid::now_v7().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "weak password",
            vec![
                "user",
                "create",
                "--email",
                "weak@example.com",
                "--password",
                "short",
            ],
        ),
        (
            "common password",
            vec![
                "user",
                "create",
                "--email",
                "weak@example.com",
                "--password",
                "password",
            ],
        ),
        (
            "bad email",
            vec![
                "user",
                "create",
                "--email",
                "not-an-email",
                "--password",
                "correct horse battery",
            ],
        ),
        (
            "bad role",
            vec![
                "user",
                "create",
                "--email",
                "role@example.com",
                "--password",
                "correct horse battery",
                "--role",
                "Admin!",
            ],
        ),
        (
            "taken email",
            vec![
                "user",
                "create",
                "--email",
                "KEPT@example.com",
                "--password",
                "another fine passphrase",
            ],
        ),
        (
            "set-roles of an unknown id",
            vec!["user", "set-roles", &unknown, "admin"],
        ),
        (
            "set-roles with a bad role",
            vec!["user", "set-roles", &id, "no spaces"],
        ),
        ("disable an unknown id", vec!["user", "disable", &unknown]),
        (
            "disable a malformed id",
            vec!["user", "disable", "not-a-uuid"],
        ),
    ];

    for (what, args) in cases {
        // Act
        let output = run_cli(with_args(command_in(dir.path()), &args)).await;

        // Assert
        assert!(!output.status.success(), "{what}: {output:?}");
        assert_one_line(&output);
        assert!(output.stdout.trim().is_empty(), "{what}: {output:?}");
    }
    let after = list().await;
    assert_eq!(after.stdout, before.stdout, "nothing was written");
}

// ---------------------------------------------------------------------------------------------
// import

async fn import_takes_good_lines_reports_bad_ones_and_upgrades_bcrypt_on_login(backend: Backend) {
    // Arrange
    let app = spawn_app(backend).await;
    let legacy_hash = bcrypt::hash("legacy password one", 4).unwrap();
    let other_hash = bcrypt::hash("a different password", 4).unwrap();
    let hasher = PasswordHasher::new(HashPoolSettings {
        threads: 1,
        queue: 1,
    });
    let modern = PasswordPolicy { min_length: 8 }
        .check("modern password two")
        .unwrap();
    let argon2_hash = hasher.hash(&modern).await.unwrap();
    assert!(argon2_hash.starts_with("$argon2"), "{argon2_hash}");
    let lines = [
        json!({ "email": "legacy@example.com", "password_hash": legacy_hash, "name": "Legacy",
                "roles": ["admin"], "email_verified": true })
        .to_string(),
        r#"{"email": "broken@example.com", "password_hash": "#.to_owned(),
        json!({ "email": "modern@example.com", "password_hash": argon2_hash }).to_string(),
        json!({ "email": "LEGACY@example.com", "password_hash": other_hash }).to_string(),
        json!({ "email": "pbkdf2@example.com",
                "password_hash": "$pbkdf2-sha256$29000$N2bMOQ$Lq0dtBpObXnqk0YSv7EgLZDwoWUr0Jsv7bjrFCjDbOc" })
        .to_string(),
    ];
    let file = app.data_dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    // Act
    let output = app.cli(&["import", file.to_str().unwrap()]).await;

    // Assert
    assert!(!output.status.success(), "{output:?}");
    let reported: Vec<&str> = output
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("line "))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(reported, ["2", "4", "5"], "{output:?}");

    let stores = app.open_stores().await;
    let stored_hash = |email: &'static str| {
        let users = std::sync::Arc::clone(&stores.users);
        async move {
            users
                .find_by_email(&Email::parse(email).unwrap())
                .await
                .unwrap()
                .map(|found| found.password_hash.unwrap_or_default())
        }
    };
    assert_eq!(stored_hash("broken@example.com").await, None);
    assert_eq!(stored_hash("pbkdf2@example.com").await, None);
    assert!(
        stored_hash("legacy@example.com")
            .await
            .unwrap()
            .starts_with("$2b$")
    );

    let legacy = login(&app, "legacy@example.com", "legacy password one").await;
    assert_eq!(legacy["user"]["roles"], json!(["admin"]));
    assert_eq!(legacy["user"]["email_verified"], true);
    assert_eq!(legacy["user"]["name"], "Legacy");
    let upgraded = stored_hash("legacy@example.com").await.unwrap();
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    login(&app, "legacy@example.com", "legacy password one").await;
    let duplicate = app
        .post_login(&json!({ "email": "legacy@example.com", "password": "a different password" }))
        .await;
    assert_problem(duplicate, 401, "invalid_credentials").await;
    let modern = login(&app, "modern@example.com", "modern password two").await;
    assert_eq!(modern["user"]["roles"], json!([]));
}

async fn import_refuses_costly_hashes_and_checks_imported_ones_against_the_password_as_typed(
    backend: Backend,
) {
    // Arrange: a password NFKC changes (full-width letters, a circled digit), hashed as typed
    // by the system the users come from; and hashes that ask for hours or gigabytes.
    let app = spawn_app(backend).await;
    let typed = "ｗｉｄｅ ｐａｓｓｗｏｒｄ①";
    let legacy = bcrypt::hash(typed, 4).unwrap();
    let costly = legacy.replacen("$04$", "$31$", 1);
    let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    let lines = [
        json!({ "email": "typed@example.com", "password_hash": legacy }).to_string(),
        json!({ "email": "costly@example.com", "password_hash": costly }).to_string(),
        json!({ "email": "greedy@example.com", "password_hash": greedy }).to_string(),
    ];
    let file = app.data_dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    // Act
    let output = app.cli(&["import", file.to_str().unwrap()]).await;
    let normalised = app
        .post_login(&json!({ "email": "typed@example.com", "password": "wide password1" }))
        .await;
    let as_typed = app
        .post_login(&json!({ "email": "typed@example.com", "password": typed }))
        .await;

    // Assert
    assert!(!output.status.success(), "{output:?}");
    for line in ["line 2:", "line 3:"] {
        let reported = output.stderr.lines().find(|l| l.starts_with(line));
        assert!(
            reported.is_some_and(|l| l.contains("too much work")),
            "{line} {output:?}"
        );
    }
    assert_eq!(as_typed.status(), StatusCode::OK, "the password as typed");
    assert_problem(normalised, 401, "invalid_credentials").await;
    // Upgraded to Tessera's own hash, of the NFKC form: the same typing still works.
    for password in [typed, "wide password1"] {
        let again = app
            .post_login(&json!({ "email": "typed@example.com", "password": password }))
            .await;
        assert_eq!(again.status(), StatusCode::OK);
    }
}

// ---------------------------------------------------------------------------------------------
// serve

#[tokio::test]
async fn serve_with_no_configuration_uses_sqlite_under_data_and_stops_on_sigterm() {
    // Arrange
    let cwd = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let stderr = std::fs::File::create(logs.path().join("stderr.log")).unwrap();
    let mut command = tessera_command();
    command
        .current_dir(cwd.path())
        .args(["serve", "--listen", &address.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));

    // Act
    let mut server = Running(command.spawn().expect("the tessera binary starts"));
    let stdout = server.0.stdout.take().unwrap();
    let banner = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut text = String::new();
            while !text.contains("data dir") {
                if reader.read_line(&mut text).unwrap_or(0) == 0 {
                    break;
                }
            }
            (text, reader)
        }),
    )
    .await
    .expect("the banner within 30 s")
    .unwrap();
    let (stdout, _keep_the_pipe_open) = banner;
    let server_log = || std::fs::read_to_string(logs.path().join("stderr.log")).unwrap();

    // Assert
    assert!(stdout.contains("/docs"), "{stdout}\n{}", server_log());
    let data_dir_line = stdout
        .lines()
        .find(|l| l.contains("data dir"))
        .unwrap_or_else(|| panic!("{stdout}\n{}", server_log()));
    assert!(data_dir_line.trim_end().ends_with("data"), "{stdout}");
    let data = cwd.path().join("data");
    assert!(data.join("tessera.db").is_file(), "{stdout}");
    let master_key = std::fs::metadata(data.join("master.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&master_key.permissions()) & 0o777,
        0o600
    );
    let client = reqwest::Client::new();
    let healthz = format!("http://{address}/healthz");
    eventually(Duration::from_secs(10), "healthz answers", || {
        let request = client.get(&healthz).send();
        async move { request.await.ok().filter(|r| r.status() == StatusCode::OK) }
    })
    .await;

    let pid = server.0.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let status = eventually(Duration::from_secs(10), "exit after SIGTERM", || {
        let exited = server.0.try_wait().unwrap();
        async move { exited }
    })
    .await;
    assert!(status.success(), "{status:?}\n{}", server_log());
}

// ---------------------------------------------------------------------------------------------
// Helpers of this module

/// The binary in `dir`, with its data in `dir/data` (SQLite unless a test says otherwise).
fn command_in(dir: &Path) -> Command {
    let mut command = tessera_command();
    command
        .current_dir(dir)
        .env("TESSERA_DATA_DIR", dir.join("data"));
    command
}

fn with_args(mut command: Command, args: &[&str]) -> Command {
    command.args(args);
    command
}

fn assert_one_line(output: &CliOutput) {
    let lines: Vec<&str> = output.stderr.trim_end().lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {output:?}");
    assert!(!lines[0].trim().is_empty(), "{output:?}");
}

/// The whitespace-separated fields of the `user list` row of `id`.
fn list_row(list: &CliOutput, id: &str) -> Vec<String> {
    assert!(list.status.success(), "{list:?}");
    list.stdout
        .lines()
        .find(|line| line.starts_with(id))
        .unwrap_or_else(|| panic!("{id} not listed: {list:?}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let response = app
        .post_login(&json!({ "email": email, "password": password }))
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
    body
}
