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
    baseEntry: String(config["base_model.entry"] ?? ""),
    temperature: Number(config["generation.temperature"] ?? 0.8),
    topK: Number(config["generation.top_k"] ?? 40),
    maxTokens: Number(config["generation.max_tokens"] ?? 1024),
    loraRanks: (config["lora.ranks"] ?? [4, 8, 16]).map(Number),
    loraHeapBudgetMib: Number(config["lora.heap_budget_mib"] ?? 256),
    compareEnabled: config["compare.enabled"] !== false,
    analyticsEnabled: config["analytics.enabled"] !== false,
  };
}

/**
 * The page's public look-ups: its config, then the catalog's base model and adapters. One function
 * for the chat page and its warm start, so both ask the same questions. `urls`: {configUrl, apiBase,
 * indexUrl, origin}, absolute.
 */
export async function fetchCatalog(urls) {
  // The config only names which base model to pick: ask for it and the registered models together.
  const bases = baseModels(urls.apiBase);
  bases.catch(() => undefined);
  const config = await fetchPublicConfig(urls.configUrl);
  const sources = await fetchChatSources({ ...urls, baseEntry: config.baseEntry, bases }).catch((e) => ({
    error: String(e?.message ?? e),
    adapters: [],
  }));
  return { config, sources };
}

/**
 * {base: {id, name, url, sha256, size}, adapters: [{id, name, url, sha256, size, rank, recommended}]}.
 * `bases`: the registered base models, when already asked for.
 * From the catalog API (the registered base model and the published adapters made for it, with
 * their files, in one answer); when no base model is registered, the app's built-in demo models.
 * `recommended` holds an adapter's own generation defaults.
 */
export async function fetchChatSources({ apiBase, indexUrl, origin, baseEntry = "", bases = null }) {
  const fromCatalog = await catalogSources(apiBase, origin, baseEntry, bases ?? baseModels(apiBase)).catch(() => null);
  return fromCatalog ?? demoSources(indexUrl, origin);
}

/** The registered, active base models. */
async function baseModels(apiBase) {
  const { items } = await getJson(`${apiBase}/base-models`);
  return items ?? [];
}

async function catalogSources(apiBase, origin, baseEntry, basesP) {
  const bases = await basesP;
  if (!bases.length) return null;
  const base = bases.find((m) => m.name === baseEntry) ?? bases[0];
  const { items } = await getJson(`${apiBase}/base-models/${encodeURIComponent(base.name)}/adapters`);
  const adapters = (items ?? []).map((item) => {
    const g = item.generation ?? {};
    return {
      id: item.slug,
      name: item.title,
      url: new URL(item.file.url, origin).toString(),
      sha256: item.file.sha256,
      size: item.file.size_bytes,
      rank: item.rank,
      kind: "lora",
      recommended: g.temperature != null ? { temperature: g.temperature, topK: g.top_k, maxTokens: g.max_tokens } : null,
      catalog: true,
    };
  });
  adapters.sort((a, b) => a.id.localeCompare(b.id)); // stable order (popularity changes as people use them)
  return {
    base: {
      id: base.name,
      name: base.title || base.name,
      url: new URL(base.url, origin).toString(),
      sha256: base.sha256,
      size: base.size_bytes,
      kind: "base",
    },
    adapters,
    from: "catalog",
  };
}

async function demoSources(indexUrl, origin) {
  const { models } = await getJson(indexUrl);
  const toEntry = (model) => ({
    id: model.name.replace(/\.bin$/, ""),
    name: model.kind === "base" ? `Demo base model (${model.name})` : `Demo LoRA rank ${model.rank}`,
    url: new URL(model.url, origin).toString(),
    sha256: model.sha256,
    size: model.size,
    rank: model.rank ?? null,
    kind: model.kind,
    recommended: null,
  });
  const base = models.find((model) => model.kind === "base");
  return {
    base: base ? toEntry(base) : null,
    adapters: models.filter((model) => model.kind === "lora").map(toEntry),
    from: "demo",
  };
}

/** Tell the catalog an adapter was loaded (its slug only; counted once per client per day). */
export function recordAdapterDownload(apiBase, slug) {
  try {
    fetch(`${apiBase}/adapters/${encodeURIComponent(slug)}/downloads`, { method: "POST", credentials: "same-origin", keepalive: true }).catch(
      () => undefined,
    );
  } catch {
    // counting is best effort
  }
}
