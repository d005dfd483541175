//! The chat page: conversation, suggestions, status, prompt box, transport switch, stop.

use web_sys::{Element, HtmlSelectElement, HtmlTextAreaElement, KeyboardEvent};
use websse::{Item, Transport};
use yew::prelude::*;

use super::status::{countdown, status};
use super::turn::turn_view;
use crate::hooks::{use_countdown, use_sse, use_typewriter, use_window_keydown};
use crate::state::StreamEvent;
use crate::state::chat::{ChatAction, ChatState, parse_id};
use crate::{json, page};

/// Suggested questions.
const SUGGESTIONS: [&str; 4] = [
    "What is SSE?",
    "How does Last-Event-ID resume a stream?",
    "EventSource or fetch?",
    "Why batch tokens per animation frame?",
];

/// Asks the server to stop generating answer `sid` (`POST /api/chat/{sid}/stop`). One request,
/// answered or not: the stream is closed either way.
fn request_stop(sid: &str) {
    // Server ids are URL-safe; anything else is not one of ours.
    if !sid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let request = window.fetch_with_str_and_init(&format!("/api/chat/{sid}/stop"), &init);
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(request).await;
    });
}

/// The chat page.
#[component]
pub fn ChatPage() -> Html {
    let state = use_reducer(|| ChatState::from_query(&page::params()));
    let typewriter = use_typewriter();
    // The id of the last delta written, so a resumed stream can never write a delta twice.
    let last_id = use_mut_ref(|| None::<(String, u64)>);
    let prompt_ref = use_node_ref();

    // Point the typewriter at the streaming answer's view; finish the view when the answer stops
    // streaming (done, stopped, failed): the text so far stays rendered, the cursor goes.
    let target = state.active().map(|turn| {
        (
            turn.id,
            turn.spec.generation,
            turn.text.clone(),
            turn.view.clone(),
        )
    });
    {
        let typewriter = typewriter.clone();
        let last_id = last_id.clone();
        use_effect_with(target, move |target| {
            if let Some((_, _, node, view)) = target
                && let Some(element) = node.cast::<Element>()
            {
                typewriter.attach(element, view.clone());
                *last_id.borrow_mut() = None;
            }
            move || typewriter.detach()
        });
    }

    // The chat's own events are decoded here, where the browser's JSON is: deltas go to the
    // typewriter without a re-render, `start` and `done` to the reducer; the rest goes as it came.
    let on_event = {
        let dispatch = state.dispatcher();
        let typewriter = typewriter.clone();
        Callback::from(move |event: StreamEvent| {
            let StreamEvent::Item(Item::Message(message)) = &event else {
                dispatch.dispatch(ChatAction::Stream(event));
                return;
            };
            match message.event_type() {
                "start" => {
                    if let Some((sid, _)) = parse_id(message.last_event_id()) {
                        dispatch.dispatch(ChatAction::Started(sid.to_owned()));
                    }
                }
                "delta" => {
                    if let Some((sid, seq)) = parse_id(message.last_event_id()) {
                        let mut last = last_id.borrow_mut();
                        if matches!(&*last, Some((s, n)) if s == sid && *n >= seq) {
                            return;
                        }
                        *last = Some((sid.to_owned(), seq));
                    }
                    // `{"text": "..."}`
                    if let Some(text) =
                        json::parse(message.data()).and_then(|v| json::string_field(&v, "text"))
                    {
                        typewriter.push(&text);
                    }
                }
                "done" => {
                    // `{"reason": "..."}`
                    let reason =
                        json::parse(message.data()).and_then(|v| json::string_field(&v, "reason"));
                    dispatch.dispatch(ChatAction::Done(reason));
                }
                _ => {}
            }
        })
    };
    use_sse(state.active_spec(), on_event);

    // Stopping is not disconnecting: the server goes on generating an answer whose reader left
    // (another tab may resume it), so the Stop button asks it to stop, then closes the stream.
    let stop = {
        let dispatch = state.dispatcher();
        let sid = state.active().and_then(|turn| turn.sid.clone());
        let own_api = state.api.is_none();
        Callback::from(move |()| {
            if let Some(sid) = sid.as_deref().filter(|_| own_api) {
                request_stop(sid);
            }
            dispatch.dispatch(ChatAction::Stop);
        })
    };
    let active = state.active().is_some();
    {
        let stop = stop.clone();
        use_window_keydown(Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Escape" && active {
                event.prevent_default();
                stop.emit(());
            }
        }));
    }

    let send = {
        let dispatch = state.dispatcher();
        let prompt_ref = prompt_ref.clone();
        Callback::from(move |()| {
            if let Some(input) = prompt_ref.cast::<HtmlTextAreaElement>() {
                let text = input.value();
                if !text.trim().is_empty() {
                    input.set_value("");
                    dispatch.dispatch(ChatAction::Send(text));
                }
            }
        })
    };
    let on_keydown = {
        let send = send.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                event.prevent_default();
                send.emit(());
            }
        })
    };
    let on_send = {
        let send = send.clone();
        Callback::from(move |_: MouseEvent| send.emit(()))
    };
    let on_stop = {
        let stop = stop.clone();
        Callback::from(move |_: MouseEvent| stop.emit(()))
    };
    let on_retry = {
        let dispatch = state.dispatcher();
        Callback::from(move |()| dispatch.dispatch(ChatAction::Retry))
    };
    let on_transport = {
        let dispatch = state.dispatcher();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Ok(transport) = select.value().parse() {
                dispatch.dispatch(ChatAction::SetTransport(transport));
            }
        })
    };

    // The status line's countdown to the next attempt (redraws this page every 100 ms while it runs).
    let left = use_countdown(state.phase().cloned(), countdown(state.phase()));

    let newest = state.turns.last().map(|t| t.id);
    let suggestions = SUGGESTIONS.iter().map(|question| {
        let dispatch = state.dispatcher();
        let onclick = Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(ChatAction::Send((*question).to_owned()))
        });
        html! {
            <button type="button" data-testid="suggestion" {onclick}
                aria-label={format!("Ask: {question}")}>{ *question }</button>
        }
    });
    let transport = state.transport;

    html! {
        <section class="chat" aria-label="Chat">
            <div class="conversation">
                if state.turns.is_empty() {
                    <p class="empty">{ "Ask something, or pick a question below. Answers stream in token by token." }</p>
                }
                { for state.turns.iter().map(|turn| turn_view(turn, Some(turn.id) == newest)) }
            </div>
            <div class="suggestions" role="group" aria-label="Suggested questions">
                { for suggestions }
            </div>
            { status(state.phase(), left, &on_retry) }
            <div class="composer">
                <label class="visually-hidden" for="prompt">{ "Your question" }</label>
                <textarea id="prompt" data-testid="prompt" ref={prompt_ref} rows="2"
                    placeholder="Ask a question (Enter sends, Shift+Enter for a new line)"
                    onkeydown={on_keydown} />
                <div class="controls">
                    <label class="visually-hidden" for="transport">{ "Transport" }</label>
                    <select id="transport" data-testid="transport" onchange={on_transport}
                        aria-label="Transport">
                        <option value="eventsource" selected={transport == Transport::EventSource}>
                            { "EventSource (GET)" }
                        </option>
                        <option value="fetch" selected={transport == Transport::Fetch}>
                            { "fetch (POST)" }
                        </option>
                    </select>
                    <button type="button" class="danger" data-testid="stop" onclick={on_stop}
                        disabled={!active} aria-label="Stop the answer (Esc)">{ "Stop" }</button>
                    <button type="button" class="primary" data-testid="send" onclick={on_send}
                        aria-label="Send the question">{ "Send" }</button>
                </div>
            </div>
            <p class="hint">{ "Enter sends · Shift+Enter new line · Esc stops" }</p>
        </section>
    }
}
