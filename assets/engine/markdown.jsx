// A small markdown renderer for streamed answers: React elements only (no innerHTML), so model
// output cannot inject markup; links are kept only for http(s) URLs.
//
// Streaming cost stays flat: `BlockSplitter` cuts finished blocks off the growing text as they
// complete, finished blocks are memoised, and only the last (open) block is re-rendered per paint.
import React, { memo } from "react";

/**
 * A paragraph longer than this is shown as several block pieces, cut after a space or a line break
 * (the next piece starts on a new line, with no gap; see _softCut): a streamed paragraph that never ends (the tiny model writes
 * one line of thousands of characters) would otherwise be re-laid out and re-painted whole at
 * every paint, a cost growing with the answer (bench/chat_streaming_cost.py).
 */
const SOFT_CUT_CHARS = 600;
const LIST_OR_HEADING = /^\s*([-*+]|\d+[.)]|#{1,4})\s/;

export class BlockSplitter {
  constructor() {
    this.blocks = [];
    this.joined = new Set(); // indices of blocks that continue on the next one (a soft cut)
    this.tail = ""; // the unfinished block: it always starts at a block boundary
    this.cut = false; // a block was cut off: newlines at the tail's start are separators
    this.scanned = 0; // the tail's lines before this offset were scanned (no cut in them)
    this.inFence = false; // the tail opened a code fence
  }

  /**
   * Append new text. Only new lines of the unfinished tail are scanned, so a push costs the same
   * at token 2000 as at token 20. Any chunking of a text gives the same blocks as one push of the
   * whole (the finished answer re-uses the streamed blocks' DOM).
   */
  push(text) {
    this.tail += text;
    if (this.cut && this.tail.startsWith("\n")) this.tail = this.tail.replace(/^\n+/, "");
    for (;;) {
      const cut = this._findCut();
      // A soft cut before the hard one comes first, as it would have with the text in other chunks.
      const soft = this._softCut(cut);
      if (soft >= 0) {
        // The space or line break at the cut stays at the piece's end: the pieces' text is the text.
        this.blocks.push(this.tail.slice(0, soft));
        this.joined.add(this.blocks.length - 1);
        this.tail = this.tail.slice(soft);
        this.cut = false;
        this.scanned = 0;
        continue;
      }
      if (cut < 0) return this;
      const block = this.tail.slice(0, cut).replace(/\n+$/, "");
      if (block.trim()) this.blocks.push(block);
      this.cut = true;
      this.tail = this.tail.slice(cut).replace(/^\n+/, "");
      this.scanned = 0;
      this.inFence = false;
    }
  }

