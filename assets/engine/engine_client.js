// The page's side of the engine worker (engine_worker.js): MediaPipeEngine's API as messages, plus
// what only the worker does (the warm start's load, adapters fetched and kept by the worker).
// Answers, streamed text and the engine's counters come back. Disposing it ends the worker, which frees its GPU device and wasm
// memory whatever state the runtime was left in.
import { EngineError, applySettings, engineOptions } from "./mediapipe_engine.js";

/** Served from the app's assets (assets/engine/ is published at /engine/), unbundled. */
export const ENGINE_WORKER_URL = "/engine/engine_worker.js";

function rebuildError(error) {
  if (error?.kind) return new EngineError(error.kind, error.message, error.detail);
  const plain = new Error(error?.message ?? "The engine failed.");
  plain.name = error?.name ?? "Error";
  return plain;
}

/**
 * Start an engine worker and, with `storedSha256`, have it load that stored model at once (the
 * warm start: the worker opens the file itself). Returns the worker, for `new WorkerEngine(options,
 * {worker})`; used by the document head before the page's scripts exist (warm_boot.js).
 */
export function startEngineWorker(options, { storedSha256 = null, workerUrl = ENGINE_WORKER_URL } = {}) {
  const worker = new Worker(workerUrl, { type: "module", name: "lorastudio-engine" });
  worker.postMessage({ id: 0, op: "init", args: [options, { storedSha256 }] }); // the worker's engine fills in defaults
  return worker;
}

export class WorkerEngine {
  /** `worker`: one from startEngineWorker (already initialised); otherwise a new one is started. */
  constructor(options = {}, { worker = null, failed = null, storedSha256 = null, workerUrl = ENGINE_WORKER_URL } = {}) {
    this.options = engineOptions(options);
    this.instancesCreated = 0;
    this.lastCreateMs = null;
    this.createTimeouts = 0;
    this.createRetries = 0;
    this._status = "empty";
    this._generations = 0;
    this._calls = new Map(); // id -> {resolve, reject, on}
    this._nextId = 1;
    this._broken = null; // the error every call gets once the worker is gone
    this._worker = worker ?? startEngineWorker(this.options, { storedSha256, workerUrl });
    this._worker.onmessage = ({ data }) => this._receive(data);
    this._worker.onerror = (event) => {
      event.preventDefault?.();
      this._break(
        new EngineError(
          "runtime-files",
          `The engine could not be started (${event.message || "its worker script did not load"}). Check that the app serves its /engine/ files, then reload the page.`,
        ),
      );
    };
    this._worker.onmessageerror = () =>
      this._break(new EngineError("engine", "The engine sent a message the page could not read. Reload the page."));
    if (failed) this._break(new EngineError("runtime-files", `The engine could not be started (${failed}).`));
  }

  get status() {
    return this._generations > 0 ? "generating" : this._status;
  }

  get generating() {
    return this._generations > 0;
  }

  /** The result of the stored model's load that the worker started at init (storedSha256). */
  warmLoaded() {
    return this._call("warmLoaded");
  }

  load(source, { onProgress } = {}) {
    return this._call("load", [source], { onProgress });
  }

  configure(settings = {}) {
    applySettings(this.options, settings); // the page reads them at once; the worker's engine in turn
    return this._call("configure", [settings]);
  }

  /**
   * Make a catalog adapter's LoRA ready in the engine, the worker fetching, verifying and keeping
   * its file itself: entry {url, sha256, size, name}; `missing` (the page's list of stored files
   * lacks it) starts the download before the store is asked. Resolves {key, fromCache, cached,
   * loadMs, ...}: `key` names the adapter in generate({lora}).
   */
  useLora({ url, sha256, size, name }, { missing = false } = {}) {
    return this._call("useLora", [{ url, sha256, size, name }, { missing }]);
  }

  /** Settles when the stored copy of a LoRA this engine just downloaded is written (at once otherwise). */
  loraStored(sha256) {
    return this._call("loraStored", [sha256]);
  }

  /** The LoRA's stored copy was deleted: drop its bytes and handle, so the next use fetches it again. */
  forgetLora(sha256) {
    return this._call("forgetLora", [sha256]).catch(() => undefined);
  }

  countTokens(text) {
    return this._call("countTokens", [text]);
  }

  generate(prompt, { lora = null, onText } = {}) {
    this._generations += 1;
    let full = "";
    const stream = onText
      ? (increment) => {
          full += increment;
          onText(increment, full);
        }
      : undefined;
    return this._call("generate", [prompt, { lora }], { onText: stream }).finally(() => {
      this._generations -= 1;
    });
  }

  cancel() {
    return this._call("cancel").catch(() => false);
  }

  /**
   * End the worker now, whatever it is doing: its instance, GPU device and wasm memory go with it
   * (no close() into a runtime that may have trapped). Pending calls reject.
   */
  dispose() {
    this._worker.terminate();
    this._break(new EngineError("disposed", "This engine was released."));
    return Promise.resolve();
  }

  _call(op, args = [], on = {}) {
    if (this._broken) return Promise.reject(this._broken);
    const id = this._nextId++;
    const events = Object.keys(on).filter((name) => typeof on[name] === "function");
    return new Promise((resolve, reject) => {
      this._calls.set(id, { resolve, reject, on });
      try {
        this._worker.postMessage({ id, op, args, events });
      } catch (error) {
        this._calls.delete(id);
        reject(new EngineError("engine", `The engine cannot take this input (${error?.message ?? error}).`));
      }
    });
  }

  _receive(data) {
    if (data.measures) {
      for (const { name, start, duration } of data.measures) {
        performance.measure?.(name, { start: start - performance.timeOrigin, duration });
      }
      return;
    }
    if (data.state) {
      ({ instancesCreated: this.instancesCreated, lastCreateMs: this.lastCreateMs } = data.state);
      ({ createTimeouts: this.createTimeouts, createRetries: this.createRetries, status: this._status } = data.state);
    }
    const call = this._calls.get(data.id);
    if (!call) return;
    if (data.event) {
      call.on[data.event]?.(...data.values);
      return;
    }
    this._calls.delete(data.id);
    if (data.ok) call.resolve(data.value);
    else call.reject(rebuildError(data.error));
  }

  _break(error) {
    this._broken ??= error;
    for (const call of this._calls.values()) call.reject(this._broken);
    this._calls.clear();
  }
}
