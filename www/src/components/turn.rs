//! One question and its answer as two bubbles.

use yew::prelude::*;

use crate::state::{Phase, Turn};

/// Props of [`TurnView`].
#[derive(Properties, PartialEq)]
pub struct TurnProps {
    /// The turn.
    pub turn: Turn,
    /// Whether this is the newest answer (it carries the `answer` test hook).
    pub newest: bool,
}

/// The user's bubble and the assistant's.
///
/// The answer's text element is rendered empty and never gets children from Yew: the typewriter
/// appends text nodes to it directly, so the virtual DOM never holds the growing answer. Since
/// everything is rendered with `Text` nodes, stream content is never parsed as HTML.
#[component]
pub fn TurnView(props: &TurnProps) -> Html {
    let turn = &props.turn;
    let active = turn.phase.is_active();
    let note = match &turn.phase {
        Phase::Stopped => Some(("note stopped", "stopped")),
        Phase::Failed(_) => Some(("note failed", "failed")),
        Phase::Done { cut: true } => Some(("note", "cut short by the server")),
        _ => None,
    };
    html! {
        <>
            <div class="bubble user" aria-label="You said">{ turn.prompt.clone() }</div>
            <div class="bubble assistant" aria-live="polite" aria-busy={active.to_string()}
                data-state={turn.phase.name()}>
                <span class="text" ref={turn.text.clone()}
                    data-testid={props.newest.then_some("answer")}></span>
                if active {
                    <span class="cursor" data-testid="cursor" aria-hidden="true"></span>
                }
                if let Some((class, text)) = note {
                    <span class={class}>{ text }</span>
                }
            </div>
        </>
    }
}
