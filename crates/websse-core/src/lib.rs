//! websse-core: the Server-Sent Events parser. (Being written.)
#![no_std]
extern crate alloc;
