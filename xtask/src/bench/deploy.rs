//! `cargo xtask bench --deploy-only`: the chat server as deployed. Resume time to first byte
//! (200 resumes, p50 and p99) on Redis and in memory; first-token latency through nginx and
//! direct; delta throughput of one answer on Redis and in memory. Plain HTTP/1.1 over loopback
//! with `Connection: close`, timed from the request's first byte.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Result;
use crate::proc::{Server, Service};

const RESUMES: usize = 200;
const FIRST_TOKENS: usize = 100;
const THROUGHPUT_TOKENS: u64 = 20_000;

/// One GET; returns (time to the first byte of `mark` after the headers, time to `end`, body).
fn get(
    addr: &str,
    path: &str,
    last_event_id: Option<&str>,
    mark: &[u8],
    end: &[u8],
) -> Result<(Duration, Duration, Vec<u8>)> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).ok();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(id) = last_event_id {
        request.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    request.push_str("\r\n");
    let started = Instant::now();
    tcp.write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut body = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = tcp
            .read(&mut buf)
            .map_err(|e| format!("read {path}: {e}"))?;
        if n == 0 {
            break;
        }
        // Search only what is new (plus a marker's length back): never rescan the body.
        let from = body.len().saturating_sub(mark.len().max(end.len()));
        body.extend_from_slice(&buf[..n]);
        if first.is_none() && find(&body[from..], mark).is_some() {
            first = Some(started.elapsed());
        }
        if find(&body[from..], end).is_some() {
            break;
        }
    }
    let first = first.ok_or_else(|| {
        format!(
            "{path}: no {:?} in the answer",
            String::from_utf8_lossy(mark)
        )
    })?;
    Ok((first, started.elapsed(), body))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn stream_id(body: &[u8]) -> Result<String> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-stream-id: ")
                .map(|s| s.trim().to_owned())
        })
        .ok_or_else(|| "no x-stream-id header".to_owned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 and p99 of `n` runs of `f`.
fn sample(n: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<(Duration, Duration)> {
    let mut times = (0..n).map(|_| f()).collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99)))
}

pub fn run(root: &Path) -> Result {
    let tools = crate::tools::Tools::ensure(root, crate::tools::Need::none().with_services())?;
    let bin = crate::build_server(root, &tools)?;
    let redis = Service::redis()?;
    let url = redis.redis_url();
    let memory = Server::start(
        tools.child_env(),
        &bin,
        &["--addr", "127.0.0.1:0", "--test-endpoints"],
    )?;
    let on_redis = Server::start(
        tools.child_env(),
        &bin,
        &["--addr", "127.0.0.1:0", "--test-endpoints", "--redis", &url],
    )?;
    let host = |s: &Server| s.url().trim_start_matches("http://").to_owned();
    let (memory_addr, redis_addr) = (host(&memory), host(&on_redis));
    let nginx_port = crate::proc::free_port()?;
    let nginx = Service::nginx(
        &crate::target_dir(root).join("bench-nginx"),
        &format!("127.0.0.1:{nginx_port}"),
        std::slice::from_ref(&memory_addr),
    )?;
    let nginx_addr = format!("127.0.0.1:{}", nginx.port);

    println!("\n==> the deployed server (loopback, debug build of websse-server)");
    println!("    {:<44} {:>10} {:>10}", "", "p50 ms", "p99 ms");
    for (name, addr) in [("memory", &memory_addr), ("Redis", &redis_addr)] {
        let path = "/api/chat?bench_tokens=200&tokens_per_second=100000";
        let (_, _, body) = get(addr, path, None, b"event: start", b"event: done")?;
        let sid = stream_id(&body)?;
        let id = format!("{sid}:100");
        let (p50, p99) = sample(RESUMES, || {
            let resume = format!("/api/chat/{sid}");
            get(addr, &resume, Some(&id), b"event: delta", b"event: done").map(|(t, ..)| t)
        })?;
        println!(
            "    {:<44} {:>10.2} {:>10.2}",
            format!("resume to first delta, {RESUMES}x, {name}"),
            ms(p50),
            ms(p99)
        );
    }
    for (name, addr) in [("direct", &memory_addr), ("through nginx", &nginx_addr)] {
        let path = "/api/chat?bench_tokens=1&tokens_per_second=100000";
        let (p50, p99) = sample(FIRST_TOKENS, || {
            get(addr, path, None, b"event: delta", b"event: done").map(|(t, ..)| t)
        })?;
        println!(
            "    {:<44} {:>10.2} {:>10.2}",
            format!("first token, {FIRST_TOKENS}x, {name}"),
            ms(p50),
            ms(p99)
        );
    }
    for (name, addr) in [("memory", &memory_addr), ("Redis", &redis_addr)] {
        let path = format!("/api/chat?bench_tokens={THROUGHPUT_TOKENS}&tokens_per_second=1000000");
        let (_, total, _) = get(addr, &path, None, b"event: start", b"event: done")?;
        println!(
            "    {:<44} {:>10.0} deltas/s",
            format!("one answer of {THROUGHPUT_TOKENS} deltas, {name}"),
            THROUGHPUT_TOKENS as f64 / total.as_secs_f64()
        );
    }
    Ok(())
}
