//! Views.

mod app;
mod chat;
mod inspector;
mod status;
mod turn;

pub use app::App;
