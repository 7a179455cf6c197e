/**
 * Shared test helpers: paths of the built fixtures and a runner for the real
 * CLI as a subprocess. `deno task test` builds the fixtures first.
 *
 * @module
 */
import type { CheckResult, CheckStatus } from "../lib/check/result.ts";
import type { LadspaPort } from "../lib/check/checks/ladspa_doc.ts";
import { join } from "node:path";
import { configureSync, type LogRecord, resetSync } from "../lib/util/deps.ts";
import { fileURLToPath } from "node:url";

export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));
const EXT = Deno.build.os === "darwin" ? "dylib" : "so";

/** Path of a built fixture plugin. */
export function fixture(name: string): string {
  return join(ROOT, "build", "fixtures", `lib${name}.${EXT}`);
}
/** Path of a built fault fixture. */
export function fault(name: string): string {
  return join(ROOT, "build", "fixtures", "faults", `lib${name}.${EXT}`);
}

/** A file named like a library that is not one (a source fixture, not built). */
export const NOT_A_LIBRARY: string = join(ROOT, "fixtures", "faults", "not_a_library.so");

/** Whether `path` is a regular file (false when it is missing). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Path of a built fuzz fixture (`fixtures/fuzz/`). */
export function fuzzFixture(name: string): string {
  return join(ROOT, "build", "fixtures", "fuzz", `lib${name}.${EXT}`);
}

/**
 * Path of a fuzz fixture built with clang (SanitizerCoverage); throws saying
 * how to get it when it was not built (clang missing: `.ci/run` installs it).
 */
