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
  // The config only names which base model to pick: ask for it and the catalog's lists together.
  const lists = catalogLists(urls.apiBase);
  lists.catch(() => undefined);
  const config = await fetchPublicConfig(urls.configUrl);
  const sources = await fetchChatSources({ ...urls, baseEntry: config.baseEntry, lists }).catch((e) => ({
    error: String(e?.message ?? e),
    adapters: [],
  }));
  return { config, sources };
}

/** The registered base models and the published adapters' cards: {bases, cards}. */
async function catalogLists(apiBase) {
  const [{ items: bases }, { items: cards }] = await Promise.all([
    getJson(`${apiBase}/base-models`),
    getJson(`${apiBase}/adapters?per_page=100&sort=popular`),
  ]);
  return { bases: bases ?? [], cards: cards ?? [] };
}

/**
 * {base: {id, name, url, sha256, size}, adapters: [{id, name, url, sha256, size, rank, recommended}]}.
 * `lists`: the catalog's lists (catalogLists) when already asked for.
 * From the catalog API (the registered base model and the published adapters made for it); when no
 * base model is registered, the app's built-in demo models. `recommended` holds an adapter's own
 * generation defaults.
 */
export async function fetchChatSources({ apiBase, indexUrl, origin, baseEntry = "", lists = null }) {
  const fromCatalog = await catalogSources(apiBase, origin, baseEntry, lists ?? catalogLists(apiBase)).catch(() => null);
  return fromCatalog ?? demoSources(indexUrl, origin);
}

async function catalogSources(apiBase, origin, baseEntry, lists) {
  const { bases, cards } = await lists;
  if (!bases.length) return null;
  const base = bases.find((m) => m.name === baseEntry) ?? bases[0];
  // An adapter names the architecture it was trained for; the registration supplies the file.
  const mine = cards.filter((card) => card.base_model === base.architecture || card.base_model === base.name);
  const details = await Promise.all(
    mine.map((card) => getJson(`${apiBase}/adapters/${encodeURIComponent(card.slug)}`).catch(() => null)),
  );
  const adapters = [];
  for (const detail of details) {
    const file = detail?.versions?.[0]?.files?.find((f) => f.role === "mediapipe-lora");
    if (!file?.url) continue;
    const g = detail.generation ?? {};
    adapters.push({
      id: detail.slug,
      name: detail.title,
      url: new URL(file.url, origin).toString(),
      sha256: file.sha256,
      size: file.size_bytes,
      rank: detail.rank,
      kind: "lora",
      recommended: g.temperature != null ? { temperature: g.temperature, topK: g.top_k, maxTokens: g.max_tokens } : null,
      catalog: true,
    });
  }
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
