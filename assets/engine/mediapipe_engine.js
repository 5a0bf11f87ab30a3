// The engine boundary: the ONLY module that imports @mediapipe/tasks-genai.
//
// Everything above it (React components, later a Web Worker) sees a small async API that takes
// URLs, bytes and plain options and returns plain objects, so the runtime can be replaced (MediaPipe
// LLM Inference is in maintenance mode; LiteRT-LM succeeds it) or moved off the main thread without
// touching the UI. Failure modes handled here are documented in docs/mediapipe-web.md §5:
// - creation from a URL hangs now and then, so models are fetched here and passed as bytes;
// - a file under 1 MiB, or garbage behind a TFL3 magic, makes creation hang forever, so files are
//   checked before the runtime sees them and every runtime call is bounded by a timeout;
// - after an engine error the instance is stuck for good, so it is dropped and the next operation
//   creates a fresh one from the kept bytes (never close() after a wasm trap: that froze the page);
// - rejections may be Event objects, arrays of GPU errors or multi-line traces: normalised into
//   {kind, message}.

export const RUNTIME_NAME = "MediaPipe LLM Inference";
export const RUNTIME_VERSION = "0.10.29";

const MIB = 1024 * 1024;
/** The runtime asks for the first 1 MiB of a .bin before anything else; smaller files hang it. */
export const MIN_MODEL_BYTES = MIB;
/** Buffer size below which the runtime itself warns that Gemma2-2b will not fit. */
export const GEMMA_MIN_BUFFER_BYTES = 524550144;
/** Storage wanted to keep the ~2.6 GB base model for the next visit. */
export const GEMMA_STORAGE_BYTES = 3 * 1024 * MIB;

const DEFAULTS = {
  loraRanks: [],
  maxTokens: 512,
  topK: 1,
  temperature: 0.8,
  randomSeed: 1,
  createTimeoutMs: 60000,
  createAttempts: 2, // a creation that times out is retried once on a fresh instance
  loraTimeoutMs: 30000,
  firstTokenTimeoutMs: 120000,
  stallTimeoutMs: 30000,
  minOutputTokens: null,
  // Load the runtime's ES module build and module wasm from wasmBase (the engine worker does).
  moduleRuntime: false,
  // LoRA bytes one instance may copy into its heap (reloads included; there is no unload) before
  // the engine starts a fresh instance instead.
  loraHeapBudgetBytes: 256 * MIB,
};

/** A one-turn prompt for the warm-up generation (its output is thrown away). */
const WARM_UP_PROMPT = "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n";

const now = () => performance.now();

/** Run a synchronous runtime call under a performance measure (benches attribute long tasks). */
function measured(name, fn) {
  const start = now();
  try {
    return fn();
  } finally {
    performance.measure?.(name, { start, end: now() });
  }
}

/** An error the UI can show as is: `kind` is a stable code, `message` one readable sentence. */
export class EngineError extends Error {
  constructor(kind, message, detail) {
    super(message);
    this.name = "EngineError";
    this.kind = kind;
    this.detail = detail;
  }
}

function lines(text) {
  return String(text)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** The one informative line of a MediaPipe status text (drops headers, traces and suffixes). */
function firstUsefulLine(text) {
  const all = lines(text).filter(
    (line) => !line.startsWith("at ") && !line.startsWith("===") && !/^[\w./-]+\.cc:\d+$/.test(line),
  );
  let pick = all.find((line) => !/failed:\s*$/.test(line)) ?? all[0] ?? "";
  const failed = pick.lastIndexOf(" failed: ");
  if (failed >= 0 && /^Calculator::|^CalculatorGraph::/.test(pick)) pick = pick.slice(failed + 9);
  pick = pick.replace(/^(Error|TypeError|RuntimeError):\s*/, "");
  pick = pick.replace(/;\s*WaitUntilIdle failed\s*$/, "");
  pick = pick.replace(/^RET_CHECK failure \([^)]*\)\s*/, "");
  return pick.length > 400 ? `${pick.slice(0, 397)}...` : pick;
}

function classify(message, fallback) {
  const rules = [
    [/Unable to request adapter|reading 'requestAdapter'|navigator\.gpu/i, "no-webgpu"],
    [/Input is too long/i, "prompt-too-long"],
    [/does not support LoRA with rank/i, "lora-rank"],
    [/LoRA/i, "lora"],
    [/No model format matched|Expected 8 bytes|Failed to load TfLite model|not a valid Flatbuffer/i, "bad-model"],
    [/Failed to fetch model/i, "fetch"],
    [/exceeds the max|maximum storage buffer binding size|max buffer size/i, "gpu-limits"],
    [/memory access out of bounds|unreachable|RuntimeError/i, "trap"],
  ];
  for (const [pattern, kind] of rules) if (pattern.test(message)) return kind;
  return fallback;
}

