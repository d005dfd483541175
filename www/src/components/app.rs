//! The shell: top bar and a hash switch between the chat and the inspector.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use super::chat::ChatPage;
use super::inspector::InspectorPage;

/// The two pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Chat,
    Inspector,
}

impl Route {
    /// `#/inspector` (or a path ending in `/inspector`) is the inspector; anything else the chat.
    fn current() -> Self {
        let Some(window) = web_sys::window() else {
            return Self::Chat;
        };
        let location = window.location();
        let hash = location.hash().unwrap_or_default();
        let path = location.pathname().unwrap_or_default();
        if hash.trim_start_matches('#').trim_start_matches('/') == "inspector"
            || path.trim_end_matches('/').ends_with("/inspector")
        {
            Self::Inspector
        } else {
            Self::Chat
        }
    }
}

/// Follows `hashchange` while mounted.
#[hook]
fn use_route() -> Route {
    let route = use_state(Route::current);
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = Closure::<dyn FnMut()>::new(move || route.set(Route::current()));
            let window = web_sys::window();
            if let Some(window) = &window {
                let _ = window.add_event_listener_with_callback(
                    "hashchange",
                    listener.as_ref().unchecked_ref(),
                );
            }
            move || {
                if let Some(window) = window {
                    let _ = window.remove_event_listener_with_callback(
                        "hashchange",
                        listener.as_ref().unchecked_ref(),
                    );
                }
                drop(listener);
            }
        });
    }
    *route
}

/// The app.
#[component]
pub fn App() -> Html {
    let route = use_route();
    let current = |r: Route| (route == r).then_some("page");
    html! {
        <div class="app">
            <header class="topbar">
                <h1>{ "websse" }</h1>
                <nav aria-label="Pages">
                    <a href="#/" aria-current={current(Route::Chat)}>{ "Chat" }</a>
                    <a href="#/inspector" aria-current={current(Route::Inspector)}>{ "Inspector" }</a>
                </nav>
            </header>
            <main>
                { match route {
                    Route::Chat => html! { <ChatPage /> },
                    Route::Inspector => html! { <InspectorPage /> },
                } }
            </main>
        </div>
    }
}
