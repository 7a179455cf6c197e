/**
 * A fuzz job's spare child: started ahead (loaded, initialized, waiting) so
 * that a crash costs no start-up, and killed at once when the job ends
 * while it is still starting (a short run does not wait for it).
 *
 * @example
 * ```ts ignore
 * import { SpareChild } from "./spare_child.ts";
 * const spare = new SpareChild();
 * spare.start(session.spec(spareFile));
 * const child = await spare.take(); // undefined when none was started, or it died waiting
 * await spare.end();
 * ```
 *
 * @module
 */
import { type ChildSpec, SandboxChild } from "../../sandbox/sandbox_child.ts";

/** At most one child started ahead. */
export class SpareChild {
  #child: Promise<SandboxChild> | undefined;
  #abort: AbortController | undefined;

  /** Starts one with `spec`, unless one is started already. */
  start(spec: ChildSpec): void {
    if (this.#child !== undefined) return;
    this.#abort = new AbortController();
    this.#child = SandboxChild.start(spec, { signal: this.#abort.signal });
    this.#child.catch(() => {}); // a spare that fails to start is replaced by a fresh child when needed
  }

  /** Takes it for the next life: the child once it is up, if it is alive; undefined when none was started or it
   * is not alive (then ended). */
  async take(): Promise<SandboxChild | undefined> {
    const starting = this.#child;
    this.#child = this.#abort = undefined; // it becomes the running child
    const child = await starting?.catch(() => undefined);
    if (child?.alive) return child;
    child?.kill("closed");
    return undefined;
  }

  /** Ends it (at the end of the job): killed at once if it still starts. */
  async end(): Promise<void> {
    const starting = this.#child;
    this.#child = undefined;
    this.#abort?.abort();
    const child = await starting?.catch(() => undefined);
    if (child) {
      child.kill("closed");
      await child.waitExit();
    }
  }
}
