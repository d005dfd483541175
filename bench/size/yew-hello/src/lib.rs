//! What Yew itself costs an app: the hello world of its docs, one function component with state.

use wasm_bindgen::prelude::*;
use yew::prelude::*;

#[component]
fn App() -> Html {
    let count = use_state(|| 0u32);
    let onclick = {
        let count = count.clone();
        Callback::from(move |_| count.set(*count + 1))
    };
    html! {
        <button {onclick}>{ "clicked " }{ *count }</button>
    }
}

#[wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<App>::new().render();
}
