// Model delivery and the browser's own copies of model files (OPFS), keyed by sha256.
//
// Kept apart from the engine module: this file knows about downloads, storage and digests, never
// about MediaPipe. Base models are written to the Origin Private File System while they download
// (never held whole in memory), resumed with a Range request after an interruption, verified once
// against their sha256 and then handed to the engine as a stream of the stored file. LoRA files
// (a few MB) go through the same store. Nothing here sends anything but plain GETs for model files.

const DIR = "lorastudio-models";
const COMMIT_EVERY = 32 * 1024 * 1024; // flush partial downloads to disk at least this often

export class StoreError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "StoreError";
    this.kind = kind;
  }
}

// ------------------------------------------------------------------------------------------------
// Incremental SHA-256 (crypto.subtle has no streaming digest; models are too big for one buffer).

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export class Sha256 {
  constructor() {
    this.h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Uint32Array(64);
    this.block = new Uint8Array(64);
    this.fill = 0;
    this.length = 0;
  }

  _compress(bytes, offset) {
    const w = this.w;
    for (let i = 0; i < 16; i++) {
      const j = offset + i * 4;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const h = this.h;
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
  }

  update(bytes) {
    let offset = 0;
    this.length += bytes.length;
    if (this.fill) {
      const take = Math.min(64 - this.fill, bytes.length);
      this.block.set(bytes.subarray(0, take), this.fill);
      this.fill += take;
      offset = take;
      if (this.fill < 64) return this;
      this._compress(this.block, 0);
      this.fill = 0;
    }
    for (; offset + 64 <= bytes.length; offset += 64) this._compress(bytes, offset);
    if (offset < bytes.length) {
      this.block.set(bytes.subarray(offset), 0);
      this.fill = bytes.length - offset;
    }
    return this;
  }

  hex() {
    const bits = this.length * 8;
    const tail = new Uint8Array(this.fill + 9 > 64 ? 128 - this.fill : 64 - this.fill);
    tail[0] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    const length = this.length;
    this.update(tail);
    this.length = length;
    return [...this.h].map((x) => (x >>> 0).toString(16).padStart(8, "0")).join("");
  }
}

/** Files up to this size are hashed by WebCrypto in one call (native, off the main thread). */
const ONE_SHOT_DIGEST_BYTES = 64 * 1024 * 1024;

const toHex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * sha256 of a Blob/File. Small files (LoRA adapters) go to crypto.subtle in one piece; big ones are
 * read in 1 MiB slices (never the whole file in memory) hashed in JS, one slice per task, so the
 * page stays responsive while a model verifies.
 */
export async function digestBlob(blob, onProgress) {
  if (blob.size <= ONE_SHOT_DIGEST_BYTES && globalThis.crypto?.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    onProgress?.(blob.size, blob.size);
    return toHex(digest);
  }
  const hash = new Sha256();
  const slice = 1024 * 1024;
  for (let offset = 0; offset < blob.size; offset += slice) {
    hash.update(new Uint8Array(await blob.slice(offset, offset + slice).arrayBuffer()));
    onProgress?.(Math.min(blob.size, offset + slice), blob.size);
  }
  return hash.hex();
}

// ------------------------------------------------------------------------------------------------
// Storage

export function storageSupported() {
  return typeof navigator !== "undefined" && !!navigator.storage?.getDirectory;
}

let directoryHandle = null; // asked once per page: the first ask costs tens of ms (measured)

function directory() {
  if (!storageSupported()) {
    return Promise.reject(new StoreError("no-storage", "This browser cannot keep model files (no Origin Private File System)."));
  }
  directoryHandle ??= navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(DIR, { create: true }));
  directoryHandle.catch(() => {
    directoryHandle = null; // ask again next time
  });
  return directoryHandle;
}

async function fileHandle(dir, name, create = false) {
  try {
    return await dir.getFileHandle(name, { create });
  } catch (error) {
    if (error?.name === "NotFoundError") return null;
    throw error;
  }
}

const checkSha = (sha) => {
  if (!/^[0-9a-f]{64}$/.test(String(sha))) throw new StoreError("config", "A model needs its sha256 (64 hex digits).");
  return sha;
};

