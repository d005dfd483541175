//! websse: Server-Sent Events in the browser. (Being written.)
