/**
 * A fuzz child's (or fork server worker's) death read from its input file:
 * the input in flight, the crash record, the hang backtrace when the watch
 * killed it for hanging, and what its end and stderr say, made into the
 * finding it is (`deathFinding`), with the run's context.
 *
 * @example
 * ```ts ignore
 * import { findingOfDeath } from "./death.ts";
 * const { finding, current } = findingOfDeath(session, file, { job: 0, execs: 1200 }, end);
 * ```
 *
 * @module
 */
import { hostLibraryPath } from "../../ffi/native_helper.ts";
import { parseAsanReport } from "../crash/asan_report.ts";
import { deathFinding, type FindingCandidate } from "../crash/finding.ts";
import type { CurrentInput } from "../wire.ts";
import type { InputFile } from "./input_file.ts";
import type { JobSession } from "./job_session.ts";
import type { KilledFor } from "./watchdog.ts";

/** How a process ended, as its job saw it. */
export interface DeathSeen {
  signal?: string | undefined;
  exitCode?: number | undefined;
  /** The watch killed it: why, and for a hang the deadline it was held to. */
  killedFor?: KilledFor | undefined;
  hangMs?: number | undefined;
  stderrTail: string;
  /** A fork server's worker whose server ended under it. */
  hostGone?: boolean | undefined;
}

/** The finding a death is (undefined: no input was in flight), and the input that was. */
export function findingOfDeath(
  s: JobSession,
  file: InputFile,
  at: { job: number; execs: number },
  end: DeathSeen,
): { finding: FindingCandidate | undefined; current: CurrentInput | undefined } {
  const current = file.current();
  const finding = deathFinding({
    signal: end.signal,
    exitCode: end.exitCode,
    killedFor: end.killedFor,
    hangMs: end.hangMs,
    current,
    crash: file.crash(),
    hangFrames: end.killedFor === "timeout" ? file.hangFrames() : [],
    stderrTail: end.stderrTail,
    hostGone: end.hostGone,
  }, {
    pluginPath: s.pluginPath,
    hostModule: hostLibraryPath(),
    methods: s.methods.map((m) => m.name),
    job: at.job,
    execs: at.execs,
    timeoutMs: s.timeoutMs,
    rssLimitMb: s.rssLimitMb,
    parseAsan: parseAsanReport,
  });
  return { finding, current };
}
