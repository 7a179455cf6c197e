/**
 * The fuzz report as text, for people: what ran, how fast, and each bug
 * once, with where it happened, its smallest input, and the commands that
 * reproduce and minimize it. Plugin text is escaped.
 *
 * @example
 * ```ts ignore
 * import { renderFuzzReport } from "./fuzz_text.ts";
 * import { plain } from "./paint.ts";
 * Deno.stdout.writeSync(new TextEncoder().encode(renderFuzzReport(report, plain)));
 * ```
 *
 * @module
 */
import { escapeControl } from "../util/safe_text.ts";
import type { FuzzFinding, FuzzReport } from "../fuzz/mod.ts";
import type { Paint } from "./paint.ts";
import { count, duration, plural, rate } from "./units.ts";

/** Frames of a sanitizer's stack shown under a finding. */
const STACK_LINES = 4;

function findingLines(f: FuzzFinding, paint: Paint): string[] {
  const what = [f.signal, f.exit_code !== undefined ? `exit code ${f.exit_code}` : undefined].filter(Boolean).join(" ");
  const head = `  ${paint("red", f.kind.padEnd(8))} ${escapeControl(f.method)}  x${count(f.count)}${
    what ? `  ${what}` : ""
  }`;
  const lines = [head, `           ${escapeControl(f.message)}`];
  if (f.location) lines.push(`           at ${escapeControl(f.location)}`);
  // A sanitizer's stack, symbolized (the report's first frames; never its shadow-byte legend).
  f.asan?.frames?.slice(0, STACK_LINES).forEach((s, i) =>
    lines.push(`           ${i === 0 ? "stack     " : "          "} ${escapeControl(s)}`)
  );
  lines.push(`           input      ${f.input.size} bytes: ${f.input.preview}`);
  lines.push(
    `           first      after ${duration(f.first_seconds * 1000)} and ${plural(f.first_execs, "exec")}${
      f.job > 0 ? ` (job ${f.job})` : ""
    }`,
  );
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
    : `, ${plural(run.restarts, "restart")}${run.restart_ms ? ` (median ${duration(run.restart_ms.median)})` : ""}`;
  const lines = [
    `${r.target === "libfuzzer" ? "harness" : "plugin "}    ${shown}`,
    `fuzz       ${r.target}${r.sanitizer ? ` + ${r.sanitizer}` : ""}, ${r.methods.map(escapeControl).join(", ")}; ${
      plural(r.jobs, "job")
    }, seed ${r.seed}, max-len ${r.max_len}, timeout ${count(r.timeout_ms)} ms${
      r.leak_checks ? "" : ", no leak checks"
    }`,
    `run        ${count(run.execs)} execs in ${duration(run.seconds * 1000)} (${rate(run.per_second)}) in ${
      run.processes === "fork-server" ? "a fork server" : "Deno children"
    }${restarts}; stopped: ${run.stopped}`,
    `corpus     ${count(r.corpus.size)} entries, ${count(r.corpus.found)} new${
      r.corpus.dir ? ` (in ${escapeControl(r.corpus.dir)})` : ""
    }`,
    `dictionary ${count(r.dictionary.from_binary)} ${
      r.dictionary.from_binary === 1 ? "entry" : "entries"
    } from the binary${
      r.dictionary.words > r.dictionary.from_binary
        ? `, ${count(r.dictionary.words - r.dictionary.from_binary)} from --dict`
        : ""
    }`,
    `artifacts  ${escapeControl(r.artifacts_dir)}`,
  ];
  if (r.findings.length === 0 && run.stopped === "error") {
    lines.push(paint("red", `FAIL: the run ended early (see the warning); nothing found in ${count(run.execs)} execs`));
  } else if (r.findings.length === 0) {
    lines.push(paint("green", `ok: nothing found in ${count(run.execs)} execs`));
  } else {
    lines.push("findings");
    for (const f of r.findings) lines.push(...findingLines(f, paint));
    const total = r.findings.reduce((s, f) => s + f.count, 0);
    lines.push(paint("red", `FAIL: ${plural(r.findings.length, "bug")} found (${plural(total, "occurrence")})`));
  }
  return `${lines.join("\n")}\n`;
}
