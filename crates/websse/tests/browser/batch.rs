//! The borrowed batches (`EventStream::next_batch`).

use serde_json::json;
use wasm_bindgen_test::*;
use websse::{Batch, ConnectionState, EventStream, Item};

use super::common::*;

/// The next batch, or a panic after five seconds or at the end.
async fn next_batch(stream: &mut EventStream) -> Batch {
    let next = Box::pin(stream.next_batch());
    match futures::future::select(next, Box::pin(sleep(5000))).await {
        futures::future::Either::Left((Some(Ok(batch)), _)) => batch,
        futures::future::Either::Left((other, _)) => panic!("{other:?} instead of a batch"),
        futures::future::Either::Right(_) => panic!("no batch within 5 s"),
    }
}

/// (type, data, id) of every message until `n` of them, from batches.
async fn batched_messages(stream: &mut EventStream, n: usize) -> Vec<(String, String, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = next_batch(stream).await;
        assert_eq!(batch.len(), batch.messages().count());
        assert_eq!(batch.is_empty(), batch.item().is_some(), "{batch:?}");
        for m in batch.messages() {
            assert_eq!(m.to_message().data(), m.data());
            got.push((
                m.event_type().into(),
                m.data().into(),
                m.last_event_id().into(),
            ));
        }
    }
    got
}

fn triple(t: &str, d: &str, id: &str) -> (String, String, String) {
    (t.into(), d.into(), id.into())
}

#[wasm_bindgen_test]
async fn fetch_batches_lend_every_message_in_order_with_type_data_and_id() {
    let k = key("batch-order");
    script(
        &k,
        json!([{ "chunks": [
            text_chunk("data: a\n\nevent: tick\nid: 7\ndata: b1\ndata: b2\n\ndata: "),
            { "text": "c\n\nevent: x\ndata: \n\n", "delay_ms": 30 },
            { "text": "data: é€😀\n\n", "delay_ms": 30 },
        ], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k));
    let first = next_batch(&mut stream).await;
    assert_eq!(
        first.item(),
        Some(&Item::State(ConnectionState::Connecting))
    );
    assert_eq!(first.messages().count(), 0);
    assert_eq!(
        batched_messages(&mut stream, 5).await,
        [
            triple("message", "a", ""),
            triple("tick", "b1\nb2", "7"),
            triple("message", "c", "7"),
            triple("x", "", "7"),
            triple("message", "é€😀", "7"),
        ]
    );
}

#[wasm_bindgen_test]
async fn fetch_batches_mix_with_items_and_end_at_the_sentinel() {
    let k = key("batch-done");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\ndata: b\n\ndata: [DONE]\n\ndata: after\n\n")],
                 "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k).done_on_data("[DONE]"));
    // One item through the Stream, the rest in batches: one stream.
    assert_eq!(
        next_within(&mut stream, 5000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Connecting)
    );
    assert_eq!(
        batched_messages(&mut stream, 2).await,
        [triple("message", "a", ""), triple("message", "b", "")]
    );
    assert_eq!(
        next_batch(&mut stream).await.item(),
        Some(&Item::State(ConnectionState::Closed))
    );
    assert!(stream.next_batch().await.is_none());
    assert!(futures::stream::FusedStream::is_terminated(&stream));
}

#[derive(serde::Deserialize)]
struct Delta<'a> {
    text: &'a str,
}

#[wasm_bindgen_test]
async fn fetch_batches_deserialize_json_borrowing_from_the_data() {
    let k = key("batch-json");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: {\"text\":\"hi\"}\n\ndata: {\"text\":\"there\"}\n\n")],
                 "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k));
    let mut texts = Vec::new();
    while texts.len() < 2 {
        let batch = next_batch(&mut stream).await;
        for m in batch.messages() {
            texts.push(m.json::<Delta<'_>>().expect("json").text.to_owned());
        }
    }
    assert_eq!(texts, ["hi", "there"]);
}

#[wasm_bindgen_test]
async fn fetch_items_from_one_chunk_keep_their_own_type_data_and_id() {
    let k = key("batch-items");
    let many: String = (0..300)
        .map(|i| format!("id: {i}\ndata: {i}\n\n"))
        .collect();
    script(
        &k,
        json!([{ "chunks": [text_chunk(&many)], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k));
    for i in 0..300 {
        let m = next_message(&mut stream).await;
        assert_eq!(
            (m.data(), m.last_event_id()),
            (&*i.to_string(), &*i.to_string())
        );
    }
}