/** Turn anything a promise may reject with into {kind, message, detail}. */
export function describeError(error, fallbackKind = "engine") {
  // By name, not instanceof: an engine error may come from another copy of this module (the
  // warm start's, loaded by the document head) or be rebuilt from a worker's message.
  if (error instanceof EngineError || (error?.name === "EngineError" && error.kind)) return { kind: error.kind, message: error.message, detail: error.detail ?? "" };
  if (Array.isArray(error)) {
    const parts = error.map((item) => describeError(item, "gpu"));
    const message = [...new Set(parts.map((p) => p.message))].slice(0, 3).join("; ");
    return { kind: "gpu", message: `The GPU rejected the model's work: ${message}`, detail: message };
  }
  if (typeof Event !== "undefined" && error instanceof Event) {
    const source = error.target?.src || error.target?.href || "";
    return {
      kind: "runtime-files",
      message: `The engine runtime could not be loaded (${error.type}${source ? ` on ${source}` : ""}). Check that the app serves its runtime files.`,
      detail: "",
    };
  }
  const isTrap =
    (typeof WebAssembly !== "undefined" && error instanceof WebAssembly.RuntimeError) || error?.name === "RuntimeError";
  const raw = error instanceof Error || error?.message ? String(error.message) : String(error ?? "Unknown error");
  const message = firstUsefulLine(raw) || "Unknown engine error";
  return { kind: isTrap ? "trap" : classify(raw, fallbackKind), message, detail: raw.slice(0, 4000) };
}

