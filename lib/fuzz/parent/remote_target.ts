/**
 * An npa plugin fuzzed in a fork server, as the engine's target: the guard
 * judges the calls the worker's loop stopped at from the buffers the worker
 * took over ({@link RemoteLoop.take}), and reads the plugin's counters by
 * asking the worker, so a finding and a leak say exactly what they say in a
 * Deno fuzz child (`child/npa_target.ts`).
 *
 * @example
 * ```ts ignore
 * import { RemoteNpaTarget } from "./remote_target.ts";
 * const target = new RemoteNpaTarget(loop, 64 << 20, server.npa.stats);
 * ```
 *
 * @module
 */
import type { CallResult } from "../../ffi/calls.ts";
import type { GuardContext } from "../../errors/guard.ts";
import { judgeStats } from "../../load/open_checked.ts";
import type { EngineTarget, Judged } from "../engine/batch_loop.ts";
import { judgeCall } from "../engine/judge_call.ts";
import type { RemoteLoop } from "./remote_loop.ts";

/** The fork server's npa plugin, judged here. */
export class RemoteNpaTarget implements EngineTarget {
  readonly #warnings: string[] = [];
  readonly #guard: GuardContext;
  /** The plugin's counters, when it exports `npa_plugin_stats` (a broken stats call throws the typed error). */
  readonly stats?: () => Promise<Record<string, number>>;

  constructor(loop: RemoteLoop, maxOutputBytes: number, hasStats: boolean) {
    this.#guard = {
      free: () => {
        throw new Error("A fuzz worker's buffers are freed in the worker");
      },
      maxOutputBytes,
      warn: (m) => this.#warnings.push(m),
      take: (raw) => loop.take(raw),
    };
    if (hasStats) this.stats = async () => judgeStats(await loop.stats(), this.#guard);
  }

  judge(method: string, json: boolean, raw: CallResult): Judged {
    return judgeCall(method, json, raw, this.#guard, this.#warnings);
  }
}
