//! An efficient closed-loop driver for `GET /users/me`: one thread, keep-alive connections,
//! each request written from bytes prepared before the run and each answer read only as far
//! as its `Content-Length`. The reqwest driver of the scenarios costs about as much CPU per
//! request as a bare hyper endpoint, so against fast endpoints it measures itself; this one
//! costs a fraction of that, and reports the server's CPU time per request beside each rate
//! (from `/proc`), which stays comparable on a noisy machine. The pages drill (`pages.rs`)
//! drives its endpoints with it too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::runner::Tally;
use crate::scenarios::{client, tokens_per_client};

/// Options of the efficient driver.
#[derive(Debug, clap::Args)]
pub struct HammerArgs {
    /// Server base URL (`http://host:port`): tokens come from its `POST /auth/login` of the
    /// seeded users, requests go to its `GET /users/me`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Seeded users to log in as.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measurement time in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Give each request a token not used before on its connection (up to this many per
    /// connection), so that no cache of verified tokens helps; 0: each connection reuses one.
    #[arg(long, default_value_t = 0)]
    distinct: usize,
    /// Send no token at all (a bare endpoint that reads none).
    #[arg(long)]
    no_auth: bool,
    /// The server's process id: its CPU time over the run is reported per request.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// Logs in for the tokens, then drives `GET /users/me` from one thread for `seconds`.
pub async fn run(args: HammerArgs) -> anyhow::Result<Value> {
    let (address, host) = plain_http_address(&args.url)?;
    let tokens = if args.no_auth {
        vec![vec![String::new()]; args.connections]
    } else {
        let setup = client(args.connections)?;
        let count = args.distinct.max(1);
        tokens_per_client(&setup, &args.url, args.users, args.connections, count).await?
    };
    let requests: Vec<Vec<Box<[u8]>>> = tokens
        .iter()
        .map(|mine| {
            mine.iter()
                .map(|token| request_bytes(&host, token))
                .collect()
        })
        .collect();

    let server = args.server_pid.map(|pid| pid.to_string());
    let measured = measure(address, requests, args.seconds, server.as_deref())?;
    let mut extra = measured.cpu_report();
    if let Value::Object(extra) = &mut extra {
        extra.insert("connections".into(), json!(args.connections));
        extra.insert("distinct".into(), json!(args.distinct));
    }
    Ok(measured.tally.report("hammer", extra))
}

/// The socket address and host name of a plain-HTTP base URL, for the driver.
pub(crate) fn plain_http_address(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let base = reqwest::Url::parse(url)?;
    anyhow::ensure!(
        base.scheme() == "http",
        "the driver speaks plain HTTP/1.1 only"
    );
    let address = base
        .socket_addrs(|| None)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{url} resolves to no address"))?;
    let host = base.host_str().unwrap_or("localhost").to_owned();
    Ok((address, host))
}

/// One run of the driver and the CPU time spent over it.
pub(crate) struct Measured {
    pub(crate) tally: Tally,
    /// CPU seconds of this process (the driver) over the run.
    driver_cpu: f64,
    /// CPU seconds of the server over the run, given its pid.
    server_cpu: Option<f64>,
}

impl Measured {
    /// The CPU figures of a report: cores the driver and the server kept busy, and the
    /// server's CPU time per answer.
    pub(crate) fn cpu_report(&self) -> Value {
        let answered = self.tally.answered() as f64;
        let wall = self.tally.elapsed();
        json!({
            "driver_cores": self.driver_cpu / wall,
            "server_cores": self.server_cpu.map(|cpu| cpu / wall),
            "server_cpu_us_per_request": self.server_cpu.map(|cpu| cpu * 1e6 / answered.max(1.0)),
        })
    }
}

/// [`drive`] for `seconds` on a thread and runtime of its own (whatever the runtime of `main`
/// has), reading the CPU time of this process and of the `server` pid around it.
pub(crate) fn measure(
    address: SocketAddr,
    requests: Vec<Vec<Box<[u8]>>>,
    seconds: u64,
    server: Option<&str>,
) -> anyhow::Result<Measured> {
    let server_before = server.map(cpu_seconds).transpose()?;
    let driver_before = cpu_seconds("self")?;
    let tally = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(drive(address, requests, seconds)))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the driver thread panicked"))??;
    let driver_cpu = cpu_seconds("self")? - driver_before;
    let server_cpu = match (server, server_before) {
        (Some(pid), Some(before)) => Some(cpu_seconds(pid)? - before),
        _ => None,
    };
    Ok(Measured {
        tally,
        driver_cpu,
        server_cpu,
    })
}

/// Every connection sends its requests in turn until the time is up (`requests`: one list of
/// prepared requests per connection); the answers' bytes are counted too.
async fn drive(address: SocketAddr, requests: Vec<Vec<Box<[u8]>>>, seconds: u64) -> Tally {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for prepared in requests {
        tasks.spawn(connection(address, prepared, deadline));
    }
    let mut total = Tally::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok(tally) = done {
            total.merge(tally);
        }
    }
    total.finish(started.elapsed());
    total
}

/// One keep-alive connection; a transport error ends it, counted as status 0.
async fn connection(address: SocketAddr, requests: Vec<Box<[u8]>>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let Ok(mut stream) = TcpStream::connect(address).await else {
        tally.record(0, Duration::ZERO);
        return tally;
    };
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::with_capacity(4096);
    let mut next = 0;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let request = &requests[next % requests.len()];
        next += 1;
        let answer = match stream.write_all(request).await {
            Ok(()) => read_answer(&mut stream, &mut buffer).await,
            Err(error) => Err(error),
        };
        match answer {
            Ok((status, bytes)) => {
                tally.record(status, sent.elapsed());
                tally.add_bytes(bytes);
            }
            Err(_) => {
                tally.record(0, sent.elapsed());
                break;
            }
        }
    }
    tally
}

fn request_bytes(host: &str, token: &str) -> Box<[u8]> {
    let authorization = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    format!("GET /users/me HTTP/1.1\r\nHost: {host}\r\n{authorization}\r\n")
        .into_bytes()
        .into_boxed_slice()
}

/// Reads one answer (no pipelining: nothing follows it) and returns its status and size (head
/// and body).
async fn read_answer(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<(u16, usize)> {
    buffer.clear();
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        read_more(stream, buffer).await?;
    };
    let head = std::str::from_utf8(&buffer[..head_end]).map_err(invalid)?;
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let length = content_length(head).ok_or_else(|| invalid("no Content-Length"))?;
    while buffer.len() < head_end + length {
        read_more(stream, buffer).await?;
    }
    Ok((status, head_end + length))
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    if stream.read_buf(buffer).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn content_length(head: &str) -> Option<usize> {
    head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error)
}

/// User plus system CPU time of a process (`self` or a pid), from `/proc/<pid>/stat`, counted
/// in clock ticks of 10 ms (the value of `CLK_TCK` on Linux).
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields counted from the end of it do not.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; the state, field 3, comes first here.
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
