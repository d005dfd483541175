//! The Chrome DevTools Protocol through chromedriver: `POST /session/{id}/goog/cdp/execute` with
//! `{"cmd": .., "params": ..}`, issued on the test's own WebDriver session.
//!
//! What the CSP and leak tests need from the browser's own tools: a script that runs before the
//! page's (`Page.addScriptToEvaluateOnNewDocument`), a forced garbage collection
//! (`HeapProfiler.collectGarbage`), live-instance counts per prototype (`Runtime.queryObjects`),
//! the app's wasm memory and the JS heap (`Runtime.getHeapUsage`). Scripts that run this way are
//! not subject to the page's Content-Security-Policy.

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};

use crate::Result;

/// One CDP command as a WebDriver extension command.
#[derive(Debug)]
struct Execute {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Execute {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Runs CDP method `cmd` with `params` on the session's current page and returns its result.
///
/// # Errors
/// When chromedriver or the DevTools method fails.
pub async fn execute(client: &Client, cmd: &str, params: Value) -> Result<Value> {
    let value = client
        .issue_cmd(Execute {
            cmd: cmd.to_owned(),
            params,
        })
        .await
        .map_err(|e| format!("CDP {cmd}: {e}"))?;
    Ok(value)
}

/// Runs `source` in every new document of this session before the page's own scripts
/// (`Page.addScriptToEvaluateOnNewDocument`).
///
/// # Errors
/// When the command fails.
pub async fn before_page_scripts(client: &Client, source: &str) -> Result {
    execute(
        client,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": source }),
    )
    .await?;
    Ok(())
}

/// A full garbage collection (twice: the first may only queue finalizers that free more).
///
/// # Errors
/// When the command fails.
pub async fn collect_garbage(client: &Client) -> Result {
    for _ in 0..2 {
        execute(client, "HeapProfiler.collectGarbage", json!({})).await?;
    }
    Ok(())
}

/// The object group the probes put their remote objects in; released after each probe so the
/// probe itself keeps nothing alive.
const GROUP: &str = "websse-probe";

/// Evaluates `expression` in the page and returns the remote object's id.
async fn object_id(client: &Client, expression: &str) -> Result<String> {
    let result = execute(
        client,
        "Runtime.evaluate",
        json!({ "expression": expression, "objectGroup": GROUP }),
    )
    .await?;
    result["result"]["objectId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{expression}` is not an object: {result}").into())
}

/// Calls `function` (a JS function declaration) with `this` = the remote object; returns its value.
async fn call_on(client: &Client, object_id: &str, function: &str) -> Result<Value> {
    let result = execute(
        client,
        "Runtime.callFunctionOn",
        json!({
            "objectId": object_id,
            "functionDeclaration": function,
            "returnByValue": true,
            "objectGroup": GROUP,
        }),
    )
    .await?;
    if let Some(exception) = result.get("exceptionDetails") {
        return Err(format!("{function} threw: {exception}").into());
    }
    Ok(result["result"]["value"].clone())
}

async fn release(client: &Client) -> Result {
    execute(
        client,
        "Runtime.releaseObjectGroup",
        json!({ "objectGroup": GROUP }),
    )
    .await?;
    Ok(())
}

/// Runs `function` on the array of live objects whose prototype chain holds the value of
/// `prototype` (an expression such as `EventSource.prototype`), then releases every handle.
async fn query_objects(client: &Client, prototype: &str, function: &str) -> Result<Value> {
    let outcome = async {
        let proto = object_id(client, prototype).await?;
        let found = execute(
            client,
            "Runtime.queryObjects",
            json!({ "prototypeObjectId": proto, "objectGroup": GROUP }),
        )
        .await?;
        let array = found["objects"]["objectId"]
            .as_str()
            .ok_or_else(|| format!("queryObjects({prototype}) returned {found}"))?
            .to_owned();
        call_on(client, &array, function).await
    }
    .await;
    release(client).await?;
    outcome
}

/// How many objects with `prototype` in their chain are alive now (`Runtime.queryObjects`).
/// Call [`collect_garbage`] first to count only what something still holds.
///
/// # Errors
/// When a command fails or `prototype` is not an object in the page.
pub async fn count_live(client: &Client, prototype: &str) -> Result<u64> {
    let value = query_objects(client, prototype, "function () { return this.length; }").await?;
    value
        .as_u64()
        .ok_or_else(|| format!("count of {prototype}: {value}").into())
}

/// The byte length of every live `WebAssembly.Memory` in the page (the app has one: its linear
/// memory), found with `Runtime.queryObjects` so the page need not expose it.
///
/// # Errors
/// When a command fails.
pub async fn wasm_memory(client: &Client) -> Result<Vec<u64>> {
    let value = query_objects(
        client,
        "WebAssembly.Memory.prototype",
        "function () { return this.map(m => m.buffer.byteLength); }",
    )
    .await?;
    Ok(value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default())
}

/// The page's JS heap in bytes: (used, total), from `Runtime.getHeapUsage`.
///
/// # Errors
/// When the command fails.
pub async fn js_heap(client: &Client) -> Result<(u64, u64)> {
    let usage = execute(client, "Runtime.getHeapUsage", json!({})).await?;
    let number = |key: &str| usage[key].as_f64().map(|v| v as u64);
    match (number("usedSize"), number("totalSize")) {
        (Some(used), Some(total)) => Ok((used, total)),
        _ => Err(format!("Runtime.getHeapUsage returned {usage}").into()),
    }
}
