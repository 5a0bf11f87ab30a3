// Resumable base-model upload (multi-GB): the file is sent in chunks to the admin JSON API,
// each at the offset the server confirmed. After a dropped connection or a closed tab, picking
// the same file again resumes where the server stands (the upload id is kept in localStorage).
import { useState } from "react";

async function json(response) {
  try {
    return await response.json();
  } catch {
    return { error: `HTTP ${response.status}` };
  }
}

export function BaseModelUploader({ endpoint, chunkSize, onDone }) {
  const [progress, setProgress] = useState(0);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function upload(event) {
    event.preventDefault();
    setError("");
    const form = new FormData(event.currentTarget);
    const file = form.get("file");
    if (!file || !file.size) {
      setError("Choose the model file first.");
      return;
    }
    const key = `ls-base-upload:${file.name}:${file.size}:${file.lastModified}`;
    const opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    setBusy(true);
    try {
      let id = window.localStorage.getItem(key);
      let offset = 0;
      if (id) {
        const r = await fetch(`${endpoint}/${id}`, opts);
        if (r.ok) {
          offset = (await json(r)).received;
          setStatus(`Resuming at ${offset.toLocaleString()} bytes`);
        } else {
          id = null;
        }
      }
      if (!id) {
        const r = await fetch(endpoint, {
          ...opts,
          method: "POST",
          headers: { ...opts.headers, "Content-Type": "application/json" },
          body: JSON.stringify({
            name: form.get("name"),
            title: form.get("title"),
            architecture: form.get("architecture"),
            license_note: form.get("license_note"),
            sha256: form.get("sha256") || null,
            size: file.size,
          }),
        });
        const body = await json(r);
        if (!r.ok) throw new Error(body.error);
        id = body.id;
        window.localStorage.setItem(key, id);
      }
      while (offset < file.size) {
        const chunk = file.slice(offset, offset + chunkSize);
        const r = await fetch(`${endpoint}/${id}?offset=${offset}`, {
          ...opts,
          method: "PUT",
          headers: { ...opts.headers, "Content-Type": "application/octet-stream" },
          body: chunk,
        });
        const body = await json(r);
        if (r.status === 409 && typeof body.received === "number") {
          offset = body.received; // the server knows better: continue from there
          continue;
        }
        if (!r.ok) throw new Error(body.error);
        offset = body.received;
        setProgress(offset / file.size);
        setStatus(`${Math.floor((100 * offset) / file.size)}% (${offset.toLocaleString()} of ${file.size.toLocaleString()} bytes)`);
      }
      setStatus("Checking the file and storing it…");
      const done = await fetch(`${endpoint}/${id}/complete`, { ...opts, method: "POST" });
      const result = await json(done);
      window.localStorage.removeItem(key);
      if (!done.ok) throw new Error(result.error);
      setStatus(`Registered ${result.name}`);
      if (onDone) onDone(result.name);
    } catch (err) {
      setError(`${err.message || err}. Choose the same file and press Upload again to resume.`);
    } finally {
      setBusy(false);
    }
  }

  const field = { display: "flex", flexDirection: "column", gap: "4px", fontSize: "14px" };
  const input = { padding: "6px 8px", border: "1px solid var(--gray-7)", borderRadius: "6px", background: "var(--color-surface)" };
  return (
    <form onSubmit={upload} id="base-upload-form" style={{ display: "grid", gap: "10px", width: "100%" }}>
      <label style={field}>Model file (.bin)<input name="file" type="file" accept=".bin" required style={input} /></label>
      <label style={field}>Name<input name="name" required pattern="[a-z0-9][a-z0-9._\-]{0,79}" placeholder="gemma2-2b-it-gpu-int8" style={input} /></label>
      <label style={field}>Title<input name="title" required maxLength={120} placeholder="Gemma2 2B IT (GPU, int8)" style={input} /></label>
      <label style={field}>Architecture
        <select name="architecture" style={input} defaultValue="gemma2-2b">
          <option value="gemma2-2b">Gemma2-2b</option>
          <option value="tiny-gemma2">Tiny Gemma2 (demo)</option>
        </select>
      </label>
      <label style={field}>Expected sha256 (optional)<input name="sha256" pattern="[0-9a-fA-F]{64}" style={input} /></label>
      <label style={field}>License note<input name="license_note" placeholder="Gemma Terms of Use, accepted by the operator" style={input} /></label>
      <button type="submit" disabled={busy} id="base-upload-submit"
        style={{ padding: "8px 14px", borderRadius: "6px", border: "none", background: "var(--accent-9)", color: "white", cursor: "pointer" }}>
        {busy ? "Uploading…" : "Upload"}
      </button>
      <progress value={progress} max={1} style={{ width: "100%" }} />
      <div id="base-upload-status" style={{ fontSize: "13px" }}>{status}</div>
      {error && <div id="base-upload-error" style={{ color: "var(--red-11)", fontSize: "13px" }}>{error}</div>}
    </form>
  );
}
