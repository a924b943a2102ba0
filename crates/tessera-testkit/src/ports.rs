//! Free TCP ports for the servers a test starts itself (Redis, `tessera serve`), which must be
//! told their port up front rather than binding port 0.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// A port on 127.0.0.1 that nobody listens on now and that no other test of this process got.
/// Taken below Linux's ephemeral range (32768 and up), so outgoing connections do not land on it
/// between now and the moment its server binds it.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = 20_000 + rand::random::<u16>() % 10_000;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
}
