//! Proxy to an OpenAI-compatible chat-completions endpoint, re-streamed in our event format.

use std::sync::Arc;

use tokio::sync::watch;

use crate::UpstreamConfig;
use crate::chat::{Answer, DoneReason, Message};

/// Generate `answer` from the upstream model.
pub(crate) async fn generate(
    _http: reqwest::Client,
    _upstream: UpstreamConfig,
    answer: Arc<Answer>,
    _messages: Vec<Message>,
    _max_tokens: Option<u64>,
    _shutdown: Option<watch::Receiver<bool>>,
) {
    answer.finish(DoneReason::Error(
        "the upstream proxy is not implemented yet".to_owned(),
    ));
}
