/**
 * What two builds answer to the same inputs, method by method: the inputs of
 * the check sweep (each method's describe() examples, both builds', or a
 * sample; the edge inputs but the 64 MiB one; bad JSON for json methods) and
 * a few more (a phrase, every byte value, a JSON object), given to one
 * instance of each build. A
 * method the old build had and the new one lacks is a regression; a new
 * method a change. Per input: an answer that was a success and is now a
 * failure (or a crash, or a hang) is a regression, the reverse an
 * improvement; another output, or another failure, is a change (an impure
 * method's outputs are not compared, only whether it succeeded).
 *
 * @example
 * ```ts ignore
 * import { compareBehaviour } from "./behaviour.ts";
 * for (const d of await compareBehaviour(oldPlugin, newPlugin)) console.log(d.verdict, d.item, d.detail);
 * ```
 *
 * @module
 */
import { type Difference, statusVerdict } from "../report/compare/mod.ts";
import type { InstanceHandle, PluginHandle } from "../plugin/handle.ts";
import { shortText } from "../util/safe_text.ts";
import type { MethodDescription } from "../plugin/describe_schema.ts";
import { BAD_JSON_INPUTS, sampleInputs, SHORT_EDGE_INPUTS } from "../check/sweep.ts";
import { sameBytes } from "../stress/plan.ts";

/** Inputs every method gets besides its examples (and the check sweep's short edge inputs; json: its bad JSON). */
const FIXED_INPUTS: readonly Uint8Array[] = [
  new TextEncoder().encode("hello world"),
  Uint8Array.from({ length: 256 }, (_, i) => i),
  new TextEncoder().encode('{"a":[1,2,3],"b":"c"}'),
];

/** What both builds are given for method `m` (its and the old build's `o` sample inputs first). */
function inputsFor(m: MethodDescription, o: MethodDescription): Uint8Array[] {
  return [
    ...sampleInputs(o).map((x) => x.input),
    ...sampleInputs(m).map((x) => x.input),
    // The sweep's 64 MiB edge input is left to `check`, whose buffer checks make it.
    ...SHORT_EDGE_INPUTS,
    ...FIXED_INPUTS,
    ...m.input === "json" || o.input === "json" ? BAD_JSON_INPUTS : [],
  ];
}
/** Differing inputs listed per method; the rest are counted. */
const SHOWN_PER_METHOD = 5;

type Answer = { ok: true; output: Uint8Array } | { ok: false; error: string };

const decoder = new TextDecoder("utf-8", { fatal: false });
/** Bytes as short, escaped, quoted text (`max` characters at most before the cut). */
const show = (bytes: Uint8Array, max = 60) => `"${shortText(decoder.decode(bytes.subarray(0, 200)), max)}"`;

/** A live instance of `plugin`, made again after a call wedged it (a crash or a hang in a sandbox child). */
class Caller {
  #inst: InstanceHandle | undefined;
  constructor(readonly plugin: PluginHandle, readonly timeoutMs: number) {}
  async call(method: string, input: Uint8Array): Promise<Answer> {
    try {
      if (this.#inst === undefined || this.#inst.state !== "live") this.#inst = await this.plugin.createInstance();
      const [r] = await this.#inst.invokeBatch(method, [input], { timeoutMs: this.timeoutMs });
      return r!.ok ? { ok: true, output: r!.output } : { ok: false, error: r!.error.name };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.name : String(e) };
    }
  }
  async close(): Promise<void> {
    if (this.#inst?.state === "live") await this.#inst.destroy().catch(() => {});
  }
}

function answerText(a: Answer): string {
  return a.ok ? show(a.output) : a.error;
}

/** The behaviour differences of two builds (old first). */
export async function compareBehaviour(
  a: PluginHandle,
  b: PluginHandle,
  options: { timeoutMs?: number } = {},
): Promise<Difference[]> {
  const diffs: Difference[] = [];
  const [da, db] = [a.describe(), b.describe()];
  const newMethods = new Map(db.methods.map((m) => [m.name, m]));
  const oldMethods = new Map(da.methods.map((m) => [m.name, m]));
  for (const m of da.methods) {
    if (!newMethods.has(m.name)) {
      diffs.push({
        area: "behaviour",
        item: `method ${m.name}`,
        old: "present",
        new: null,
        verdict: "regression",
        detail: "removed in the new build",
      });
    }
  }
  for (const m of db.methods) {
    if (!oldMethods.has(m.name)) {
      diffs.push({
        area: "behaviour",
        item: `method ${m.name}`,
        old: null,
        new: "present",
        verdict: "change",
        detail: "added in the new build",
      });
    }
  }
  const ca = new Caller(a, options.timeoutMs ?? 5000), cb = new Caller(b, options.timeoutMs ?? 5000);
  try {
    for (const m of db.methods) {
      const old = oldMethods.get(m.name);
      if (old === undefined || m.fuzz === false || old.fuzz === false) continue;
      const inputs = inputsFor(m, old);
      const seen = new Set<string>();
      let same = 0, shown = 0, hidden = 0;
      for (const input of inputs) {
        const key = input.join(",");
        if (seen.has(key)) continue;
        seen.add(key);
        const [x, y] = [await ca.call(m.name, input), await cb.call(m.name, input)];
        // Both answered alike: the same output (an impure method's outputs are not compared) or the same error.
        const alike = x.ok && y.ok
          ? !(m.pure && old.pure) || sameBytes(x.output, y.output)
          : !x.ok && !y.ok && x.error === y.error;
        const verdict = statusVerdict(!x.ok, !y.ok, alike);
        if (verdict === "same") {
          same++;
          continue;
        }
        if (shown >= SHOWN_PER_METHOD && verdict === "change") {
          hidden++;
          continue;
        }
        shown++;
        diffs.push({
          area: "behaviour",
          item: `${m.name} ${show(input, 24)}`,
          old: answerText(x),
          new: answerText(y),
          verdict,
          detail: `${answerText(x)} -> ${answerText(y)}`,
        });
      }
      if (same === seen.size || hidden > 0) {
        diffs.push({
          area: "behaviour",
          item: `${m.name} (answers)`,
          old: seen.size,
          new: same,
          verdict: hidden > 0 ? "change" : "same",
          detail: hidden > 0
            ? `${hidden} more inputs answered otherwise (${same} of ${seen.size} the same)`
            : `all ${seen.size} inputs answered the same`,
        });
      }
    }
  } finally {
    await ca.close();
    await cb.close();
  }
  return diffs;
}
