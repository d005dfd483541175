// Loads the module that `wasm-bindgen --target web --out-name app` wrote to pkg/. An external
// module script, so the page runs under a Content-Security-Policy without 'unsafe-inline'.
import init from "./pkg/app.js";

// Violations of that policy are counted on <html data-csp-violations> for the end-to-end test.
document.addEventListener("securitypolicyviolation", () => {
  const root = document.documentElement;
  root.dataset.cspViolations = String(Number(root.dataset.cspViolations || 0) + 1);
});
await init();
