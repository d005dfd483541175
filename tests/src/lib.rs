//! End-to-end tests live in `tests/`. (Being written.)
