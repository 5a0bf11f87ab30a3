// Where the chat gets its base model, adapters and defaults: one place to point at the catalog API.
//
// Until the catalog lands, the base model and adapters are the app's tiny demo models
// (`/runtime/models/index.json`, with sizes and sha256). Only plain GETs of public metadata.

async function getJson(url) {
  const response = await fetch(url, { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

/** Generation defaults and engine settings from the server's public run-time config. */
export async function fetchPublicConfig(configUrl) {
  const config = await getJson(configUrl).catch(() => ({}));
  return {
    temperature: Number(config["generation.temperature"] ?? 0.8),
    topK: Number(config["generation.top_k"] ?? 40),
    maxTokens: Number(config["generation.max_tokens"] ?? 1024),
    loraRanks: (config["lora.ranks"] ?? [4, 8, 16]).map(Number),
    compareEnabled: config["compare.enabled"] !== false,
    analyticsEnabled: config["analytics.enabled"] !== false,
  };
}

/**
 * {base: {id, name, url, sha256, size}, adapters: [{id, name, url, sha256, size, rank, recommended}]}.
 * `recommended` holds an adapter's own generation defaults (none for the demo adapters).
 */
export async function fetchChatSources(indexUrl, origin) {
  const { models } = await getJson(indexUrl);
  const toEntry = (model) => ({
    id: model.name.replace(/\.bin$/, ""),
    name: model.kind === "base" ? `Demo base model (${model.name})` : `Demo LoRA rank ${model.rank}`,
    url: new URL(model.url, origin).toString(),
    sha256: model.sha256,
    size: model.size,
    rank: model.rank ?? null,
    kind: model.kind,
    recommended: model.recommended ?? null,
  });
  const base = models.find((model) => model.kind === "base");
  return {
    base: base ? toEntry(base) : null,
    adapters: models.filter((model) => model.kind === "lora").map(toEntry),
  };
}
