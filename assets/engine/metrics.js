// Usage and performance metrics for analytics: counts and timings only, never text.
//
// Event names and fields follow the analytics ingest schema (docs/analytics.md; POST /api/v1/events,
// body {"events": [...]}, envelope v/session_id/app_version/browser/gpu_*). Events are queued and
// sent in batches (every few seconds, and when the page is hidden), never awaited by the chat, and
// dropped silently when the endpoint is missing or down; a 204 (analytics off, Do Not Track, opted
// out) stops sending for this page. Events are also kept in `window.__lorastudioMetrics` for tests
// and debugging.

const APP_VERSION = "0.1.0";
const KEY = /^[a-z_]+$/;
const MAX_QUEUE = 200;
const GPU_VENDORS = new Set(["nvidia", "amd", "intel", "apple", "qualcomm", "arm", "imagination", "samsung", "google", "microsoft", "mesa"]);
const ERROR_KINDS = {
  "no-webgpu": "webgpu_unavailable",
  fetch: "model_download_failed",
  network: "network",
  interrupted: "model_download_failed",
  http: "model_download_failed",
  checksum: "model_invalid",
  "bad-model": "model_invalid",
  "gpu-limits": "out_of_memory",
  lora: "lora_load_failed",
  "lora-rank": "lora_load_failed",
  "no-storage": "storage_quota",
};

let endpoint = null;
let queue = [];
let timer = null;
const envelope = { v: 1, session_id: sessionId(), app_version: APP_VERSION, browser: browserFamily(), gpu_vendor: "unknown" };

function sessionId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto?.getRandomValues?.(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function browserFamily() {
  const ua = typeof navigator === "undefined" ? "" : navigator.userAgent;
  if (/Edg\//.test(ua)) return "edge";
  if (/OPR\//.test(ua)) return "opera";
  if (/SamsungBrowser/.test(ua)) return "samsung";
  if (/Firefox\//.test(ua)) return "firefox";
  if (/Chrom(e|ium)\//.test(ua)) return "chrome";
  if (/Safari\//.test(ua)) return "safari";
  return "unknown";
}

export function configureMetrics({ url = null, enabled = true, adapter = null } = {}) {
  endpoint = enabled ? url : null;
  if (adapter) {
    const vendor = String(adapter.vendor || "").toLowerCase();
    envelope.gpu_vendor = GPU_VENDORS.has(vendor) ? vendor : vendor ? "other" : "unknown";
    const arch = String(adapter.architecture || "").toLowerCase();
    if (/^[a-z0-9][a-z0-9._-]{0,31}$/.test(arch)) envelope.gpu_architecture = arch;
  }
}

/** The analytics error kind for an engine/store error kind and stage. */
export function errorKind(kind, stage) {
  if (ERROR_KINDS[kind]) return ERROR_KINDS[kind];
  if (stage === "init") return "engine_init_failed";
  if (stage === "lora") return "lora_load_failed";
  if (stage === "generate") return "generation_failed";
  return "unknown";
}

/** Record one event: fields must be numbers, booleans, short strings or lists of short strings. */
export function track(type, fields = {}) {
  if (!KEY.test(type)) return;
  const event = { ...envelope, type };
  for (const [key, value] of Object.entries(fields)) {
    if (!KEY.test(key) || value == null) continue;
    if (typeof value === "number" && Number.isFinite(value)) event[key] = key.endsWith("_ms") || key.endsWith("tokens") || key === "bytes" || key === "rank" ? Math.max(0, Math.round(value)) : value;
    else if (typeof value === "boolean") event[key] = value;
    else if (typeof value === "string" && value.length <= 80) event[key] = value;
    else if (Array.isArray(value)) event[key] = value.filter((v) => typeof v === "string" && v.length <= 40).slice(0, 16);
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
  clearTimeout(timer);
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
      credentials: "same-origin",
    })
      .then((response) => {
        if (response.status === 204) endpoint = null; // not collected here: stop sending
      })
      .catch(() => undefined);
  } catch {
    // dropped: metrics never get in the way
  }
}

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flush();
  });
}
