// The engine self-test panel: browser check, tiny-model load, streaming generation, LoRA, cancel.
//
// Everything here runs in the browser; no prompt or output is sent to the server. The engine itself
// (the only code that touches @mediapipe/tasks-genai) lives in ./mediapipe_engine.js.
import React, { useCallback, useEffect, useRef, useState } from "react";
import {
  Badge,
  Box,
  Button,
  Callout,
  Card,
  Code,
  Flex,
  Grid,
  Heading,
  Kbd,
  Progress,
  Spinner,
  Switch,
  Text,
  TextArea,
  TextField,
} from "@radix-ui/themes";
import CircleCheck from "lucide-react/dist/esm/icons/circle-check.mjs";
import CircleDashed from "lucide-react/dist/esm/icons/circle-dashed.mjs";
import CircleX from "lucide-react/dist/esm/icons/circle-x.mjs";
import Download from "lucide-react/dist/esm/icons/download.mjs";
import Play from "lucide-react/dist/esm/icons/play.mjs";
import Square from "lucide-react/dist/esm/icons/square.mjs";
import TriangleAlert from "lucide-react/dist/esm/icons/triangle-alert.mjs";
import { getBackendURL } from "$/utils/state";
import env from "$/env.json";
import { MediaPipeEngine, checkCapabilities, describeError, formatBytes } from "./mediapipe_engine.js";

const MODEL_PATH = /^\/runtime\/models\/[a-z0-9][a-z0-9._-]{0,80}\.bin$/;
const DEFAULT_PROMPT = "Write a short poem about a lighthouse.";
const MIN_MAX_TOKENS = 16;
const MAX_MAX_TOKENS = 4096;
// Streamed text is painted at most this often: every paint competes with the GPU work for the
// next tokens (on software and integrated GPUs the same CPU/GPU does both).
const PAINT_INTERVAL_MS = 120;

const VERDICTS = {
  checking: { color: "gray", label: "Checking…", text: "Looking at what this browser offers." },
  ready: { color: "green", label: "Ready", text: "This browser can run the engine." },
  limited: {
    color: "amber",
    label: "Works, with limits",
    text: "The self-test can run; see the notes below for real models.",
  },
  unsupported: {
    color: "red",
    label: "Not supported",
    text: "The engine cannot run in this browser as it is set up now. Fix the items marked below.",
  },
};

const ERROR_TITLES = {
  "no-webgpu": "WebGPU is not available",
  fetch: "Download failed",
  "bad-model": "Not a usable model file",
  timeout: "The engine stopped responding",
  "prompt-too-long": "Prompt too long",
  "empty-prompt": "Nothing to generate from",
  lora: "LoRA adapter failed",
  "lora-rank": "LoRA rank not supported",
  "runtime-files": "Engine runtime missing",
  "gpu-limits": "Model too large for this GPU",
  gpu: "GPU error",
  trap: "The engine crashed",
  create: "The engine could not start",
  "no-model": "No model loaded",
};

const ERROR_HINTS = {
  "no-webgpu": "See the browser check above for what to turn on.",
  timeout: "The stuck engine was dropped; the next action starts a fresh one.",
  trap: "The crashed engine was dropped; the next action starts a fresh one.",
  lora: "The engine was reset; generating without the adapter works again.",
  "lora-rank": "The engine was reset; generating without the adapter works again.",
  "gpu-limits": "Try a smaller model or a device with more GPU memory.",
  gpu: "The engine was reset; the next action starts a fresh one.",
};

function backendOrigin() {
  try {
    return getBackendURL(env.PING).origin;
  } catch {
    return window.location.origin;
  }
}

/** Same-origin model paths may be overridden from the query string (used by tests and demos). */
function pathFromQuery(name, fallback) {
  const value = new URLSearchParams(window.location.search).get(name);
  return value && MODEL_PATH.test(value) ? value : fallback;
}