async function readMeta(dir, sha) {
  const handle = await fileHandle(dir, `${sha}.json`);
  if (!handle) return null;
  try {
    return JSON.parse(await (await handle.getFile()).text());
  } catch {
    return null;
  }
}

async function writeMeta(dir, sha, meta) {
  const handle = await fileHandle(dir, `${sha}.json`, true);
  const writable = await handle.createWritable();
  await writable.write(JSON.stringify(meta));
  await writable.close();
}

/** Every stored (or partly downloaded) file: [{sha256, name, kind, size, stored, complete, verifiedAt}]. */
export async function listStored() {
  if (!storageSupported()) return [];
  const dir = await directory();
  const found = new Map();
  for await (const [name, handle] of dir.entries()) {
    const match = /^([0-9a-f]{64})\.(bin|part)$/.exec(name);
    if (!match || handle.kind !== "file") continue;
    const file = await handle.getFile();
    const entry = found.get(match[1]) ?? { sha256: match[1], stored: 0, complete: false };
    entry.stored += file.size;
    if (match[2] === "bin") entry.complete = true;
    found.set(match[1], entry);
  }
  const result = [];
  for (const entry of found.values()) {
    const meta = (await readMeta(dir, entry.sha256)) ?? {};
    result.push({ name: meta.name ?? entry.sha256.slice(0, 12), kind: meta.kind ?? "model", size: meta.size ?? null, verifiedAt: meta.verifiedAt ?? null, ...entry });
  }
  return result.sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/** Remove a stored file (complete or partial) and its metadata. */
export async function deleteStored(sha) {
  checkSha(sha);
  const dir = await directory();
  for (const name of [`${sha}.bin`, `${sha}.part`, `${sha}.json`]) {
    await dir.removeEntry(name).catch(() => undefined);
  }
}

/** The verified stored file, or null. A File from OPFS is disk-backed: reading it streams from disk. */
export async function storedFile(sha) {
  checkSha(sha);
  const dir = await directory();
  const handle = await fileHandle(dir, `${sha}.bin`);
  return handle ? handle.getFile() : null;
}

/** Free space as the browser reports it: {quota, usage, free} or null. */
export async function storageEstimate() {
  try {
    if (!navigator.storage?.estimate) return null;
    const { quota = 0, usage = 0 } = await navigator.storage.estimate();
    return { quota, usage, free: Math.max(0, quota - usage) };
  } catch {
    return null;
  }
}

/**
 * Whether the browser keeps stored files until the user deletes them (true), may evict them under
 * storage pressure (false), or cannot say (null). With `request`, asks for persistence first: a
 * 2.6 GB model evicted behind the user's back means another 2.6 GB download.
 */
export async function storagePersistence({ request = false } = {}) {
  try {
    if (request && navigator.storage?.persist) {
      const granted = await navigator.storage.persist();
      if (granted) return true;
    }
    if (!navigator.storage?.persisted) return null;
    return Boolean(await navigator.storage.persisted());
  } catch {
    return null;
  }
}

async function finish(dir, sha, partHandle, meta, onProgress) {
  const file = await partHandle.getFile();
  onProgress?.({ phase: "verify", loaded: 0, total: file.size });
  const digest = await digestBlob(file, (loaded, total) => onProgress?.({ phase: "verify", loaded, total }));
  if (digest !== sha) {
    await dir.removeEntry(`${sha}.part`).catch(() => undefined);
    throw new StoreError(
      "checksum",
      `The downloaded file does not match its checksum (expected ${sha.slice(0, 12)}…, got ${digest.slice(0, 12)}…); it was deleted. Try again.`,
    );
  }
  if (typeof partHandle.move === "function") {
    await partHandle.move(`${sha}.bin`);
  } else {
    const target = await fileHandle(dir, `${sha}.bin`, true);
    const writable = await target.createWritable();
    await file.stream().pipeTo(writable);
    await dir.removeEntry(`${sha}.part`);
  }
  await writeMeta(dir, sha, { ...meta, verifiedAt: new Date().toISOString() });
  return storedFile(sha);
}

/** LoRA files up to this size take the short path (storeSmall); base models always stream to disk. */
const SMALL_FILE_BYTES = 64 * 1024 * 1024;

/** A small file's download, started before the store is asked whether it already has the file. */
function startSmallDownload(entry, signal) {
  const started = performance.now();
  const response = fetch(entry.url, { cache: "no-store", signal });
  response.catch(() => undefined); // awaited (and reported) by storeSmall, or abandoned
  return { started, response };
}

/**
 * A LoRA file (a few MB): downloaded into memory, verified there, written to OPFS in one write, and
 * handed back from memory. An adapter switch then costs about one download: no chunked disk writes,
 * no read-back to verify, no read-back to load (the base model's Range-resume path needs all three).
 */
async function storeSmall(entry, dir, sha, meta, { onProgress, signal, download = null }) {
  const { started, response: responseP } = download ?? startSmallDownload(entry, signal);
  let response;
  try {
    response = await responseP;
  } catch (error) {
    throw new StoreError("network", `The download could not start (${error?.message ?? error}). Check the connection and try again.`);
  }
  if (!response.ok) throw new StoreError("http", `The server answered ${response.status} for ${entry.url}.`);
  let bytes;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch {
    if (signal?.aborted) throw new StoreError("aborted", "Download stopped.");
    throw new StoreError("interrupted", "The download was interrupted; try again.");
  }
  onProgress?.({ phase: "download", loaded: bytes.length, total: entry.size, resumedFrom: 0 });
  if (bytes.length !== entry.size) {
    throw new StoreError("interrupted", `The download stopped after ${bytes.length} of ${entry.size} bytes; try again.`);
  }
  onProgress?.({ phase: "verify", loaded: 0, total: bytes.length });
  const digest = globalThis.crypto?.subtle ? toHex(await crypto.subtle.digest("SHA-256", bytes)) : new Sha256().update(bytes).hex();
  if (digest !== sha) {
    throw new StoreError(
      "checksum",
      `The downloaded file does not match its checksum (expected ${sha.slice(0, 12)}…, got ${digest.slice(0, 12)}…). Try again.`,
    );
  }
  onProgress?.({ phase: "verify", loaded: bytes.length, total: bytes.length });
  // The checked bytes are usable now; keeping them in OPFS runs meanwhile (`stored` settles when
  // done), so an adapter switch waits for one download, not for the disk write too. The write
  // starts in a later task: the caller's own use of the bytes comes first.
  const stored = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const handle = await fileHandle(dir, `${sha}.bin`, true);
    const writable = await handle.createWritable();
    await writable.write(bytes);
    await writable.close(); // atomic: the .bin appears complete or not at all
    await writeMeta(dir, sha, { ...meta, verifiedAt: new Date().toISOString() });
    await dir.removeEntry(`${sha}.part`).catch(() => undefined);
  })();
  let file = null; // a File copies the bytes into the browser's blob store: made only if asked for
  return {
    get file() {
      file ??= new File([bytes], `${sha}.bin`);
      return file;
    },
    bytes,
    stored,
    fromCache: false,
    downloadedBytes: bytes.length,
    resumedFrom: 0,
    downloadMs: performance.now() - started,
  };
}

