// The warm start: a returning visitor's stored model starts loading into the engine while the page
// is still being put together (React mounting, the capability check, the catalog look-ups) instead
// of after all of it (bench/chat_warm_start.py).
//
// It starts from a note of the last successful start, kept in localStorage: the base model's
// sha256, the engine settings and the page's look-up URLs (public facts; nothing of a
// conversation). The page's look-ups start here too and are shared with it. The page adopts the
// started engine only if the server still names that base model with those settings and the
// browser passed the capability check; otherwise it is released and the normal start runs.
import { MediaPipeEngine } from "./mediapipe_engine.js";
import { fetchCatalog } from "./chat_sources.js";
import { listStored, storageEstimate, storagePersistence, storedFile } from "./model_store.js";

const NOTE_KEY = "lorastudio.warm-start.v1";
const OPTION_KEYS = ["wasmBase", "loraRanks", "loraHeapBudgetBytes", "maxTokens", "topK", "temperature", "randomSeed"];

const UNCLAIMED_MS = 60_000; // a warm start no page claimed by then (left, or never asked) is released

let started = null; // {sha256, options, engine, url, loaded}; null once taken or released

/** Only what decides the instance, in a fixed order, so two notes compare as strings. */
function optionsKey(options) {
  return JSON.stringify(OPTION_KEYS.map((key) => options?.[key] ?? null));
}

function readNote() {
  try {
    const note = JSON.parse(window.localStorage.getItem(NOTE_KEY) ?? "null");
    return /^[0-9a-f]{64}$/.test(note?.sha256 ?? "") && note.options?.wasmBase ? note : null;
  } catch {
    return null; // no storage (privacy mode) or a damaged note: start the normal way
  }
}

const urlsKey = (urls) => JSON.stringify(["configUrl", "apiBase", "indexUrl", "origin"].map((key) => urls?.[key] ?? null));

/** Remember what the engine was started with and where the page looks things up, for the next visit. */
export function rememberWarmStart({ sha256, options, urls }) {
  try {
    const picked = Object.fromEntries(OPTION_KEYS.map((key) => [key, options[key]]));
    window.localStorage.setItem(NOTE_KEY, JSON.stringify({ sha256, options: picked, urls }));
  } catch {
    // Not kept: the next visit starts the normal way.
  }
}

export function forgetWarmStart() {
  try {
    window.localStorage.removeItem(NOTE_KEY);
  } catch {
    // nothing kept
  }
}

/**
 * Start the engine from the noted stored model, once per page load; a no-op without a note or
 * away from `page` (the module may be loaded ahead of a navigation that never comes).
 */
export function beginWarmStart({ page }) {
  if (started !== null || typeof window === "undefined" || !("gpu" in navigator)) return;
  if (window.location.pathname.replace(/\/+$/, "") !== page) return;
  const note = readNote();
  if (!note) return;
  const engine = new MediaPipeEngine(note.options);
  const state = { sha256: note.sha256, options: note.options, engine, url: null, loaded: null };
  // The runtime's JS (a lazy chunk) and the WebGPU device, while the look-ups run, not after them.
  engine.prepare().catch(() => undefined);
  // The page's own look-ups (GPU adapter, stored files, config and catalog) start first and are
  // shared with it (peekWarmStart); the engine starts once they have answered: while it builds,
  // the main thread and the browser's storage are busy for a second or more, and look-ups asked
  // then answer that much later (measured; the page is ready only when both are done).
  state.adapter = navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  state.adapter.catch(() => undefined);
  state.lookups = Promise.all([listStored().catch(() => []), storageEstimate(), storagePersistence()]);
  state.urls = note.urls ?? null;
  state.catalog = state.urls ? fetchCatalog(state.urls) : null;
  state.catalog?.catch(() => undefined);
  // A .bin is there only once verified and complete (model_store.js).
  const stored = storedFile(note.sha256).catch(() => null);
  state.loaded = (async () => {
    await Promise.allSettled([state.adapter, state.lookups, state.catalog]);
    const file = await stored;
    if (!file) throw new Error("the noted model is no longer stored");
    state.url = URL.createObjectURL(file);
    performance.mark?.("chat:warm-load");
    // Streamed from the stored file, as in the normal start: no whole-model JS buffer.
    return engine.load({ url: state.url, stream: true });
  })();
  state.loaded.catch(() => undefined); // a failed warm start is a normal start later, not an error
  started = state;
  setTimeout(() => started === state && takeWarmStart(), UNCLAIMED_MS);
}

/**
 * The warm start's look-ups, for the page to use instead of asking again: {adapter, lookups,
 * catalogFor(urls)} (catalogFor gives the catalog promise if it was asked of the same URLs), or null.
 */
export function peekWarmStart() {
  const state = started;
  if (!state) return null;
  return {
    adapter: state.adapter,
    lookups: state.lookups,
    catalogFor: (urls) => (state.catalog && urlsKey(urls) === urlsKey(state.urls) ? state.catalog : null),
  };
}

/**
 * The started engine, if it was started for `sha256` with `options`: {engine, loaded, url} (`url`,
 * the stored file's object URL, is set once the file is open; the adopter revokes it).
 * Anything else (another model, other settings, nothing asked for) releases it and gives null.
 * Either way the warm start is used up.
 */
export function takeWarmStart({ sha256 = null, options = null } = {}) {
  const state = started;
  started = null;
  if (!state) return null;
  if (sha256 === state.sha256 && optionsKey(options) === optionsKey(state.options)) {
    return state;
  }
  const release = () => {
    state.engine.dispose();
    if (state.url) URL.revokeObjectURL(state.url);
  };
  state.loaded.then(release, release);
  return null;
}
