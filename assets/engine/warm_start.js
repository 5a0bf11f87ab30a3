// The warm start: a returning visitor's stored model starts loading into the engine while the page
// is still being put together (its scripts, React mounting, the capability check, the catalog
// look-ups) instead of after all of it (bench/chat_warm_start.py).
//
// The document's head starts the engine's worker on the noted model (warm_boot.js) before the
// page's own scripts have arrived; this module adopts it when the page's bundle runs (or starts
// one itself when the head did not). The engine builds in its worker: its start does not hold up
// the page's main thread, nor the page's work its start.
//
// It starts from a note of the last successful start, kept in localStorage: the base model's
// sha256, the engine settings and the page's look-up URLs (public facts; nothing of a
// conversation). The page's look-ups start here too and are shared with it. The page adopts the
// started engine only if the server still names that base model with those settings and the
// browser passed the capability check; otherwise it is released and the normal start runs.
import { WorkerEngine } from "./engine_client.js";
import { fetchCatalog } from "./chat_sources.js";
import { listStored, storageEstimate, storagePersistence } from "./model_store.js";

const NOTE_KEY = "lorastudio.warm-start.v1";
const OPTION_KEYS = ["wasmBase", "loraRanks", "loraHeapBudgetBytes", "maxTokens", "topK", "temperature", "randomSeed"];

const UNCLAIMED_MS = 60_000; // a warm start no page claimed by then (left, or never asked) is released

const BOOT = Symbol.for("lorastudio.warm-boot"); // {worker, sha256, options, error}, set by warm_boot.js
let begun = false;
let started = null; // {sha256, options, engine, loaded, ...}; null once taken or released

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
  if (begun || typeof window === "undefined" || !("gpu" in navigator)) return;
  if (window.location.pathname.replace(/\/+$/, "") !== page) return;
  begun = true;
  const note = readNote();
  const boot = window[BOOT];
  delete window[BOOT];
  const adopt = boot && note && boot.sha256 === note.sha256 && optionsKey(boot.options) === optionsKey(note.options);
  if (boot && !adopt) boot.worker.terminate();
  if (!note) return;
  let engine;
  try {
    // The worker (the head's, or a new one) prepares the runtime and loads the stored model itself.
    engine = adopt
      ? new WorkerEngine(note.options, { worker: boot.worker, failed: boot.error })
      : new WorkerEngine(note.options, { storedSha256: note.sha256 });
  } catch {
    return; // no workers here: the normal start
  }
  if (!adopt) performance.mark?.("chat:warm-load");
  const state = { sha256: note.sha256, options: note.options, engine, loaded: engine.warmLoaded() };
  state.loaded.catch(() => undefined); // a failed warm start is a normal start later, not an error
  // The page's own look-ups (GPU adapter, stored files, config and catalog) start here too and are
  // shared with it (peekWarmStart). The engine does not wait for them: it builds in its worker.
  state.adapter = navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  state.adapter.catch(() => undefined);
  state.lookups = Promise.all([listStored().catch(() => []), storageEstimate(), storagePersistence()]);
  state.urls = note.urls ?? null;
  state.catalog = state.urls ? fetchCatalog(state.urls) : null;
  state.catalog?.catch(() => undefined);
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
 * The started engine, if it was started for `sha256` with `options`: {engine, loaded}.
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
  state.engine.dispose(); // ends its worker, mid-start or not
  return null;
}
