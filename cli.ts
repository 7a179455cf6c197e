/**
 * The plugcheck command line's entry, and the only place that calls
 * `Deno.exit`. It runs the prebuilt bundle `build/js/` that `deno task build`
 * makes (the command line starts ~30 ms sooner from a few bundled files than from ~100
 * TypeScript modules) while the bundle's stamp matches the sources, and the
 * sources themselves otherwise (`lib/commands/main.ts`): an edited file is
 * never shadowed by a stale build. `plugcheck --version --verbose` says which
 * runs; `PLUGCHECK_PREBUILT=0` forces the sources.
 *
 * @example
 * ```sh
 * deno run --allow-ffi --allow-read --allow-env --allow-run cli.ts load build/fixtures/libref_rust.so
 * ```
 *
 * @module
 */
import { describeState, PREBUILT_DIR, prebuiltState, ROOT_URL } from "./lib/util/prebuilt.ts";

const state = prebuiltState();
// Not a literal specifier: Deno would otherwise load the sources' whole module graph to start the bundle.
const entry = new URL(state.state === "fresh" ? `${PREBUILT_DIR}/cli.js` : "lib/commands/main.ts", ROOT_URL).href;
const { runCli } = await import(entry) as typeof import("./lib/commands/main.ts");
await runCli(Deno.args, (code) => Deno.exit(code), describeState(state));
