//! Hooks: each owns a browser resource and releases it in its effect's cleanup.

mod use_countdown;
mod use_frame_redraw;
mod use_keydown;
mod use_sse;
mod use_typewriter;

pub use use_countdown::use_countdown;
pub use use_frame_redraw::use_frame_redraw;
pub use use_keydown::use_window_keydown;
pub use use_sse::use_sse;
pub use use_typewriter::use_typewriter;
