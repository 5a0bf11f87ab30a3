// Private chat: Gemma2-2b-it (+ an optional LoRA) running in this browser on WebGPU.
//
// Prompts, answers and conversations stay on this device: nothing here calls a Reflex event or
// posts text anywhere. The server is asked only for public metadata (config, model list) and model
// files. The engine is ./mediapipe_engine.js (the only MediaPipe importer); downloads and the
// browser's copies of model files are ./model_store.js; conversations are ./chat_store.js.
import React, { memo, startTransition, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Badge, Box, Button, Callout, Card, Flex, Heading, Progress, Text, TextArea, TextField } from "@radix-ui/themes";
import { getBackendURL } from "$/utils/state";
import env from "$/env.json";
import { EngineError, checkCapabilities, describeError, formatBytes } from "./mediapipe_engine.js";
import { WorkerEngine } from "./engine_client.js";
import { deleteStored, ensureStored, importFile, listStored, storageEstimate, storagePersistence, storedFile } from "./model_store.js";
import {
  deleteConversation,
  downloadText,
  getConversation,
  listConversations,
  newConversation,
  renameConversation,
  saveConversation,
  toJson,
  toMarkdown,
} from "./chat_store.js";
import { fetchCatalog, recordAdapterDownload } from "./chat_sources.js";
import { configureMetrics, errorKind, track } from "./metrics.js";
import { BlockSplitter, Markdown, splitAll } from "./markdown.jsx";
import { beginWarmStart, forgetWarmStart, peekWarmStart, rememberWarmStart, takeWarmStart } from "./warm_start.js";

// Marks for bench/chat_warm_start.py's breakdown of a start.
if (typeof window !== "undefined") performance.mark?.("chat:module");
// A returning visitor's stored model starts loading now, while the rest of the page loads.
beginWarmStart({ page: "/chat" });

const PAINT_INTERVAL_MS = 100;

/** Resolve in a later task (after rendering), so long work is split across tasks. */
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The conversation list with `conversation`'s summary updated in place (no re-read of the store). */
function upsertSummary(list, conversation) {
  const { id, title, createdAt, updatedAt, messages } = conversation;
  const summary = { id, title, createdAt, updatedAt, count: messages.length };
  return [summary, ...list.filter((item) => item.id !== id)].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}
const END_OF_TURN = "<end_of_turn>";
const NO_ADAPTER = "none";

function backendOrigin() {
  try {
    return getBackendURL(env.PING).origin;
  } catch {
    return window.location.origin;
  }
}

/** Gemma's chat format; the runtime applies no template itself (mediapipe-web.md §3.3). */
export function gemmaPrompt(messages) {
  const turns = messages.map(
    (message) => `<start_of_turn>${message.role === "user" ? "user" : "model"}\n${message.text}${END_OF_TURN}\n`,
  );
  return `${turns.join("")}<start_of_turn>model\n`;
}

/** Text after cleanup: cut at the end-of-turn marker, drop pieces the runtime leaves in. */
function cleanAnswer(text) {
  const cut = text.indexOf(END_OF_TURN);
  return (cut >= 0 ? text.slice(0, cut) : text).replace(/<(pad|bos|eos)>/g, "");
}

const MARKERS = [END_OF_TURN, "<pad>", "<bos>", "<eos>"];

/** Where a marker may start at the end of `text` (held back until it completes), else its length. */
function markerStart(text) {
  for (let i = Math.max(0, text.length - END_OF_TURN.length); i < text.length; i++) {
    if (text[i] === "<") {
      const rest = text.slice(i);
      if (MARKERS.some((marker) => marker.startsWith(rest))) return i;
    }
  }
  return text.length;
}

