// Inlined into the document's head on every page (app/app.py), a classic script run while the
// document is parsed, before the page's own scripts have loaded: on /chat, with a note of an
// earlier start (warm_start.js), it starts the engine's worker and has it load the noted stored
// model at once, some 150-200 ms before the page's bundle could. The page adopts the worker
// (warm_start.js) or ends it. Anywhere else it does nothing.
//
// The message is the one startEngineWorker (engine_client.js) sends; an inline script cannot
// import it.
try {
  const note = JSON.parse(window.localStorage.getItem("lorastudio.warm-start.v1") ?? "null");
  const onChat = window.location.pathname.replace(/\/+$/, "") === "/chat";
  if (onChat && "gpu" in navigator && /^[0-9a-f]{64}$/.test(note?.sha256 ?? "") && note.options?.wasmBase) {
    const worker = new Worker("/engine/engine_worker.js", { type: "module", name: "lorastudio-engine" });
    const boot = { worker, sha256: note.sha256, options: note.options, error: null };
    worker.addEventListener("error", (event) => {
      boot.error = event.message || "the engine's worker did not load";
    });
    worker.postMessage({ id: 0, op: "init", args: [note.options, { storedSha256: note.sha256 }] });
    performance.mark?.("chat:warm-load");
    window[Symbol.for("lorastudio.warm-boot")] = boot;
  }
} catch {
  // No storage (privacy mode), a damaged note or no workers: the page starts the normal way.
}
