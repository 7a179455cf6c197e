/**
 * The npa plugin as the fuzz child sees it: opened, initialized (with its
 * logs switched off: thousands of calls a second would flood), described and
 * given one instance, without the in-process engine (which brings zod and
 * LogTape, ~65 ms of start-up that every restart after a crash would pay).
 * The parent validates the describe() text it gets back. A call the native
 * loop could not settle is judged here by the guard, so a fuzz finding says
 * exactly what `invoke` would.
 *
 * @example
 * ```ts ignore
 * import { NpaTarget } from "./npa_target.ts";
 * const target = await NpaTarget.open(path, { maxOutputBytes: 1 << 20 });
 * const verdict = target.judge("parse", false, loop.raw());
 * ```
 *
 * @module
 */
import type { GuardContext } from "../../errors/guard.ts";
import type { CallResult, PluginCalls } from "../../ffi/calls.ts";
import type { PluginLibrary } from "../../ffi/dlopen.ts";
import { BarePlugin } from "../../load/bare_plugin.ts";
import { readStats } from "../../load/open_checked.ts";
import type { Judged } from "../engine/batch_loop.ts";
import { judgeCall } from "../engine/judge_call.ts";

/** One initialized npa plugin with one instance, in the fuzz child. */
export class NpaTarget {
  /** Where the npa entry points are (the library, or the adapter that serves it): what the fuzz loop binds. */
  readonly entryPath: string;
  readonly describeText: string;
  readonly instance: Deno.PointerObject;
  readonly hasStats: boolean;
  readonly #library: PluginLibrary;
  readonly #calls: PluginCalls;
  readonly #warnings: string[] = [];
  readonly #guard: GuardContext;

  private constructor(
    bare: BarePlugin,
    guard: GuardContext,
    describeText: string,
    instance: Deno.PointerObject,
  ) {
    this.#library = bare.library;
    this.#calls = bare.calls;
    this.entryPath = bare.entryPath;
    this.#guard = guard;
    this.hasStats = bare.hasStats;
    this.describeText = describeText;
    this.instance = instance;
  }

  /**
   * dlopen (through `o.adapter` when given), ABI check, init (logs off),
   * describe, create: the bare opener's steps. Throws the typed error.
   */
  static async open(
    path: string,
    o: { maxOutputBytes: number; config?: Uint8Array | undefined; adapter?: string | undefined },
  ): Promise<NpaTarget> {
    const bare = BarePlugin.open(path, path, o.adapter);
    const warnings: string[] = [];
    const ctx = bare.guardContext(o.maxOutputBytes, (m) => warnings.push(m));
    await bare.init(ctx);
    const describeText = new TextDecoder().decode(await bare.describe(ctx));
    const instance = await bare.create(o.config ?? new Uint8Array(0), ctx);
    const target = new NpaTarget(bare, ctx, describeText, instance);
    target.#warnings.push(...warnings);
    ctx.warn = (m) => target.#warnings.push(m);
    return target;
  }

  /** The plugin's counters, or undefined without `npa_plugin_stats` (a broken stats call throws the typed error). */
  stats(): Record<string, number> | undefined {
    return readStats(this.#calls, this.#guard) ?? undefined;
  }

  /**
   * Judges a call the native loop stopped at, exactly as `invoke` would:
   * frees its buffers and says what error and warnings it amounts to.
   */
  judge(method: string, json: boolean, raw: CallResult): Judged {
    return judgeCall(method, json, raw, this.#guard, this.#warnings);
  }

  /** Destroys the instance and shuts the plugin down (the library stays mapped until the process ends). */
  async close(): Promise<void> {
    await this.#calls.destroy(this.instance);
    await this.#calls.shutdown();
    void this.#library;
  }
}
