//! Mail through a real SMTP server (aiosmtpd, storing what it receives in a Maildir): with two
//! instances each message is sent exactly once, and a message accepted by an instance that is
//! killed before it could send is sent once after the restart.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::redis::shared_redis_url;
use tessera_testkit::{HARNESS_PATIENCE, eventually, free_port};

use crate::support::server::{Deployment, Instance};

const PASSWORD: &str = "correct horse battery staple";

/// `python3 -m aiosmtpd` on a loopback port, keeping every message it receives as a file.
struct SmtpServer {
    child: Child,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start_on(port: u16) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test-requirements.txt)");
        eventually(HARNESS_PATIENCE, "the SMTP server listens", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(drop)
        })
        .await;
        Self { child, maildir }
    }

    fn url(port: u16) -> String {
        format!("smtp://127.0.0.1:{port}?tls=none")
    }

    /// Every message received so far.
    fn messages(&self) -> Vec<String> {
        let mut messages = Vec::new();
        for folder in ["new", "cur"] {
            let dir: PathBuf = self.maildir.path().join("box").join(folder);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.filter_map(Result::ok) {
                    messages.push(std::fs::read_to_string(entry.path()).unwrap());
                }
            }
        }
        messages
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn signup(instance: &Instance) -> String {
    let email = format!("mail-{:016x}@example.com", rand::random::<u64>());
    let response = instance
        .post_signup(&json!({ "email": email, "password": PASSWORD }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    email
}

async fn forgot(instance: &Instance, email: &str) {
    let response = reqwest::Client::new()
        .post(instance.url("/auth/password/forgot"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

fn recipients(messages: &[String]) -> Vec<String> {
    let mut to: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("To: ").map(str::to_owned))
        })
        .collect();
    to.sort();
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_instances_each_mail_is_sent_exactly_once() {
    // Arrange
    let port = free_port();
    let smtp = SmtpServer::start_on(port).await;
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    deployment.set("TESSERA_MAIL__TRANSPORT", "smtp");
    deployment.set("TESSERA_MAIL__SMTP_URL", &SmtpServer::url(port));
    let instances = deployment.start_all(&["a", "b"]).await;
    let mut emails = Vec::new();
    for n in 0..10 {
        emails.push(signup(&instances[n % 2]).await);
    }

    // Act: each asks for a reset on the other instance.
    for (n, email) in emails.iter().enumerate() {
        forgot(&instances[(n + 1) % 2], email).await;
    }

    // Assert: ten messages, one per address, and no more after both workers had time.
    eventually(Duration::from_secs(15), "ten messages arrive", || async {
        (smtp.messages().len() >= 10).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    emails.sort();
    assert_eq!(recipients(&smtp.messages()), emails);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_accepted_before_a_crash_is_sent_once_after_the_restart() {
    // Arrange: the SMTP server is not there yet, so the first attempts fail.
    let port = free_port();
    let mut deployment = Deployment::new(&shared_redis_url()).await;
    deployment.set("TESSERA_MAIL__TRANSPORT", "smtp");
    deployment.set("TESSERA_MAIL__SMTP_URL", &SmtpServer::url(port));
    let mut instance = deployment.start("a").await;
    let email = signup(&instance).await;
    forgot(&instance, &email).await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Act: the instance dies (SIGKILL); the mail server comes up; the instance restarts.
    instance.kill();
    let smtp = SmtpServer::start_on(port).await;
    instance.restart().await;

    // Assert
    eventually(Duration::from_secs(20), "the mail arrives", || async {
        (!smtp.messages().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(recipients(&smtp.messages()), vec![email]);
    assert!(
        instance.log().contains("mail not sent; will retry"),
        "the first attempt failed: {}",
        instance.log()
    );
}
