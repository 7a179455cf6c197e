/**
 * Installs a `plugcheck` command that runs this clone. Unlike `deno install`,
 * whose shim runs `deno` from PATH, the shim written here runs the Deno binary
 * that ran the installer (on a fresh machine that is npx's copy, not on PATH),
 * then `deno` from PATH, then `npx -y deno@2.9.6` as a last resort.
 *
 * Usage: `deno task install [--root DIR]` (default `$DENO_INSTALL_ROOT` or
 * `~/.deno`; the command goes in `<root>/bin/plugcheck`).
 *
 * @example
 * ```sh
 * npx -y deno@2.9.6 task install && ~/.deno/bin/plugcheck --help
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const PERMISSIONS = "--allow-ffi --allow-read --allow-write --allow-env --allow-run";

/** Quotes a string for POSIX sh. */
function sh(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The shim's text. */
export function shim(denoPath: string, clone: string): string {
  const run = `run ${PERMISSIONS} --config ${sh(join(clone, "deno.json"))} ${sh(join(clone, "cli.ts"))}`;
  return `#!/bin/sh
# plugcheck: runs the clone at ${clone} (written by 'deno task install')
# Deno's update check would open a socket mid-run, which plugcheck's descriptor counts in process would see.
export DENO_NO_UPDATE_CHECK=1
DENO=${sh(denoPath)}
if [ ! -x "$DENO" ]; then DENO=$(command -v deno || true); fi
if [ -n "$DENO" ]; then exec "$DENO" ${run} "$@"; fi
exec npx -y deno@2.9.6 ${run} "$@"
`;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { root: { type: "string" } } });
  const home = Deno.env.get("HOME") ?? ".";
  const root = values.root ?? Deno.env.get("DENO_INSTALL_ROOT") ?? join(home, ".deno");
  const bin = join(root, "bin");
  await Deno.mkdir(bin, { recursive: true });
  const target = join(bin, "plugcheck");
  const tmp = `${target}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, shim(Deno.execPath(), ROOT), { mode: 0o755 });
  await Deno.rename(tmp, target);
  console.error(`Installed ${target}`);
  const onPath = (Deno.env.get("PATH") ?? "").split(":").includes(bin);
  if (!onPath) console.error(`Add it to PATH:  export PATH="${bin}:$PATH"`);
}
