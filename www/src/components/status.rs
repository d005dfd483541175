//! The chat's connection status line.

use websse::ConnectionState;
use yew::prelude::*;

use crate::state::chat::Phase;

/// "reconnecting (attempt n, next try in s)"; EventSource does not tell its delay (0 here).
/// The status line counts `delay_ms` down.
fn reconnecting(attempt: u32, delay_ms: u64) -> String {
    if delay_ms == 0 {
        format!("reconnecting (attempt {attempt}, the browser picks when)")
    } else {
        // Tenths of a second in integers: formatting an f64 (`{:.1}`) would link core's float
        // printing, about 10 kB of the app's wasm, for this one line.
        let tenths = delay_ms.saturating_add(50) / 100;
        format!(
            "reconnecting (attempt {attempt}, next try in {}.{} s)",
            tenths / 10,
            tenths % 10
        )
    }
}

/// The wait to count down in the status line: the announced delay before the next attempt while
/// reconnecting (EventSource does not say its delay: `None`).
pub fn countdown(phase: Option<&Phase>) -> Option<u64> {
    match phase {
        Some(Phase::Live(ConnectionState::Reconnecting {
            delay: Some(delay), ..
        })) if !delay.is_zero() => Some(millis(*delay)),
        _ => None,
    }
}

fn millis(delay: std::time::Duration) -> u64 {
    delay.as_millis().try_into().unwrap_or(u64::MAX)
}

/// "connecting", "streaming", "reconnecting (attempt n, next try in s)", "done", "failed: ..." with
/// a retry button. `left` is what remains of the [`countdown`] (from `use_countdown` in the page).
///
/// A function, not a component (see `turn_view`).
pub fn status(phase: Option<&Phase>, left: Option<u64>, on_retry: &Callback<()>) -> Html {
    let (name, text) = match phase {
        None => ("idle", "ready".to_owned()),
        Some(phase) => (
            phase.name(),
            match phase {
                Phase::Live(ConnectionState::Open) => "streaming…".to_owned(),
                Phase::Live(ConnectionState::Reconnecting {
                    attempt,
                    delay,
                    cause,
                    ..
                }) => match left {
                    Some(0) => format!("reconnecting (attempt {attempt}, trying now…): {cause}"),
                    _ => format!(
                        "{}: {cause}",
                        reconnecting(*attempt, left.unwrap_or_else(|| delay.map_or(0, millis)))
                    ),
                },
                Phase::Live(_) => "connecting…".to_owned(),
                Phase::Done { cut: false } => "done".to_owned(),
                Phase::Done { cut: true } => "done (the server cut the answer short)".to_owned(),
                Phase::Stopped => "stopped".to_owned(),
                Phase::Interrupted => {
                    "interrupted: the server stopped writing this answer".to_owned()
                }
                Phase::Failed(message) => format!("failed: {message}"),
            },
        ),
    };
    let retry = matches!(phase, Some(Phase::Failed(_))).then(|| {
        let on_retry = on_retry.clone();
        html! {
            <button type="button" onclick={move |_| on_retry.emit(())}
                aria-label="Retry the last question">{ "Retry" }</button>
        }
    });
    html! {
        <div class="status" data-testid="status" data-state={name} role="status">
            <span>{ text }</span>
            { for retry }
        </div>
    }
}
