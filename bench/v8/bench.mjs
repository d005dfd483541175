// websse-core compiled to wasm32 against eventsource-parser 4.x (+ a streaming TextDecoder), in
// one Node process, on the same bytes. Run by `cargo xtask bench`:
//
//   node bench.mjs NAME=path/to/websse_bench_v8.wasm [NAME=...]... [--reps N] [--shapes a,b]
//
// Each wasm variant is a build of bench/v8 (src/lib.rs: raw exports around websse-core).
// For every shape, before anything is timed, each implementation parses the chunks once and its
// events (type, last event ID, data) must equal eventsource-parser's, event for event.
// Then paired reps: in every rep each implementation parses the whole shape once, in an order
// that rotates from rep to rep; the ratio of a rep is eventsource-parser's time over the
// variant's, and the table shows the median ratio and the median MB/s.
// What is timed for websse-core includes the copy of each chunk into wasm memory and the call;
// for eventsource-parser, the TextDecoder that turns the bytes into the strings it parses.

import { readFileSync } from 'node:fs';
import { createParser } from 'eventsource-parser';

const args = process.argv.slice(2);
let reps = 25;
let only = null;
const variants = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reps') {
    reps = Number(args[++i]);
  } else if (args[i] === '--shapes') {
    only = args[++i].split(',');
  } else {
    const at = args[i].indexOf('=');
    if (at < 1) throw new Error(`expected NAME=path.wasm[#borrowed], got ${args[i]}`);
    // `#borrowed`: the same build, fed through its `feed_with` exports.
    const [path, how] = args[i].slice(at + 1).split('#');
    variants.push({ name: args[i].slice(0, at), path, borrowed: how === 'borrowed' });
  }
}
if (variants.length === 0) throw new Error('no wasm variant given');

const INPUT_CAPACITY = 64 * 1024;

function instantiate(variant) {
  const module = new WebAssembly.Module(readFileSync(variant.path));
  const instance = new WebAssembly.Instance(module, {});
  const ex = instance.exports;
  const ptr = ex.input(INPUT_CAPACITY);
  const feed = variant.borrowed ? ex.feed_borrowed : ex.feed;
  const record = variant.borrowed ? ex.feed_record_borrowed : ex.feed_record;
  return { ...variant, ex, ptr, feed, record, heap: new Uint8Array(ex.memory.buffer) };
}

const wasms = variants.map(instantiate);

// The shapes' bytes, from websse-core's bench generators (through the first variant).
function shapeBytes(id) {
  const ex = wasms[0].ex;
  const len = ex.shape(id);
  const bytes = new Uint8Array(ex.memory.buffer, ex.output_ptr(), len).slice();
  ex.clear_output();
  return bytes;
}

function every(bytes, size) {
  const chunks = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

// One chunk per event: each ends right after a blank line ("\n\n").
function perEvent(bytes) {
  const chunks = [];
  let start = 0;
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 10) {
      chunks.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.length) chunks.push(bytes.subarray(start));
  return chunks;
}

const openai = shapeBytes(0);
const anthropic = shapeBytes(1);
const line8m = shapeBytes(2);
const small = shapeBytes(3);
const shapes = [
  ['openai_1460', openai, every(openai, 1460)],
  ['openai_16', openai, every(openai, 16)],
  ['openai_events', openai, perEvent(openai)],
  ['anthropic_ids_1460', anthropic, every(anthropic, 1460)],
  ['line8m_1460', line8m, every(line8m, 1460)],
  ['line8m_16', line8m, every(line8m, 16)],
  ['small_1460', small, every(small, 1460)],
].filter(([name]) => only === null || only.includes(name));

// --- the implementations, timed as written ---

function runWasm(w, chunks) {
  const ex = w.ex;
  const ptr = w.ptr;
  let heap = w.heap;
  ex.reset();
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    // A view over wasm memory is detached (length 0) once the memory has grown.
    if (heap.byteLength === 0) heap = new Uint8Array(ex.memory.buffer);
    heap.set(chunk, ptr);
    w.feed(chunk.length);
  }
  const total = ex.finish();
  w.heap = heap;
  return total;
}

function runJs(chunks) {
  let total = 0;
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent(event) {
      total += event.data.length;
    },
  });
  for (let i = 0; i < chunks.length; i++) parser.feed(decoder.decode(chunks[i], { stream: true }));
  parser.feed(decoder.decode());
  return total;
}

// --- the agreement check ---