function numberFromQuery(name, min, max) {
  const value = Number(new URLSearchParams(window.location.search).get(name));
  return Number.isFinite(value) && value >= min && value <= max ? value : null;
}

const fmtMs = (ms) => (ms == null ? "—" : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const fmtRate = (value) => (value == null ? "—" : value.toFixed(1));

function StatusIcon({ status }) {
  if (status === "pass") return <CircleCheck size={18} color="var(--green-9)" aria-label="passed" />;
  if (status === "warn") return <TriangleAlert size={18} color="var(--amber-9)" aria-label="warning" />;
  if (status === "fail") return <CircleX size={18} color="var(--red-9)" aria-label="failed" />;
  return <CircleDashed size={18} color="var(--gray-8)" aria-label="pending" />;
}

function Metric({ id, label, value, raw }) {
  return (
    <Box
      style={{
        background: "var(--gray-a2)",
        border: "1px solid var(--gray-a4)",
        borderRadius: "var(--radius-3)",
        padding: "var(--space-2) var(--space-3)",
        minWidth: 0,
      }}
    >
      <Text as="div" size="1" color="gray">
        {label}
      </Text>
      <Text
        as="div"
        size="4"
        weight="bold"
        data-testid={`metric-${id}`}
        data-value={raw == null ? "" : String(raw)}
        style={{ fontVariantNumeric: "tabular-nums" }}
      >
        {value}
      </Text>
    </Box>
  );
}

function CapabilityPanel({ caps }) {
  const verdict = VERDICTS[caps?.verdict ?? "checking"];
  return (
    <Card size="2" data-testid="capabilities">
      <Flex direction="column" gap="3">
        <Flex align="center" justify="between" gap="3" wrap="wrap">
          <Heading as="h2" size="4">
            Browser check
          </Heading>
          <Badge
            size="2"
            color={verdict.color}
            data-testid="capability-verdict"
            data-verdict={caps?.verdict ?? "checking"}
          >
            {verdict.label}
          </Badge>
        </Flex>
        <Text size="2" color="gray">
          {verdict.text}
        </Text>
        {!caps ? (
          <Flex align="center" gap="2">
            <Spinner /> <Text size="2">Asking the browser for a GPU…</Text>
          </Flex>
        ) : (
          <Flex direction="column" gap="2" asChild>
            <ul style={{ listStyle: "none", margin: 0, padding: 0 }}>
              {caps.checks.map((item) => (
                <li key={item.id} data-testid={`capability-${item.id}`} data-status={item.status}>
                  <Flex gap="2" align="start">
                    <Box style={{ flexShrink: 0, paddingTop: 2 }}>
                      <StatusIcon status={item.status} />
                    </Box>
                    <Box style={{ minWidth: 0 }}>
                      <Text as="div" size="2" weight="medium">
                        {item.label}
                      </Text>
                      <Text as="div" size="2" color="gray" style={{ overflowWrap: "anywhere" }}>
                        {item.detail}
                      </Text>
                      {item.fix && item.status !== "pass" ? (
                        <Text as="div" size="2" data-testid={`capability-${item.id}-fix`}>
                          → {item.fix}
                        </Text>
                      ) : null}
                    </Box>
                  </Flex>
                </li>
              ))}
            </ul>
          </Flex>
        )}
        {caps?.adapter ? (
          <Text size="1" color="gray" data-testid="adapter-info">
            Adapter: {caps.adapter.vendor || "?"} · {caps.adapter.architecture || "?"}
            {caps.adapter.description ? ` · ${caps.adapter.description}` : ""} · {caps.features.length} features
            {caps.storage ? ` · storage ${formatBytes(caps.storage.free)} free` : ""}
          </Text>
        ) : null}
      </Flex>
    </Card>
  );
}

export function EngineSelfTest({ wasmBase, modelUrl, loraUrl, loraRanks, defaultMaxTokens }) {
  const [caps, setCaps] = useState(null);
  const [load, setLoad] = useState({ state: "idle", loaded: 0, total: null, loadMs: null });
  const [prompt, setPrompt] = useState(DEFAULT_PROMPT);
  const [useLora, setUseLora] = useState(false);
  const [maxTokensText, setMaxTokensText] = useState(String(defaultMaxTokens ?? 256));
  const [gen, setGen] = useState({ state: "idle", run: 0 });
  const [hasOutput, setHasOutput] = useState(false);
  const [increments, setIncrements] = useState(0);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [instances, setInstances] = useState(0);
  const [guard, setGuard] = useState({ timeouts: 0, retries: 0 });
  // Streaming writes go straight to these nodes (no React render per increment): the runtime calls
  // back on the main thread, and time spent re-rendering there is time the GPU waits for work.
  const outputTextRef = useRef(null);
  const outputBoxRef = useRef(null);
  const streamRef = useRef({ text: "", timer: null });

  // Paint the streamed text at most every PAINT_INTERVAL_MS, following the bottom unless the
  // reader scrolled up.
  const showText = useCallback(() => {
    const stream = streamRef.current;
    clearTimeout(stream.timer);
    stream.timer = null;
    const node = outputTextRef.current;
    if (!node || node.textContent === stream.text) return;
    node.textContent = stream.text;
    const box = outputBoxRef.current;
    if (box && box.scrollHeight - box.scrollTop - box.clientHeight < 80) box.scrollTop = box.scrollHeight;
  }, []);
  const engineRef = useRef(null);
  const progressAt = useRef(0);

  // Read from the page's URL after hydration: the server-rendered HTML has no URL to read, and a
  // first client render that differs from it is a hydration error (React #418).
  const [config, setConfig] = useState(null);
  useEffect(() => {
    const origin = backendOrigin();
    const model = pathFromQuery("model", modelUrl);
    const lora = pathFromQuery("lora", loraUrl);
    const createTimeoutS = numberFromQuery("create_timeout_s", 5, 600);
    const params = new URLSearchParams(window.location.search);
    setConfig({
      wasmBase: new URL(wasmBase, origin).toString().replace(/\/+$/, ""),
      modelPath: model,
      modelUrl: new URL(model, origin).toString(),
      loraPath: lora,
      loraUrl: new URL(lora, origin).toString(),
      createTimeoutMs: createTimeoutS ? createTimeoutS * 1000 : undefined,
      // ?source=stream streams the model into the runtime instead of holding its bytes.
      stream: params.get("source") === "stream",
    });
  }, [wasmBase, modelUrl, loraUrl]);

  // Reflex passes a fresh array on every parent render: key the engine on the values instead.
  const ranksKey = JSON.stringify(loraRanks ?? []);

  useEffect(() => {
    if (!config) return undefined;
    const engine = new MediaPipeEngine({
      wasmBase: config.wasmBase,
      loraRanks: JSON.parse(ranksKey),
      maxTokens: Number(defaultMaxTokens ?? 256),
      topK: 1,
      randomSeed: 1,
      ...(config.createTimeoutMs ? { createTimeoutMs: config.createTimeoutMs } : {}),
    });
    engineRef.current = engine;
    let alive = true;
    checkCapabilities()
      .then((found) => alive && setCaps(found))
      .catch((err) =>
        alive &&
        setCaps({
          verdict: "unsupported",
          checks: [{ id: "check", label: "Browser check", status: "fail", detail: describeError(err).message }],
          features: [],
        }),
      );
    return () => {
      alive = false;
      clearTimeout(streamRef.current.timer);
      engine.dispose();
      engineRef.current = null;
    };
  }, [config, ranksKey, defaultMaxTokens]);

  const maxTokens = Number.parseInt(maxTokensText, 10);
  const maxTokensValid = Number.isFinite(maxTokens) && maxTokens >= MIN_MAX_TOKENS && maxTokens <= MAX_MAX_TOKENS;
  const busy = load.state === "loading" || gen.state === "preparing" || gen.state === "generating";
  const generating = gen.state === "preparing" || gen.state === "generating";

  const fail = useCallback((err, stage) => {
    const described = describeError(err);
    setError({ ...described, stage });
    setInstances(engineRef.current?.instancesCreated ?? 0);
  }, []);

  const loadModel = useCallback(async () => {
    const engine = engineRef.current;
    if (!engine || !config) return false;
    setError(null);
    setLoad({ state: "loading", loaded: 0, total: null, loadMs: null });
    try {
      if (maxTokensValid) await engine.configure({ maxTokens });
      const source = config.stream ? { url: config.modelUrl, stream: true } : config.modelUrl;
      const info = await engine.load(source, {
        onProgress: ({ loaded, total }) => {
          const t = performance.now();
          if (t - progressAt.current < 100 && loaded !== total) return;
          progressAt.current = t;
          setLoad((prev) => ({ ...prev, loaded, total }));
        },
      });
      setLoad({ state: "ready", loaded: info.bytes, total: info.bytes, loadMs: info.loadMs, createMs: info.createMs });
      setInstances(engine.instancesCreated);
      setGuard({ timeouts: engine.createTimeouts, retries: engine.createRetries });
      return true;
    } catch (err) {
      setGuard({ timeouts: engine.createTimeouts, retries: engine.createRetries });
      setLoad((prev) => ({ ...prev, state: "error" }));
      fail(err, "load");
      return false;
    }
  }, [config, fail, maxTokens, maxTokensValid]);

  const generate = useCallback(async () => {
    const engine = engineRef.current;
    if (!engine || busy) return;
    if (!maxTokensValid) {
      setError({
        kind: "config",
        message: `Max tokens must be a whole number from ${MIN_MAX_TOKENS} to ${MAX_MAX_TOKENS}.`,
        stage: "generate",
      });
      return;
    }
    const run = gen.run + 1;
    setError(null);
    streamRef.current.text = "";
    showText();
    setHasOutput(false);
    setIncrements(0);
    setResult(null);
    setGen({ state: "preparing", run });
    if (engine.status === "empty" && !(await loadModel())) {
      setGen({ state: "error", run });
      return;
    }
    try {
      await engine.configure({ maxTokens });
      let count = 0;
      const res = await engine.generate(prompt, {
        lora: useLora ? config.loraUrl : null,
        onText: (_increment, full) => {
          count += 1;
          streamRef.current.text = full;
          if (count === 1) {
            showText();
            setHasOutput(true);
            setGen((prev) => (prev.state === "preparing" ? { ...prev, state: "generating" } : prev));
          } else if (!streamRef.current.timer) {
            streamRef.current.timer = setTimeout(showText, PAINT_INTERVAL_MS);
          }
        },
      });
      streamRef.current.text = res.text;
      showText();
      setHasOutput(Boolean(res.text));
      setIncrements(res.increments);
      setResult(res);
      setGen({ state: res.cancelled ? "cancelled" : "done", run });
    } catch (err) {
      showText();
      fail(err, "generate");
      setGen({ state: "error", run });
    } finally {
      setInstances(engine.instancesCreated);
    }
  }, [busy, config, fail, gen.run, loadModel, maxTokens, maxTokensValid, prompt, showText, useLora]);

  const stop = useCallback(() => {
    engineRef.current?.cancel();
  }, []);

  useEffect(() => {
    if (!generating) return undefined;
    const onKey = (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        stop();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [generating, stop]);

  const onPromptKey = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      generate();
    }
  };

  const percent = load.total ? Math.min(100, Math.round((load.loaded / load.total) * 100)) : null;
  const loadLabel = {
    idle: "Not loaded",
    loading: "Loading…",
    ready: "Loaded",
    error: "Failed",
  }[load.state];

  return (
    <Flex
      direction="column"
      gap="4"
      data-testid="engine-selftest"
      data-run={gen.run}
      data-state={gen.state}
      data-create-timeouts={guard.timeouts}
      data-create-retries={guard.retries}
    >
      <Grid columns={{ initial: "1", md: "2" }} gap="4">
        <CapabilityPanel caps={caps} />
        <Card size="2" data-testid="model-panel">
          <Flex direction="column" gap="3">
            <Flex align="center" justify="between" gap="3" wrap="wrap">
              <Heading as="h2" size="4">
                Tiny model
              </Heading>
              <Badge
                size="2"
                color={{ ready: "green", error: "red", loading: "blue" }[load.state] ?? "gray"}
                data-testid="load-status"
                data-state={load.state}
              >
                {loadLabel}
              </Badge>
            </Flex>
            <Text size="2" color="gray">
              A 1 MB random-weight model built by the app. It produces gibberish on purpose: it proves that
              loading, tokenizing, streaming and LoRA work on this device.
            </Text>
            <Text size="1" color="gray" style={{ overflowWrap: "anywhere" }}>
              Model <Code size="1">{config?.modelPath ?? modelUrl}</Code> · LoRA{" "}
              <Code size="1">{config?.loraPath ?? loraUrl}</Code>
              {config?.stream ? " · streamed into the engine" : ""}
            </Text>
            <Flex gap="3" align="center" wrap="wrap">
              <Button onClick={loadModel} disabled={busy} data-testid="load-button">
                {load.state === "loading" ? <Spinner /> : <Download size={16} />}
                {load.state === "ready" ? "Reload tiny model" : "Load tiny model"}
              </Button>
              <Text size="2" color="gray" data-testid="load-bytes" data-loaded={load.loaded} data-total={load.total ?? ""}>
                {load.state === "idle"
                  ? "Nothing loaded yet"
                  : `${formatBytes(load.loaded)}${load.total ? ` of ${formatBytes(load.total)}` : ""}`}
              </Text>
            </Flex>
            <Progress
              value={percent ?? (load.state === "loading" ? undefined : 0)}
              aria-label="Model download progress"
              data-testid="load-progress"
              color={load.state === "error" ? "red" : undefined}
            />
            <Grid columns={{ initial: "2", sm: "3" }} gap="2">
              <Metric id="load-ms" label="Load time" value={fmtMs(load.loadMs)} raw={load.loadMs} />
              <Metric id="create-ms" label="Engine start" value={fmtMs(load.createMs)} raw={load.createMs} />
              <Metric id="instances" label="Engines started" value={String(instances)} raw={instances} />
            </Grid>
          </Flex>
        </Card>
      </Grid>

      {error ? (
        <Callout.Root color="red" role="alert" data-testid="engine-error" data-kind={error.kind} data-stage={error.stage}>
          <Callout.Icon>
            <TriangleAlert size={18} />
          </Callout.Icon>
          <Callout.Text>
            <Text weight="bold">{ERROR_TITLES[error.kind] ?? "Engine error"}: </Text>
            <span data-testid="engine-error-message">{error.message}</span>
            {ERROR_HINTS[error.kind] ? <Text as="div" size="2">{ERROR_HINTS[error.kind]}</Text> : null}
          </Callout.Text>
        </Callout.Root>
      ) : null}

      <Card size="2" data-testid="generate-panel">
        <Flex direction="column" gap="3">
          <Heading as="h2" size="4">
            Generate
          </Heading>
          <TextArea
            value={prompt}
            onChange={(event) => setPrompt(event.target.value)}
            onKeyDown={onPromptKey}
            placeholder="Type a prompt"
            aria-label="Prompt"
            rows={3}
            resize="vertical"
            data-testid="prompt-input"
          />
          <Flex gap="4" align="center" wrap="wrap">
            <Text as="label" size="2">
              <Flex gap="2" align="center">
                <Switch
                  checked={useLora}
                  onCheckedChange={setUseLora}
                  disabled={busy}
                  data-testid="lora-toggle"
                />
                Use tiny LoRA
              </Flex>
            </Text>
            <Flex gap="2" align="center">
              <Text as="label" size="2" htmlFor="selftest-max-tokens">
                Max tokens
              </Text>
              <TextField.Root
                id="selftest-max-tokens"
                type="number"
                min={MIN_MAX_TOKENS}
                max={MAX_MAX_TOKENS}
                step={16}
                value={maxTokensText}
                onChange={(event) => setMaxTokensText(event.target.value)}
                disabled={busy}
                color={maxTokensValid ? undefined : "red"}
                style={{ width: "7em" }}
                data-testid="max-tokens-input"
              />
            </Flex>
            <Flex gap="2" align="center" style={{ marginLeft: "auto" }}>
              <Button onClick={generate} disabled={busy} data-testid="generate-button">
                {/* No spinner here: an animation repaints every frame, and on software or integrated
                    GPUs that steals time from decoding (measured: 3x slower on SwiftShader). */}
                <Play size={16} />
                {generating ? "Generating…" : "Generate"}
              </Button>
              <Button color="red" variant="soft" onClick={stop} disabled={!generating} data-testid="stop-button">
                <Square size={14} />
                Stop
              </Button>
            </Flex>
          </Flex>
          <Text size="1" color="gray">
            <Kbd>Enter</Kbd> generates, <Kbd>Shift</Kbd>+<Kbd>Enter</Kbd> adds a line, <Kbd>Esc</Kbd> stops. Max
            tokens counts prompt and answer; changing it restarts the engine.
          </Text>
          <Box
            ref={outputBoxRef}
            data-testid="output"
            data-state={gen.state}
            aria-live="polite"
            aria-busy={generating}
            style={{
              minHeight: "7em",
              maxHeight: "20em",
              overflowY: "auto",
              whiteSpace: "pre-wrap",
              overflowWrap: "anywhere",
              fontFamily: "var(--code-font-family)",
              fontSize: "var(--font-size-2)",
              lineHeight: 1.55,
              background: "var(--gray-2)",
              color: "var(--gray-12)",
              border: "1px solid var(--gray-5)",
              borderRadius: "var(--radius-3)",
              padding: "var(--space-3)",
            }}
          >
            {hasOutput ? null : gen.state === "preparing" ? (
              <Text color="gray">Starting the engine… the first answer compiles GPU shaders (a few seconds).</Text>
            ) : (
              <Text color="gray">The answer streams here.</Text>
            )}
            {/* Filled by the stream callback; React never renders children into it. */}
            <span ref={outputTextRef} data-testid="output-text" />
          </Box>
          <Grid columns={{ initial: "2", sm: "3", md: "6" }} gap="2" data-testid="metrics">
            <Metric id="ttft-ms" label="First token" value={fmtMs(result?.ttftMs)} raw={result?.ttftMs} />
            <Metric id="tokens" label="Tokens" value={result ? String(result.tokens) : "—"} raw={result?.tokens} />
            <Metric
              id="tokens-per-sec"
              label="Tokens/s"
              value={fmtRate(result?.decodeTokensPerSec)}
              raw={result?.decodeTokensPerSec}
            />
            <Metric id="increments" label="Stream updates" value={String(increments)} raw={increments} />
            <Metric id="prompt-tokens" label="Prompt tokens" value={result ? String(result.promptTokens) : "—"} raw={result?.promptTokens} />
            <Metric id="total-ms" label="Total" value={fmtMs(result?.totalMs)} raw={result?.totalMs} />
          </Grid>
          {result ? (
            <Text size="1" color="gray" data-testid="result-summary" data-run={gen.run} data-cancelled={String(result.cancelled)} data-lora={String(Boolean(result.lora))}>
              {result.cancelled ? "Stopped early" : "Finished"}
              {result.lora ? " with the tiny LoRA" : " without LoRA"}.
            </Text>
          ) : null}
        </Flex>
      </Card>
    </Flex>
  );
}
