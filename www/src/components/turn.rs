//! One question and its answer as two bubbles.

use yew::prelude::*;

use crate::state::chat::{Phase, Turn};

/// The user's bubble and the assistant's, keyed by the turn's id; `newest` carries the `answer`
/// test hook.
///
/// The answer element is rendered empty and never gets children from Yew: the turn's Markdown
/// view renders into it directly (with the blinking cursor inline while it streams), so the
/// virtual DOM never holds the growing answer. The view builds elements and text nodes; stream
/// content is never parsed as HTML.
///
/// A function, not a component: a component of its own costs the app about 1 kB of gzipped wasm
/// (Yew's lifecycle code for one more type), and a turn is a handful of nodes.
pub fn turn_view(turn: &Turn, newest: bool) -> Html {
    let active = turn.phase.is_active();
    // Literal classes: a computed `class` would link Yew's `Classes` (an `IndexSet`) for this.
    let note = match &turn.phase {
        Phase::Stopped => html! { <span class="note stopped">{ "stopped" }</span> },
        Phase::Failed(_) => html! { <span class="note failed">{ "failed" }</span> },
        Phase::Interrupted => html! { <span class="note failed">{ "interrupted" }</span> },
        Phase::Done { cut: true } => {
            html! { <span class="note">{ "cut short by the server" }</span> }
        }
        _ => Html::default(),
    };
    html! {
        <key={turn.id}>
            <div class="bubble user" aria-label="You said">{ turn.prompt.clone() }</div>
            <div class="bubble assistant" aria-live="polite" aria-busy={if active { "true" } else { "false" }}
                data-state={turn.phase.name()} data-stream-id={turn.sid.clone()}>
                <div class="text markdown" ref={turn.text.clone()}
                    data-testid={newest.then_some("answer")}></div>
                { note }
            </div>
        </>
    }
}
