//! The websse demo app. (Being written.)
fn main() {}
