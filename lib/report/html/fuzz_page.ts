/**
 * `plugcheck fuzz --html FILE`: the fuzz report as a page. exec/s, coverage
 * (edges, features), corpus size and RSS over the run, each finding marked on
 * the time axis where it was first made; then the findings with their kind,
 * frames, input (a bounded hex dump of the artifact) and the commands that
 * replay and minimize it.
 *
 * @example
 * ```ts ignore
 * import { fuzzPage } from "./fuzz_page.ts";
 * const inputs = new Map([[report.findings[0]!.artifact, await Deno.readFile(report.findings[0]!.artifact)]]);
 * await Deno.writeTextFile("fuzz.html", await fuzzPage(report, inputs));
 * ```
 *
 * @module
 */
import type { FuzzFinding, FuzzReport } from "../../fuzz/mod.ts";
import { duration, mib } from "../units.ts";
import { drawLineCharts, type LineChart, type LineSeries } from "./charts.ts";
import { facts, type Html, htmlPage, markup, type Section, table, trusted } from "./page.ts";

/** The most bytes of a finding's input the page shows. */
export const HEX_DUMP_BYTES = 512;

/**
 * `bytes` as hex-dump lines (offset, 16 bytes in hex, the printable ones as text), at most {@link HEX_DUMP_BYTES};
 * `size`: the whole input's size, when `bytes` is its head.
 */
