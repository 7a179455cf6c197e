/**
 * `plugcheck check --html FILE`: the conformance report as a page. The checks
 * in tables by group, failures first (groups with failures first, and in each
 * group what failed before what passed), each with its status, duration,
 * details, evidence, rule and repro command; radio buttons filter by status
 * (CSS only: the page has no script). For a directory, the summary table of
 * the libraries (failures first), the unique-ID collisions, and each
 * library's checks.
 *
 * @example
 * ```ts ignore
 * import { checkPage } from "./check_page.ts";
 * await Deno.writeTextFile("check.html", checkPage(checkReportJson(report)));
 * ```
 *
 * @module
 */
import type { CheckReportJson, CheckResultJson } from "../check_report.ts";
import type { DirectoryReportJson } from "../check_dir_report.ts";
import { duration } from "../units.ts";
import { facts, type Html, htmlPage, markup, rowFilters, type Section, table } from "./page.ts";

const BAD = new Set(["fail", "crash", "timeout"]);
/** Sort rank of a status: what needs reading first. */
const RANK: Record<string, number> = { crash: 0, timeout: 1, fail: 2, warn: 3, pass: 4, skip: 5 };

/** The status filter: failures, warnings, all (groups that only passed go with what they passed). */
const FILTERS = rowFilters([
  { id: "all", label: "all", hides: [] },
  { id: "problems", label: "failed and warned", hides: ["tr.r-pass", "tr.r-skip", ".group.clean"] },
  { id: "failed", label: "failed only", hides: ["tr.r-pass", "tr.r-skip", "tr.r-warn", ".group.clean"] },
]);

function statusCell(status: string): Html {
  return markup`<span class="status s-${status}">${status}</span>`;
}

function resultRow(x: CheckResultJson): unknown[] {
  const more = x.evidence.filter((e) => e !== x.details);
  return [
    statusCell(x.status),
    markup`<code>${x.id}</code><br><span class="muted">${x.title}</span>`,
    duration(x.duration_ms),
    markup`${x.details}${
      more.length > 0
        ? markup`
          <details>
            <summary>evidence (${more.length})</summary>
            <pre>${more.join("\n")}</pre>
          </details>
        `
        : ""
    }${
      x.repro
        ? markup`
          <details${BAD.has(x.status) ? " open" : ""}>
            <summary>repro</summary>
            <pre>${x.repro}</pre>
            </details>
        `
        : ""
    }`,
    markup`<a href="${x.help_uri}">${x.rule}</a>`,
  ];
}

/** The checks of one library, a table per group, failures first. */
export function checkTables(results: readonly CheckResultJson[]): Html {
  const groups = new Map<string, CheckResultJson[]>();
  for (const x of results) groups.set(x.group, [...groups.get(x.group) ?? [], x]);
  const worst = (xs: readonly CheckResultJson[]) => Math.min(...xs.map((x) => RANK[x.status] ?? 9));
  const ordered = [...groups].sort(([, a], [, b]) => worst(a) - worst(b));
  return markup`${
    ordered.map(([group, xs]) => {
      const rows = [...xs].sort((a, b) => (RANK[a.status] ?? 9) - (RANK[b.status] ?? 9));
      const clean = rows.every((x) => x.status === "pass" || x.status === "skip");
      return markup`<div class="group${clean ? " clean" : ""}"><h3>${group}</h3>${
        table(["status", "check", "duration", "details", "rule"], rows.map(resultRow), {
          rowClass: (i) => `r-${rows[i]!.status}`,
        })
      }</div>`;
    })
  }`;
}

