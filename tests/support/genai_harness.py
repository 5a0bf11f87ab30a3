"""A bare page that drives the real MediaPipe runtime, for checks below the app's engine component.

It serves the npm package's bundle and wasm as installed by the app's build, the app's own
`/files/{sha256}` route (so model and LoRA bytes reach the runtime exactly as the app delivers
them), and one HTML page exposing `window.runGenerations(...)`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.routes.files import file_routes
from tests.support.app_server import free_port

PAGE = """<!doctype html>
<meta charset="utf-8"><title>genai harness</title>
<script type="module">
import { FilesetResolver, LlmInference } from "/genai/genai_bundle.mjs";

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(what + " timed out after " + ms + " ms")), ms)),
  ]);
}

window.runGenerations = async ({ baseUrl, loras, prompt, ranks, maxTokens }) => {
  const fileset = await FilesetResolver.forGenAiTasks("/genai/wasm");
  const res = await fetch(baseUrl);
  if (!res.ok) throw new Error("base model: HTTP " + res.status);
  const buffer = new Uint8Array(await res.arrayBuffer());
  const llm = await withTimeout(
    LlmInference.createFromOptions(fileset, {
      baseOptions: { modelAssetBuffer: buffer },
      maxTokens, topK: 1, randomSeed: 1, loraRanks: ranks,
    }),
    90000, "createFromOptions");
  const out = { base: await withTimeout(llm.generateResponse(prompt), 90000, "base generation") };
  for (const [label, url] of Object.entries(loras)) {
    const lora = await withTimeout(llm.loadLoraModel(url), 30000, "loadLoraModel " + label);
    out[label] = await withTimeout(llm.generateResponse(prompt, lora), 60000, "generation " + label);
  }
  return out;
};
window.harnessReady = true;
</script>
"""

_WASM = {f"genai_wasm{v}_internal.{e}" for v in ("", "_nosimd", "_module") for e in ("js", "wasm")}


def harness_app(package_dir: Path) -> Starlette:
    async def page(_: Request) -> Response:
        return HTMLResponse(PAGE)

    async def bundle(_: Request) -> Response:
        return FileResponse(package_dir / "genai_bundle.mjs", media_type="text/javascript")

    async def wasm(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _WASM:
            return PlainTextResponse("not found", status_code=404)
        media = "application/wasm" if name.endswith(".wasm") else "text/javascript"
        return FileResponse(package_dir / "wasm" / name, media_type=media)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/genai/genai_bundle.mjs", bundle),
            Route("/genai/wasm/{name}", wasm),
            *file_routes(),
        ]
    )


class HarnessServer:
    def __init__(self, package_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(harness_app(package_dir), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> HarnessServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("harness server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
