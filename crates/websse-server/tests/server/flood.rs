//! `GET /test/flood`: N small events at full speed, then `event: end`, for the throughput bench.

use crate::support::{client, header, json_error, read_body, spawn, spawn_with};

#[tokio::test]
async fn exactly_n_events_of_size_bytes_with_their_numbers_then_end() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/test/flood?events=50000&size=24"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(
        header(&response, "cache-control"),
        Some("no-cache, no-transform")
    );
    let body = read_body(response).await;
    assert!(!body.error);
    let events = body.events();
    assert_eq!(events.len(), 50_001);
    let (data, end) = events.split_at(50_000);
    for (i, event) in data.iter().enumerate() {
        assert_eq!(event.event_type(), "message");
        assert_eq!(event.data().len(), 24);
        assert_eq!(event.data()[..8], format!("{:08}", i + 1));
        assert_eq!(event.last_event_id(), "");
    }
    assert_eq!(end[0].event_type(), "end");
    assert_eq!(end[0].data(), "50000");
    // The exact bytes of the first event: no retry, no comment before it.
    assert!(
        body.text()
            .starts_with("data: 00000001abcdefghijklmnop\n\ndata: 00000002")
    );
}

#[tokio::test]
async fn ids_on_request() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/test/flood?events=3&size=8&ids=true"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        read_body(response).await.text(),
        "id: 1\ndata: 00000001\n\nid: 2\ndata: 00000002\n\nid: 3\ndata: 00000003\n\n\
         event: end\ndata: 3\n\n"
    );
}

#[tokio::test]
async fn out_of_bounds_parameters_are_json_400s() {
    let server = spawn().await;
    for query in [
        "events=0",
        "events=2000001",
        "size=7",
        "size=4097",
        "events=1000000&size=4096",
        "events=ten",
        "speed=1",
    ] {
        let response = client()
            .get(server.url(&format!("/test/flood?{query}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{query}");
        let (code, _) = json_error(response).await;
        assert_eq!(code, "bad_request", "{query}");
    }
}

#[tokio::test]
async fn only_with_the_test_endpoints() {
    let server = spawn_with(websse_server::Config::default()).await;
    let response = client()
        .get(server.url("/test/flood"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_repeat_is_the_same_body_and_so_is_a_flood_too_large_to_keep() {
    let server = spawn().await;
    let get = |query: &'static str| {
        let url = server.url(&format!("/test/flood?{query}"));
        async move { client().get(url).send().await.expect("request") }
    };
    // Small enough to be kept rendered: the second answer comes from the kept body.
    let first = read_body(get("events=20000&size=40&ids=true").await).await;
    let second = read_body(get("events=20000&size=40&ids=true").await).await;
    assert_eq!(first.bytes(), second.bytes());
    assert_eq!(first.events().len(), 20_001);
    assert_eq!(first.events()[19_999].last_event_id(), "20000");

    // 2,000,000 events of 16 bytes (48 MB) are rendered as they go: count without keeping.
    let mut body = get("events=2000000&size=16").await.bytes_stream();
    let (mut length, mut tail) = (0usize, Vec::new());
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        let chunk = chunk.expect("chunk");
        length += chunk.len();
        tail.extend_from_slice(&chunk);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    let end = "event: end\ndata: 2000000\n\n";
    assert_eq!(length, 2_000_000 * (16 + 8) + end.len());
    assert!(tail.ends_with(format!("data: 02000000abcdefgh\n\n{end}").as_bytes()));
}
