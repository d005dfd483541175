//! The chat messages a model answers. The answers themselves live in [`crate::store`].

use serde::{Deserialize, Serialize};

/// One chat message of the request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) content: String,
}
