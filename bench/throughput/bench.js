// The browser throughput bench's page. Four readers of the same `/test/flood` stream, each
// counting the events and their data bytes until the `end` event, and timing from the request to
// that event:
//
//   websse-fetch         websse's fetch transport (wasm, pkg/)
//   websse-eventsource   websse's EventSource transport (wasm, pkg/)
//   native-eventsource   the browser's EventSource, used from JavaScript
//   eventsource-parser   eventsource-parser 4.x (npm) over fetch + TextDecoder, from JavaScript
//
// The driver (tests/src/bin/throughput-bench.rs) calls `window.__throughput.run(name, url)` and
// reads `{events, bytes, last, end, ms}`. An external module script, so the page runs under a
// Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval'.
import init, { run_websse } from "./pkg/throughput.js";
import { createParser } from "./eventsource-parser/index.js";

function nativeEventSource(url) {
  return new Promise((resolve, reject) => {
    let events = 0;
    let bytes = 0;
    let last = null;
    const started = performance.now();
    const source = new EventSource(url);
    source.onmessage = (e) => {
      events += 1;
      bytes += e.data.length;
      last = e.data;
    };
    source.addEventListener("end", (e) => {
      const ms = performance.now() - started;
      source.close();
      resolve({ events, bytes, last, end: e.data, ms });
    });
    source.onerror = () => {
      source.close();
      reject(new Error(`EventSource failed after ${events} events`));
    };
  });
}

async function eventsourceParser(url) {
  let events = 0;
  let bytes = 0;
  let last = null;
  let end = null;
  const started = performance.now();
  const parser = createParser({
    onEvent(e) {
      if (e.event === "end") {
        end = e.data;
      } else {
        events += 1;
        bytes += e.data.length;
        last = e.data;
      }
    },
  });
  const controller = new AbortController();
  const response = await fetch(url, {
    cache: "no-store",
    headers: { Accept: "text/event-stream" },
    signal: controller.signal,
  });
  if (!response.ok || !response.body) {
    throw new Error(`fetch: status ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  while (end === null) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    parser.feed(decoder.decode(value, { stream: true }));
  }
  const ms = performance.now() - started;
  controller.abort();
  if (end === null) {
    throw new Error(`the body ended without its end event after ${events} events`);
  }
  return { events, bytes, last, end, ms };
}

const RUNNERS = {
  "websse-fetch": (url) => run_websse(url, "fetch"),
  "websse-eventsource": (url) => run_websse(url, "event-source"),
  "native-eventsource": nativeEventSource,
  "eventsource-parser": eventsourceParser,
};

const status = document.getElementById("status");
try {
  await init();
  window.__throughput = {
    names: Object.keys(RUNNERS),
    run(name, url) {
      const runner = RUNNERS[name];
      return runner ? runner(url) : Promise.reject(new Error(`no runner ${name}`));
    },
  };
  status.textContent = "ready";
  status.dataset.state = "ready";
} catch (e) {
  status.textContent = `failed: ${e}`;
  status.dataset.state = "failed";
}