const fmtMs = (ms) => (ms == null ? "—" : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function fmtEta(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

function ErrorCallout({ error, testid = "chat-error" }) {
  if (!error) return null;
  return (
    <Callout.Root color="red" data-testid={testid} data-kind={error.kind}>
      <Callout.Text>{error.message}</Callout.Text>
    </Callout.Root>
  );
}

const CapabilityList = memo(function CapabilityList({ checks }) {
  return (
    <ul style={{ margin: 0, paddingLeft: 18 }}>
      {checks.map((item) => (
        <li key={item.id} data-testid={`capability-${item.id}`} data-status={item.status}>
          <Text size="2" weight="medium">
            {item.label}:{" "}
          </Text>
          <Text size="2">{item.detail}</Text>
          {item.fix && item.status !== "pass" ? (
            <Text as="div" size="2" color="gray">
              → {item.fix}
            </Text>
          ) : null}
        </li>
      ))}
    </ul>
  );
});

function DownloadProgress({ progress }) {
  if (!progress) return null;
  const { phase, loaded, total, rate, eta } = progress;
  const percent = total ? Math.min(100, (loaded / total) * 100) : 0;
  return (
    <Box data-testid="download-progress" data-phase={phase} data-loaded={loaded} data-total={total ?? ""}>
      <Progress value={percent} />
      <Text as="div" size="2" color="gray" style={{ fontVariantNumeric: "tabular-nums" }}>
        {phase === "verify" ? "Verifying " : phase === "done" ? "Stored " : "Downloading "}
        {formatBytes(loaded)} of {formatBytes(total)} · <span data-testid="download-percent">{percent.toFixed(0)}%</span>
        {phase === "download" ? ` · ${rate ? (rate / 1e6).toFixed(1) : "—"} MB/s · ${fmtEta(eta)} left` : ""}
      </Text>
    </Box>
  );
}

const StoredFiles = memo(function StoredFiles({ files, onDelete, persisted }) {
  return (
    <Box data-testid="stored-files">
      <Text as="div" size="2" weight="medium">
        Stored in this browser
      </Text>
      {persisted === undefined ? null : (
        <Text as="div" size="1" color="gray" data-testid="storage-persistence" data-persisted={String(persisted)}>
          {persisted === true
            ? "Persistent storage: the browser keeps these files until you delete them."
            : persisted === false
              ? "Storage is not persistent: the browser may clear these files when the disk runs low."
              : "This browser does not say whether it keeps these files."}
        </Text>
      )}
      {files.length === 0 ? (
        <Text size="2" color="gray" data-testid="stored-empty">
          Nothing stored yet.
        </Text>
      ) : (
        <ul style={{ margin: 0, paddingLeft: 18 }}>
          {files.map((file) => (
            <li key={file.sha256} data-testid="stored-file" data-kind={file.kind} data-sha256={file.sha256} data-complete={String(file.complete)}>
              <Text size="2">
                {file.name} · {formatBytes(file.stored)}
                {file.complete ? " · verified" : " · partial download"}{" "}
              </Text>
              <Button size="1" variant="ghost" color="red" onClick={() => onDelete(file.sha256)} data-testid="stored-delete">
                Delete
              </Button>
            </li>
          ))}
        </ul>
      )}
    </Box>
  );
});

/**
 * An assistant answer, streaming or finished. While it streams, blocks are split incrementally and
 * painted on a timer; when it ends, the same component (same key, same place in the list) switches
 * to the finished text, so React keeps the answer's DOM and memoised blocks instead of mounting the
 * whole answer again (that remount was a long task at the end of long answers).
 */
function AnswerBody({ stream, text }) {
  const [painted, setPainted] = useState(null); // {stream, view}: the latest paint of a stream
  useEffect(() => {
    if (!stream) return undefined;
    stream.paint = (view) => setPainted({ stream, view });
    return () => {
      stream.paint = null;
    };
  }, [stream]);
  const finished = useMemo(() => (stream ? null : splitAll(text)), [stream, text]);
  const view = stream ? (painted?.stream === stream ? painted.view : stream.splitter.view()) : finished;
  return <Markdown {...view} />;
}

/** One message; memoised, so typing in the input or streaming the next answer leaves earlier ones alone. */
const Message = memo(function Message({ message, index, busy, onEdit, onRegenerate, isLast, stream }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.text);
  const isUser = message.role === "user";
  return (
    <Box
      data-testid="chat-message"
      data-role={message.role}
      data-index={index}
      data-state={message.state ?? "done"}
      style={{
        alignSelf: isUser ? "flex-end" : "stretch",
        background: isUser ? "var(--accent-a3)" : "var(--gray-a2)",
        borderRadius: 8,
        padding: "8px 12px",
        maxWidth: isUser ? "80%" : "100%",
      }}
    >
      {message.dropped ? (
        <Text as="div" size="1" color="amber" data-testid="history-note">
          {message.dropped} earlier message{message.dropped === 1 ? " was" : "s were"} left out to fit the context
          window.
        </Text>
      ) : null}
      {!isUser && message.adapterName ? (
        <Text as="div" size="1" color="gray" data-testid="message-adapter">
          {message.adapterName}
        </Text>
      ) : null}
      {editing ? (
        <Flex direction="column" gap="2">
          <TextArea value={draft} onChange={(e) => setDraft(e.target.value)} data-testid="edit-input" />
          <Flex gap="2">
            <Button
              size="1"
              data-testid="edit-send"
              onClick={() => {
                setEditing(false);
                onEdit(index, draft);
              }}
            >
              Send
            </Button>
            <Button size="1" variant="soft" color="gray" onClick={() => setEditing(false)}>
              Cancel
            </Button>
          </Flex>
        </Flex>
      ) : isUser ? (
        <Text as="div" size="2" style={{ whiteSpace: "pre-wrap" }} data-testid="message-text">
          {message.text}
        </Text>
      ) : (
        <div data-testid="message-text">
          <AnswerBody stream={stream} text={message.text} />
        </div>
      )}
      {!editing && !stream ? (
        <Flex gap="3" mt="1" align="center">
          <Button size="1" variant="ghost" onClick={() => navigator.clipboard?.writeText(message.text).catch(() => undefined)} data-testid="copy-message">
            Copy
          </Button>
          {isUser ? (
            <Button size="1" variant="ghost" disabled={busy} onClick={() => setEditing(true)} data-testid="edit-message">
              Edit
            </Button>
          ) : null}
          {!isUser && isLast ? (
            <Button size="1" variant="ghost" disabled={busy} onClick={onRegenerate} data-testid="regenerate">
              Regenerate
            </Button>
          ) : null}
          {!isUser && message.meta ? (
            <Text size="1" color="gray" data-testid="message-meta" data-tokens={message.meta.tokens} data-tps={message.meta.tps ?? ""} data-cancelled={String(Boolean(message.meta.cancelled))}>
              {message.meta.tokens} tokens · first token {fmtMs(message.meta.ttftMs)} ·{" "}
              {message.meta.tps ? message.meta.tps.toFixed(1) : "—"} tok/s{message.meta.cancelled ? " · stopped" : ""}
            </Text>
          ) : null}
        </Flex>
      ) : null}
    </Box>
  );
});

/** The conversations kept in this browser; memoised so the chat's own updates do not re-render it. */
const ConversationList = memo(function ConversationList({ conversations, activeId, busy, onNew, onOpen, onRenamed, onDeleted }) {
  const [renaming, setRenaming] = useState(null);
  return (
    <Card style={{ width: 240, flexShrink: 0 }} data-testid="conversation-list">
      <Flex direction="column" gap="2">
        <Button
          variant="soft"
          disabled={busy}
          onClick={onNew}
          data-testid="new-conversation"
        >
          New chat
        </Button>
        {conversations.map((item) => (
          <Box key={item.id} data-testid="conversation-item" data-id={item.id} data-active={String(activeId === item.id)}>
            {renaming?.id === item.id ? (
              <Flex gap="1">
                <TextField.Root
                  size="1"
                  value={renaming.title}
                  onChange={(e) => setRenaming({ ...renaming, title: e.target.value })}
                  data-testid="rename-input"
                />
                <Button
                  size="1"
                  data-testid="rename-save"
                  onClick={async () => {
                    const saved = await renameConversation(item.id, renaming.title);
                    setRenaming(null);
                    onRenamed(item.id, saved);
                  }}
                >
                  Save
                </Button>
              </Flex>
            ) : (
              <Flex direction="column">
                <Button variant="ghost" onClick={() => onOpen(item.id)} data-testid="conversation-open" style={{ justifyContent: "flex-start" }}>
                  <span data-testid="conversation-title">{item.title}</span>
                </Button>
                <Flex gap="2">
                  <Button size="1" variant="ghost" onClick={() => setRenaming({ id: item.id, title: item.title })} data-testid="conversation-rename">
                    Rename
                  </Button>
                  <Button
                    size="1"
                    variant="ghost"
                    color="red"
                    disabled={busy}
                    data-testid="conversation-delete"
                    onClick={async () => {
                      await deleteConversation(item.id);
                      onDeleted(item.id);
                    }}
                  >
                    Delete
                  </Button>
                </Flex>
              </Flex>
            )}
          </Box>
        ))}
      </Flex>
    </Card>
  );
});

export function PrivateChat({ wasmBase, modelsIndexUrl, configUrl, apiBase, analyticsUrl }) {
  const origin = useMemo(() => (typeof window === "undefined" ? "" : backendOrigin()), []);
  const catalogUrls = useMemo(
    () =>
      typeof window === "undefined"
        ? null
        : {
            configUrl: new URL(configUrl, origin).toString(),
            apiBase: new URL(apiBase, origin).toString().replace(/\/+$/, ""),
            indexUrl: new URL(modelsIndexUrl, origin).toString(),
            origin,
          },
    [configUrl, apiBase, modelsIndexUrl, origin],
  );
  const [caps, setCaps] = useState(null);
  const [serverConfig, setServerConfig] = useState(null);
  const [sources, setSources] = useState(null);
  const [stored, setStored] = useState([]);
  const storedRef = useRef(stored);
  storedRef.current = stored;
  const [storage, setStorage] = useState(null);
  const [persisted, setPersisted] = useState(undefined); // true|false|null (unknown); undefined before asking
  const [phase, setPhase] = useState("checking"); // checking|blocked|need-model|downloading|loading|ready|error
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState(null);
  const [settings, setSettings] = useState(null);
  const [adapterId, setAdapterId] = useState(NO_ADAPTER);
  const [conversation, setConversation] = useState(null);
  const [conversations, setConversations] = useState([]);
  const [busy, setBusy] = useState(false);
  const [input, setInput] = useState("");
  const [stream, setStream] = useState(null);
  const [engineInfo, setEngineInfo] = useState({ creations: 0, loadMs: null, source: "" });
  const [compare, setCompare] = useState({ open: false, a: NO_ADAPTER, b: NO_ADAPTER, prompt: "", results: null, busy: false });

  const engineRef = useRef(null);
  const modelUrlRef = useRef(null); // object URL of the stored (or picked) model file
  const conversationRef = useRef(null);
  conversationRef.current = conversation;

  const refreshStored = useCallback(async () => {
    setStored(await listStored().catch(() => []));
    setStorage(await storageEstimate());
    setPersisted(await storagePersistence());
  }, []);

  /** Once a model is stored, ask the browser not to evict it (it may say no; the panel shows which). */
  const keepStored = useCallback(async () => {
    setPersisted(await storagePersistence({ request: true }));
  }, []);

  const refreshConversations = useCallback(async () => {
    setConversations(await listConversations().catch(() => []));
  }, []);

  // 1. Capability check, config and model list: before anything is downloaded.
  useEffect(() => {
    let alive = true;
    performance.mark?.("chat:mounted");
    (async () => {
      // Independent look-ups start together; a warm start already asked them (GPU adapter, stored
      // files, config and catalog): its answers are shared, not asked again.
      const early = peekWarmStart();
      const capabilitiesP = checkCapabilities({ adapter: early?.adapter, storage: false });
      const storedP = early?.lookups ?? Promise.all([listStored().catch(() => []), storageEstimate(), storagePersistence()]);
      const [capabilities, { config, sources: chatSources }] = await Promise.all([
        capabilitiesP,
        early?.catalogFor(catalogUrls) ?? fetchCatalog(catalogUrls),
      ]);
      if (!alive) return;
      configureMetrics({
        url: analyticsUrl ? new URL(analyticsUrl, origin).toString() : null,
        enabled: config.analyticsEnabled,
        adapter: capabilities.adapter,
      });
      setServerConfig(config);
      setSettings(initialSettings(config));
      setSources(chatSources);
      const wanted = new URLSearchParams(window.location.search).get("adapter");
      if (wanted && chatSources.adapters?.some((a) => a.id === wanted)) setAdapterId(wanted);
      const [files, estimate, persisted] = await storedP;
      if (!alive) return;
      setStored(files);
      setStorage(estimate);
      setPersisted(persisted);
      const checks = capabilities.checks.filter((c) => c.id !== "storage");
      const base = chatSources.base;
      const have = files.find((f) => base && f.sha256 === base.sha256);
      if (base) {
        const needed = Math.max(0, base.size - (have?.stored ?? 0));
        if (!estimate) {
          checks.push({ id: "storage", label: "Browser storage", status: "warn", detail: "The browser does not say how much space it offers.", fix: "" });
        } else if (have?.complete || estimate.free >= needed) {
          checks.push({ id: "storage", label: "Browser storage", status: "pass", detail: `${formatBytes(estimate.free)} free; the model needs ${formatBytes(base.size)}.`, fix: "" });
        } else {
          checks.push({
            id: "storage",
            label: "Browser storage",
            status: "fail",
            detail: `The model needs ${formatBytes(needed)} of browser storage, but this browser offers only ${formatBytes(estimate.free)}.`,
            fix: "Free disk space, leave private/incognito mode (it limits storage), or delete other stored models below. You can also pick the model file from your disk.",
          });
        }
      }
      const verdict = checks.some((c) => c.status === "fail") ? "unsupported" : checks.some((c) => c.status === "warn") ? "limited" : "ready";
      setCaps({ ...capabilities, checks, verdict });
      performance.mark?.("chat:checked");
      track("page_view", { page: "chat" });
      const capabilityNames = { "secure-context": "secure_context", webgpu: "webgpu", adapter: "gpu_adapter", "shader-f16": "shader_f16", "buffer-limits": "max_buffer_size", storage: "storage_quota" };
      track("capability_check", {
        ok: verdict !== "unsupported",
        missing: checks.filter((c) => c.status !== "pass").map((c) => capabilityNames[c.id]).filter(Boolean),
      });
      if (!base) {
        setError({ kind: "no-model", message: "No base model is registered on this server yet; an operator has to add one." });
        setPhase("error");
      } else if (verdict === "unsupported") {
        setPhase("blocked");
      } else {
        setPhase(have?.complete ? "loading" : "need-model");
      }
      if (!base || verdict === "unsupported" || !have?.complete) takeWarmStart(); // not used: release it
    })();
    refreshConversations();
    return () => {
      alive = false;
    };
  }, [catalogUrls, origin, analyticsUrl, refreshConversations]);

  // The engine: one per page, re-created by the engine module only when settings change.
  /** The engine's options for `current` settings (by default the page's settings now). */
  const engineOptions = useCallback(
    (current = settings) => ({
      wasmBase: new URL(wasmBase, origin).toString(),
      loraRanks: serverConfig?.loraRanks ?? [4, 8, 16],
      loraHeapBudgetBytes: (serverConfig?.loraHeapBudgetMib ?? 256) * 1024 * 1024,
      ...settingsForEngine(current),
    }),
    [wasmBase, origin, serverConfig, settings],
  );
  const engine = useCallback(() => {
    if (!engineRef.current) engineRef.current = new WorkerEngine(engineOptions());
    return engineRef.current;
  }, [engineOptions]);

  // Leaving the page releases the engine's GPU memory.
  useEffect(
    () => () => {
      takeWarmStart(); // an unused warm start is released too
      engineRef.current?.dispose();
      engineRef.current = null;
    },
    [],
  );

  const updateEngineInfo = useCallback((extra = {}) => {
    setEngineInfo((info) => ({ ...info, creations: engineRef.current?.instancesCreated ?? 0, ...extra }));
  }, []);

  const engineReady = useCallback(
    (result, source, { warm = false } = {}) => {
      updateEngineInfo({ loadMs: result.loadMs, source, warm, readyAt: performance.now() });
      track("engine_init", { outcome: "ok", duration_ms: result.createMs });
      performance.mark?.("chat:ready");
      setPhase("ready");
      // The next visit starts this model while its page loads (only the server's own base model),
      // with the settings a page starts with.
      if (["stored", "download", "disk"].includes(source) && sources?.base && serverConfig) {
        rememberWarmStart({ sha256: sources.base.sha256, options: engineOptions(initialSettings(serverConfig)), urls: catalogUrls });
      } else {
        forgetWarmStart();
      }
    },
    [updateEngineInfo, sources, serverConfig, engineOptions, catalogUrls],
  );

  const startEngine = useCallback(
    async (file, source) => {
      setPhase("loading");
      setError(null);
      performance.mark?.("chat:engine-start");
      if (modelUrlRef.current) URL.revokeObjectURL(modelUrlRef.current);
      modelUrlRef.current = URL.createObjectURL(file);
      try {
        // Streamed from the stored file: the page never holds the whole model in a JS buffer.
        const result = await engine().load({ url: modelUrlRef.current, stream: true });
        engineReady(result, source);
      } catch (e) {
        const described = describeError(e);
        track("engine_init", { outcome: "failed", duration_ms: 0 });
        track("error", { kind: errorKind(described.kind, "init"), stage: "init" });
        setError(described);
        setPhase("error");
      }
    },
    [engine, engineReady],
  );

  const downloadModel = useCallback(async () => {
    const base = sources?.base;
    if (!base) return;
    setPhase("downloading");
    setError(null);
    const started = performance.now();
    let lastPaint = 0;
    try {
      const result = await ensureStored(
        { ...base, kind: "base" },
        {
          onProgress: ({ phase: step, loaded, total, resumedFrom }) => {
            const t = performance.now();
            if (t - lastPaint < 100 && loaded !== total) return;
            lastPaint = t;
            const rate = ((loaded - (resumedFrom ?? 0)) * 1000) / Math.max(1, t - started);
            setProgress({ phase: step, loaded, total, rate, eta: rate > 0 ? (total - loaded) / rate : null });
          },
        },
      );
      setProgress((p) => (p ? { ...p, phase: "done", loaded: base.size, total: base.size } : p));
      if (!result.fromCache) {
        track("model_download", { outcome: "ok", source: "network", bytes: result.downloadedBytes, duration_ms: result.downloadMs });
      }
      await refreshStored();
      await keepStored();
      await startEngine(result.file, result.fromCache ? "stored" : "download");
    } catch (e) {
      await refreshStored();
      track("error", { kind: errorKind(e?.kind, "download"), stage: "download" });
      setError({ kind: e?.kind ?? "download", message: e?.message ?? String(e) });
      setPhase("need-model");
    }
  }, [sources, refreshStored, keepStored, startEngine]);

  // A stored, verified model starts the engine at once (no network transfer of the model).
  useEffect(() => {
    if (phase !== "loading" || !sources?.base || engineRef.current) return;
    const startStored = async () => {
      const file = await storedFile(sources.base.sha256).catch(() => null);
      if (file) await startEngine(file, "stored");
      else setPhase("need-model");
    };
    const warm = takeWarmStart({ sha256: sources.base.sha256, options: engineOptions() });
    if (warm) {
      // Started while the page loaded, for this model and these settings: wait for it.
      engineRef.current = warm.engine;
      performance.mark?.("chat:engine-start");
      (async () => {
        try {
          const result = await warm.loaded;
          engineReady(result, "stored", { warm: true });
        } catch {
          // It failed on its own: start the normal way, on a fresh engine.
          warm.engine.dispose();
          if (engineRef.current === warm.engine) engineRef.current = null;
          await startStored();
        }
      })();
      return;
    }
    startStored();
  }, [phase, sources, startEngine, engineOptions, engineReady]);

  const pickFile = useCallback(
    async (file) => {
      if (!file) return;
      setError(null);
      const base = sources?.base;
      const room = storage ? storage.free >= file.size : true;
      try {
        if (room) {
          setPhase("downloading");
          const imported = await importFile(file, {
            expectedSha256: null,
            kind: "base",
            onProgress: ({ phase: step, loaded, total }) => setProgress({ phase: step, loaded, total }),
          });
          await refreshStored();
          await keepStored();
          await startEngine(imported.file, imported.sha256 === base?.sha256 ? "disk" : "disk-other");
        } else {
          await startEngine(file, "disk-unstored"); // used in place, not kept
        }
      } catch (e) {
        setError({ kind: e?.kind ?? "disk", message: e?.message ?? String(e) });
        setPhase("need-model");
      }
    },
    [sources, storage, refreshStored, keepStored, startEngine],
  );

  const removeStored = useCallback(
    async (sha) => {
      await deleteStored(sha);
      await engineRef.current?.forgetLora?.(sha); // a deleted adapter is fetched anew on its next use
      await refreshStored();
    },
    [refreshStored],
  );

  const adapterById = useCallback((id) => sources?.adapters?.find((a) => a.id === id) ?? null, [sources]);

  /**
   * Make the adapter ready in the engine: its file downloaded once (status checked, verified, kept
   * in the browser) and loaded into the running instance, all in the engine's worker. Resolves the
   * key to generate with. `lora_load` times the whole of it, as users wait for all of it.
   */
  const loadAdapter = useCallback(
    async (adapter) => {
      const started = performance.now();
      const engine = engineRef.current;
      try {
        const missing = !storedRef.current.some((f) => f.sha256 === adapter.sha256 && f.complete);
        const info = await engine.useLora(adapter, { missing });
        const durationMs = performance.now() - started;
        // Bookkeeping in a later task: the adapter is ready for the caller first.
        setTimeout(() => {
          if (!info.fromCache) {
            if (adapter.catalog) recordAdapterDownload(catalogUrls.apiBase, adapter.id);
            // The stored copy is written in the background; list it once it is there.
            engine.loraStored(adapter.sha256).then(refreshStored, (e) => console.warn("could not keep the adapter", e));
          }
          if (!info.cached) track("lora_load", { outcome: "ok", duration_ms: durationMs, rank: adapter.rank, adapter_id: adapter.id });
        }, 0);
        return info.key;
      } catch (e) {
        const described = describeError(e, "lora");
        // A file that could not be fetched or did not verify is this adapter's failure too.
        const kind = ["engine", "http", "network", "interrupted", "checksum"].includes(described.kind) ? "lora" : described.kind;
        track("lora_load", { outcome: "failed", duration_ms: performance.now() - started, rank: adapter.rank, adapter_id: adapter.id });
        track("error", { kind: errorKind(kind, "lora"), stage: "lora" });
        const failure = new EngineError(
          kind,
          `The adapter "${adapter.name}" could not be used: ${described.message} Pick another adapter or "No adapter (base model)" to go on.`,
        );
        failure.reported = true; // tracked here, not again as a generation error
        throw failure;
      }
    },
    [refreshStored, catalogUrls],
  );

  const pickedRef = useRef(NO_ADAPTER);
  /**
   * Picking an adapter gets it ready at once (downloaded, checked, loaded into the engine), started
   * here rather than after the render: the first answer with it does not wait for that, and a bad
   * file is reported before anything is typed.
   */
  const pickAdapter = useCallback(
    (id) => {
      performance.mark("chat:adapter-picked"); // bench/chat_adapter_switch.py times a switch from here
      pickedRef.current = id;
      // Rendered as a transition: the page's re-render yields to the download it starts.
      startTransition(() => {
        setError(null);
        setAdapterId(id);
      });
      const adapter = phase === "ready" ? adapterById(id) : null;
      if (!adapter) return;
      loadAdapter(adapter).then(
        () => performance.mark("chat:adapter-ready"),
        (e) => pickedRef.current === id && setError(describeError(e)),
      );
    },
    [phase, adapterById, loadAdapter],
  );

  /** Fit the history to the context: drop the oldest messages until the prompt leaves room to answer. */
  const fitPrompt = useCallback(async (messages) => {
    const maxTokens = engineRef.current.options.maxTokens;
    const room = Math.max(16, Math.floor(maxTokens / 4));
    let start = 0;
    for (;;) {
      const prompt = gemmaPrompt(messages.slice(start));
      if (start >= messages.length - 1) return { prompt, dropped: start };
      const tokens = await engineRef.current.countTokens(prompt);
      if (tokens + room <= maxTokens) return { prompt, dropped: start };
      start += messages[start].role === "user" && messages[start + 1]?.role === "model" ? 2 : 1;
    }
  }, []);

  /** Generate one answer into a stream holder; resolves the finished message. */
  const runGeneration = useCallback(
    async (prompt, id, holder) => {
      const adapter = adapterById(id);
      const lora = adapter ? await loadAdapter(adapter) : null;
      let raw = "";
      let unread = ""; // arrived since the last paint
      let pending = ""; // streamed text not yet shown: it may be the start of a marker
      let ended = false;
      let paintTimer = null;
      // Benchmarks (bench/chat_streaming_cost.py) may set this to see each increment's arrival.
      const probe = typeof window.__lorastudioChatProbe === "function" ? window.__lorastudioChatProbe : null;
      // Text is cleaned and split into blocks once per paint, not once per token: a token costs a
      // string append and a short end-of-turn check, so the engine keeps the CPU (bench/chat_engine_overhead.py).
      const flush = () => {
        if (!unread) return;
        pending += unread;
        unread = "";
        const cut = pending.indexOf(END_OF_TURN);
        let ready;
        if (cut >= 0) {
          ready = pending.slice(0, cut);
          pending = "";
        } else {
          const hold = markerStart(pending);
          ready = pending.slice(0, hold);
          pending = pending.slice(hold);
        }
        ready = ready.replace(/<(pad|bos|eos)>/g, "");
        if (ready) holder.splitter.push(ready);
      };
      const paint = () => {
        paintTimer = null;
        flush();
        holder.paint?.(holder.splitter.view());
      };
      const result = await engineRef.current.generate(prompt, {
        lora,
        onText: (increment) => {
          if (!raw) performance.mark("chat:first-token");
          raw += increment;
          if (ended) return;
          unread += increment;
          // Only the end of the text can complete a marker (constant cost, whatever the length).
          if (raw.slice(-(increment.length + END_OF_TURN.length)).includes(END_OF_TURN)) {
            ended = true;
            engineRef.current.cancel();
          }
          paintTimer ??= setTimeout(paint, PAINT_INTERVAL_MS);
          probe?.(increment);
        },
      });
      clearTimeout(paintTimer);
      flush();
      const hitEnd = raw.includes(END_OF_TURN);
      const meta = {
        tokens: result.tokens,
        ttftMs: result.ttftMs,
        tps: result.decodeTokensPerSec,
        cancelled: result.cancelled && !hitEnd,
        promptTokens: result.promptTokens,
      };
      track("generation_finished", {
        ttft_ms: result.ttftMs,
        decode_tokens_per_s: result.decodeTokensPerSec,
        input_tokens: result.promptTokens,
        output_tokens: result.tokens,
        cancelled: meta.cancelled,
        adapter_id: adapter?.id,
      });
      updateEngineInfo();
      return { role: "model", text: cleanAnswer(result.text || raw), adapterId: adapter?.id ?? null, adapterName: adapter?.name ?? null, meta };
    },
    [adapterById, loadAdapter, updateEngineInfo],
  );

  /** Send `messages` (ending with a user message) and append the answer; saves to IndexedDB. */
  const answer = useCallback(
    async (messages, base) => {
      if (busy || phase !== "ready") return;
      setBusy(true);
      setError(null);
      const holder = { splitter: new BlockSplitter(), paint: null };
      let current = { ...base, messages };
      if (current.title === "New chat") {
        const first = messages.find((m) => m.role === "user")?.text ?? "";
        current.title = first.replace(/\s+/g, " ").trim().slice(0, 48) || "New chat";
      }
      setConversation(current);
      setStream(holder);
      try {
        await engine().configure(settingsForEngine(settings));
        performance.mark("chat:fit");
        const { prompt, dropped } = await fitPrompt(messages);
        performance.mark("chat:generate");
        const reply = await runGeneration(prompt, adapterId, holder);
        performance.mark("chat:finish");
        current = { ...current, messages: [...messages, { ...reply, dropped }] };
      } catch (e) {
        const described = describeError(e);
        if (!e?.reported) track("error", { kind: errorKind(described.kind, "generate"), stage: "generate" });
        setError(described);
      } finally {
        // One render ends the stream, shows the finished message in the same list slot (its DOM
        // kept) and updates the conversation list; the save runs in a later task and renders
        // nothing, and the list is not re-read from the store.
        current = { ...current, updatedAt: new Date().toISOString() };
        const finished = current;
        setConversation(finished);
        setConversations((list) => upsertSummary(list, finished));
        setStream(null);
        setBusy(false);
        await nextTask();
        await saveConversation(finished, { keepUpdatedAt: true }).catch(() => undefined);
        performance.mark("chat:saved");
      }
    },
    [busy, phase, settings, fitPrompt, runGeneration, adapterId, engine],
  );

  const send = useCallback(() => {
    const text = input.trim();
    if (!text || busy) return;
    setInput("");
    const base = conversationRef.current ?? newConversation(adapterId);
    answer([...(base.messages ?? []), { role: "user", text }], base);
  }, [input, busy, adapterId, answer]);

  const stop = useCallback(() => {
    engineRef.current?.cancel();
  }, []);

  const regenerate = useCallback(() => {
    const current = conversationRef.current;
    if (!current) return;
    const messages = [...current.messages];
    while (messages.length && messages[messages.length - 1].role !== "user") messages.pop();
    if (messages.length) answer(messages, current);
  }, [answer]);

  const editAndResend = useCallback(
    (index, text) => {
      const current = conversationRef.current;
      if (!current || !text.trim()) return;
      const messages = [...current.messages.slice(0, index), { role: "user", text: text.trim() }];
      answer(messages, current);
    },
    [answer],
  );

  useEffect(() => {
    const onKey = (event) => {
      if (event.key === "Escape" && engineRef.current?.generating) {
        event.preventDefault();
        stop();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [stop]);

  const clearConversation = useCallback(() => setConversation(null), []);
  const conversationRenamed = useCallback(
    (id, saved) => {
      if (conversationRef.current?.id === id && saved) setConversation(saved);
      refreshConversations();
    },
    [refreshConversations],
  );
  const conversationDeleted = useCallback(
    (id) => {
      if (conversationRef.current?.id === id) setConversation(null);
      refreshConversations();
    },
    [refreshConversations],
  );

  const openConversation = useCallback(async (id) => {
    if (busy) return;
    setConversation((await getConversation(id)) ?? null);
  }, [busy]);

  const runCompare = useCallback(async () => {
    const text = compare.prompt.trim();
    if (!text || busy || phase !== "ready") return;
    setBusy(true);
    setError(null);
    setCompare((c) => ({ ...c, busy: true, results: null }));
    try {
      await engine().configure(settingsForEngine(settings));
      const prompt = gemmaPrompt([{ role: "user", text }]);
      const results = [];
      for (const id of [compare.a, compare.b]) {
        const holder = { splitter: new BlockSplitter(), paint: null };
        results.push(await runGeneration(prompt, id, holder));
      }
      setCompare((c) => ({ ...c, results }));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setCompare((c) => ({ ...c, busy: false }));
      setBusy(false);
      updateEngineInfo();
    }
  }, [compare, busy, phase, settings, engine, runGeneration, updateEngineInfo]);

  const verdict = caps?.verdict ?? "checking";
  const base = sources?.base;
  const messages = conversation?.messages ?? [];
  const streamingName = stream ? adapterById(adapterId)?.name : null;
  const streamingMessage = useMemo(
    () => (stream ? { role: "model", text: "", state: "generating", adapterName: streamingName } : null),
    [stream, streamingName],
  );
  const adapterOptions = [{ id: NO_ADAPTER, name: "No adapter (base model)" }, ...(sources?.adapters ?? [])];

  return (
    <Flex
      direction="column"
      gap="3"
      data-testid="private-chat"
      data-phase={phase}
      data-engine-creations={engineInfo.creations}
      data-model-source={engineInfo.source}
      data-ready-at={engineInfo.readyAt ?? ""}
      data-warm-start={engineInfo.warm ? "adopted" : "no"}
      data-busy={String(busy)}
      data-source={sources?.from ?? ""}
      data-adapter-ids={(sources?.adapters ?? []).map((a) => a.id).join(",")}
      data-base-url={base?.url ?? ""}
    >
      <Card data-testid="chat-capabilities" data-verdict={verdict}>
        <Flex direction="column" gap="2">
          <Flex justify="between" align="center">
            <Heading as="h2" size="3">
              Browser check
            </Heading>
            <Badge color={verdict === "ready" ? "green" : verdict === "limited" ? "amber" : verdict === "checking" ? "gray" : "red"} data-testid="chat-verdict" data-verdict={verdict}>
              {verdict === "checking" ? "Checking…" : verdict === "ready" ? "Ready" : verdict === "limited" ? "Works, with limits" : "Cannot run here"}
            </Badge>
          </Flex>
          {phase === "blocked" ? (
            <Callout.Root color="red" data-testid="chat-blocked">
              <Callout.Text>
                Chat cannot start in this browser as it is now. Nothing has been downloaded. Fix what is marked below, then reload.
              </Callout.Text>
            </Callout.Root>
          ) : null}
          {caps ? <CapabilityList checks={caps.checks} /> : <Text size="2">Asking the browser for a GPU…</Text>}
        </Flex>
      </Card>

      <Card data-testid="model-panel">
        <Flex direction="column" gap="2">
          <Heading as="h2" size="3">
            Model
          </Heading>
          {base ? (
            <Text size="2" data-testid="model-name">
              {base.name} · {formatBytes(base.size)} · sha256 {base.sha256.slice(0, 12)}…
            </Text>
          ) : null}
          {phase === "need-model" ? (
            <Flex gap="2" align="center" wrap="wrap">
              <Button onClick={downloadModel} data-testid="download-model">
                {stored.some((f) => f.sha256 === base?.sha256 && !f.complete) ? "Resume download" : "Download model"} ({formatBytes(base?.size)})
              </Button>
              <Text size="2" color="gray">
                or pick the file from your disk:
              </Text>
              <input type="file" accept=".bin" data-testid="pick-model-file" onChange={(e) => pickFile(e.target.files?.[0])} />
            </Flex>
          ) : null}
          {phase === "downloading" || progress ? <DownloadProgress progress={progress} /> : null}
          {phase === "loading" ? <Text size="2" data-testid="engine-loading">Starting the engine…</Text> : null}
          {phase === "ready" ? (
            <Text size="2" color="green" data-testid="engine-ready">
              Ready to chat · engine started in {fmtMs(engineInfo.loadMs)} from{" "}
              {engineInfo.source === "stored" ? "the copy stored in this browser" : engineInfo.source}
            </Text>
          ) : null}
          {error && phase !== "ready" ? <ErrorCallout error={error} testid="model-error" /> : null}
          <StoredFiles files={stored} onDelete={removeStored} persisted={persisted} />
          {storage ? (
            <Text size="1" color="gray" data-testid="storage-estimate">
              Browser storage: {formatBytes(storage.usage)} used, {formatBytes(storage.free)} free.
            </Text>
          ) : null}
        </Flex>
      </Card>

      <Flex gap="3" align="start" wrap="wrap">
        <ConversationList
          conversations={conversations}
          activeId={conversation?.id ?? null}
          busy={busy}
          onNew={clearConversation}
          onOpen={openConversation}
          onRenamed={conversationRenamed}
          onDeleted={conversationDeleted}
        />

        <Card style={{ flex: 1, minWidth: 320 }} data-testid="chat-panel">
          <Flex direction="column" gap="3">
            <Flex gap="3" align="end" wrap="wrap">
              <Box>
                <Text as="label" htmlFor="adapter-picker" size="1" color="gray" style={{ display: "block" }}>
                  Adapter
                </Text>
                <Picker id="adapter-picker" value={adapterId} onChange={pickAdapter} options={adapterOptions} disabled={busy} />
              </Box>
              {settings ? (
                <SettingsFields settings={settings} setSettings={setSettings} disabled={busy} recommended={adapterById(adapterId)?.recommended} />
              ) : null}
              {conversation?.messages?.length ? (
                <Flex gap="2">
                  <Button size="1" variant="soft" data-testid="export-markdown" onClick={() => downloadText(toMarkdown(conversation), "chat.md", "text/markdown")}>
                    Export Markdown
                  </Button>
                  <Button size="1" variant="soft" data-testid="export-json" onClick={() => downloadText(toJson(conversation), "chat.json", "application/json")}>
                    Export JSON
                  </Button>
                </Flex>
              ) : null}
            </Flex>

            <Flex direction="column" gap="2" data-testid="chat-messages" data-conversation={conversation?.id ?? ""}>
              {messages.length === 0 && !stream ? (
                <Text size="2" color="gray">
                  Your messages and the answers stay in this browser. Nothing you type is sent to the server.
                </Text>
              ) : null}
              {/* One list with the streaming answer last: it keeps its key when it becomes a message. */}
              {(stream ? [...messages, streamingMessage] : messages).map((message, index) => (
                <Message
                  key={`${conversation?.id}-${index}`}
                  message={message}
                  index={index}
                  busy={busy || Boolean(stream)}
                  isLast={index === messages.length - 1}
                  onEdit={editAndResend}
                  onRegenerate={regenerate}
                  stream={message === streamingMessage ? stream : null}
                />
              ))}
            </Flex>
            {error && phase === "ready" ? <ErrorCallout error={error} /> : null}
            <Flex gap="2" align="end">
              <TextArea
                style={{ flex: 1 }}
                placeholder={phase === "ready" ? "Message (Enter sends, Shift+Enter new line, Esc stops)" : "Load the model first"}
                value={input}
                onChange={(e) => setInput(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                    e.preventDefault();
                    send();
                  }
                }}
                data-testid="chat-input"
              />
              {busy ? (
                <Button color="red" onClick={stop} data-testid="stop-button">
                  Stop
                </Button>
              ) : (
                <Button onClick={send} disabled={phase !== "ready" || !input.trim()} data-testid="send-button">
                  Send
                </Button>
              )}
            </Flex>
          </Flex>
        </Card>
      </Flex>

      {serverConfig?.compareEnabled ? (
        <Card data-testid="compare-panel">
          <Flex direction="column" gap="2">
            <Heading as="h2" size="3">
              Compare
            </Heading>
            <Text size="2" color="gray">
              One prompt, two answers from the same loaded base model and the same seed: see what an adapter changes.
            </Text>
            <Flex gap="3" wrap="wrap">
              {["a", "b"].map((side) => (
                <Box key={side}>
                  <Text as="label" htmlFor={`compare-${side}-picker`} size="1" color="gray" style={{ display: "block" }}>
                    {side === "a" ? "Left" : "Right"}
                  </Text>
                  <Picker
                    id={`compare-${side}-picker`}
                    value={compare[side]}
                    onChange={(value) => setCompare((c) => ({ ...c, [side]: value }))}
                    options={adapterOptions}
                    disabled={busy}
                  />
                </Box>
              ))}
            </Flex>
            <Flex gap="2" align="end">
              <TextArea style={{ flex: 1 }} value={compare.prompt} onChange={(e) => setCompare((c) => ({ ...c, prompt: e.target.value }))} data-testid="compare-input" />
              <Button onClick={runCompare} disabled={busy || phase !== "ready" || !compare.prompt.trim()} data-testid="compare-run">
                Compare
              </Button>
            </Flex>
            {compare.results ? (
              <Flex gap="3" data-testid="compare-results">
                {compare.results.map((result, i) => (
                  <Box key={i} style={{ flex: 1, minWidth: 0, background: "var(--gray-a2)", borderRadius: 8, padding: 8 }} data-testid={`compare-result-${i === 0 ? "a" : "b"}`}>
                    <Text as="div" size="1" color="gray">
                      {result.adapterName ?? "No adapter (base model)"} · {result.meta.tokens} tokens
                    </Text>
                    <div data-testid="compare-text">
                      <Markdown {...splitAll(result.text)} />
                    </div>
                  </Box>
                ))}
              </Flex>
            ) : null}
          </Flex>
        </Card>
      ) : null}
    </Flex>
  );
}

// The browser's own select, in the theme's colours: it opens without re-styling the page (a
// Radix Select spent 50-60 ms of main thread per open and close here, delaying the adapter's
// download), and phones show their native picker.
const PICKER_STYLE = {
  font: "inherit",
  fontSize: "var(--font-size-2)",
  height: "var(--space-6)",
  minWidth: 180,
  padding: "0 var(--space-2)",
  borderRadius: "var(--radius-2)",
  border: "1px solid var(--gray-a7)",
  background: "var(--color-surface)",
  color: "var(--gray-12)",
};

/** `options`: [{id, name}]. `id` is also the test id. */
const Picker = memo(function Picker({ id, value, onChange, options, disabled }) {
  return (
    <select id={id} data-testid={id} data-value={value} value={value} disabled={disabled} style={PICKER_STYLE} onChange={(e) => onChange(e.target.value)}>
      {options.map((o) => (
        <option key={o.id} value={o.id}>
          {o.name}
        </option>
      ))}
    </select>
  );
});

/** A page starts with the server's generation defaults (and a fixed seed). */
function initialSettings(config) {
  return { temperature: config.temperature, topK: config.topK, maxTokens: config.maxTokens, seed: 1 };
}

function settingsForEngine(settings) {
  return { maxTokens: settings.maxTokens, topK: settings.topK, temperature: settings.temperature, randomSeed: settings.seed };
}

function SettingsFields({ settings, setSettings, disabled, recommended }) {
  const field = (key, label, step, min, max) => (
    <Box key={key}>
      <Text as="div" size="1" color="gray">
        {label}
      </Text>
      <TextField.Root
        size="1"
        type="number"
        step={step}
        min={min}
        max={max}
        disabled={disabled}
        style={{ width: 90 }}
        value={String(settings[key])}
        data-testid={`setting-${key}`}
        onChange={(e) => {
          const value = Number(e.target.value);
          if (Number.isFinite(value) && value >= min && value <= max) setSettings((s) => ({ ...s, [key]: value }));
        }}
      />
    </Box>
  );
  return (
    <Flex gap="2" align="end" data-testid="generation-settings">
      {field("temperature", "Temperature", 0.1, 0, 2)}
      {field("topK", "Top-k", 1, 1, 100)}
      {field("maxTokens", "Max tokens", 16, 64, 8192)}
      {field("seed", "Seed", 1, 0, 2 ** 31 - 1)}
      {recommended ? (
        <Button size="1" variant="soft" onClick={() => setSettings((s) => ({ ...s, ...recommended }))} data-testid="use-recommended">
          Use the adapter's settings
        </Button>
      ) : null}
    </Flex>
  );
}
