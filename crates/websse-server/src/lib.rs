//! websse-server: demo and test server. (Being written.)