  _findCut() {
    let lineStart = this.scanned;
    for (;;) {
      const end = this.tail.indexOf("\n", lineStart);
      if (end < 0) {
        this.scanned = lineStart;
        return -1;
      }
      const line = this.tail.slice(lineStart, end);
      if (/^\s*```/.test(line)) {
        if (this.inFence) return end + 1; // a closed code block is a finished block
        if (lineStart > 0) return lineStart; // finish the text before the fence first
        this.inFence = true;
      } else if (!this.inFence && line.trim() === "" && lineStart > 0) {
        return end + 1;
      }
      lineStart = end + 1;
    }
  }

  /**
   * Where to cut a long paragraph, past SOFT_CUT_CHARS and before the hard cut (`hard`, -1 for
   * none; its blank lines excluded): after a line break whose next line has arrived whole (and is
   * not blank or a fence), or after a space followed by a word in a line that is not a fence, where no ** or ` is left open before it (past 2x the
   * length, at any such space: a stray marker must not stop the cuts; with no space at all, between
   * two characters a little further). Each place is judged only on text that has arrived, so any
   * chunking of a text cuts at the same places. Returns where the next piece starts, or -1.
   */
  _softCut(hard) {
    const tail = this.tail;
    if (this.inFence || tail.length <= SOFT_CUT_CHARS + 1 || LIST_OR_HEADING.test(tail)) return -1;
    const before = hard < 0 ? tail.length : tail.slice(0, hard).replace(/\n+$/, "").length;
    let bold = (tail.slice(0, SOFT_CUT_CHARS).split("**").length - 1) % 2;
    let code = (tail.slice(0, SOFT_CUT_CHARS).split("`").length - 1) % 2;
    // The current line: does it hold a word yet, and is it a fence?
    const lineStart = tail.lastIndexOf("\n", SOFT_CUT_CHARS - 1) + 1;
    const first = tail.slice(lineStart, SOFT_CUT_CHARS).search(/\S/);
    let words = first >= 0;
    let fence = words && tail.startsWith("```", lineStart + first);
    for (let at = SOFT_CUT_CHARS; at + 1 < tail.length && at < before; at += 1) {
      const here = tail[at];
      const next = tail[at + 1];
      if (here === "\n") {
        const end = tail.indexOf("\n", at + 1);
        if (end < 0) return -1; // the next line has not arrived whole
        const line = tail.slice(at + 1, end);
        if (line.trim() !== "" && !/^\s*```/.test(line)) return at + 1;
        words = false;
        fence = false;
        continue;
      }
      if (here === " " && words && !fence && !/\s/.test(next) && ((!bold && !code) || at > 2 * SOFT_CUT_CHARS)) {
        return at + 1;
      }
      const lowSurrogate = (tail.charCodeAt(at) & 0xfc00) === 0xdc00;
      if (at >= 2 * SOFT_CUT_CHARS + 80 && words && !fence && !/\s/.test(here) && !lowSurrogate) {
        return at; // no space for 80 characters: cut between two of them
      }
      if (!words && !/\s/.test(here)) {
        words = true;
        fence = tail.startsWith("```", at);
      }
      if (here === "`") code ^= 1;
      if (here === "*" && next === "*") {
        bold ^= 1;
        at += 1;
      }
    }
    return -1;
  }

  all() {
    return this.tail.trim() ? [...this.blocks, this.tail] : [...this.blocks];
  }

  /** What Markdown renders: the blocks and which of them continue on the next (soft cuts). */
  view() {
    return { blocks: this.all(), joined: this.joined };
  }
}

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|_[^_\n]+_)|(\[[^\]\n]+\]\((https?:\/\/[^)\s]+)\))/g;

function inline(text, keyBase) {
  const out = [];
  let last = 0;
  let index = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    const key = `${keyBase}-${index++}`;
    const token = match[0];
    if (match[1]) out.push(<code key={key} className="md-code">{token.slice(1, -1)}</code>);
    else if (match[2]) out.push(<strong key={key}>{token.slice(2, -2)}</strong>);
    else if (match[3]) out.push(<em key={key}>{token.slice(1, -1)}</em>);
    else if (match[4]) {
      const label = token.slice(1, token.indexOf("]("));
      out.push(
        <a key={key} href={match[5]} target="_blank" rel="noopener noreferrer nofollow">
          {label}
        </a>,
      );
    }
    last = match.index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function CodeBlock({ text }) {
  const lines = text.split("\n");
  const language = lines[0].replace(/^\s*```/, "").trim();
  const closed = lines.length > 1 && /^\s*```\s*$/.test(lines[lines.length - 1]);
  const code = lines.slice(1, closed ? -1 : undefined).join("\n");
  return (
    <div className="md-pre-wrap" data-testid="code-block" style={SKIPPABLE}>
      <div style={{ display: "flex", justifyContent: "space-between", fontSize: 12, color: "var(--gray-11)" }}>
        <span>{language || "code"}</span>
        <button
          type="button"
          className="md-copy"
          onClick={() => navigator.clipboard?.writeText(code).catch(() => undefined)}
          style={{ background: "none", border: "none", cursor: "pointer", color: "var(--accent-11)" }}
        >
          Copy
        </button>
      </div>
      <pre
        style={{
          margin: 0,
          padding: "8px 10px",
          background: "var(--gray-a3)",
          borderRadius: 6,
          overflowX: "auto",
          whiteSpace: "pre",
        }}
      >
        <code>{code}</code>
      </pre>
    </div>
  );
}

/**
 * Blocks out of view skip style, layout and paint work (the browser keeps their last size), so a
 * paint of a streaming answer costs the same at token 2000 as at token 200: without this, the
 * pre-paint tree walk grew with every block of the answer.
 */
const SKIPPABLE = { contentVisibility: "auto", containIntrinsicSize: "auto 1.5em" };

/** One line's inline markup; memoised, so a growing paragraph re-renders only its last line. */
const Line = memo(function Line({ text, keyBase }) {
  return inline(text, keyBase);
});

/** `joinPrev`/`joinNext`: a piece of a soft-cut paragraph (no gap between its pieces). */
export const Block = memo(function Block({ text, joinPrev = false, joinNext = false }) {
  if (/^\s*```/.test(text)) return <CodeBlock text={text} />;
  const heading = /^(#{1,4})\s+(.*)$/.exec(text);
  if (heading && !text.includes("\n")) {
    const Tag = `h${Math.min(6, heading[1].length + 2)}`;
    return <Tag style={{ ...SKIPPABLE, margin: "6px 0" }}>{inline(heading[2], "h")}</Tag>;
  }
  const lines = text.split("\n");
  if (lines.every((line) => /^\s*([-*+]|\d+[.)])\s+/.test(line))) {
    const ordered = /^\s*\d/.test(lines[0]);
    const List = ordered ? "ol" : "ul";
    return (
      <List style={{ ...SKIPPABLE, margin: "4px 0", paddingLeft: 22 }}>
        {lines.map((line, i) => (
          <li key={i}>
            <Line text={line.replace(/^\s*([-*+]|\d+[.)])\s+/, "")} keyBase={`l${i}`} />
          </li>
        ))}
      </List>
    );
  }
  return (
    <p
      style={{
        ...SKIPPABLE,
        margin: `${joinPrev ? 0 : 4}px 0 ${joinNext ? 0 : 4}px`,
        whiteSpace: "pre-wrap",
        overflowWrap: "anywhere",
      }}
    >
      {lines.map((line, i) => (
        <React.Fragment key={i}>
          {i ? <br /> : null}
          <Line text={line} keyBase={`p${i}`} />
        </React.Fragment>
      ))}
    </p>
  );
});

/** Render a list of blocks; finished blocks keep their identity, so React skips them. */
export function Markdown({ blocks, joined = null }) {
  return (
    <div className="md" data-testid="markdown">
      {blocks.map((text, i) => (
        <Block key={i} text={text} joinPrev={Boolean(joined?.has(i - 1))} joinNext={Boolean(joined?.has(i))} />
      ))}
    </div>
  );
}

/** A whole text's view (see BlockSplitter.view). */
export function splitAll(text) {
  return new BlockSplitter().push(text ?? "").view();
}
