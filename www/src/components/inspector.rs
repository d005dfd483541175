//! The inspector: open any stream with any request, see every event and state change.

use futures::future::{AbortHandle, abortable};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use websse::{Credentials, Framing, Item, Transport};
use yew::prelude::*;

use crate::hooks::{use_frame_redraw, use_sse};
use crate::state::StreamEvent;
use crate::state::inspector::{Edit, Example, InspectorAction, InspectorState, LogEntry, LogKind};
use crate::{json, page};

/// Reads `GET /api/examples` defensively: a list (or `{"examples": [...]}`) of URLs or of objects
/// with `url`/`path`/`href`, `name`/`title`/`id`, and optional `event_types` or `events` (list or
/// string), `method` and `framing`.
fn parse_examples(value: &JsValue) -> Vec<Example> {
    let list = json::array(value)
        .or_else(|| json::field(value, "examples").and_then(|v| json::array(&v)))
        .unwrap_or_default();
    let text =
        |item: &JsValue, keys: &[&str]| keys.iter().find_map(|k| json::string_field(item, k));
    list.iter()
        .filter_map(|item| {
            if let Some(url) = item.as_string() {
                return Some(Example {
                    name: url.clone(),
                    url,
                    events: None,
                    method: None,
                    framing: None,
                });
            }
            let url = text(&item, &["url", "path", "href"])?;
            let name = text(&item, &["name", "title", "id"]).unwrap_or_else(|| url.clone());
            let events = ["event_types", "events"]
                .iter()
                .find_map(|k| json::field(&item, k))
                .and_then(|types| match json::array(&types) {
                    Some(types) => Some(
                        types
                            .iter()
                            .filter_map(|t| t.as_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    None => types.as_string(),
                });
            let mut label = name;
            label.push_str(" (");
            label.push_str(&url);
            label.push(')');
            Some(Example {
                name: label,
                url,
                events,
                method: text(&item, &["method"]),
                framing: text(&item, &["framing"]).and_then(|f| f.parse().ok()),
            })
        })
        .collect()
}

/// Owns the AbortController of one request and aborts it when dropped: dropping the future that
/// holds it (the page went away first) cancels the request itself, not just the wait for it.
/// Aborting a request that already finished does nothing.
struct AbortOnDrop(web_sys::AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fetch_examples() -> Option<Vec<Example>> {
    let window = web_sys::window()?;
    let abort = AbortOnDrop(web_sys::AbortController::new().ok()?);
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&abort.0.signal()));
    let response = JsFuture::from(window.fetch_with_str_and_init("/api/examples", &init))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    if !response.ok() {
        return None;
    }
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    Some(parse_examples(&json::parse(&text)?))
}

/// The server's examples, fetched once; the request is aborted if the page goes away first.
#[hook]
fn use_examples() -> Vec<Example> {
    let examples = use_state(Vec::new);
    {
        let examples = examples.clone();
        use_effect_with((), move |_| {
            let (task, handle): (_, AbortHandle) = abortable(async move {
                if let Some(list) = fetch_examples().await {
                    examples.set(list);
                }
            });
            spawn_local(async move {
                let _ = task.await;
            });
            move || handle.abort()
        });
    }
    (*examples).clone()
}

fn input_value(event: &InputEvent) -> String {
    // The `value` of whichever control fired (an input or a textarea), read as a property: no
    // `instanceof` check per element type.
    event
        .target()
        .and_then(|target| js_sys::Reflect::get(&target, &JsValue::from_str("value")).ok())
        .and_then(|value| value.as_string())
        .unwrap_or_default()
}

/// The inspector page.
#[component]
pub fn InspectorPage() -> Html {
    let state = use_reducer(|| InspectorState::from_query(&page::params()));
    let examples = use_examples();

    let connect = {
        let dispatch = state.dispatcher();
        let state = state.clone();
        Callback::from(move |()| {
            page::replace_query(&state.form.to_query());
            dispatch.dispatch(InspectorAction::Connect {
                resolved: page::resolve(&state.form.url),
                time: page::now(),
            });
        })
    };

    // A shared link connects right away: the effect runs after the first render only, when the
    // form is still the one read from the link.
    {
        let dispatch = state.dispatcher();
        let url = state.form.url.clone();
        use_effect_with((), move |_| {
            if !url.trim().is_empty() {
                dispatch.dispatch(InspectorAction::Connect {
                    resolved: page::resolve(&url),
                    time: page::now(),
                });
            }
        });
    }

    // A message only appends to the log, in place (the reducer keeps the same state), and the
    // log is redrawn once per animation frame: a fast stream costs one render per frame.
    let redraw = use_frame_redraw();
    let on_event = {
        let dispatch = state.dispatcher();
        Callback::from(move |event: StreamEvent| {
            let message = matches!(event, StreamEvent::Item(Item::Message(_)));
            dispatch.dispatch(InspectorAction::Stream(event, page::now()));
            if message {
                redraw.emit(());
            }
        })
    };
    use_sse(state.active.clone(), on_event);

    let edit = |field: fn(String) -> Edit| {
        let dispatch = state.dispatcher();
        Callback::from(move |event: InputEvent| {
            dispatch.dispatch(InspectorAction::Edit(field(input_value(&event))))
        })
    };
    // A `<select>`'s value as the form's type; its options are that type's names.
    let select = |field: fn(&str) -> Option<Edit>| {
        let dispatch = state.dispatcher();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Some(edit) = field(&select.value()) {
                dispatch.dispatch(InspectorAction::Edit(edit));
            }
        })
    };
    let on_example = {
        let dispatch = state.dispatcher();
        let examples = examples.clone();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            let Some(example) = select
                .value()
                .parse::<usize>()
                .ok()
                .and_then(|i| examples.get(i))
            else {
                return;
            };
            dispatch.dispatch(InspectorAction::Example(example.clone()));
        })
    };
    let on_submit = {
        let connect = connect.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            connect.emit(());
        })
    };
    let on_disconnect = {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            dispatch.dispatch(InspectorAction::Disconnect { time: page::now() })
        })
    };
    let on_tabs = {
        let dispatch = state.dispatcher();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            dispatch.dispatch(InspectorAction::Edit(Edit::Tabs(input.checked())))
        })
    };
    let on_clear = {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(InspectorAction::Clear))
    };

    let form = &state.form;
    let connected = state.connection.is_active();
    let mut share = page::query_string(&form.to_query());
    share.push_str("#/inspector");
    let credentials = form.credentials.map_or("", Credentials::as_str);
    let example_options = examples.iter().enumerate().map(|(i, e)| {
        html! {
            <option value={i.to_string()}>{ e.name.clone() }</option>
        }
    });

    html! {
        <section class="inspector" aria-label="SSE inspector">
            <form class="form" onsubmit={on_submit}>
                { labelled(WIDE, "Stream URL", html! {
                    <input type="text" data-testid="inspector-url" value={form.url.clone()}
                        oninput={edit(Edit::Url)} placeholder="/api/examples/... or https://..."
                        spellcheck="false" autocomplete="off" />
                }) }
                if !examples.is_empty() {
                    { labelled(WIDE, "Example streams", html! {
                        <select onchange={on_example} data-testid="example">
                            <option value="" selected=true>{ "Pick an example…" }</option>
                            { for example_options }
                        </select>
                    }) }
                }
                { labelled(false, "Transport", choice(
                    &[Transport::Fetch.as_str(), Transport::EventSource.as_str()],
                    form.transport.as_str(),
                    select(|v| v.parse().ok().map(Edit::Transport)),
                    Some("Transport"),
                )) }
                <label>{ "Method" }
                    <input type="text" value={form.method.clone()} oninput={edit(Edit::Method)}
                        list="methods" spellcheck="false" />
                    <datalist id="methods">
                        { for ["GET", "POST", "PUT", "PATCH", "DELETE"].map(|m| html! { <option value={m} /> }) }
                    </datalist>
                </label>
                { labelled(false, "Framing", choice(
                    &[Framing::Sse.as_str(), Framing::Ndjson.as_str(), Framing::Raw.as_str()],
                    form.framing.as_str(),
                    select(|v| v.parse().ok().map(Edit::Framing)),
                    None,
                )) }
                // The empty value is the client's default.
                { labelled(false, "Credentials", choice(
                    &[
                        "",
                        Credentials::SameOrigin.as_str(),
                        Credentials::Include.as_str(),
                        Credentials::Omit.as_str(),
                    ],
                    credentials,
                    select(|v| Some(Edit::Credentials(v.parse().ok()))),
                    None,
                )) }
                <label class="check">
                    <input type="checkbox" data-testid="share-tabs" checked={form.tabs}
                        onchange={on_tabs} />
                    { "One connection for all tabs" }
                </label>
                { labelled(WIDE, "Named event types (comma-separated)", html! {
                    <input type="text" value={form.events.clone()} oninput={edit(Edit::Events)}
                        placeholder="start, delta, done" spellcheck="false" />
                }) }
                { labelled(false, "Headers (one \"Name: value\" per line)", text_area(&form.headers, edit(Edit::Headers))) }
                { labelled(false, "Body", text_area(&form.body, edit(Edit::Body))) }
                <div class="actions wide">
                    <button type="submit" class="primary" data-testid="connect"
                        aria-label="Connect to the stream">{ "Connect" }</button>
                    <button type="button" data-testid="disconnect" onclick={on_disconnect}
                        disabled={!connected} aria-label="Disconnect">{ "Disconnect" }</button>
                    <button type="button" onclick={on_clear} aria-label="Clear the log">{ "Clear log" }</button>
                    <span data-testid="inspector-state" role="status">{ state.connection.to_string() }</span>
                    if let Some(sharing) = state.sharing {
                        { sharing_badge(sharing) }
                    }
                </div>
                <a class="share wide" href={share.clone()}>{ "Link to this setup: " }{ share }</a>
            </form>
            <ol class="log" aria-label="Events and state changes">
                <li class="head" aria-hidden="true">
                    <span>{ "time" }</span><span>{ "type" }</span><span>{ "id" }</span><span>{ "data" }</span>
                </li>
                { for state.log.entries().iter().map(log_line) }
            </ol>
        </section>
    }
}

