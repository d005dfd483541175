//! The websse demo app: a ChatGPT-style streaming chat with a typewriter cursor, and an SSE
//! inspector. Built with Trunk (`trunk build --release`, see `Trunk.toml`).
//!
//! Shape (Yew's `function_todomvc`): [`state`] holds the reducers, [`hooks`] the hooks that own
//! browser resources (the stream, the animation frame, a window listener), [`components`] the
//! views. The app talks to streams only through `websse`.

mod components;
mod hooks;
mod json;
mod markdown;
mod page;
mod spec;
mod state;

fn main() {
    yew::Renderer::<components::App>::new().render();
}