export function hexDump(bytes: Uint8Array, size = bytes.length): string {
  const shown = bytes.subarray(0, HEX_DUMP_BYTES);
  const lines: string[] = [];
  for (let at = 0; at < shown.length; at += 16) {
    const row = shown.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${text}`);
  }
  if (size > shown.length) lines.push(`... ${size - shown.length} more bytes`);
  return lines.join("\n");
}

function charts(r: FuzzReport): LineChart[] {
  const t = r.timeline;
  if (t.length === 0) return [];
  const rules = r.findings.map((f, i) => ({ x: f.first_seconds, label: `#${i + 1} ${f.kind}` }));
  const line = (name: string, pick: (p: FuzzReport["timeline"][number]) => number | null | undefined): LineSeries => ({
    name,
    points: t.flatMap((p) => {
      const y = pick(p);
      return y === null || y === undefined ? [] : [[p.t_s, y] as const];
    }),
  });
  const out: LineChart[] = [{
    title: "Executions per second",
    x: { title: "seconds" },
    y: { title: "exec/s", format: "~s" },
    series: [line("exec/s", (p) => p.per_second)],
    rules,
  }];
  if (r.coverage !== null) {
    out.push({
      title: "Coverage",
      x: { title: "seconds" },
      y: { title: "count", format: "~s" },
      series: [line("edges", (p) => p.edges), line("features", (p) => p.features)],
      rules,
      step: true,
    });
  }
  out.push({
    title: "Corpus size",
    x: { title: "seconds" },
    y: { title: "inputs" },
    series: [line("corpus", (p) => p.corpus)],
    rules,
    step: true,
  });
  const rss = line("RSS", (p) => (p.rss_bytes === null ? null : Number((p.rss_bytes / 2 ** 20).toFixed(2))));
  if (rss.points.length > 0) {
    out.push({ title: "RSS of the running child", x: { title: "seconds" }, y: { title: "MiB" }, series: [rss], rules });
  }
  return out;
}

function frames(f: FuzzFinding): Html {
  const rows = [...(f.frames ?? [])].map((fr, i) => [
    `#${i}`,
    fr.function ?? "",
    fr.file ? `${fr.file}${fr.line !== undefined ? `:${fr.line}` : ""}` : "",
    markup`<code>${fr.module}+${fr.offset}</code>`,
  ]);
  return rows.length === 0 ? markup`` : table(["", "function", "source", "module+offset"], rows);
}

function finding(f: FuzzFinding, i: number, input: Uint8Array | undefined): Html {
  return markup`<article class="finding" id="finding-${i + 1}">
<h3>#${i + 1} <span class="status s-fail">${f.kind}</span> in <code>${f.method}</code></h3>
<p>${f.message}</p>
${
    facts([
      ["key", markup`<code>${f.key}</code>`],
      ["seen", `${f.count} time(s); first after ${f.first_seconds} s, execution ${f.first_execs} of job ${f.job}`],
      ["where", f.location ?? "-"],
      ...f.signal !== undefined ? [["signal", f.signal] as [string, unknown]] : [],
      ...f.asan ? [["sanitizer", f.asan.summary] as [string, unknown]] : [],
      ["input", `${f.input.size} bytes, SHA-1 ${f.input.sha1}`],
      ["artifact", markup`<code>${f.artifact}</code>`],
    ])
  }
${frames(f)}
<h4>Input</h4>
<pre>${input !== undefined ? hexDump(input, f.input.size) : f.input.preview}</pre>
<h4>Reproduce</h4>
<pre>${f.repro}</pre>
<h4>Minimize</h4>
<pre>${f.minimize}</pre>
${
    f.error
      ? markup`
        <details>
          <summary>error</summary>
          <pre>${JSON.stringify(f.error, null, 2)}</pre>
        </details>
      `
      : ""
  }
</article>`;
}

/**
 * The page of a fuzz report. `inputs`: each finding's input by artifact path, when it could be read (the page
 * shows at most {@link HEX_DUMP_BYTES} of it; else the report's escaped preview).
 */
export async function fuzzPage(r: FuzzReport, inputs: ReadonlyMap<string, Uint8Array> = new Map()): Promise<string> {
  const cs = charts(r);
  const svgs = await drawLineCharts(cs, "fuzz");
  const name = r.plugin.name ?? r.plugin.path;
  const findingsLine = r.findings.length === 0 ? "nothing found" : `${r.findings.length} finding(s)`;
  const sections: Section[] = [
    {
      id: "progress",
      title: "Progress",
      body: svgs.length === 0
        ? markup`<p class="muted">No progress was sampled (the run ended within 100 ms).</p>`
        : markup`${
          svgs.map((svg) => markup`<figure>${trusted(svg)}</figure>`)
        }<p class="muted">Sampled every 100 ms; dashed red lines: when each finding was first made.</p>`,
    },
    {
      id: "findings",
      title: `Findings (${r.findings.length})`,
      body: r.findings.length === 0
        ? markup`<p>Nothing found.</p>`
        : markup`${r.findings.map((f, i) => finding(f, i, inputs.get(f.artifact)))}`,
    },
    {
      id: "run",
      title: "Run",
      body: facts([
        ["library", markup`<code>${r.plugin.path}</code>`],
        ["target", `${r.target}${r.sanitizer ? ` (${r.sanitizer})` : ""}`],
        ["methods", r.methods.join(", ") || "-"],
        ["seed", r.seed],
        ["jobs", r.jobs],
        ["executions", `${r.run.execs} in ${duration(r.run.seconds * 1000)} (${r.run.per_second}/s)`],
        ["inputs ran in", r.run.processes === "fork-server" ? "a fork server" : "Deno sandbox children"],
        ["restarts", `${r.run.restarts}${r.run.restart_ms ? `, median ${duration(r.run.restart_ms.median)}` : ""}`],
        ["stopped", r.run.stopped],
        ["corpus", `${r.corpus.size} inputs (${r.corpus.found} found in this run)`],
        [
          "coverage",
          r.coverage
            ? `${r.coverage.edges} of ${r.coverage.instrumented} edges, ${r.coverage.features} features`
            : "not guided",
        ],
        [
          "peak RSS",
          (() => {
            const peak = Math.max(0, ...r.timeline.map((p) => p.rss_bytes ?? 0));
            return peak > 0 ? mib(peak) : "-";
          })(),
        ],
        ["artifacts", markup`<code>${r.artifacts_dir}</code>`],
      ]),
    },
  ];
  if (r.warnings.length > 0) {
    sections.push({
      id: "warnings",
      title: "Warnings",
      body: markup`<ul>${r.warnings.map((w) => markup`<li>${w}</li>`)}</ul>`,
    });
  }
  const failedEarly = r.run.stopped === "error";
  return htmlPage({
    title: `plugcheck fuzz: ${name}`,
    heading: markup`fuzz <code>${name}</code>${
      r.plugin.version
        ? markup`
          <span class="muted">${r.plugin.version}</span>
        `
        : ""
    }`,
    verdict: {
      ok: r.ok,
      text: r.ok
        ? `ok: nothing found in ${r.run.execs} executions`
        : failedEarly
        ? `FAIL: the run ended early on an error (${findingsLine})`
        : `FAIL: ${findingsLine} in ${r.run.execs} executions`,
    },
    sections,
    provenance: r.provenance,
  });
}

/** The first bytes of each finding's artifact, as many as the page shows (an artifact that is gone is left out). */
export async function findingInputs(report: FuzzReport): Promise<Map<string, Uint8Array>> {
  const inputs = new Map<string, Uint8Array>();
  for (const f of report.findings) {
    try {
      using file = await Deno.open(f.artifact);
      const head = new Uint8Array(HEX_DUMP_BYTES);
      let got = 0;
      while (got < head.length) {
        const n = await file.read(head.subarray(got));
        if (n === null) break;
        got += n;
      }
      inputs.set(f.artifact, head.subarray(0, got));
    } catch {
      // the report's preview stands in
    }
  }
  return inputs;
}
