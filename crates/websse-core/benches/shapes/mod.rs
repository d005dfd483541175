//! The input shapes of the parser benches, shared by `benches/parse.rs` (native) and
//! `bench/v8` (websse-core in wasm against eventsource-parser in Node), so both time the same
//! bytes. Plain functions of their size arguments: no I/O, no randomness.

/// OpenAI chat-completion chunks: one `data:` line of ~250 bytes of JSON per token, then
/// `data: [DONE]`.
pub fn openai(events: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let words = [
        "Server",
        "-sent",
        " events",
        " are",
        " a",
        " simple",
        " protocol",
        ".",
        " \u{2026}",
        "\\n",
    ];
    for i in 0..events {
        let word = words[i % words.len()];
        out.extend_from_slice(
            format!(
                "data: {{\"id\":\"chatcmpl-AqX7Zb3kLmN9pQrStUvWxYz01\",\"object\":\"chat.completion.chunk\",\"created\":1732147200,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_831e067d82\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// Anthropic Messages stream: `event:` + `data:` per event, a few kinds, some hundred bytes each.
/// With `ids`, every event also carries an `id:` the way websse-server numbers its chat streams
/// (`<16 hex digits>:<seq>`, 18 to 22 bytes here), so each event has a new last event ID.
pub fn anthropic(deltas: usize, ids: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0;
    let mut event = |out: &mut Vec<u8>, name: &str, data: &str| {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        if ids {
            out.extend_from_slice(format!("id: 9f86d081884c7d65:{seq}\n").as_bytes());
            seq += 1;
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(data.as_bytes());
        out.extend_from_slice(b"\n\n");
    };
    event(
        &mut out,
        "message_start",
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}",
    );
    event(
        &mut out,
        "content_block_start",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
    );
    let words = [
        "Hello",
        " there",
        ", how",
        " can I",
        " help you",
        " today?",
        " \u{1F600}",
        " Server-sent events stream text as it is generated",
    ];
    for i in 0..deltas {
        if i % 50 == 0 {
            event(&mut out, "ping", "{\"type\": \"ping\"}");
        }
        let word = words[i % words.len()];
        event(
            &mut out,
            "content_block_delta",
            &format!(
                "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{word}\"}}}}"
            ),
        );
    }
    event(
        &mut out,
        "content_block_stop",
        "{\"type\":\"content_block_stop\",\"index\":0}",
    );
    event(
        &mut out,
        "message_delta",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}",
    );
    event(&mut out, "message_stop", "{\"type\":\"message_stop\"}");
    out
}

/// One `data:` line of `len` payload bytes (base64-like, e.g. an image).
pub fn line(len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = b"data: ".to_vec();
    out.extend((0..len).map(|i: usize| ALPHABET[(i * 7 + i / 64) % 64]));
    out.extend_from_slice(b"\n\n");
    out
}

/// How a shape is cut into chunks.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    /// One chunk.
    Whole,
    /// Chunks of this many bytes (the last one shorter).
    Every(usize),
    /// One chunk per event: each chunk ends right after a blank line.
    Events,
}

/// `bytes` cut as `split` says.
pub fn split(bytes: &[u8], split: Split) -> Vec<&[u8]> {
    match split {
        Split::Whole => vec![bytes],
        Split::Every(size) => bytes.chunks(size).collect(),
        Split::Events => {
            let mut chunks = Vec::new();
            let mut rest = bytes;
            while let Some(at) = rest.windows(2).position(|w| w == b"\n\n") {
                let (event, tail) = rest.split_at(at + 2);
                chunks.push(event);
                rest = tail;
            }
            if !rest.is_empty() {
                chunks.push(rest);
            }
            chunks
        }
    }
}
