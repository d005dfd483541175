//! The shell: top bar and a hash switch between the chat and the inspector.

use gloo_events::EventListener;
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

/// Follows `hashchange` while mounted (a [`gloo_events::EventListener`], removed on unmount).
#[hook]
fn use_route() -> Route {
    let route = use_state(Route::current);
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|window| {
                EventListener::new(&window, "hashchange", move |_| route.set(Route::current()))
            });
            move || drop(listener)
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
