/**
 * The fuzz report as text, for people: what ran, how fast, and each bug
 * once, with where it happened, its smallest input, and the commands that
 * reproduce and minimize it. Plugin text is escaped.
 *
 * @example
 * ```ts ignore
 * import { renderFuzzReport } from "./fuzz_text.ts";
 * Deno.stdout.writeSync(new TextEncoder().encode(renderFuzzReport(report, (_, s) => s)));
 * ```
 *
 * @module
 */
import { escapeControl } from "../util/safe_text.ts";
import type { FuzzFinding, FuzzReport } from "../fuzz/parent/report.ts";

/** Styles a piece of text (colour when the output wants it). */
export type Paint = (style: "red" | "green" | "yellow" | "bold" | "dim", text: string) => string;

const n = (v: number) => v.toLocaleString("en-US");

function findingLines(f: FuzzFinding, paint: Paint): string[] {
  const what = [f.signal, f.exit_code !== undefined ? `exit code ${f.exit_code}` : undefined].filter(Boolean).join(" ");
  const head = `  ${paint("red", f.kind.padEnd(8))} ${escapeControl(f.method)}  x${n(f.count)}${
    what ? `  ${what}` : ""
  }`;
  const lines = [head, `           ${escapeControl(f.message)}`];
  if (f.location) lines.push(`           at ${escapeControl(f.location)}`);
  lines.push(`           input      ${f.input.size} bytes: ${f.input.preview}`);
  lines.push(`           artifact   ${escapeControl(f.artifact)}`);
  lines.push(`           reproduce  ${escapeControl(f.repro)}`);
  lines.push(`           minimize   ${escapeControl(f.minimize)}`);
  return lines;
}

/** The report as lines of text (ending in a newline). */
export function renderFuzzReport(r: FuzzReport, paint: Paint): string {
  const name = r.plugin.name ? `${escapeControl(r.plugin.name)} ${escapeControl(r.plugin.version ?? "")} ` : "";
  const shown = name ? `${name}(${escapeControl(r.plugin.path)})` : escapeControl(r.plugin.path);
  const run = r.run;
  const restarts = run.restarts === 0
    ? ""
    : `, ${n(run.restarts)} restart${run.restarts === 1 ? "" : "s"}${
      run.restart_ms ? ` (median ${run.restart_ms.median} ms)` : ""
    }`;
  const lines = [
    `${r.target === "libfuzzer" ? "harness" : "plugin "}    ${shown}`,
    `fuzz       ${r.target}${r.sanitizer ? ` + ${r.sanitizer}` : ""}, ${
      r.methods.map(escapeControl).join(", ")
    }; ${r.jobs} job${r.jobs === 1 ? "" : "s"}, seed ${r.seed}, max-len ${r.max_len}, timeout ${n(r.timeout_ms)} ms${
      r.leak_checks ? "" : ", no leak checks"
    }`,
    `run        ${n(run.execs)} execs in ${run.seconds.toFixed(1)} s (${
      n(run.per_second)
    }/s)${restarts}; stopped: ${run.stopped}`,
    `corpus     ${n(r.corpus.size)} entries, ${n(r.corpus.found)} new${
      r.corpus.dir ? ` (in ${escapeControl(r.corpus.dir)})` : ""
    }`,
    `artifacts  ${escapeControl(r.artifacts_dir)}`,
  ];
  if (r.findings.length === 0) {
    lines.push(paint("green", `ok: nothing found in ${n(run.execs)} execs`));
  } else {
    lines.push("findings");
    for (const f of r.findings) lines.push(...findingLines(f, paint));
    const total = r.findings.reduce((s, f) => s + f.count, 0);
    lines.push(
      paint(
        "red",
        `FAIL: ${r.findings.length} bug${r.findings.length === 1 ? "" : "s"} found (${n(total)} occurrence${
          total === 1 ? "" : "s"
        })`,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}
