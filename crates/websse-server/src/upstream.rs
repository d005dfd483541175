//! Proxy to an OpenAI-compatible chat-completions endpoint (llama.cpp server, Ollama, vLLM, ...):
//! the request goes upstream with `"stream": true`, the upstream's SSE body is parsed with
//! [`websse_core::Parser`], and each `choices[0].delta.content` becomes one of our tokens, so the
//! client sees the same event format (and can resume) whatever the source.

use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::UpstreamConfig;
use crate::answer::Message;
use crate::store::{EndReason as DoneReason, Producer};

/// Longest wait for the upstream's response head.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence between two chunks of the upstream body.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest upstream event accepted (an event is one delta, normally tiny).
const MAX_EVENT_SIZE: usize = 256 * 1024;
/// Most characters of an upstream error body quoted in our error message.
const MAX_ERROR_TEXT: usize = 300;

/// The chat-completions URL: the configured one, with `/chat/completions` appended when missing.
pub(crate) fn completions_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/chat/completions") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/chat/completions")
    }
}

#[derive(Serialize)]
struct UpstreamRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Default, Deserialize)]
struct Delta {
    content: Option<String>,
}

/// What one upstream event means for the answer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Continue,
    End(DoneReason),
}

fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_ERROR_TEXT).collect();
    if text.chars().count() > MAX_ERROR_TEXT {
        out.push('…');
    }
    out
}

/// Interpret one upstream event's data; its text, if any, goes into `text`.
fn handle_data(text: &mut Option<String>, data: &str, finish: &mut Option<DoneReason>) -> Step {
    let data = data.trim();
    if data == "[DONE]" {
        return Step::End(finish.take().unwrap_or(DoneReason::Finished));
    }
    if data.is_empty() {
        return Step::Continue;
    }
    let chunk: Chunk = match serde_json::from_str(data) {
        Ok(chunk) => chunk,
        Err(e) => {
            return Step::End(DoneReason::Error(format!(
                "the upstream sent an event that is not a chat-completion chunk: {e}"
            )));
        }
    };
    if let Some(error) = chunk.error {
        return Step::End(DoneReason::Error(format!(
            "the upstream reported an error: {}",
            shorten(&error.to_string())
        )));
    }
    if let Some(choice) = chunk.choices.into_iter().next() {
        *text = choice.delta.content.filter(|t| !t.is_empty());
        match choice.finish_reason.as_deref() {
            Some("length") => *finish = Some(DoneReason::Stopped),
            Some(_) => *finish = Some(DoneReason::Finished),
            None => {}
        }
    }
    Step::Continue
}

/// Generate `answer` from the upstream model.
pub(crate) async fn generate(
    http: reqwest::Client,
    upstream: UpstreamConfig,
    mut producer: Box<dyn Producer>,
    messages: Vec<Message>,
    max_tokens: Option<u64>,
    shutdown: Option<watch::Receiver<bool>>,
) {
    let stop = crate::util::stop_signal(producer.stop_requested(), shutdown);
    let reason = tokio::select! {
        reason = run(&http, &upstream, producer.as_mut(), &messages, max_tokens) => reason,
        () = stop => DoneReason::Stopped,
    };
    if let DoneReason::Error(message) = &reason {
        tracing::warn!(url = %upstream.url, "upstream failed: {message}");
    }
    tracing::info!(sid = %producer.sid(), reason = reason.as_str(), "answer ended");
    producer.finish(reason).await;
}

async fn run(
    http: &reqwest::Client,
    upstream: &UpstreamConfig,
    producer: &mut dyn Producer,
    messages: &[Message],
    max_tokens: Option<u64>,
) -> DoneReason {
    if max_tokens == Some(0) {
        return DoneReason::Stopped;
    }
    let url = completions_url(&upstream.url);
    let mut request = http
        .post(&url)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .json(&UpstreamRequest {
            model: &upstream.model,
            messages,
            stream: true,
            max_tokens,
        });
    if let Some(key) = &upstream.api_key {
        request = request.bearer_auth(key);
    }
    let response = match tokio::time::timeout(RESPONSE_TIMEOUT, request.send()).await {
        Err(_) => return DoneReason::Error("the upstream did not answer in time".to_owned()),
        Ok(Err(e)) => return DoneReason::Error(format!("cannot reach the upstream: {e}")),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let body = tokio::time::timeout(Duration::from_secs(5), response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        return DoneReason::Error(format!(
            "the upstream answered {status}: {}",
            shorten(body.trim())
        ));
    }

    let mut parser = websse_core::Parser::with_max_event_size(Some(MAX_EVENT_SIZE));
    let mut body = response.bytes_stream();
    let mut finish = None;
    let mut tokens = 0u64;
    loop {
        let chunk = match tokio::time::timeout(IDLE_TIMEOUT, body.next()).await {
            Err(_) => return DoneReason::Error("the upstream went silent".to_owned()),
            Ok(None) => {
                parser.finish();
                return finish.unwrap_or(DoneReason::Finished);
            }
            Ok(Some(Err(e))) => {
                return DoneReason::Error(format!("the upstream connection broke: {e}"));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        for item in parser.feed(&chunk) {
            let event = match item {
                Ok(event) => event,
                Err(e) => return DoneReason::Error(format!("upstream event rejected: {e}")),
            };
            let mut text = None;
            let step = handle_data(&mut text, event.data(), &mut finish);
            if let Some(text) = text {
                if let Err(e) = producer.push(&text).await {
                    return DoneReason::Error(format!("the answer store refused a delta: {e}"));
                }
                tokens += 1;
            }
            if let Step::End(reason) = step {
                return reason;
            }
            if max_tokens.is_some_and(|max| tokens >= max) {
                return DoneReason::Stopped;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_url_appends_the_path_once() {
        assert_eq!(
            completions_url("http://h:1/v1"),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h:1/v1/chat/completions/"),
            "http://h:1/v1/chat/completions"
        );
    }
}