export function coverageFixture(name: string): string {
  const path = fuzzFixture(name);
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${path} is not built: it needs clang (Debian: apt-get install clang), then deno task build`);
  }
  return path;
}

/** Path of a built probe plugin (a correct plugin that measures its host). */
export function probe(name: string): string {
  return join(ROOT, "build", "fixtures", "probes", `lib${name}.${EXT}`);
}

/** Both reference plugins, by language. */
export const REFERENCE_PLUGINS: readonly { lang: string; name: string; path: string }[] = [
  { lang: "C", name: "ref_c", path: fixture("ref_c") },
  { lang: "Rust", name: "ref_rust", path: fixture("ref_rust") },
];

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** What a CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  /** True when the run was killed for exceeding `killAfterMs`. */
  killed: boolean;
}

/** Options of {@link runDeno} and {@link runCli}. */
export interface RunOptions {
  stdin?: Uint8Array;
  /** Kill the process (SIGKILL, so exit code 137) if it has not exited by then; default 30 s. */
  killAfterMs?: number;
  env?: Record<string, string>;
}

/** `deno` arguments that run `cli.ts` with the permissions the tasks and the installed command give it. */
export const CLI_ARGS: readonly string[] = [
  "run",
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  join(ROOT, "cli.ts"),
];

/** Runs `cli.ts` as a subprocess, as a user would, killing it after `killAfterMs`. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runDeno([...CLI_ARGS, ...args], options);
}

/**
 * The environment the tests' Deno subprocesses get on top of this one's. No
 * update check: Deno's own DNS lookup for it opens a socket mid-run, which
 * the fd verdicts would count as the plugin's.
 */
const CHILD_ENV = { NO_COLOR: "1", RUST_BACKTRACE: "0", DENO_NO_UPDATE_CHECK: "1" };

/** Runs `deno <args>` (this Deno) as a subprocess, killing it after `killAfterMs`. */
export async function runDeno(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { ...CHILD_ENV, ...options.env },
  }).spawn();
  if (options.stdin) {
    const w = child.stdin.getWriter();
    await w.write(options.stdin);
    await w.close();
  }
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, options.killAfterMs ?? 30_000);
  const out = await child.output();
  clearTimeout(timer);
  return {
    code: out.code,
    stdout: text(out.stdout),
    stderr: text(out.stderr),
    stdoutBytes: out.stdout,
    killed,
  };
}

/**
 * One step of {@link runCliSignalled}: once stderr matches `when` (from where
 * the last step matched on), send `signal`; with `group`, to the CLI's whole
 * process group, as `timeout` and CI cancellation do (sandbox children still
 * starting get it too).
 */
export interface SignalStep {
  when: RegExp;
  signal: Deno.Signal;
  group?: boolean;
}

/**
 * Runs `cli.ts` as a subprocess and signals it as `steps` say (each once its
 * stderr shows `when`), killing it (SIGKILL) after `killAfterMs`; `sent`
 * counts the steps taken.
 */
export async function runCliSignalled(
  args: string[],
  steps: SignalStep[],
  options: RunOptions = {},
): Promise<CliResult & { sent: number }> {
  // setsid: the CLI leads a process group of its own (setsid execs in place: same pid), which a step can signal.
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), ...CLI_ARGS, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { ...CHILD_ENV, ...options.env },
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, options.killAfterMs ?? 30_000);
  const stdout = new Response(child.stdout).arrayBuffer();
  const decoder = new TextDecoder();
  let stderr = "";
  let from = 0;
  let sent = 0;
  for await (const chunk of child.stderr) {
    stderr += decoder.decode(chunk, { stream: true });
    const step = steps[sent];
    if (step === undefined) continue;
    const m = step.when.exec(stderr.slice(from));
    if (m === null) continue;
    from += m.index + m[0].length;
    sent++;
    try {
      if (step.group) Deno.kill(-child.pid, step.signal);
      else child.kill(step.signal);
    } catch {
      // gone meanwhile
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  const bytes = new Uint8Array(await stdout);
  return { code: status.code, stdout: text(bytes), stderr, stdoutBytes: bytes, killed, sent };
}

/** Sends every log record of `category` (default `plugin.*`) to memory until disposed (then LogTape is reset). */
export function captureLogs(category = "plugin"): { records: LogRecord[]; [Symbol.dispose](): void } {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: [category], lowestLevel: "trace", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });
  return { records, [Symbol.dispose]: () => resetSync() };
}

/** A copy of a library at a path of its own (an independent library for the loader), removed when disposed. */
export async function libraryCopy(path: string): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-test-" });
  const copy = join(dir, path.slice(path.lastIndexOf("/") + 1));
  await Deno.copyFile(path, copy);
  return { path: copy, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Runs a TypeScript snippet in a fresh Deno process (with this repo's config); it should end with Deno.exit. */
export function runScript(code: string, options: RunOptions = {}): Promise<CliResult> {
  return runDeno(["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", code], options);
}

/** A live process as /proc shows it. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  /** Its session: a daemon that called `setsid()` leads its own (`sid === pid`). */
  sid: number;
  /** Its command name (`comm`). */
  name: string;
  /** Its arguments. */
  args: string[];
}

/** Every live (not zombie) process, read from /proc. */
export function liveProcesses(): ProcEntry[] {
  const found: ProcEntry[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const [state, ppid, _pgrp, sid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") continue;
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const args = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      found.push({ pid: Number(e.name), ppid: Number(ppid), sid: Number(sid), name, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Live sandbox child processes of `parent` (default: this process): each runs
 * under a sandbox launcher (`npah_launcher`) that `parent` started.
 */
export function sandboxChildren(parent = Deno.pid): number[] {
  const all = liveProcesses();
  const launchers = new Set(all.filter((p) => p.ppid === parent && p.name === "npah_launcher").map((p) => p.pid));
  // Every sandbox child is spawned with write access to its own protocol descriptors only (lib/sandbox/spawn.ts).
  return all.filter((p) => launchers.has(p.ppid) && p.args.includes("--allow-write=/proc/self/fd")).map((p) => p.pid);
}

/**
 * Waits until `check()` is true, at most `ms`: true as soon as it was, false
 * if it never was (a state seen once is not asked again, so a passing state
 * is not lost to a second look).
 */
export async function eventually(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A check result for the report writers' tests: `<group>.<name>` with placeholder texts, one evidence line. */
export function checkResult(id: string, status: CheckStatus, extra: Partial<CheckResult> = {}): CheckResult {
  const group = id.split(".")[0]!;
  return {
    id,
    group,
    title: `title of ${id}`,
    rule: group,
    status,
    durationMs: 5,
    details: `details of ${id}`,
    evidence: [`evidence of ${id}`],
    ...extra,
  };
}

/** A temporary directory, removed with everything in it when disposed. */
export async function tempDir(
  prefix = "plugcheck-test-",
): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

type Hints = LadspaPort["hints"];

/** A control input port; `hints` and the rest override the defaults (unbounded, no default). */
export function ladspaPort(
  index: number,
  name: string | null,
  over: Partial<Omit<LadspaPort, "hints">> & { hints?: Partial<Hints> } = {},
): LadspaPort {
  const hints: Hints = {
    bounded_below: false,
    bounded_above: false,
    toggled: false,
    sample_rate: false,
    logarithmic: false,
    integer: false,
    lower: null,
    upper: null,
    default: null,
    ...over.hints,
  };
  return { index, name, direction: "input", kind: "control", default_value: null, ...over, hints };
}
