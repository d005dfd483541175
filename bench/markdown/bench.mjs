// The "re-lex everything per delta" strategy (Streamdown's) with marked: for each answer file
// given, one marked.parse of the whole text, then marked.parse of every prefix in 5-character
// deltas (the same deltas as websse-markdown's bench). Prints the ratio streamed / one-shot.
import { readFileSync } from 'node:fs';
import { marked } from 'marked';

const DELTA = 5;
const now = () => performance.now();

function oneShot(text) {
  // warm the JIT first, or the one-shot time (the ratio's divisor) is the interpreter's
  for (let r = 0; r < 20; r++) marked.parse(text);
  let best = Infinity;
  for (let r = 0; r < 20; r++) {
    const t = now();
    marked.parse(text);
    best = Math.min(best, now() - t);
  }
  return best;
}

function streamed(text) {
  const t = now();
  for (let i = DELTA; i < text.length + DELTA; i += DELTA) {
    marked.parse(text.slice(0, i));
  }
  return now() - t;
}

console.log('\n    marked 16 in Node: re-lex and render the whole answer per 5-char delta');
console.log('    | answer | one-shot ms | streamed ms | ratio |');
console.log('    |-------:|------------:|------------:|------:|');
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const once = oneShot(text);
  const s = streamed(text);
  const kb = (text.length / 1000).toFixed(0);
  console.log(`    | ${kb} KB | ${once.toFixed(2)} | ${s.toFixed(0)} | ${(s / once).toFixed(0)}x |`);
}
