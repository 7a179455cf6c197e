/**
 * `plugcheck compare OLD.json NEW.json`: two saved reports of one kind
 * (`stress`, `fuzz` or `check` with `--format json`), one per build of a
 * plugin, compared item by item without running anything: what regressed,
 * improved or changed (the comparison room: `lib/report/compare/`). Exit 1
 * on a regression.
 *
 * @example
 * ```ts ignore
 * import { run } from "./compare.ts";
 * const code = await run(["old.json", "new.json", "--max-slowdown", "1.3"]);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import {
  compareReports,
  comparisonJunitXml,
  DEFAULT_MAX_SLOWDOWN,
  renderComparison,
  whyNotComparable,
} from "../report/compare/mod.ts";
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { readUserFile } from "./input.ts";
import { paintOut, printWarnings } from "./output.ts";
import { HTML_FLAG, reportPath, writeWhole } from "./report_file.ts";
import { comparisonPage } from "../report/html/compare_page.ts";

function readReport(file: string, which: string): unknown {
  const { bytes } = readUserFile(file, which);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UsageError(`The ${which} ${JSON.stringify(file)} is not JSON: ${e instanceof Error ? e.message : e}`);
  }
}

/** The `compare` command. */
export const command = defineCommand({
  name: "compare",
  summary: "compare two saved reports of two builds: what regressed",
  positionals: ["old.json", "new.json"],
  usage: `<old.json> <new.json> [--max-slowdown X] [--all] [--junit FILE] [--html FILE]
                   [--format text|json] [--color WHEN]`,
  description: `Reads two reports that 'plugcheck stress', 'fuzz' or 'check' (of a library
or a directory) printed with --format json (both of one kind), the first
from the old build of a plugin, the second from the new one, and says item by item what regressed, improved,
changed or stayed the same. Nothing is run.

  check   each check: one that passed (or was skipped) and now fails,
          crashes or times out is a regression, the reverse a fix; how far
          the library loads
  stress  each verdict likewise; the methods called and wrong outputs;
          calls/s, p50 and p99 (a call more than --max-slowdown times as
          costly is a regression; when both runs measured the dispatch floor,
          its own slowdown, the machine's, is taken out first); peak RSS, and
          threads and descriptors left after the run
  fuzz    each finding, by its key (one bug): one the new build's run made
          and the old one's did not is a regression; methods; exec/s; edges
  check DIR  each library's checks as for check, libraries matched by file
          name; a library only one directory has is a change

Runs on other machines, with other settings, or of the same library file are
compared anyway, with a warning. Exit code: 0 when nothing regressed, 1
otherwise, 2 when a file is missing, not JSON, not such a report, or the two
are of different kinds.`,
  flags: {
    "max-slowdown": {
      type: "string",
      value: "X",
      help:
        `how many times slower (or bigger, for RSS) the new build\nmay be before it is a regression (default ${DEFAULT_MAX_SLOWDOWN})`,
    },
    all: { type: "boolean", help: "list the items that stayed the same too" },
    junit: { type: "string", value: "FILE", help: "also write JUnit XML (one testcase per compared item)" },
    html: HTML_FLAG,
  },
  examples: [
    "plugcheck check ./old/libmine.so --format json > old.json",
    "plugcheck check ./new/libmine.so --format json > new.json",
    "plugcheck compare old.json new.json",
    "plugcheck compare stress-old.json stress-new.json --max-slowdown 1.5 --junit compare.xml",
  ],
  run: async (ctx: CommandContext) => {
    const [oldFile, newFile] = ctx.positionals as [string, string];
    const maxSlowdown = ctx.positiveNumber("max-slowdown", DEFAULT_MAX_SLOWDOWN);
    if (maxSlowdown < 1) throw new UsageError(`Option --max-slowdown must be at least 1: got ${maxSlowdown}`);
    const junit = await reportPath(ctx.string("junit"), "junit");
    const html = await reportPath(ctx.string("html"), "html");
    const a = readReport(oldFile, "old report");
    const b = readReport(newFile, "new report");
    const why = whyNotComparable(a, b);
    if (why !== null) throw new UsageError(`Cannot compare ${oldFile} with ${newFile}: ${why}`);
    const c = compareReports(a, b, { maxSlowdown });
    if (junit !== undefined) await writeWhole(junit, comparisonJunitXml(c));
    if (html !== undefined) await writeWhole(html, comparisonPage(c));
    if (ctx.format === "json") ctx.json(c);
    else {
      ctx.out(renderComparison(c, paintOut, ctx.flag("all")));
      printWarnings(c.warnings);
    }
    return c.ok ? EXIT.OK : EXIT.PLUGIN_FAILED;
  },
});

/** `plugcheck compare --help`. */
export const help: string = command.help;
/** Runs `plugcheck compare` with the arguments after `compare`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
