/**
 * Runs the whole test suite as two `deno test` processes at once: the check
 * matrix (`tests/check_matrix_test.ts`: `plugcheck check` on every fault
 * fixture, about 45% of the suite's time, mostly sandbox children starting
 * and waiting) with the other files that run `check` ({@link BESIDE}), and
 * everything else. Each is a process of its own, so the tests that count
 * their process's threads and descriptors never see the other's; on these
 * 2-core machines the two together take ~30-40% less time than one after
 * the other.
 *
 * The rest of the suite prints as it runs; the other process's output is
 * kept in `build/test-beside.log` and printed after it (live with
 * `--beside-live`, interleaved). Extra arguments go to both `deno test` runs (`--filter X`,
 * `--fail-fast`, ...). Exit status: the first failing run's, else 0. Ctrl-C
 * (or SIGTERM) stops both.
 *
 * Usage: `deno task test [deno test options]` (it builds first), or
 * `deno run -A scripts/test.ts [deno test options]`.
 *
 * @example
 * ```sh
 * deno task test --filter "fault segfault"
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
/** The test files run beside the rest, in a `deno test` of their own: about half of the suite's time. */
const BESIDE = [
  "tests/check_matrix_test.ts",
  "tests/check_test.ts",
  "tests/faults_test.ts",
  "tests/ladspa_test.ts",
];
const LOG = join(ROOT, "build", "test-beside.log");

const live = Deno.args.includes("--beside-live");
const extra = Deno.args.filter((a) => a !== "--beside-live");
const deno = Deno.execPath();

/** Deno's update check looks up a host name mid-run: a socket the tests that count descriptors would see. */
const ENV = { DENO_NO_UPDATE_CHECK: "1" };

const matrix = new Deno.Command(deno, {
  args: ["test", "-A", ...extra, ...BESIDE],
  cwd: ROOT,
  env: ENV,
  stdin: "null",
  stdout: live ? "inherit" : "piped",
  stderr: live ? "inherit" : "piped",
}).spawn();
// Kept whole in a file as it comes (a run that hangs still leaves what it printed).
const saved = live ? Promise.resolve() : save(matrix);
const rest = new Deno.Command(deno, {
  args: ["test", "-A", "--doc", `--ignore=${BESIDE.join(",")}`, ...extra, "tests/", "mod.ts", "lib/"],
  cwd: ROOT,
  env: ENV,
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

const stop = (signal: Deno.Signal) => () => {
  for (const p of [matrix, rest]) {
    try {
      p.kill(signal);
    } catch {
      // ended already
    }
  }
};
Deno.addSignalListener("SIGINT", stop("SIGINT"));
Deno.addSignalListener("SIGTERM", stop("SIGTERM"));

const restStatus = await rest.status;
if (!live) console.error(`\n${BESIDE.join(", ")} (run beside the rest; their output, also in ${LOG}):\n`);
const matrixStatus = await matrix.status;
await saved;
if (!live) await Deno.stdout.write(await Deno.readFile(LOG));
const failed = [restStatus, matrixStatus].find((s) => !s.success);
Deno.exit(failed === undefined ? 0 : failed.code || 1);

/** Writes the child's stdout and stderr, as they come, to the log file. */
async function save(child: Deno.ChildProcess): Promise<void> {
  await Deno.mkdir(join(ROOT, "build"), { recursive: true });
  using file = await Deno.open(LOG, { write: true, create: true, truncate: true });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      let rest = chunk;
      while (rest.length > 0) rest = rest.subarray(await file.write(rest));
    }
  };
  await Promise.all([pump(child.stdout), pump(child.stderr)]);
}
