/**
 * The frame of every `--html` page: one self-contained HTML5 document (styles
 * inline, plots as inline SVG, no script, nothing fetched), and `markup`, a
 * template tag that escapes every value it is given unless it is already
 * {@link Html}: text from a plugin (names, messages, details) can only ever
 * be text in the page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { htmlPage, markup } from "./page.ts";
 * const name = "<script>alert(1)</script>";
 * const doc = htmlPage({ title: `check ${name}`, heading: markup`check <code>${name}</code>`, sections: [] });
 * assert.ok(!doc.includes("<script>") && doc.includes("&lt;script&gt;"));
 * ```
 *
 * @module
 */
import type { Provenance } from "../../load/provenance.ts";

/** Markup that is already safe: inserted as it is by {@link markup}. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** `text` as HTML text (or an attribute's value). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function piece(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(piece).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(String(value));
}

/** A template tag: the literal parts are markup, every value is escaped (arrays joined) unless it is {@link Html}. */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Markup made elsewhere and trusted as it is: plugcheck's own SVG plots. */
export function trusted(markup: string): Html {
  return new Html(markup);
}

/** A table: a header row and rows of cells (text is escaped; {@link Html} cells are kept). */
export function table(
  headers: readonly string[],
  rows: readonly (readonly unknown[])[],
  attrs: { class?: string; rowClass?: (i: number) => string } = {},
): Html {
  return markup`
    <table${
    attrs.class
      ? markup`
        class="${attrs.class}"
      `
      : ""
  }>
      <thead>
        <tr>${headers.map((h) => markup`<th>${h}</th>`)}</tr>
      </thead>
      <tbody>${
    rows.map((r, i) =>
      markup`<tr${
        attrs.rowClass
          ? markup`
              class="${attrs.rowClass(i)}"
            `
          : ""
      }>${r.map((c) => markup`<td>${c}</td>`)}</tr>`
    )
  }</tbody>
      </table>
  `;
}

/** Two columns of names and values. */
export function facts(rows: readonly (readonly [string, unknown])[]): Html {
  return markup`<dl class="facts">${
    rows.map(([k, v]) =>
      markup`
        <dt>${k}</dt>
        <dd>${v}</dd>
      `
    )
  }</dl>`;
}

/** One choice of a row filter: its id, its label, and what it hides (CSS selectors); a first one hides nothing. */
export interface FilterChoice {
  id: string;
  label: string;
  hides: readonly string[];
}

/**
 * Radio buttons that hide rows (or groups) by their classes, in CSS only (`:has()`: the page has no script): the
 * buttons' markup, and the style to give `htmlPage`. The first choice is checked.
 */
export function rowFilters(choices: readonly FilterChoice[]): { buttons: Html; style: string } {
  const buttons = markup`<div class="filters" role="group" aria-label="show">${
    choices.map((c, i) =>
      markup`<label><input type="radio" name="show" id="show-${c.id}"${
        i === 0 ? markup` checked` : ""
      }> ${c.label}</label>`
    )
  }</div>`;
  const style = choices.filter((c) => c.hides.length > 0)
    .map((c) => `${c.hides.map((h) => `body:has(#show-${c.id}:checked) ${h}`).join(", ")} { display: none; }`)
    .join("\n");
  return { buttons, style };
}

/** A section of a page. */
export interface Section {
  /** Its anchor (letters, digits, dashes). */
  id: string;
  title: string;
  body: Html;
}

/** What a page shows. */
export interface PageParts {
  /** The document's title (the browser tab's). */
  title: string;
  heading: Html;
  /** The verdict line under the heading: "ok" (green) or "fail" (red), and its text. */
  verdict?: { ok: boolean; text: string };
  sections: readonly Section[];
  provenance?: Provenance;
}

const STYLE = `
:root { color-scheme: light; --fail: #b3261e; --ok: #1e7a34; --warn: #8a6100; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 16px 24px 48px; max-width: 1100px; color: #202124; }
h1 { font-size: 22px; margin: 8px 0 4px; word-break: break-all; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav { margin: 8px 0 0; font-size: 13px; } nav a { margin-right: 12px; }
.verdict { font-weight: 600; font-size: 16px; margin: 6px 0; }
.verdict.ok { color: var(--ok); } .verdict.fail { color: var(--fail); }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #eee; }
th { background: #f1f3f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 600; text-transform: uppercase; font-size: 12px; }
.s-pass { color: var(--ok); } .s-fail, .s-crash, .s-timeout { color: var(--fail); } .s-warn { color: var(--warn); }
.s-skip { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; word-break: break-all; }
figure { margin: 10px 0 18px; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; }
details { margin: 4px 0; } summary { cursor: pointer; }
.muted { color: var(--muted); }
.filters { margin: 8px 0; } .filters label { margin-right: 14px; cursor: pointer; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid #eee; padding-top: 8px; }
@media print { nav, .filters { display: none; } body { max-width: none; padding: 0; } h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; } }
`;

/** The whole document. */
export function htmlPage(parts: PageParts, extraStyle = ""): string {
  const p = parts.provenance;
  const doc = markup`
    <!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="plugcheck">
        <title>${parts.title}</title>
        <style>${trusted(STYLE + extraStyle)}</style>
      </head>
      <body>
        <header>
    <h1>${parts.heading}</h1>
    ${parts.verdict ? markup`<p class="verdict ${parts.verdict.ok ? "ok" : "fail"}">${parts.verdict.text}</p>` : ""}
    <nav>${parts.sections.map((s) => markup`<a href="#${s.id}">${s.title}</a>`)}</nav>
        </header>
        <main>
    ${parts.sections.map((s) => markup`<section id="${s.id}"><h2>${s.title}</h2>${s.body}</section>\n`)}
        </main>
        <footer>${
    p
      ? markup`plugcheck ${p.tool.version} · library SHA-256 <code>${
        p.plugin_sha256 ?? "unknown"
      }</code> · ${p.machine.os}/${p.machine.arch}, ${p.machine.cores} cores, kernel ${
        p.machine.kernel ?? "unknown"
      }, Deno ${p.machine.deno}`
      : "plugcheck"
  }</footer>
      </body>
    </html>
  `;
  return doc.markup;
}
