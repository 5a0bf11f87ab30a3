// "Typical speed on devices like yours" on an adapter's page.
//
// The server publishes, per GPU vendor with enough data, the median decode speed of an adapter
// (GET /api/v1/adapters/<slug>/performance, the same answer for everyone, cacheable). This piece
// asks WebGPU for the visitor's own adapter vendor and picks that figure here, in the browser:
// the vendor is never sent anywhere.
import { useEffect, useState } from "react";

const VENDORS = new Set(["nvidia", "amd", "intel", "apple", "qualcomm", "arm", "imagination", "samsung", "google", "microsoft", "mesa"]);
const NAMES = { nvidia: "NVIDIA", amd: "AMD", arm: "Arm", intel: "Intel", apple: "Apple", qualcomm: "Qualcomm", imagination: "Imagination", samsung: "Samsung", google: "Google", microsoft: "Microsoft", mesa: "Mesa" };

/** The analytics vendor name of this browser's WebGPU adapter; null without WebGPU. */
async function visitorVendor() {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info || (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : null);
    const vendor = String(info?.vendor || "").toLowerCase();
    return VENDORS.has(vendor) ? vendor : vendor ? "other" : "unknown";
  } catch {
    return null;
  }
}

/** "NVIDIA GPUs", or plain "GPUs" when the vendor has no name of its own (other, unknown). */
function gpus(vendor) {
  return NAMES[vendor] ? `${NAMES[vendor]} GPUs` : "GPUs";
}

export function TypicalSpeed({ slug, endpoint }) {
  const [view, setView] = useState({ state: "loading", text: "", vendor: "" });
  useEffect(() => {
    if (!slug) return undefined;
    let cancelled = false;
    (async () => {
      const vendor = await visitorVendor();
      if (cancelled) return;
      if (vendor === null) {
        setView({ state: "no-webgpu", text: "Your browser has no WebGPU, so this adapter cannot run here.", vendor: "" });
        return;
      }
      let figures = null;
      try {
        const response = await fetch(`${endpoint}/${encodeURIComponent(slug)}/performance`, { headers: { Accept: "application/json" } });
        if (response.ok) figures = await response.json();
      } catch {
        figures = null;
      }
      if (cancelled) return;
      if (!figures) {
        setView({ state: "unavailable", text: "", vendor });
        return;
      }
      const mine = (figures.vendors || []).find((row) => row.gpu_vendor === vendor);
      if (!mine) {
        const which = NAMES[vendor] ? gpus(vendor) : "GPUs like yours";
        setView({ state: "not-enough", text: `Not enough data yet for ${which}.`, vendor });
        return;
      }
      const speed = Math.round(mine.median_decode_tokens_per_s);
      setView({
        state: "figure",
        text: `Typical speed on ${gpus(vendor)} like yours: ${speed} tokens/s (median of ${mine.samples} chats, last ${figures.days} days)`,
        vendor,
      });
    })();
    return () => {
      cancelled = true;
    };
  }, [slug, endpoint]);
  if (view.state === "loading" || view.state === "unavailable") return null;
  return (
    <p id="typical-speed" data-state={view.state} data-vendor={view.vendor} style={{ margin: 0, fontSize: "var(--font-size-2)", color: "var(--gray-11)" }}>
      {view.text}
    </p>
  );
}