function countsLine(counts: Record<string, number>): string {
  return Object.entries(counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(", ");
}

/** The page of one library's check report. */
export function checkPage(r: CheckReportJson): string {
  const name = r.plugin ? `${r.plugin.name} ${r.plugin.version}` : r.library;
  const bad = r.counts.fail + r.counts.crash + r.counts.timeout;
  const sections: Section[] = [
    { id: "checks", title: `Checks (${r.results.length})`, body: markup`${FILTERS.buttons}${checkTables(r.results)}` },
    {
      id: "run",
      title: "Run",
      body: facts([
        ["library", markup`<code>${r.library}</code>`],
        ["plugin", r.plugin ? `${r.plugin.name} ${r.plugin.version}` : "not loaded"],
        ["loaded as far as", `${r.stage}${r.stage_error ? `: ${r.stage_error}` : ""}`],
        ["seed", r.seed],
        ["strict", r.strict ? "yes" : "no"],
        ["config", r.config ?? "none"],
        ["started", r.started_at],
        ["took", duration(r.duration_ms)],
        ["counts", countsLine(r.counts)],
      ]),
    },
  ];
  return htmlPage({
    title: `plugcheck check: ${name}`,
    heading: markup`check <code>${name}</code>`,
    verdict: {
      ok: r.ok,
      text: r.exit_code === 3
        ? `FAIL: the library cannot be loaded (${r.stage_error ?? r.stage})`
        : r.ok
        ? `ok: ${r.counts.pass} passed, none failed (${countsLine(r.counts)})`
        : `FAIL: ${bad} of ${r.results.length} checks failed${r.strict && bad === 0 ? " or warned (strict)" : ""}`,
    },
    sections,
    provenance: r.provenance,
  }, FILTERS.style);
}

/** The page of a directory's check report. */
export function checkDirectoryPage(r: DirectoryReportJson): string {
  const rows = [...r.summary.rows].sort((a, b) =>
    Number(b.failed > 0 || b.exit_code !== 0) - Number(a.failed > 0 || a.exit_code !== 0) ||
    a.library.localeCompare(b.library)
  );
  const failedLibrary = (row: (typeof rows)[number]) => row.failed > 0 || row.exit_code !== 0 || row.error !== null;
  const byLibrary = new Map(r.libraries.map((l) => [l.library, l]));
  const sections: Section[] = [
    {
      id: "libraries",
      title: `Libraries (${r.summary.libraries})`,
      body: markup`${FILTERS.buttons}${
        table(
          ["library", "plugins", "passed", "failed", "warned", "skipped", "first failure", "took"],
          rows.map((row) => [
            markup`<a href="#lib-${rows.indexOf(row)}"><code>${row.library}</code></a>`,
            row.plugins ?? "-",
            row.passed,
            row.failed,
            row.warned,
            row.skipped,
            row.error !== null
              ? markup`<span class="s-fail">plugcheck failed: ${row.error}</span>`
              : row.first_failure
              ? markup`<code>${row.first_failure.id}</code>: ${row.first_failure.details}`
              : row.exit_code === 3
              ? "cannot be loaded"
              : "",
            duration(row.duration_ms),
          ]),
          { rowClass: (i) => (failedLibrary(rows[i]!) ? "r-fail" : "r-pass") },
        )
      }${r.summary.not_run.length > 0 ? markup`<p>Not run (interrupted): ${r.summary.not_run.join(", ")}</p>` : ""}`,
    },
  ];
  if (r.collisions.length > 0 || r.across.length > 0) {
    sections.push({
      id: "across",
      title: "Across libraries",
      body: markup`${
        r.collisions.length === 0 ? "" : table(
          ["unique ID", "declared by"],
          r.collisions.map((c) => [
            c.unique_id,
            c.plugins.map((p) => `${p.library} (${p.label ?? `#${p.index}`})`).join("; "),
          ]),
        )
      }${r.across.length > 0 ? checkTables(r.across) : ""}`,
    });
  }
  sections.push({
    id: "each",
    title: "Each library's checks",
    body: markup`${
      rows.map((row, i) => {
        const lib = byLibrary.get(row.library);
        return markup`
          <details id="lib-${i}" ${failedLibrary(row) ? " open" : ""}><summary><code>${row.library}</code> · ${
          lib ? countsLine(lib.counts) : "no report"
        }</summary>${lib ? checkTables(lib.results) : ""}</details>
        `;
      })
    }`,
  });
  sections.push({
    id: "run",
    title: "Run",
    body: facts([
      ["directories", r.directories.join(", ")],
      ["missing directories", r.missing_directories.join(", ") || "none"],
      ["seed", r.seed],
      ["jobs", r.jobs],
      ["strict", r.strict ? "yes" : "no"],
      ["started", r.started_at],
      ["took", duration(r.duration_ms)],
      ["checks", countsLine(r.summary.checks)],
    ]),
  });
  return htmlPage({
    title: `plugcheck check: ${r.directories.join(", ")}`,
    heading: markup`check <code>${r.directories.join(", ")}</code>`,
    verdict: {
      ok: r.ok,
      text: r.ok
        ? `ok: ${r.summary.libraries} libraries, none failed`
        : `FAIL: ${r.summary.failed} of ${r.summary.libraries} libraries failed`,
    },
    sections,
  }, FILTERS.style);
}
