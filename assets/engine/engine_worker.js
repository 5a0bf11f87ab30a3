// The engine's own thread: a module worker that owns one MediaPipeEngine; the page talks to it
// through WorkerEngine (engine_client.js). Creating an instance is one ~0.9 s synchronous wasm
// task and each token's work runs here too, so the page's main thread stays free for rendering,
// input and its own look-ups while the model starts and answers.
//
// Loaded unbundled from /engine/ (the page's head may start it before the page's bundle has
// loaded), so the runtime comes from the app's runtime route (moduleRuntime), not from the bundle.
import { MediaPipeEngine } from "./mediapipe_engine.js";
import { ensureStored, storedFile } from "./model_store.js";

let engine = null;
let warm = null; // the warm start's load: the stored model, started at init without waiting for the page
const loraFetches = new Map(); // sha256 -> its download or stored-copy read under way: {bytes, fromCache}
const loraWrites = new Map(); // sha256 -> the OPFS write of a fresh download (settles when kept)

/** The engine's key for an adapter's file: its digest, so a URL change does not reload it. */
const loraKey = (sha256) => `lora:${sha256}`;

/**
 * The adapter's checked bytes: downloaded (status checked, sha256 verified) or read from the stored
 * copy, here in the worker, so a switch costs the page one message and no copy of the file. Calls
 * for a file already on its way share that download; only the first reports it as a download.
 */
function loraBytes(entry, missing) {
  const { sha256 } = entry;
  if (loraFetches.has(sha256)) return loraFetches.get(sha256).then((got) => ({ ...got, fromCache: true }));
  const fetching = (async () => {
    const result = await ensureStored({ ...entry, kind: "lora" }, { missing });
    if (result.stored) {
      const write = Promise.resolve(result.stored).finally(() => loraWrites.delete(sha256));
      write.catch(() => undefined); // reported to whoever asks (loraStored)
      loraWrites.set(sha256, write);
    }
    const bytes = result.bytes ?? new Uint8Array(await result.file.arrayBuffer());
    return { bytes, fromCache: result.fromCache };
  })().finally(() => loraFetches.delete(sha256));
  loraFetches.set(sha256, fetching);
  return fetching;
}

function snapshot() {
  if (!engine) return null;
  const { instancesCreated, lastCreateMs, createTimeouts, createRetries, status } = engine;
  return { instancesCreated, lastCreateMs, createTimeouts, createRetries, status };
}

function plainError(error) {
  return {
    name: error?.name ?? "Error",
    kind: error?.kind ?? null,
    message: String(error?.message ?? error),
    detail: typeof error?.detail === "string" ? error.detail : "",
  };
}

// The engine's measures (engine:*) go to the page's timeline, where the benches read them.
new PerformanceObserver((list) => {
  const measures = list
    .getEntries()
    .map((entry) => ({ name: entry.name, start: performance.timeOrigin + entry.startTime, duration: entry.duration }));
  self.postMessage({ measures });
}).observe({ type: "measure" });

const OPERATIONS = {
  init: ([options, { storedSha256 = null } = {}]) => {
    engine = new MediaPipeEngine({ ...options, moduleRuntime: true });
    if (storedSha256) {
      warm = (async () => {
        await engine.prepare().catch(() => undefined); // the creation reports what is wrong
        const file = await storedFile(storedSha256).catch(() => null); // only verified, complete files
        if (!file) throw new Error("the noted model is no longer stored");
        // Streamed from the stored file, as in the normal start: no whole-model buffer.
        return engine.load({ url: URL.createObjectURL(file), stream: true });
      })();
      warm.catch(() => undefined);
    }
  },
  warmLoaded: () => warm ?? Promise.reject(new Error("no warm start was asked for")),
  load: ([source], on) => engine.load(source, { onProgress: on.onProgress }),
  configure: ([settings]) => engine.configure(settings),
  // entry: {url, sha256, size, name}. Resolves the engine's load info, the key to generate with,
  // and fromCache (false only for the call that downloaded the file).
  useLora: async ([entry, { missing = false } = {}]) => {
    const key = loraKey(entry.sha256);
    let fromCache = true;
    let bytes = null;
    if (!engine.holdsLora(key)) ({ bytes, fromCache } = await loraBytes(entry, missing));
    const info = await engine.loadLora(key, { bytes });
    return { ...info, key, fromCache };
  },
  loraStored: async ([sha256]) => {
    await loraWrites.get(sha256);
  },
  forgetLora: ([sha256]) => engine.forgetLora(loraKey(sha256)),
  countTokens: ([text]) => engine.countTokens(text),
  // Only each increment crosses the thread boundary; the client rebuilds the full text.
  generate: ([prompt, options], on) =>
    engine.generate(prompt, { ...options, onText: on.onText && ((increment) => on.onText(increment)) }),
  cancel: () => engine.cancel(),
  dispose: () => engine.dispose(),
};

self.onmessage = async ({ data }) => {
  const { id, op, args = [], events = [] } = data;
  const on = Object.fromEntries(
    events.map((name) => [name, (...values) => self.postMessage({ id, event: name, values, state: snapshot() })]),
  );
  try {
    const run = OPERATIONS[op];
    if (!run) throw new Error(`unknown engine operation: ${op}`);
    if (op !== "init" && !engine) throw new Error("the engine worker was not initialised");
    const value = await run(args, on);
    self.postMessage({ id, ok: true, value, state: snapshot() });
  } catch (error) {
    self.postMessage({ id, ok: false, error: plainError(error), state: snapshot() });
  }
};
