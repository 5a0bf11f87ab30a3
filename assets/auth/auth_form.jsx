// A form that posts to one of the app's /auth/... routes.
//
// Without JavaScript it is a plain HTML form post (the server answers with a redirect). With
// JavaScript it posts the same fields with fetch, asks for JSON, and either follows the
// redirect the server names (a full page load, so the websocket reconnects with the new
// session cookie) or reports the error through onFailure(message, field). The password never
// travels through Reflex state or the websocket: only the error message does.
import React, { useEffect, useRef, useState } from "react";
import { getBackendURL } from "$/utils/state";
import env from "$/env.json";

function endpoint(action) {
  try {
    return new URL(action, getBackendURL(env.PING).origin).toString();
  } catch (e) {
    return action;
  }
}

export function AuthForm({ action, id, onFailure, children, className, style }) {
  const [busy, setBusy] = useState(false);
  const focusNext = useRef(null);

  // Focus the field at fault once the fieldset is enabled again (a disabled input cannot take it).
  useEffect(() => {
    if (!busy && focusNext.current) {
      focusNext.current.focus();
      focusNext.current = null;
    }
  }, [busy]);

  async function handleSubmit(event) {
    event.preventDefault();
    if (busy) return;
    const form = event.currentTarget;
    if (typeof form.reportValidity === "function" && !form.reportValidity()) return;
    setBusy(true);
    let failed = "";
    let field = "";
    try {
      const response = await fetch(endpoint(action), {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        credentials: "include",
      });
      let data = {};
      try {
        data = await response.json();
      } catch (e) {
        data = {};
      }
      if (response.ok && data.ok) {
        window.location.assign(data.redirect || "/");
        return;
      }
      failed = data.error || `The request failed (HTTP ${response.status}).`;
      field = data.field || "";
    } catch (e) {
      failed = "Could not reach the server. Check your connection and try again.";
    }
    form.querySelectorAll('input[type="password"]').forEach((input) => {
      input.value = "";
    });
    const target = (field && form.elements.namedItem(field)) || form.querySelector("input:not([type=hidden])");
    focusNext.current = target && typeof target.focus === "function" ? target : null;
    setBusy(false);
    if (onFailure) onFailure(failed, field);
  }

  return (
    <form
      id={id}
      method="post"
      action={action}
      onSubmit={handleSubmit}
      aria-busy={busy ? "true" : "false"}
      className={className}
      style={{ width: "100%", ...(style || {}) }}
    >
      <fieldset disabled={busy} style={{ border: 0, padding: 0, margin: 0, minWidth: 0, width: "100%" }}>
        {children}
      </fieldset>
    </form>
  );
}
