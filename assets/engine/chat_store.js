// Conversations kept in the browser (IndexedDB). Nothing here talks to the server: prompts,
// answers and titles never leave this device (architecture.md, privacy rule).

const DB_NAME = "lorastudio-chat";
const STORE = "conversations";

let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "id" });
      store.createIndex("updatedAt", "updatedAt");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => {
      dbPromise = null;
      reject(request.error);
    };
  });
  return dbPromise;
}

async function tx(mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const transaction = database.transaction(STORE, mode);
    const store = transaction.objectStore(STORE);
    let result;
    Promise.resolve(work(store)).then((value) => (result = value), reject);
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

const wrap = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

export function newConversation(adapter = null) {
  const at = new Date().toISOString();
  const id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return { id, title: "New chat", createdAt: at, updatedAt: at, adapter, messages: [] };
}

/** All conversations, newest first, without their messages' text (the list only needs titles). */
export async function listConversations() {
  const all = await tx("readonly", (store) => wrap(store.getAll()));
  return all
    .map(({ id, title, createdAt, updatedAt, messages }) => ({ id, title, createdAt, updatedAt, count: messages.length }))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}

export const getConversation = (id) => tx("readonly", (store) => wrap(store.get(id)));

/** Store a conversation, stamped now unless `keepUpdatedAt` (the caller stamped what it shows). */
export function saveConversation(conversation, { keepUpdatedAt = false } = {}) {
  const saved = keepUpdatedAt && conversation.updatedAt ? conversation : { ...conversation, updatedAt: new Date().toISOString() };
  return tx("readwrite", (store) => wrap(store.put(saved))).then(() => saved);
}

export const deleteConversation = (id) => tx("readwrite", (store) => wrap(store.delete(id)));

export async function renameConversation(id, title) {
  const conversation = await getConversation(id);
  if (!conversation) return null;
  return saveConversation({ ...conversation, title: String(title).trim().slice(0, 120) || "Untitled" });
}

export function toMarkdown(conversation) {
  const parts = [`# ${conversation.title}`, "", `_Exported ${new Date().toISOString()}_`, ""];
  for (const message of conversation.messages) {
    parts.push(`## ${message.role === "user" ? "You" : `Model${message.adapterName ? ` (${message.adapterName})` : ""}`}`, "", message.text, "");
  }
  return parts.join("\n");
}

export function toJson(conversation) {
  return JSON.stringify({ format: "lorastudio-chat/1", ...conversation }, null, 2);
}

/** Save text as a file on the user's device (a local blob; nothing is uploaded). */
export function downloadText(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
