//! Mail through a real SMTP server (aiosmtpd, storing what it receives in a Maildir): with two
//! instances each message is sent exactly once, a message accepted by an instance that is
//! killed before it could send is sent once after the restart, and `smtp://` insists on
//! STARTTLS with a certificate it can verify.

use std::path::{Path, PathBuf};
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
        Self::start(port, None).await
    }

    /// With `tls` (certificate, key): STARTTLS offered and required before any mail.
    async fn start(port: u16, tls: Option<(&Path, &Path)>) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let mut command = Command::new("python3");
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        if let Some((cert, key)) = tls {
            command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
        }
        let child = command
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

/// A test authority and a certificate it issued for `localhost`, made with Python's
/// `cryptography` (installed with PyJWT[crypto]): (authority, server certificate, server key),
/// PEM files in `dir`.
fn localhost_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    let script = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
now = datetime.datetime.now(datetime.timezone.utc)
def certificate(subject, issuer, public_key, signing_key, ca):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())
ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tessera test authority")])
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, True)
leaf = certificate(name, ca_name, key.public_key(), ca_key, False)
open(sys.argv[1], "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(sys.argv[2], "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(sys.argv[3], "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .args([&ca, &cert, &key])
        .status()
        .expect("python3");
    assert!(status.success(), "making a test certificate");
    (ca, cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_urls_use_starttls_and_verify_the_certificate() {
    // Arrange: a server that requires STARTTLS, with a certificate only one instance trusts.
    let certs = tempfile::tempdir().unwrap();
    let (authority, cert, key) = localhost_certificate(certs.path());
    let port = free_port();
    let smtp = SmtpServer::start(port, Some((&cert, &key))).await;
    let start = |trust: bool| {
        let authority = authority.clone();
        async move {
            let mut deployment = Deployment::new(&shared_redis_url()).await;
            deployment.set("TESSERA_MAIL__TRANSPORT", "smtp");
            // No `tls` parameter: STARTTLS is required.
            deployment.set(
                "TESSERA_MAIL__SMTP_URL",
                &format!("smtp://localhost:{port}"),
            );
            if trust {
                // rustls-native-certs reads the trusted roots from here when it is set.
                deployment.set("SSL_CERT_FILE", authority.to_str().unwrap());
            }
            let instance = deployment
                .start(if trust { "trusting" } else { "doubting" })
                .await;
            (deployment, instance)
        }
    };
    let (_doubting_deployment, doubting) = start(false).await;
    let (_trusting_deployment, trusting) = start(true).await;

    // Act
    let refused = signup(&doubting).await;
    forgot(&doubting, &refused).await;
    let delivered = signup(&trusting).await;
    forgot(&trusting, &delivered).await;

    // Assert: only the instance that can verify the certificate delivers.
    eventually(
        Duration::from_secs(15),
        "the trusted mail arrives",
        || async { (!smtp.messages().is_empty()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(recipients(&smtp.messages()), vec![delivered]);
    assert!(
        doubting.log().contains("mail not sent; will retry"),
        "{}",
        doubting.log()
    );
}