function eventsJs(chunks) {
  const events = [];
  let lastId = '';
  const decoder = new TextDecoder();
  const parser = createParser({
    onEvent(event) {
      // eventsource-parser gives the `id` of this event's block; the last event ID in force
      // (what websse-core reports) carries over from earlier events.
      if (event.id !== undefined) lastId = event.id;
      events.push([event.event ?? 'message', lastId, event.data]);
    },
  });
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  return events;
}

function eventsWasm(w, chunks) {
  const ex = w.ex;
  ex.reset();
  ex.clear_output();
  for (const chunk of chunks) {
    new Uint8Array(ex.memory.buffer).set(chunk, w.ptr);
    w.record(chunk.length);
  }
  ex.finish();
  const out = new Uint8Array(ex.memory.buffer, ex.output_ptr(), ex.output_len()).slice();
  ex.clear_output();
  w.heap = new Uint8Array(ex.memory.buffer);
  const view = new DataView(out.buffer);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const events = [];
  for (let at = 0; at < out.length; ) {
    const event = [];
    for (let field = 0; field < 3; field++) {
      const len = view.getUint32(at, true);
      event.push(decoder.decode(out.subarray(at + 4, at + 4 + len)));
      at += 4 + len;
    }
    events.push(event);
  }
  return events;
}

function check(shape, chunks) {
  const expected = eventsJs(chunks);
  if (expected.length === 0) throw new Error(`${shape}: eventsource-parser saw no events`);
  for (const w of wasms) {
    const got = eventsWasm(w, chunks);
    if (got.length !== expected.length) {
      throw new Error(`${shape}: ${w.name} dispatched ${got.length} events, eventsource-parser ${expected.length}`);
    }
    for (let i = 0; i < got.length; i++) {
      for (let f = 0; f < 3; f++) {
        if (got[i][f] !== expected[i][f]) {
          const what = ['type', 'id', 'data'][f];
          throw new Error(`${shape}: event ${i} differs in its ${what}: ${w.name} ${JSON.stringify(got[i][f].slice(0, 80))}, eventsource-parser ${JSON.stringify(expected[i][f].slice(0, 80))}`);
        }
      }
    }
  }
  return expected.length;
}

// --- timing ---

function time(run) {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const impls = [
  { name: 'eventsource-parser', run: (chunks) => runJs(chunks) },
  ...wasms.map((w) => ({ name: w.name, run: (chunks) => runWasm(w, chunks) })),
];

const results = [];
for (const [shape, bytes, chunks] of shapes) {
  const events = check(shape, chunks);
  // Warm-up: V8 tiers JS and wasm up on hot code.
  for (let i = 0; i < 3; i++) for (const impl of impls) impl.run(chunks);
  const times = impls.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < impls.length; k++) {
      const j = (k + rep) % impls.length;
      times[j].push(time(() => impls[j].run(chunks)));
    }
  }
  const row = { shape, bytes: bytes.length, chunks: chunks.length, events, impls: {} };
  impls.forEach((impl, j) => {
    const ratios = times[j].map((t, rep) => times[0][rep] / t);
    row.impls[impl.name] = { ns: median(times[j]), ratio: median(ratios) };
  });
  results.push(row);
  process.stderr.write(`    ${shape}: ${events} events in ${chunks.length} chunks, checked and timed\n`);
}

// --- the table ---

const mbps = (bytes, ns) => (bytes / ns) * 1e3;
const names = impls.map((impl) => impl.name);
const width = Math.max(18, ...names.map((n) => `ratio ${n}`.length + 2));
console.log(`\nV8 (Node ${process.versions.node}, V8 ${process.versions.v8}): MB/s (higher is better), median of ${reps} paired reps`);
console.log('ratio = eventsource-parser time / websse-core time, median over the reps\n');
let header = 'shape'.padEnd(20);
for (const n of names) header += n.padStart(width);
for (const n of names.slice(1)) header += `ratio ${n}`.padStart(width);
console.log(header);
const worst = {};
for (const row of results) {
  let line = row.shape.padEnd(20);
  for (const n of names) line += mbps(row.bytes, row.impls[n].ns).toFixed(1).padStart(width);
  for (const n of names.slice(1)) {
    const ratio = row.impls[n].ratio;
    line += `${ratio.toFixed(2)}x`.padStart(width);
    if (!(n in worst) || ratio < worst[n][0]) worst[n] = [ratio, row.shape];
  }
  console.log(line);
}
console.log('');
for (const n of names.slice(1)) {
  console.log(`${n}: smallest ratio ${worst[n][0].toFixed(2)}x (${worst[n][1]})`);
}
