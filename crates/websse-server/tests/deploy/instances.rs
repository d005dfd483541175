//! Two instances on one Redis behind nginx (round robin).

use std::time::{Duration, Instant};

use crate::cluster::{
    Instance, Nginx, NginxConfig, Reading, TempDir, deltas, end_reason, reference, resume_to_end,
    services,
};

const PROMPT: &str = "What%20is%20SSE%3F";

struct Two {
    _redis: crate::support::Redis,
    a: Instance,
    b: Instance,
    nginx: Nginx,
    _dir: TempDir,
    http: reqwest::Client,
}

impl Two {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.nginx.port)
    }
}

async fn two(name: &str) -> Option<Two> {
    let redis = services().await?;
    let dir = TempDir::new(name);
    let prefix = format!("websse-deploy-{name}-{}", std::process::id());
    let a = Instance::start(&redis.url, &prefix, &[], &dir.0, "a");
    let b = Instance::start(&redis.url, &prefix, &[], &dir.0, "b");
    let nginx = Nginx::start(
        &dir.0,
        &NginxConfig {
            upstreams: vec![&a.addr, &b.addr],
            server: "",
            tls: None,
        },
    );
    Some(Two {
        _redis: redis,
        a,
        b,
        nginx,
        _dir: dir,
        http: crate::support::client(),
    })
}

#[tokio::test]
async fn a_broken_answer_resumes_through_the_other_instance() {
    let Some(two) = two("resume").await else {
        return;
    };
    let response = two
        .http
        .get(format!(
            "{}/api/chat?prompt={PROMPT}&tokens_per_second=200&drop_after=6",
            two.url()
        ))
        .send()
        .await
        .expect("start");
    let sid = crate::support::header(&response, "x-stream-id")
        .expect("sid")
        .to_owned();
    let mut reading = Reading::new(response);
    reading.read_until(Duration::from_secs(20), |_| false).await;
    assert!(reading.broken, "drop_after did not break the connection");
    let first: Vec<_> = reading.events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(first.len(), 7);
    let events = resume_to_end(&two.http, &two.url(), &sid, first, 3).await;
    assert_eq!(
        end_reason(events.last().expect("end")).as_deref(),
        Some("finished")
    );
    assert_eq!(
        deltas(&events),
        reference(&two.http, &two.a.url, PROMPT).await
    );
    // Round robin: the producer and the resume were on different instances.
    let (producer, other) = if two.a.logged("stream opened", &sid, "from=0") {
        (&two.a, &two.b)
    } else {
        (&two.b, &two.a)
    };
    assert!(producer.logged("stream opened", &sid, "from=0"));
    assert!(
        other.logged("stream opened", &sid, "from=7"),
        "the resume did not go to the other instance:\n{}",
        other.log()
    );
}

#[tokio::test]
async fn a_killed_producer_ends_interrupted_within_two_seconds() {
    let Some(mut two) = two("kill").await else {
        return;
    };
    // Produced on a, read through b: killing a leaves b's reader waiting on the log.
    let response = two
        .http
        .get(format!(
            "{}/api/chat?prompt={PROMPT}&tokens_per_second=20",
            two.a.url
        ))
        .send()
        .await
        .expect("start");
    let sid = crate::support::header(&response, "x-stream-id")
        .expect("sid")
        .to_owned();
    drop(response);
    let response = two
        .http
        .get(format!("{}/api/chat/{sid}", two.b.url))
        .send()
        .await
        .expect("follow");
    let mut reading = Reading::new(response);
    reading
        .read_until(Duration::from_secs(10), |e| e.len() >= 5)
        .await;
    two.a.kill();
    let killed = Instant::now();
    reading.read_until(Duration::from_secs(10), |_| false).await;
    let waited = killed.elapsed();
    let events: Vec<_> = reading.events.iter().map(|(_, e)| e.clone()).collect();
    let last = events.last().expect("events");
    assert_eq!(
        end_reason(last).as_deref(),
        Some("interrupted"),
        "{waited:?}"
    );
    assert!(
        waited <= Duration::from_secs(2),
        "interrupted after {waited:?}"
    );
    let text = deltas(&events);
    let whole = reference(&two.http, &two.b.url, PROMPT).await;
    assert!(whole.starts_with(&text) && text.len() < whole.len());
    // A later resume, through any instance, gets the same prefix and end.
    let again = resume_to_end(&two.http, &two.url(), &sid, events[..1].to_vec(), 2).await;
    assert_eq!(deltas(&again), text);
    assert_eq!(
        end_reason(again.last().expect("end")).as_deref(),
        Some("interrupted")
    );
}

#[tokio::test]
async fn stop_on_one_instance_ends_the_answer_produced_on_the_other() {
    let Some(two) = two("stop").await else {
        return;
    };
    let response = two
        .http
        .get(format!(
            "{}/api/chat?prompt={PROMPT}&tokens_per_second=20",
            two.a.url
        ))
        .send()
        .await
        .expect("start");
    let sid = crate::support::header(&response, "x-stream-id")
        .expect("sid")
        .to_owned();
    let mut reading = Reading::new(response);
    reading
        .read_until(Duration::from_secs(10), |e| e.len() >= 4)
        .await;
    let stop = two
        .http
        .post(format!("{}/api/chat/{sid}/stop", two.b.url))
        .send()
        .await
        .expect("stop");
    assert_eq!(stop.status(), 202);
    reading.read_until(Duration::from_secs(5), |_| false).await;
    let events: Vec<_> = reading.events.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(
        end_reason(events.last().expect("end")).as_deref(),
        Some("stopped")
    );
    assert!(
        two.a.logged("answer ended", &sid, "reason=\"stopped\"")
            || two.a.logged("answer ended", &sid, "reason=stopped"),
        "the producer's log does not say it stopped:\n{}",
        two.a.log()
    );
    // No pause needed before the next resume: the `stopped` end above is the producer's last
    // write, so nothing can be appended after it.
    let later = resume_to_end(&two.http, &two.url(), &sid, events[..1].to_vec(), 2).await;
    assert_eq!(deltas(&later), deltas(&events), "text after stop");
    assert_eq!(
        end_reason(later.last().expect("end")).as_deref(),
        Some("stopped")
    );
}
