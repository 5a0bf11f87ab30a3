// Usage and performance metrics for analytics: counts and timings only, never text.
//
// Events are queued and sent in batches when the page is idle or hidden, never awaited by the
// chat, and dropped silently when the endpoint is missing or down. The analytics ingest route
// (`POST /api/v1/events`) is not on main yet: until it is, `configureMetrics` gets no endpoint and
// events stay in this page (readable as `window.__lorastudioMetrics` for tests and debugging).

const ALLOWED = /^[a-z_]+$/;
const MAX_QUEUE = 200;
let endpoint = null;
let queue = [];
let timer = null;

export function configureMetrics({ url = null, enabled = true } = {}) {
  endpoint = enabled ? url : null;
}

/** Record one event: `fields` must be numbers, booleans or short identifier strings. */
export function track(type, fields = {}) {
  if (!ALLOWED.test(type)) return;
  const event = { type, at: Date.now() };
  for (const [key, value] of Object.entries(fields)) {
    if (!ALLOWED.test(key)) continue;
    if (typeof value === "number" && Number.isFinite(value)) event[key] = Math.round(value * 1000) / 1000;
    else if (typeof value === "boolean") event[key] = value;
    else if (typeof value === "string" && value.length <= 80) event[key] = value;
  }
  if (typeof window !== "undefined") {
    window.__lorastudioMetrics ??= [];
    window.__lorastudioMetrics.push(event);
  }
  if (!endpoint) return;
  queue.push(event);
  if (queue.length > MAX_QUEUE) queue = queue.slice(-MAX_QUEUE);
  timer ??= setTimeout(flush, 5000);
}

export function flush() {
  timer = null;
  if (!endpoint || queue.length === 0) return;
  const batch = queue;
  queue = [];
  try {
    fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: batch }),
      keepalive: true,
    }).catch(() => undefined);
  } catch {
    // dropped: metrics never get in the way
  }
}

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flush();
  });
}
