// The browser throughput bench's page. Four readers of the same `/test/flood` stream, each
// counting the events and their data bytes until the `end` event, and timing from the request to
// that event:
//
//   websse-fetch         websse's fetch transport (wasm, pkg/)
//   websse-eventsource   websse's EventSource transport (wasm, pkg/)
//   native-eventsource   the browser's EventSource, used from JavaScript
//   eventsource-parser   eventsource-parser 4.x (npm) over fetch + TextDecoder, from JavaScript
//   websse-batch         websse's fetch transport through the borrowed `next_batch` API
//   websse-shared-N      N subscribers of one websse `SharedStream` over fetch
//   websse-fanout-4      websse's fetch transport, each message counted 4 times: what 4
//                        subscribers do themselves, without the sharing (their bound)
//   websse-shared-4-batch  4 subscribers reading through the borrowed `next_batch`
//   floor-js, floor-wasm loops that only read the body's chunks (into wasm memory for the latter)
//   parser-only          the wasm floor plus websse-core's parser over each chunk, counting: the
//                        ceiling of any reader built on the parser
//   eventsource-floor    the browser's EventSource with a wasm listener that only copies each
//                        event's data in and counts it: the floor of any wasm reader of it
//   split-only           the wasm floor plus the cheapest split into events (at blank lines, no
//                        SSE rules): the bound of any reader, serde_json's cost on JSON included
//   items-floor          `next_batch` with each message made an owned item of the simplest
//                        `Stream` (a poll per item): the floor of any stream of owned items
//
// With `json`, the data is OpenAI-shaped JSON and each reader parses it and sums the lengths of
// `choices[0].delta.content` (`content`).
//
// The driver (tests/src/bin/throughput-bench.rs) calls `window.__throughput.run(name, url)` and
// reads `{events, bytes, content, last, end, ms, allocs}` (`{body, ms}` from a floor). An external module script, so the page runs under a
// Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval'.
import init, * as wasm from "./pkg/throughput.js";
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

async function eventsourceParser(url, json) {
  let events = 0;
  let bytes = 0;
  let content = 0;
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
        if (json) {
          content += JSON.parse(e.data).choices[0].delta.content.length;
        }
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
  return { events, bytes, content, last, end, ms };
}

// The floor: a loop that only reads the body's chunks (counting their bytes) until it ends.
async function readChunksOnly(url) {
  const started = performance.now();
  const response = await fetch(url, {
    cache: "no-store",
    headers: { Accept: "text/event-stream" },
  });
  const reader = response.body.getReader();
  let body = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    body += value.length;
  }
  return { body, ms: performance.now() - started };
}

const RUNNERS = {
  "websse-fetch": (url, json) => wasm.run_websse(url, "fetch", json),
  "websse-batch": (url, json) => wasm.run_websse_batch(url, json),
  "websse-eventsource": (url, json) => wasm.run_websse(url, "event-source", json),
  "websse-shared-1": (url, json) => wasm.run_websse_shared(url, 1, json),
  "websse-shared-4": (url, json) => wasm.run_websse_shared(url, 4, json),
  "websse-fanout-4": (url, json) => wasm.run_websse_fanout(url, 4, json),
  "websse-shared-4-batch": (url, json) => wasm.run_websse_shared_batch(url, 4, json),
  "native-eventsource": nativeEventSource,
  "eventsource-parser": eventsourceParser,
  "floor-js": readChunksOnly,
  "floor-wasm": (url) => wasm.run_floor(url),
  "parser-only": (url, json) => wasm.run_parser_only(url, json),
  "split-only": (url, json) => wasm.run_split_only(url, json),
  "items-floor": (url, json) => wasm.run_items_floor(url, json),
  "eventsource-floor": (url) => wasm.run_eventsource_floor(url),
};

const NEEDS = {
  "websse-batch": "run_websse_batch",
  "websse-shared-1": "run_websse_shared",
  "websse-shared-4": "run_websse_shared",
  "websse-fanout-4": "run_websse_fanout",
  "websse-shared-4-batch": "run_websse_shared_batch",
  "floor-wasm": "run_floor",
  "parser-only": "run_parser_only",
  "split-only": "run_split_only",
  "items-floor": "run_items_floor",
  "eventsource-floor": "run_eventsource_floor",
};

const status = document.getElementById("status");
try {
  await init();
  window.__throughput = {
    // Readers whose wasm export this build lacks are left out.
    names: Object.keys(RUNNERS).filter((n) => NEEDS[n] === undefined || typeof wasm[NEEDS[n]] === "function"),
    run(name, url, json) {
      const runner = RUNNERS[name];
      return runner ? runner(url, json) : Promise.reject(new Error(`no runner ${name}`));
    },
  };
  status.textContent = "ready";
  status.dataset.state = "ready";
} catch (e) {
  status.textContent = `failed: ${e}`;
  status.dataset.state = "failed";
}
