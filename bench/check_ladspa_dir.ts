/**
 * `plugcheck check /usr/lib/ladspa --format json`: the whole suite over every
 * LADSPA library the machine has installed (Debian's ladspa-sdk, swh-plugins,
 * cmt, tap-plugins, caps, ...), one process timed from spawn to exit. Prints
 * the time, the libraries that failed with their first failure, and how many
 * libraries failed each check; plugcheck itself must neither exit 70 nor hang.
 *
 * Run: `deno task bench`, or `deno run -A bench/check_ladspa_dir.ts [--dir DIR] [--jobs N] [--seed S]`.
 * Goal (issue 18): under 10 minutes on these 2-core machines.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ROOT } from "../tests/_helpers.ts";
import { DirectoryReportJsonSchema } from "../lib/report/check_dir_report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string", default: "/usr/lib/ladspa" },
    jobs: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
  },
});
const GOAL_S = 600;

try {
  await Deno.stat(values.dir);
} catch {
  console.log(
    `${values.dir}: not there (Debian: apt-get install ladspa-sdk swh-plugins cmt tap-plugins caps); skipped`,
  );
  Deno.exit(0);
}

console.log(`plugcheck check ${values.dir} --jobs ${values.jobs} --seed ${values.seed} --format json (whole process)`);
const t0 = performance.now();
const out = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    join(ROOT, "cli.ts"),
    "check",
    values.dir,
    "--jobs",
    values.jobs,
    "--seed",
    values.seed,
    "--format",
    "json",
  ],
  stdout: "piped",
  stderr: "inherit",
}).output();
const seconds = (performance.now() - t0) / 1000;
// Interrupted (Ctrl-C, SIGTERM to plugcheck): the report so far, and the time per library it took.
const interrupted = out.code === 130 || out.code === 143;
if (out.code !== 0 && out.code !== 1 && !interrupted) {
  throw new Error(`plugcheck check ${values.dir} exited ${out.code} after ${seconds.toFixed(1)} s`);
}
const doc = DirectoryReportJsonSchema.parse(JSON.parse(new TextDecoder().decode(out.stdout)));
const s = doc.summary;
if (interrupted) console.log(`  interrupted: ${s.not_run.length} libraries not run`);
console.log(
  `  ${s.libraries} libraries: ${s.passed} passed, ${s.failed} failed; ${doc.collisions.length} unique IDs collide`,
);
const byCheck = new Map<string, number>();
const byStatus = { fail: 0, crash: 0, timeout: 0 };
for (const lib of doc.libraries) {
  for (const r of lib.results) {
    if (r.status === "fail" || r.status === "crash" || r.status === "timeout") {
      byCheck.set(r.id, (byCheck.get(r.id) ?? 0) + 1);
      byStatus[r.status]++;
    }
  }
}
console.log(
  `  checks that did not pass: ${byStatus.fail} failed, ${byStatus.crash} crashed, ${byStatus.timeout} timed out`,
);
for (const [id, n] of [...byCheck].sort((a, b) => b[1] - a[1])) console.log(`    ${id.padEnd(32)} failed in ${n}`);
for (const row of s.rows.filter((r) => r.first_failure !== null)) {
  console.log(`    ${row.library}: ${row.first_failure!.id}: ${row.first_failure!.details.slice(0, 100)}`);
}
console.log(
  `  ${seconds.toFixed(1)} s (${(seconds / Math.max(1, s.libraries)).toFixed(1)} s per library), exit ${out.code}` +
    (interrupted ? "" : `  goal < ${GOAL_S / 60} min: ${seconds < GOAL_S ? "met" : "NOT met"}`),
);