function withTimeout(promise, ms, makeError) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(makeError()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const seconds = (ms) => `${Math.round(ms / 1000)} s`;

export function formatBytes(bytes) {
  if (bytes == null || !Number.isFinite(bytes)) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

// ------------------------------------------------------------------------------------------------
// Capability check

function check(id, label, status, detail, fix = "") {
  return { id, label, status, detail, fix };
}

/**
 * What this browser offers for the engine, with a verdict and what to do about each gap.
 * `adapter`: a pending requestAdapter() to use instead of a new one; `storage: false` leaves the
 * storage check to the caller.
 */
export async function checkCapabilities({ adapter: adapterRequest = null, storage = true } = {}) {
  const result = {
    secureContext: globalThis.isSecureContext === true,
    webgpu: typeof navigator !== "undefined" && !!navigator.gpu,
    adapter: null,
    features: [],
    shaderF16: false,
    limits: {},
    storage: null,
    checks: [],
    verdict: "unsupported",
  };
  const checks = result.checks;
  checks.push(
    result.secureContext
      ? check("secure-context", "Secure context", "pass", "Page served over HTTPS or localhost.")
      : check(
          "secure-context",
          "Secure context",
          "fail",
          "WebGPU is only offered to pages served over HTTPS or from localhost.",
          "Open the app over HTTPS (or on http://localhost).",
        ),
  );
  checks.push(
    result.webgpu
      ? check("webgpu", "WebGPU API", "pass", "navigator.gpu is available.")
      : check(
          "webgpu",
          "WebGPU API",
          "fail",
          "This browser does not expose WebGPU here.",
          "Use a current Chrome or Edge (113 or later) on desktop, or Chrome 121+ on Android. Firefox and Safari need a release with WebGPU turned on.",
        ),
  );
  if (result.webgpu) {
    let adapter = null;
    try {
      adapter = await withTimeout(
        // A request already under way (the chat's warm start) is shared: a second one would wait
        // behind the engine's GPU work.
        adapterRequest ?? navigator.gpu.requestAdapter({ powerPreference: "high-performance" }),
        10000,
        () => new Error("requestAdapter timed out"),
      );
    } catch (error) {
      adapter = null;
      result.adapterError = describeError(error).message;
    }
    if (!adapter) {
      checks.push(
        check(
          "adapter",
          "GPU adapter",
          "fail",
          "WebGPU is present but the browser offers no GPU adapter.",
          "Turn on hardware acceleration in the browser settings and update the GPU driver. On Linux, enable chrome://flags/#enable-unsafe-webgpu (or start Chrome with --enable-unsafe-webgpu).",
        ),
      );
    } else {
      const info = adapter.info ?? {};
      result.adapter = {
        vendor: info.vendor || "",
        architecture: info.architecture || "",
        device: info.device || "",
        description: info.description || "",
        isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      };
      result.features = [...adapter.features].sort();
      result.shaderF16 = adapter.features.has("shader-f16");
      result.limits = {
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      };
      const name = [result.adapter.vendor, result.adapter.architecture, result.adapter.description]
        .filter(Boolean)
        .join(" · ");
      const software = result.adapter.isFallbackAdapter || /swiftshader/i.test(name);
      checks.push(
        software
          ? check(
              "adapter",
              "GPU adapter",
              "warn",
              `Software adapter (${name || "unknown"}): fine for this self-test, far too slow for Gemma2-2b.`,
              "Use a device with a GPU and hardware acceleration turned on for real chats.",
            )
          : check("adapter", "GPU adapter", "pass", name || "Adapter available."),
      );
      checks.push(
        result.shaderF16
          ? check("shader-f16", "16-bit shaders (shader-f16)", "pass", "Supported.")
          : check(
              "shader-f16",
              "16-bit shaders (shader-f16)",
              "warn",
              "Not offered by this adapter; the engine still runs, more slowly and with more memory.",
              "A current Chrome or Edge on a recent GPU driver usually offers it.",
            ),
      );
      const smallest = Math.min(result.limits.maxBufferSize, result.limits.maxStorageBufferBindingSize);
      checks.push(
        smallest >= GEMMA_MIN_BUFFER_BYTES
          ? check(
              "buffer-limits",
              "GPU buffer limits",
              "pass",
              `Largest buffer ${formatBytes(result.limits.maxBufferSize)}, storage binding ${formatBytes(result.limits.maxStorageBufferBindingSize)}.`,
            )
          : check(
              "buffer-limits",
              "GPU buffer limits",
              "warn",
              `Largest GPU buffer ${formatBytes(smallest)}; Gemma2-2b needs at least ${formatBytes(GEMMA_MIN_BUFFER_BYTES)}.`,
              "Use a device with more GPU memory (a recent laptop or desktop GPU).",
            ),
      );
    }
  }
  try {
    if (storage && navigator.storage?.estimate) {
      const { quota = 0, usage = 0 } = await navigator.storage.estimate();
      result.storage = { quota, usage, free: Math.max(0, quota - usage) };
      checks.push(
        result.storage.free >= GEMMA_STORAGE_BYTES
          ? check("storage", "Browser storage", "pass", `${formatBytes(result.storage.free)} available.`)
          : check(
              "storage",
              "Browser storage",
              "warn",
              `${formatBytes(result.storage.free)} available; keeping the 2.6 GB model for the next visit needs about ${formatBytes(GEMMA_STORAGE_BYTES)}.`,
              "Free disk space, or leave private/incognito mode (it limits storage).",
            ),
      );
    }
  } catch {
    // Storage estimates are advisory only.
  }
  const statuses = checks.map((c) => c.status);
  result.verdict = statuses.includes("fail") ? "unsupported" : statuses.includes("warn") ? "limited" : "ready";
  return result;
}

// ------------------------------------------------------------------------------------------------
// Fetching and checking model files

function hasTfliteMagic(bytes) {
  return bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33;
}

function checkModelBytes(bytes, what, size = bytes.length) {
  if (size === 0) throw new EngineError("bad-model", `The ${what} file is empty.`);
  if (!hasTfliteMagic(bytes)) {
    throw new EngineError(
      "bad-model",
      `The ${what} file is not a MediaPipe .bin model (no TFL3 signature). Convert it for the GPU backend first.`,
    );
  }
  if (size < MIN_MODEL_BYTES) {
    throw new EngineError(
      "bad-model",
      `The ${what} file is ${formatBytes(size)}; MediaPipe .bin files are at least ${formatBytes(MIN_MODEL_BYTES)}, so it is truncated or not a model.`,
    );
  }
}

/** GET a model file and check what the headers can tell: status, encoding, announced size. */
async function fetchModelResponse(url, what) {
  let response;
  try {
    response = await fetch(url, { cache: "no-cache" });
  } catch (error) {
    throw new EngineError("fetch", `Could not download the ${what} (${describeError(error).message}).`);
  }
  if (!response.ok) {
    throw new EngineError("fetch", `Could not download the ${what}: the server answered ${response.status} for ${url}.`);
  }
  const encoding = response.headers.get("Content-Encoding");
  const lengthHeader = response.headers.get("Content-Length");
  const total = lengthHeader != null && !encoding ? Number(lengthHeader) : null;
  if (total === 0) throw new EngineError("bad-model", `The ${what} file is empty.`);
  if (total != null && total < MIN_MODEL_BYTES) {
    // Read the first bytes anyway so the message says whether it is a model at all.
    const head = new Uint8Array(await response.arrayBuffer());
    checkModelBytes(head, what, total);
  }
  return { response, total };
}

/** GET a model file, checking status, Content-Length, size and magic; returns its bytes. */
async function fetchModelBytes(url, what, onProgress) {
  const { response, total } = await fetchModelResponse(url, what);
  const reader = response.body.getReader();
  let buffer = total != null ? new Uint8Array(total) : new Uint8Array(4 * MIB);
  let received = 0;
  let checkedMagic = false;
  onProgress?.({ loaded: 0, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > buffer.length) {
      if (total != null) {
        await reader.cancel();
        throw new EngineError("fetch", `The ${what} download is longer than the server announced.`);
      }
      const grown = new Uint8Array(Math.max(buffer.length * 2, received + value.length));
      grown.set(buffer.subarray(0, received));
      buffer = grown;
    }
    buffer.set(value, received);
    received += value.length;
    if (!checkedMagic && received >= 8) {
      checkedMagic = true;
      if (!hasTfliteMagic(buffer)) {
        await reader.cancel();
        checkModelBytes(buffer.subarray(0, received), what, Math.max(received, total ?? 0));
      }
    }
    onProgress?.({ loaded: received, total });
  }
  if (total != null && received !== total) {
    throw new EngineError("fetch", `The ${what} download stopped at ${formatBytes(received)} of ${formatBytes(total)}.`);
  }
  const bytes = total != null ? buffer : buffer.slice(0, received);
  checkModelBytes(bytes, what);
  return bytes;
}

/** Wrap a caller's reader: check the magic on the first bytes and fail short streams clearly. */
async function checkedReader(reader, what, onProgress, total) {
  const head = [];
  let headBytes = 0;
  while (headBytes < 8) {
    const { done, value } = await reader.read();
    if (done) break;
    head.push(value);
    headBytes += value.length;
  }
  const first = new Uint8Array(headBytes);
  let offset = 0;
  for (const chunk of head) {
    first.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    if (headBytes === 0) throw new EngineError("bad-model", `The ${what} file is empty.`);
    if (!hasTfliteMagic(first)) checkModelBytes(first, what, Math.max(headBytes, MIN_MODEL_BYTES));
  } catch (error) {
    reader.cancel().catch(() => undefined);
    throw error;
  }
  let loaded = 0;
  let fail;
  const state = { error: null, failed: new Promise((_, reject) => (fail = reject)) };
  state.failed.catch(() => undefined);
  const stream = new ReadableStream({
    start() {
      onProgress?.({ loaded: 0, total: total ?? null });
    },
    async pull(controller) {
      if (head.length) {
        const chunk = head.shift();
        loaded += chunk.length;
        onProgress?.({ loaded, total: total ?? null });
        controller.enqueue(chunk);
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        if (loaded < MIN_MODEL_BYTES || (total != null && loaded !== total)) {
          state.error =
            loaded < MIN_MODEL_BYTES
              ? new EngineError(
                  "bad-model",
                  `The ${what} stream ended after ${formatBytes(loaded)}; MediaPipe .bin files are at least ${formatBytes(MIN_MODEL_BYTES)}.`,
                )
              : new EngineError("fetch", `The ${what} download stopped at ${formatBytes(loaded)} of ${formatBytes(total)}.`);
          controller.error(state.error);
          fail(state.error);
          return;
        }
        controller.close();
        return;
      }
      loaded += value.length;
      onProgress?.({ loaded, total: total ?? null });
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { reader: stream.getReader(), state };
}

/** GET a model file as a checked stream (nothing kept in memory): for models too big to hold. */
async function fetchModelStream(url, what, onProgress) {
  const { response, total } = await fetchModelResponse(url, what);
  const checked = await checkedReader(response.body.getReader(), what, onProgress, total);
  return { ...checked, size: total };
}

// ------------------------------------------------------------------------------------------------
// The engine

let genaiModule = null;
/**
 * The runtime's JS. Imported lazily: keeps it out of the page bundle and out of server-side
 * rendering. With `moduleBase` (a module worker, which loads this file unbundled and cannot use
 * importScripts) it is the package's ES module build served beside its wasm files.
 */
function loadGenai(moduleBase = null) {
  genaiModule ??= moduleBase
    ? import(/* @vite-ignore */ `${moduleBase}/genai_bundle.mjs`)
    : import("@mediapipe/tasks-genai");
  return genaiModule;
}

const SETTING_KEYS = ["maxTokens", "topK", "temperature", "randomSeed"];

/** Copy the sampling settings given (numbers; null/undefined keep the current value) into `options`. */
export function applySettings(options, settings = {}) {
  for (const key of SETTING_KEYS) {
    if (settings[key] !== undefined && settings[key] !== null) options[key] = Number(settings[key]);
  }
}

/** The options an engine runs with: defaults filled in, ranks sorted and unique. */
export function engineOptions(options = {}) {
  if (!options.wasmBase) throw new EngineError("config", "wasmBase is required");
  const merged = { ...DEFAULTS, ...options, wasmBase: String(options.wasmBase).replace(/\/+$/, "") };
  merged.loraRanks = [...new Set((merged.loraRanks ?? []).map(Number))].sort((a, b) => a - b);
  return merged;
}

/**
 * One model in one runtime instance, re-created on demand.
 *
 * All methods are async and take/return plain data (callbacks aside), so the class can later move
 * into a Web Worker behind a message channel without changing its callers.
 */
export class MediaPipeEngine {
  constructor(options = {}) {
    this.options = engineOptions(options);
    this._instance = null;
    this._instanceKey = null;
    this._model = null; // {bytes: Uint8Array|null, url, size}
    this._device = null; // Promise<GPUDevice|null> from prepare(), for the next creation only
    this._loraBytes = new Map(); // url -> Uint8Array (kept across instances)
    this._loraModels = new Map(); // url -> {model: LoraModel, epoch} (of the current instance only)
    this._resetInstanceState();
    this._queue = Promise.resolve();
    this._generating = null; // {cancelled, instance} while a generation runs
    this._pendingGeneration = null; // the latest generate() call, until it ends
    this._fileset = null;
    this.instancesCreated = 0;
    this.lastCreateMs = null;
    this.createTimeouts = 0; // creations abandoned by the timeout (each one a runtime hang)
    this.createRetries = 0; // creations started again on a fresh instance after a timeout
  }

  /** "empty" (no model), "ready" (instance alive), "standby" (bytes kept, instance to be created). */
  get status() {
    if (this._generating) return "generating";
    if (!this._model) return "empty";
    return this._instance ? "ready" : "standby";
  }

  get generating() {
    return this._generating !== null;
  }

  /**
   * Per-instance LoRA bookkeeping, for two runtime faults (tasks-genai 0.10.29, tiny model, verified):
   * - a LoRA loaded into an instance that has not generated yet breaks its first LoRA generation
   *   ("memory access out of bounds", a wasm trap), so a fresh instance first runs a short
   *   base-model generation (cancelled at its first token);
   * - a LoraModel applied again after another LoRA ran is stale: with a different rank the runtime
   *   rejects it ("Tensor size does not match: ...ffn_layer1_gate.w_prime_left. Expected 4096 but got
   *   2048": buffers sized for the other adapter's rank) or silently gives other output. A handle
   *   is reused only while it is the last-applied one or no other LoRA has run since it was loaded
   *   (`epoch`); otherwise the kept bytes are loaded again (a new handle).
   */
  _resetInstanceState() {
    this._loraModels.clear();
    this._generated = false; // has this instance run a generation?
    this._lastLora = null; // url of the LoRA last applied on this instance
    this._loraEpoch = 0; // +1 each time a generation applies a different LoRA than the last one
    this._loraHeapBytes = 0; // LoRA bytes copied into this instance's heap so far
  }

  _enqueue(operation) {
    const run = this._queue.then(operation, operation);
    this._queue = run.catch(() => undefined);
    return run;
  }

  _settings() {
    const { maxTokens, topK, temperature, randomSeed, loraRanks } = this.options;
    return { maxTokens, topK, temperature, randomSeed, loraRanks };
  }

  /**
   * Load a model and create an instance. `source`: a URL string (downloaded into memory and kept,
   * so later instances start without a download), {url, stream: true} (streamed into the runtime,
   * downloaded again when a fresh instance is needed), a Uint8Array, or {reader, size?} with a
   * ReadableStreamDefaultReader (consumed: a later fresh instance needs another load()).
   * Resolves {bytes, fetchMs, createMs, loadMs}.
   */
  load(source, { onProgress } = {}) {
    return this._enqueue(async () => {
      const started = now();
      this._dropInstance("replaced");
      this._model = null;
      this._loraBytes.clear();
      let model;
      let reader = null;
      let readerState = null;
      if (typeof source === "string") {
        const bytes = await fetchModelBytes(source, "model", onProgress);
        model = { bytes, url: source, size: bytes.length };
      } else if (source?.url && source.stream) {
        let size;
        ({ reader, state: readerState, size } = await fetchModelStream(source.url, "model", onProgress));
        model = { bytes: null, url: source.url, stream: true, size };
      } else if (source instanceof Uint8Array) {
        checkModelBytes(source, "model");
        onProgress?.({ loaded: source.length, total: source.length });
        model = { bytes: source, url: null, size: source.length };
      } else if (source?.reader) {
        ({ reader, state: readerState } = await checkedReader(source.reader, "model", onProgress, source.size));
        model = { bytes: null, url: null, size: source.size ?? null };
      } else {
        throw new EngineError("config", "load() needs a URL, {url, stream: true}, a Uint8Array or {reader}.");
      }
      const fetchMs = now() - started;
      const createStarted = now();
      let first = { asset: reader ?? model.bytes, state: readerState };
      // A consumed caller reader cannot be read again: only URL and byte sources can be retried.
      const reopen = model.stream
        ? async () => fetchModelStream(model.url, "model").then(({ reader: again, state }) => ({ asset: again, state }))
        : model.bytes
          ? async () => ({ asset: model.bytes, state: null })
          : null;
      await this._createGuarded(async () => {
        const next = first ?? (await reopen());
        first = null;
        return next;
      }, reopen !== null);
      this._model = model;
      const createMs = now() - createStarted;
      return { bytes: model.size, fetchMs, createMs, loadMs: now() - started };
    });
  }

  /** Change sampling options; the next operation re-creates the instance from the kept bytes. */
  configure(settings = {}) {
    return this._enqueue(async () => {
      applySettings(this.options, settings);
      return this._settings();
    });
  }

  /**
   * Ahead of the first creation: load the runtime's JS, resolve its wasm files and create the
   * WebGPU device (with the runtime's own createWebGpuDevice: the same adapter, limits and
   * features it would ask for), so that creation starts with the model itself. The device serves
   * the next creation only; later instances ask for their own, as the runtime does.
   */
  prepare() {
    const fileset = this._fileSet();
    if (!this._device && typeof navigator !== "undefined" && navigator.gpu) {
      this._device = loadGenai(this._moduleBase())
        .then(({ LlmInference }) => LlmInference.createWebGpuDevice())
        .catch(() => null); // the creation asks again and reports what is wrong
    }
    return Promise.all([fileset, this._device]).then(() => undefined);
  }

  /** Where the runtime's ES modules come from when this engine runs unbundled (see loadGenai). */
  _moduleBase() {
    return this.options.moduleRuntime ? this.options.wasmBase : null;
  }

  /** The prepared device, once (null without one). */
  async _takeDevice() {
    const device = this._device;
    this._device = null;
    return device ? await device : null;
  }

  async _fileSet() {
    if (!this._fileset) {
      const { FilesetResolver } = await loadGenai(this._moduleBase());
      const modules = Boolean(this._moduleBase());
      this._fileset = FilesetResolver.forGenAiTasks(this.options.wasmBase, modules).catch((error) => {
        this._fileset = null;
        throw error;
      });
    }
    return this._fileset;
  }

  async _create(modelAsset, streamFailed = null) {
    const started = now();
    let instancePromise;
    try {
      if (typeof navigator === "undefined" || !navigator.gpu) {
        throw new EngineError(
          "no-webgpu",
          globalThis.isSecureContext
            ? "This browser does not offer WebGPU. Use a current Chrome or Edge, or turn WebGPU on."
            : "WebGPU needs a secure page: open the app over HTTPS or on localhost.",
        );
      }
      const device = await this._takeDevice();
      const adapter = device ?? (await navigator.gpu.requestAdapter({ powerPreference: "high-performance" }).catch(() => null));
      if (!adapter) {
        throw new EngineError(
          "no-webgpu",
          "WebGPU is turned on but the browser offers no GPU adapter, so the engine cannot start. Enable hardware acceleration (on Linux: chrome://flags/#enable-unsafe-webgpu).",
        );
      }
      const { LlmInference } = await loadGenai(this._moduleBase());
      const fileset = await this._fileSet();
      if (this._moduleBase()) {
        // The runtime takes its wasm factory from a global the loader sets when evaluated, and
        // clears it after each creation; an ES module is evaluated once per worker, so importing it
        // again sets nothing ("ModuleFactory not set" on the second instance). Set it each time.
        globalThis.ModuleFactory ??= (await import(/* @vite-ignore */ fileset.wasmLoaderPath)).default;
        globalThis.custom_dbg ??= console.warn.bind(console);
      }
      const settings = this._settings();
      instancePromise = LlmInference.createFromOptions(fileset, {
        baseOptions: { modelAssetBuffer: modelAsset, ...(device ? { gpuOptions: { device } } : {}) },
        ...settings,
      });
      const instance = await withTimeout(
        // A stream that fails our checks leaves the runtime waiting for bytes: stop waiting too.
        streamFailed ? Promise.race([instancePromise, streamFailed]) : instancePromise,
        this.options.createTimeoutMs,
        () =>
          new EngineError(
            "timeout",
            `The engine did not finish loading the model within ${seconds(this.options.createTimeoutMs)}; the file may be damaged. The next attempt starts a fresh engine.`,
          ),
      );
      this._instance = instance;
      this._instanceKey = JSON.stringify(settings);
      this._resetInstanceState();
      this.instancesCreated += 1;
      this.lastCreateMs = now() - started;
      return instance;
    } catch (error) {
      // A late success of an abandoned creation must not keep its GPU memory.
      instancePromise?.then(
        (late) => {
          try {
            late.close();
          } catch {
            // ignore
          }
        },
        () => undefined,
      );
      throw this._failure(error, "create");
    }
  }

  async _ensureInstance() {
    const key = JSON.stringify(this._settings());
    if (this._instance && this._instanceKey === key) return this._instance;
    this._dropInstance("options changed");
    if (!this._model) throw new EngineError("no-model", "Load a model first.");
    if (this._model.stream) {
      const url = this._model.url;
      return this._createGuarded(async () => {
        const { reader, state } = await fetchModelStream(url, "model");
        return { asset: reader, state };
      }, true);
    }
    if (!this._model.bytes) {
      throw new EngineError("no-model", "The model was streamed from a reader and cannot be reused; load it again.");
    }
    const bytes = this._model.bytes;
    return this._createGuarded(async () => ({ asset: bytes, state: null }), true);
  }

  /**
   * Create an instance from `open()` ({asset, state}), bounded by createTimeoutMs; a creation that
   * times out (the runtime's intermittent hang, mediapipe-web.md §5) is retried on a fresh instance
   * with a freshly opened source, up to createAttempts in all.
   */
  async _createGuarded(open, retryable) {
    const attempts = retryable ? Math.max(1, this.options.createAttempts) : 1;
    for (let attempt = 1; ; attempt += 1) {
      const { asset, state } = await open();
      try {
        return await this._create(asset, state?.failed);
      } catch (error) {
        const failure = state?.error ?? error;
        if (failure?.kind !== "timeout") throw failure;
        this.createTimeouts += 1;
        if (attempt >= attempts) throw failure;
        this.createRetries += 1;
      }
    }
  }

  /** Forget the current instance; close it unless it trapped or hung (close() may freeze then). */
  _dropInstance(reason, { close = true } = {}) {
    const instance = this._instance;
    this._instance = null;
    this._instanceKey = null;
    this._resetInstanceState();
    if (instance && close) {
      try {
        instance.close();
      } catch {
        // The instance is gone either way.
      }
    }
    return reason;
  }

  /** Normalise an error; drop the instance after any engine error so the next call starts fresh. */
  _failure(error, stage) {
    const described = describeError(error, stage === "create" ? "create" : "engine");
    const engineBroken =
      !(error instanceof EngineError) || ["timeout", "trap", "engine-stuck"].includes(described.kind);
    if (engineBroken && this._instance) {
      this._dropInstance(stage, { close: !["timeout", "trap"].includes(described.kind) });
    }
    const failure = new EngineError(described.kind, described.message, described.detail);
    if (failure.kind === "lora-rank") {
      failure.message = `${failure.message}. This engine was set up for LoRA ranks ${this.options.loraRanks.join(", ") || "(none)"}.`;
    }
    return failure;
  }

  /**
   * Fetch (once) and load a LoRA adapter into the current instance (again after another LoRA ran,
   * see _resetInstanceState). Resolves {url, bytes, loadMs, cached}: loadMs covers reading the bytes
   * and the runtime's load. `bytes`, when the caller already holds the file's checked bytes, saves
   * reading them again from `url`.
   */
  loadLora(url, { bytes = null } = {}) {
    if (bytes instanceof Uint8Array && !this._loraBytes.has(url)) this._loraBytes.set(url, bytes);
    return this._enqueue(async () => {
      let instance = await this._ensureInstance();
      instance = await this._roomForLora(instance, url);
      const { model: _model, ...info } = await this._loraFor(instance, url);
      return info; // plain data only: the LoraModel handle stays inside the engine
    });
  }

  /** Whether this engine keeps the bytes of the LoRA `url` (a load needs no download). */
  holdsLora(url) {
    return this._loraBytes.has(url);
  }

  /** Drop a LoRA's kept bytes and handle (its stored copy was deleted): the next use loads it anew. */
  forgetLora(url) {
    this._loraBytes.delete(url);
    this._loraModels.delete(url);
    if (this._lastLora === url) this._lastLora = null;
  }

  /** The handle to apply now: only the last-applied one is safe to reuse (see _resetInstanceState). */
  _usableLora(url) {
    const entry = this._loraModels.get(url);
    if (!entry) return null;
    if (url !== this._lastLora && entry.epoch !== this._loraEpoch) {
      this._loraModels.delete(url); // stale: load the kept bytes again
      return null;
    }
    return entry.model;
  }

  /** A fresh instance when this LoRA would push the instance's heap past its budget. */
  async _roomForLora(instance, url) {
    if (this._usableLora(url)) return instance;
    const size = this._loraBytes.get(url)?.length ?? 0;
    if (this._loraHeapBytes > 0 && this._loraHeapBytes + size > this.options.loraHeapBudgetBytes) {
      this._dropInstance("lora heap budget");
      return this._ensureInstance();
    }
    return instance;
  }

  /** Run a base-model generation on a fresh instance, stopped at its first token, before any LoRA. */
  async _warmUp(instance) {
    if (this._generated) return;
    let stopped = false;
    const pending = instance.generateResponse(WARM_UP_PROMPT, (partial) => {
      if (partial && !stopped) {
        stopped = true;
        instance.cancelProcessing();
      }
    });
    await withTimeout(
      Promise.resolve(pending),
      this.options.firstTokenTimeoutMs,
      () => new EngineError("timeout", `The engine did not answer within ${seconds(this.options.firstTokenTimeoutMs)}; it was reset. Try again.`),
    );
    this._generated = true;
  }

  async _loraFor(instance, url) {
    const started = now();
    const usable = this._usableLora(url);
    if (usable) return { url, model: usable, loadMs: 0, cached: true };
    let bytes = this._loraBytes.get(url);
    if (!bytes) {
      bytes = await fetchModelBytes(url, "LoRA adapter");
      this._loraBytes.set(url, bytes);
    }
    try {
      // Calls are serialised, so a busy instance here is a stuck one: replace it.
      if (!instance.isIdle) throw new EngineError("engine-stuck", "The engine stopped responding; try again.");
      const warmStarted = now();
      await this._warmUp(instance);
      const warmMs = now() - warmStarted; // engine start-up, not LoRA loading
      const model = await withTimeout(
        instance.loadLoraModel(bytes),
        this.options.loraTimeoutMs,
        () => new EngineError("timeout", `The LoRA adapter did not load within ${seconds(this.options.loraTimeoutMs)}.`),
      );
      this._loraModels.set(url, { model, epoch: this._loraEpoch });
      this._loraHeapBytes += bytes.length;
      performance.measure?.("engine:lora-load", { start: started + warmMs, end: now() });
      return { url, model, bytes: bytes.length, loadMs: now() - started - warmMs, cached: false };
    } catch (error) {
      this._loraBytes.delete(url); // the next attempt downloads it again
      const failure = this._failure(error, "lora");
      if (!(error instanceof EngineError)) {
        failure.message = `The LoRA adapter could not be loaded: ${failure.message}`;
        if (failure.kind === "bad-model" || failure.kind === "engine") failure.kind = "lora";
      }
      throw failure;
    }
  }

  /** Tokens in `text` (queued behind running work): lets the chat fit its history to maxTokens. */
  countTokens(text) {
    return this._enqueue(async () => {
      const instance = await this._ensureInstance();
      try {
        return this._countTokens(instance, text);
      } catch (error) {
        throw this._failure(error, "tokenize");
      }
    });
  }

  /** Tokens in `text` for the current instance (0 for empty text: sizeInTokens("") breaks it). */
  _countTokens(instance, text) {
    if (!text) return 0;
    return measured("engine:sizeInTokens", () => instance.sizeInTokens(text)) ?? 0;
  }

  /**
   * Generate a reply, streaming increments to onText(increment, fullText).
   * Resolves {text, ttftMs, tokens, promptTokens, decodeTokensPerSec, totalMs, increments, cancelled, lora}.
   */
  generate(prompt, { lora = null, onText } = {}) {
    const token = { cancelled: false, instance: null };
    this._pendingGeneration = token;
    return this._enqueue(async () => {
      if (token.cancelled) return this._cancelledBeforeStart(lora);
      if (typeof prompt !== "string" || prompt.trim() === "") {
        throw new EngineError("empty-prompt", "Type a prompt first.");
      }
      this._generating = token;
      try {
        return await this._generate(prompt, lora, onText, token);
      } finally {
        this._generating = null;
        if (this._pendingGeneration === token) this._pendingGeneration = null;
      }
    });
  }

  _cancelledBeforeStart(lora) {
    return {
      text: "",
      ttftMs: null,
      tokens: 0,
      promptTokens: 0,
      decodeTokensPerSec: null,
      totalMs: 0,
      increments: 0,
      cancelled: true,
      lora,
    };
  }

  async _generate(prompt, lora, onText, token) {
    const started = now();
    const instance = await this._ensureInstance();
    token.instance = instance;
    const { maxTokens } = this.options;
    const reserve = this.options.minOutputTokens ?? Math.min(64, Math.max(1, Math.floor(maxTokens / 4)));
    let promptTokens;
    try {
      promptTokens = this._countTokens(instance, prompt);
    } catch (error) {
      throw this._failure(error, "tokenize");
    }
    if (promptTokens + reserve > maxTokens) {
      throw new EngineError(
        "prompt-too-long",
        `The prompt is ${promptTokens} tokens; with ${reserve} tokens kept for the answer, the limit of ${maxTokens} tokens allows at most ${Math.max(0, maxTokens - reserve)} prompt tokens. Shorten the prompt or raise max tokens.`,
      );
    }
    if (lora && !this._usableLora(lora) && this._loraBytes.has(lora)) {
      const fresh = await this._roomForLora(instance, lora);
      if (fresh !== instance) return this._generate(prompt, lora, onText, token);
    }
    const loraModel = lora ? (await this._loraFor(instance, lora)).model : null;
    if (token.cancelled) return this._cancelledBeforeStart(lora);

    const callStarted = now();
    let firstAt = null;
    let lastAt = null;
    let firstChunk = "";
    let increments = 0;
    let text = "";
    let lastProgress = callStarted;
    let stallTimer = null;

    const finalText = await new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn, value) => {
        if (settled) return;
        settled = true;
        clearInterval(stallTimer);
        fn(value);
      };
      stallTimer = setInterval(() => {
        const limit = firstAt === null ? this.options.firstTokenTimeoutMs : this.options.stallTimeoutMs;
        if (now() - lastProgress > limit) {
          finish(
            reject,
            new EngineError(
              "timeout",
              firstAt === null
                ? `No output within ${seconds(limit)}; the engine was reset. Try again.`
                : `Generation stalled for ${seconds(limit)}; the engine was reset. Try again.`,
            ),
          );
        }
      }, 250);
      const listener = (partial, done) => {
        lastProgress = now();
        if (partial) {
          if (firstAt === null) {
            firstAt = lastProgress;
            firstChunk = partial;
          }
          lastAt = lastProgress;
          increments += 1;
          text += partial;
          try {
            onText?.(partial, text);
          } catch (error) {
            console.error("onText callback failed", error);
          }
        }
      };
      try {
        this._generated = true;
        if (loraModel && lora !== this._lastLora) {
          this._loraEpoch += 1;
          this._lastLora = lora;
          this._loraModels.set(lora, { model: loraModel, epoch: this._loraEpoch });
        }
        const pending = loraModel
          ? instance.generateResponse(prompt, loraModel, listener)
          : instance.generateResponse(prompt, listener);
        Promise.resolve(pending).then(
          (value) => finish(resolve, value),
          (error) => finish(reject, error),
        );
      } catch (error) {
        finish(reject, error); // the busy check throws synchronously
      }
    }).catch((error) => {
      throw this._failure(error, "generate");
    });

    const finished = now();
    const output = typeof finalText === "string" && finalText.length >= text.length ? finalText : text;
    let tokens = 0;
    let firstTokens = 0;
    try {
      tokens = this._countTokens(instance, output);
      firstTokens = firstChunk && lastAt > firstAt ? this._countTokens(instance, firstChunk) : 0;
    } catch (error) {
      throw this._failure(error, "tokenize");
    }
    const decodeMs = firstAt !== null && lastAt > firstAt ? lastAt - firstAt : null;
    const decodeTokensPerSec =
      decodeMs && tokens > firstTokens
        ? ((tokens - firstTokens) * 1000) / decodeMs
        : tokens && finished > callStarted
          ? (tokens * 1000) / (finished - callStarted)
          : null;
    return {
      text: output,
      ttftMs: firstAt === null ? null : firstAt - callStarted,
      tokens,
      promptTokens,
      decodeTokensPerSec,
      totalMs: finished - started,
      increments,
      cancelled: token.cancelled,
      lora,
    };
  }

  /** Stop the running generation (it resolves with the partial text) and any queued one. */
  cancel() {
    const pending = this._pendingGeneration;
    if (pending) pending.cancelled = true;
    const running = this._generating;
    if (running) {
      running.cancelled = true;
      try {
        running.instance?.cancelProcessing();
      } catch {
        // Nothing to cancel.
      }
    }
    return Promise.resolve(Boolean(pending || running));
  }

  /** Release the instance and forget the model. */
  dispose() {
    this.cancel();
    this._takeDevice().then((device) => device?.destroy(), () => undefined); // prepared, never used
    return this._enqueue(async () => {
      this._dropInstance("disposed");
      this._model = null;
      this._loraBytes.clear();
    });
  }
}
