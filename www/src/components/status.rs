//! The chat's connection status line.

use yew::prelude::*;

use crate::hooks::use_countdown;
use crate::state::Phase;

/// "reconnecting (attempt n, next try in s)"; EventSource does not tell its delay (0 here).
/// The chat's status line counts `delay_ms` down; the inspector's log keeps the announced delay.
pub fn reconnecting(attempt: u32, delay_ms: u64) -> String {
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

/// Props of [`Status`].
#[derive(Properties, PartialEq)]
pub struct StatusProps {
    /// The newest answer's phase; `None` before the first question.
    pub phase: Option<Phase>,
    /// Asks the failed question again.
    pub on_retry: Callback<()>,
}

/// "connecting", "streaming", "reconnecting (attempt n, next try in s)", "done", "failed: ..." with
/// a retry button.
#[component]
pub fn Status(props: &StatusProps) -> Html {
    // The wait before the next attempt, counting down (EventSource does not say its delay: 0).
    let wait = match &props.phase {
        Some(Phase::Reconnecting { delay_ms, .. }) if *delay_ms > 0 => Some(*delay_ms),
        _ => None,
    };
    let left = use_countdown(props.phase.clone(), wait);
    let (name, text) = match &props.phase {
        None => ("idle", "ready".to_owned()),
        Some(phase) => (
            phase.name(),
            match phase {
                Phase::Connecting => "connecting…".to_owned(),
                Phase::Streaming => "streaming…".to_owned(),
                Phase::Reconnecting {
                    attempt,
                    delay_ms,
                    cause,
                } => match left {
                    Some(0) => format!("reconnecting (attempt {attempt}, trying now…): {cause}"),
                    _ => format!(
                        "{}: {cause}",
                        reconnecting(*attempt, left.unwrap_or(*delay_ms))
                    ),
                },
                Phase::Done { cut: false } => "done".to_owned(),
                Phase::Done { cut: true } => "done (the server cut the answer short)".to_owned(),
                Phase::Stopped => "stopped".to_owned(),
                Phase::Failed(message) => format!("failed: {message}"),
            },
        ),
    };
    let retry = matches!(props.phase, Some(Phase::Failed(_))).then(|| {
        let on_retry = props.on_retry.clone();
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
