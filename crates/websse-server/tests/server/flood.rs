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
    assert_eq!(header(&response, "cache-control"), Some("no-cache"));
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