/// A form field that spans the whole form (see [`labelled`]).
const WIDE: bool = true;

/// A form field: its label text, then the control; `wide` spans the whole form.
///
/// The class is a literal in each branch: a computed `class` goes through Yew's `Classes` (an
/// `IndexSet` with SipHash), about 1 kB of gzipped wasm for two spellings.
fn labelled(wide: bool, text: &'static str, control: Html) -> Html {
    if wide {
        html! { <label class="wide">{ text }{ control }</label> }
    } else {
        html! { <label>{ text }{ control }</label> }
    }
}

/// A `<select>` whose option values are also their labels (the empty value reads "default").
fn choice(
    values: &[&'static str],
    selected: &str,
    onchange: Callback<Event>,
    label: Option<&'static str>,
) -> Html {
    html! {
        <select {onchange} aria-label={label}>
            { for values.iter().map(|&value| html! {
                <option {value} selected={value == selected}>
                    { if value.is_empty() { "default" } else { value } }
                </option>
            }) }
        </select>
    }
}

/// A monospaced multi-line field.
fn text_area(value: &str, oninput: Callback<InputEvent>) -> Html {
    html! { <textarea value={value.to_owned()} {oninput} spellcheck="false" /> }
}

/// Whether this tab leads or follows a stream shared across tabs, and how many tabs share it.
fn sharing_badge(sharing: websse::Sharing) -> Html {
    let text = match sharing.role {
        websse::Role::Leader => "leads",
        websse::Role::Follower => "follows",
        // `Alone`, and whatever a later websse adds.
        _ => "alone",
    };
    let role = sharing.role.as_str();
    let title = match sharing.role {
        websse::Role::Leader => "This tab holds the connection and relays it to the other tabs",
        websse::Role::Follower => "Another tab holds the connection; this one receives its events",
        _ => "This browser cannot share across tabs: this tab has its own connection",
    };
    html! {
        <span class="sharing" data-role={role} title={title}>
            { "this tab " }
            <b data-testid="sharing-role">{ text }</b>
            { " · tabs sharing: " }
            <b data-testid="sharing-tabs">{ sharing.tabs }</b>
        </span>
    }
}

fn log_line(entry: &LogEntry) -> Html {
    // Two literal classes rather than a computed one (see `labelled`).
    match &entry.kind {
        LogKind::Event(message) => html! {
            <li key={entry.seq} class="event">
                <span class="time">{ entry.time.clone() }</span>
                <span class="type">{ message.event_type() }</span>
                <span class="id">{ message.last_event_id() }</span>
                <span class="data" data-testid="event" data-type={message.event_type().to_owned()}
                    data-id={message.last_event_id().to_owned()}>{ message.data() }</span>
            </li>
        },
        LogKind::State(text) => html! {
            <li key={entry.seq} class="state">
                <span class="time">{ entry.time.clone() }</span>
                <span class="type">{ "state" }</span>
                <span class="id"></span>
                <span class="data">{ text.clone() }</span>
            </li>
        },
    }
}
