//! Through nginx: buffering and gzip as configured by default or worse, HTTP/2 over TLS, and an
//! idle timeout shorter or longer than the server's keep-alive.

use std::time::Duration;

use crate::cluster::{
    Instance, Nginx, NginxConfig, Reading, TempDir, deltas, end_reason, resume_to_end, seq,
    services,
};

/// One instance behind nginx with `server` directives; `keep_alive` in seconds.
struct Proxied {
    _redis: crate::support::Redis,
    instance: Instance,
    nginx: Nginx,
    dir: TempDir,
}

async fn proxied(name: &str, keep_alive: &str, server: &str, tls: bool) -> Option<Proxied> {
    let redis = services().await?;
    let dir = TempDir::new(name);
    let prefix = format!("websse-proxy-{name}-{}", std::process::id());
    let instance = Instance::start(
        &redis.url,
        &prefix,
        &["--keep-alive", keep_alive],
        &dir.0,
        "server",
    );
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    if tls {
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            // Not a CA: rustls refuses a CA certificate as the server's own.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl req failed");
    }
    let nginx = Nginx::start(
        &dir.0,
        &NginxConfig {
            upstreams: vec![&instance.addr],
            server,
            tls: tls.then_some((cert.as_path(), key.as_path())),
        },
    );
    Some(Proxied {
        _redis: redis,
        instance,
        nginx,
        dir,
    })
}

/// Chunk arrival spread: the time from the first chunk to the last, and how many chunks.
fn spread(reading: &Reading) -> (Duration, usize) {
    let first = reading.chunks.first().expect("chunks").0;
    let last = reading.chunks.last().expect("chunks").0;
    (last - first, reading.chunks.len())
}

#[tokio::test]
async fn default_buffering_and_gzip_still_stream_incrementally() {
    // Buffering is on by default; gzip for event streams is what many configs add.
    let Some(p) = proxied(
        "gzip",
        "15",
        "gzip on;\ngzip_types text/event-stream;\ngzip_min_length 0;",
        false,
    )
    .await
    else {
        return;
    };
    let http = crate::support::client();
    // 40 tokens at 40/s: about a second of answer.
    let response = http
        .get(format!(
            "http://127.0.0.1:{}/api/chat?bench_tokens=40&tokens_per_second=40",
            p.nginx.port
        ))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), 200);
    let mut reading = Reading::new(response);
    reading.read_raw(Duration::from_secs(10)).await;
    let (took, chunks) = spread(&reading);
    assert!(
        chunks >= 10 && took >= Duration::from_millis(600),
        "the answer arrived in a burst: {chunks} chunks over {took:?}"
    );
}

#[tokio::test]
async fn http2_over_tls_streams_and_resumes() {
    let Some(p) = proxied("h2", "15", "", true).await else {
        return;
    };
    let cert = std::fs::read(p.dir.0.join("cert.pem")).expect("cert");
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).expect("pem"))
        .build()
        .expect("client");
    let base = format!("https://127.0.0.1:{}", p.nginx.port);
    let response = http
        .get(format!(
            "{base}/api/chat?bench_tokens=30&tokens_per_second=30&drop_after=10"
        ))
        .send()
        .await
        .expect("start");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let sid = crate::support::header(&response, "x-stream-id")
        .expect("sid")
        .to_owned();
    let mut reading = Reading::new(response);
    reading.read_until(Duration::from_secs(10), |_| false).await;
    let (took, chunks) = spread(&reading);
    assert!(
        chunks >= 5 && took >= Duration::from_millis(200),
        "burst: {chunks} over {took:?}"
    );
    assert!(reading.broken, "the cut is an error to the client");
    let events: Vec<_> = reading.events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(events.last().map(seq), Some(10));
    let all = resume_to_end(&http, &base, &sid, events, 2).await;
    assert_eq!(all.len(), 32);
    assert_eq!(
        deltas(&all),
        (1..=30).map(|i| format!("tok{i} ")).collect::<String>()
    );
    drop(p.instance);
}

/// Two tokens 6 s apart behind `proxy_read_timeout 5s`.
async fn idle_answer(keep_alive: &str) -> Option<(Vec<websse_core::Event>, bool)> {
    let p = proxied(
        &format!("idle{}", keep_alive.replace('.', "")),
        keep_alive,
        "proxy_read_timeout 5s;",
        false,
    )
    .await?;
    let http = crate::support::client();
    let base = format!("http://127.0.0.1:{}", p.nginx.port);
    let response = http
        .get(format!(
            "{base}/api/chat?bench_tokens=3&tokens_per_second=0.16&max_tokens=2"
        ))
        .send()
        .await
        .expect("start");
    let sid = crate::support::header(&response, "x-stream-id")
        .expect("sid")
        .to_owned();
    let mut reading = Reading::new(response);
    reading.read_until(Duration::from_secs(30), |_| false).await;
    let cut = reading.broken
        || reading
            .events
            .last()
            .and_then(|(_, e)| end_reason(e))
            .is_none();
    let events: Vec<_> = reading.events.into_iter().map(|(_, e)| e).collect();
    let all = resume_to_end(&http, &base, &sid, events, 4).await;
    Some((all, cut))
}

#[tokio::test]
async fn a_keep_alive_below_the_proxy_timeout_keeps_the_stream() {
    let Some((events, cut)) = idle_answer("2").await else {
        return;
    };
    assert!(!cut, "the stream was cut despite the keep-alive");
    assert_eq!(deltas(&events), "tok1 tok2 ");
    assert_eq!(
        end_reason(events.last().expect("end")).as_deref(),
        Some("stopped")
    );
}

#[tokio::test]
async fn a_keep_alive_above_the_proxy_timeout_is_cut_and_resumes_without_loss() {
    let Some((events, cut)) = idle_answer("30").await else {
        return;
    };
    assert!(cut, "nginx did not cut the idle stream");
    assert_eq!(deltas(&events), "tok1 tok2 ");
    assert_eq!(
        end_reason(events.last().expect("end")).as_deref(),
        Some("stopped")
    );
}