/**
 * Make sure the file {url, sha256, size, name, kind} is stored and verified; download what is missing.
 * A partial file left by an interrupted download is resumed with `Range: bytes=N-`.
 * onProgress({phase: "download"|"verify", loaded, total, resumedFrom}). Resolves
 * {file, fromCache, downloadedBytes, resumedFrom, downloadMs}; a freshly downloaded small file also
 * {bytes, stored} (its checked bytes, and a promise of its OPFS copy).
 * `missing: true` (the caller's list of stored files lacks it) starts a small file's download
 * before the store is asked, so the download does not wait for the page's other work; if the
 * store has the file after all, the download is dropped.
 */
export async function ensureStored(entry, { onProgress, signal, missing = false } = {}) {
  const sha = checkSha(entry.sha256);
  const small = (entry.kind ?? "model") === "lora" && entry.size != null && entry.size <= SMALL_FILE_BYTES;
  const early = small && missing ? new AbortController() : null;
  if (early) signal?.addEventListener("abort", () => early.abort(), { once: true });
  const download = early ? startSmallDownload(entry, early.signal) : null;
  const dir = await directory();
  const existing = await fileHandle(dir, `${sha}.bin`);
  if (existing) {
    const file = await existing.getFile();
    if (entry.size == null || file.size === entry.size) {
      early?.abort();
      return { file, fromCache: true, downloadedBytes: 0, resumedFrom: 0, downloadMs: 0 };
    }
    await deleteStored(sha); // wrong size: stale or damaged
  }
  const meta = { name: entry.name, kind: entry.kind ?? "model", size: entry.size ?? null, url: entry.url };
  if (small) {
    return storeSmall(entry, dir, sha, meta, { onProgress, signal: early?.signal ?? signal, download });
  }
  await writeMeta(dir, sha, meta);
  const part = await fileHandle(dir, `${sha}.part`, true);
  let have = (await part.getFile()).size;
  if (entry.size != null && have > entry.size) {
    await dir.removeEntry(`${sha}.part`);
    return ensureStored(entry, { onProgress, signal });
  }
  const started = performance.now();
  const resumedFrom = have;
  if (entry.size == null || have < entry.size) {
    const headers = have > 0 ? { Range: `bytes=${have}-` } : {};
    let response;
    try {
      response = await fetch(entry.url, { headers, cache: "no-store", signal });
    } catch (error) {
      throw new StoreError("network", `The download could not start (${error?.message ?? error}). Check the connection and try again.`);
    }
    if (response.status === 200 && have > 0) {
      have = 0; // the server ignored the Range: start over
    } else if (!response.ok) {
      throw new StoreError("http", `The server answered ${response.status} for ${entry.url}.`);
    } else if (response.status === 206) {
      const range = /^bytes (\d+)-/.exec(response.headers.get("Content-Range") ?? "");
      if (!range || Number(range[1]) !== have) {
        throw new StoreError("http", "The server resumed at the wrong offset; delete the partial file and try again.");
      }
    }
    const total = entry.size ?? (Number(response.headers.get("Content-Length")) || 0) + have;
    let writable = await part.createWritable({ keepExistingData: have > 0 });
    if (have > 0) await writable.seek(have);
    else await writable.truncate(0);
    let sinceCommit = 0;
    let loaded = have;
    const reader = response.body.getReader();
    onProgress?.({ phase: "download", loaded, total, resumedFrom });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writable.write(value);
        loaded += value.length;
        sinceCommit += value.length;
        if (sinceCommit >= COMMIT_EVERY) {
          await writable.close(); // a close commits: an interruption later keeps these bytes
          writable = await part.createWritable({ keepExistingData: true });
          await writable.seek(loaded);
          sinceCommit = 0;
        }
        onProgress?.({ phase: "download", loaded, total, resumedFrom });
      }
    } catch (error) {
      await writable.close().catch(() => undefined); // keep what arrived, for a Range resume
      if (signal?.aborted) throw new StoreError("aborted", "Download paused; it resumes where it stopped.");
      throw new StoreError(
        "interrupted",
        `The download was interrupted after ${loaded} of ${total} bytes; it resumes from there on the next try.`,
      );
    }
    await writable.close();
    if (entry.size != null && loaded < entry.size) {
      throw new StoreError(
        "interrupted",
        `The download stopped after ${loaded} of ${entry.size} bytes; it resumes from there on the next try.`,
      );
    }
  }
  const file = await finish(dir, sha, part, meta, onProgress);
  return { file, fromCache: false, downloadedBytes: file.size - resumedFrom, resumedFrom, downloadMs: performance.now() - started };
}

/** Store a model file the user picked from disk; its sha256 is computed (and checked if expected). */
export async function importFile(file, { expectedSha256 = null, kind = "model", onProgress } = {}) {
  const digest = await digestBlob(file, (loaded, total) => onProgress?.({ phase: "verify", loaded, total }));
  if (expectedSha256 && digest !== expectedSha256) {
    throw new StoreError(
      "checksum",
      `This file is not the expected model (its sha256 starts ${digest.slice(0, 12)}…, the server's model ${expectedSha256.slice(0, 12)}…).`,
    );
  }
  const dir = await directory();
  const target = await fileHandle(dir, `${digest}.bin`, true);
  const writable = await target.createWritable();
  await file.stream().pipeTo(writable);
  await writeMeta(dir, digest, { name: file.name, kind, size: file.size, url: null, verifiedAt: new Date().toISOString() });
  return { sha256: digest, file: await target.getFile() };
}
