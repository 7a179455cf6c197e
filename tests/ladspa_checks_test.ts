/**
 * The `ladspa.*` checks: the descriptor and range rules on hand-written
 * describe() documents (pure, fast), the plans the running checks make,
 * and, end to end through the LADSPA adapter, Debian's example plugins and
 * the fault fixtures of fixtures/ladspa/.
 */
import assert from "node:assert/strict";
import { LADSPA_CHECKS } from "../lib/check/checks/ladspa.ts";
import {
  controlPoints,
  type LadspaLibrary,
  ladspaLibrary,
  type LadspaPlugin,
  type LadspaPort,
  methodOf,
} from "../lib/check/checks/ladspa_doc.ts";
import { descriptorFindings, rangeFindings } from "../lib/check/checks/ladspa_rules.ts";
import {
  controlCombos,
  judgeRuns,
  MIN_CALLS_PER_PLUGIN,
  type PlanRun,
  PROCESSING_BUDGET,
  processingPlan,
  sampleRatePlan,
} from "../lib/check/checks/ladspa_runs.ts";
import { DEFAULT_THRESHOLDS } from "../lib/check/config.ts";
import type { CheckContext } from "../lib/check/spec.ts";
import { Prng } from "../lib/util/prng.ts";
import { PluginCrashError, PluginPanicError, PluginTimeoutError } from "../lib/errors/errors.ts";
import { withPlugin } from "../lib/check/check_helpers.ts";
import { fixture, isFile, ladspaPort, ROOT, runCli } from "./_helpers.ts";
import { join } from "node:path";
import { type CheckReport, loadPlugin, runChecks } from "../mod.ts";

/** Path of a built LADSPA fixture (fixtures/ladspa/). */
const ladspaFixture = (name: string) => join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);

type Hints = LadspaPort["hints"];

/** Bounded hints lower..upper. */
const bounded = (lower: number, upper: number, more: Partial<Hints> = {}): Partial<Hints> => ({
  bounded_below: true,
  bounded_above: true,
  lower,
  upper,
  ...more,
});

function plugin(
  index: number,
  label: string | null,
  ports: LadspaPort[],
  over: Partial<LadspaPlugin> = {},
): LadspaPlugin {
  return {
    index,
    label,
    unique_id: 4100 + index,
    name: `Plugin ${index}`,
    maker: "plugcheck",
    copyright: "MIT",
    properties: [],
    ports,
    ...over,
  };
}

const audio = (index: number, direction: "input" | "output") =>
  ladspaPort(index, direction === "input" ? "In" : "Out", { direction, kind: "audio" });

/** A library of correct plugins: a gain (0..4, default 1) and a filter with a SAMPLE_RATE cutoff. */
function goodLibrary(): LadspaLibrary {
  return {
    abi: "ladspa",
    plugins: [
      plugin(0, "gain", [
        ladspaPort(0, "Gain", { hints: bounded(0, 4, { default: "1" }), default_value: 1 }),
        audio(1, "input"),
        audio(2, "output"),
      ]),
      plugin(1, "lowpass", [
        ladspaPort(0, "Cutoff (Hz)", {
          hints: bounded(0.0001, 0.45, { sample_rate: true, logarithmic: true, default: "middle" }),
          default_value: Math.sqrt(0.0001 * 0.45) * 48000,
        }),
        ladspaPort(1, "Stages", { hints: bounded(1, 4, { integer: true, default: "1" }), default_value: 1 }),
        ladspaPort(2, "Bypass", { hints: { toggled: true, default: "0" }, default_value: 0 }),
        ladspaPort(3, "Latency", { direction: "output" }),
        audio(4, "input"),
        audio(5, "output"),
      ]),
    ],
  };
}

Deno.test("descriptorFindings() finds nothing in a library that keeps the rules", () => {
  assert.deepEqual(descriptorFindings(goodLibrary()), { fails: [], warns: [] });
});

Deno.test("descriptorFindings() fails missing names, repeated labels and unique IDs, and broken descriptors", () => {
  const lib = goodLibrary();
  lib.plugins.push(
    plugin(2, "gain", [], { unique_id: 4100, maker: null, copyright: " " }),
    plugin(3, null, [], { broken: "the descriptor has no Label", name: null }),
  );
  const { fails } = descriptorFindings(lib);
  assert.deepEqual(fails, [
    `"gain" (#2): no maker, no copyright`,
    `"gain" (#2): its label is also "gain" (#0)'s`,
    `"gain" (#2): unique ID 4100 is also "gain" (#0)'s`,
    "(no label) (#3): the adapter cannot use it: the descriptor has no Label",
    "(no label) (#3): no label, no name",
  ]);
});

Deno.test("descriptorFindings() fails ports that are not one direction and one kind, unnamed or named twice", () => {
  const lib: LadspaLibrary = {
    abi: "ladspa",
    plugins: [plugin(0, "bad_ports", [
      ladspaPort(0, "Meter", { direction: "invalid", descriptor: 0x7 }),
      ladspaPort(1, "Sidechain", { kind: "invalid", descriptor: 0x1 }),
      ladspaPort(2, null),
      ladspaPort(3, ""),
      ladspaPort(4, "Meter"),
    ])],
  };
  assert.deepEqual(descriptorFindings(lib).fails, [
    `"bad_ports" (#0) port 0 "Meter": not exactly one of INPUT and OUTPUT (descriptor 0x7)`,
    `"bad_ports" (#0) port 1 "Sidechain": not exactly one of CONTROL and AUDIO (descriptor 0x1)`,
    `"bad_ports" (#0) port 2 (no name): no name`,
    `"bad_ports" (#0) port 3 "": no name`,
    `"bad_ports" (#0) port 4 "Meter": the same name as port 0`,
  ]);
});

/** The findings of rangeFindings() for one port. */
const rangesOf = (p: LadspaPort) => rangeFindings({ abi: "ladspa", plugins: [plugin(0, "p", [p])] });

Deno.test("rangeFindings() finds nothing in a library that keeps the rules", () => {
  assert.deepEqual(rangeFindings(goodLibrary()), { fails: [], warns: [] });
  // A default at a bound, printed with 9 digits from a float, is inside.
  assert.deepEqual(
    rangesOf(ladspaPort(0, "x", { hints: bounded(0.1, 0.9, { default: "maximum" }), default_value: 0.9000000003 }))
      .fails,
    [],
  );
});

Deno.test("rangeFindings() fails lower > upper, a default outside the bounds and one without its bounds", () => {
  assert.deepEqual(rangesOf(ladspaPort(0, "Level", { hints: bounded(1, 0) })).fails, [
    `"p" (#0) port 0 "Level": lower bound 1 > upper bound 0`,
  ]);
  assert.deepEqual(
    rangesOf(ladspaPort(0, "Level", { hints: bounded(0, 1, { default: "100" }), default_value: 100 })).fails,
    [
      `"p" (#0) port 0 "Level": default 100 (100) is above the upper bound 1`,
    ],
  );
  const rate = ladspaPort(0, "Cutoff", {
    hints: bounded(0.01, 0.4, { sample_rate: true, default: "440" }),
    default_value: 440,
  });
  assert.deepEqual(rangesOf(rate).fails, [
    `"p" (#0) port 0 "Cutoff": default 440 (440) is below the lower bound 480 (at 48000 Hz)`,
  ]);
  assert.deepEqual(
    rangesOf(ladspaPort(0, "Mix", { hints: { bounded_below: true, lower: 0, default: "middle" } })).fails,
    [
      `"p" (#0) port 0 "Mix": DEFAULT_MIDDLE needs both bounds, and the port has not`,
    ],
  );
  assert.deepEqual(rangesOf(ladspaPort(0, "Mix", { hints: { default: "minimum" } })).fails, [
    `"p" (#0) port 0 "Mix": DEFAULT_MINIMUM needs a lower bound, and the port has not`,
  ]);
  assert.deepEqual(rangesOf(ladspaPort(0, "Mix", { hints: { bits: 0x380 } })).fails, [
    `"p" (#0) port 0 "Mix": DEFAULT bits 0x380 are not a LADSPA default`,
  ]);
  assert.deepEqual(rangesOf(ladspaPort(0, "Mix", { hints: { bounded_above: true, upper: null } })).fails, [
    `"p" (#0) port 0 "Mix": BOUNDED_ABOVE, but its upper bound is not a number`,
  ]);
});

Deno.test("rangeFindings() warns of a LOGARITHMIC range that includes 0 and a TOGGLED port bounded other than 0..1", () => {
  // Debian's amp: a logarithmic gain bounded below by 0, open above.
  const amp = rangesOf(
    ladspaPort(0, "Gain", {
      hints: { bounded_below: true, lower: 0, logarithmic: true, default: "1" },
      default_value: 1,
    }),
  );
  assert.deepEqual(amp, {
    fails: [],
    warns: [`"p" (#0) port 0 "Gain": LOGARITHMIC range 0..(open) includes 0: hosts cannot draw it`],
  });
  assert.deepEqual(rangesOf(ladspaPort(0, "Gain", { hints: bounded(-1, 1, { logarithmic: true }) })).warns.length, 1);
  assert.deepEqual(rangesOf(ladspaPort(0, "Gain", { hints: bounded(0.001, 1, { logarithmic: true }) })).warns, []);
  assert.deepEqual(rangesOf(ladspaPort(0, "On", { hints: bounded(0, 10, { toggled: true }) })).warns, [
    `"p" (#0) port 0 "On": TOGGLED, but bounded 0..10 instead of 0..1`,
  ]);
  assert.deepEqual(rangesOf(ladspaPort(0, "On", { hints: bounded(0, 1, { toggled: true }) })).warns, []);
});

Deno.test("ladspaLibrary() reads the adapter part, leaves other documents alone and names what is malformed", () => {
  assert.equal(ladspaLibrary(undefined), undefined);
  assert.equal(ladspaLibrary({ name: "ref_c" }), undefined);
  assert.equal(ladspaLibrary({ adapter: { abi: "vst" } }), undefined);
  const lib = ladspaLibrary({ adapter: goodLibrary() });
  assert.ok(typeof lib === "object" && lib?.plugins.length === 2);
  assert.match(
    String(ladspaLibrary({ adapter: { abi: "ladspa", plugins: [{ index: 0 }] } })),
    /^adapter\.plugins\.0\./,
  );
});

Deno.test("methodOf() names a repeated label's method <Label>#<index>, and takes the adapter's method when given", () => {
  const plugins = [plugin(0, "a", []), plugin(1, "a", []), plugin(2, "b", [], { method: "b!" })];
  assert.deepEqual(plugins.map((_, i) => methodOf(plugins, i)), ["a", "a#1", "b!"]);
});

Deno.test("controlPoints() tries bounds, default and middle; open ends from the default or the bound +/- 1", () => {
  assert.deepEqual(controlPoints(ladspaPort(0, "g", { hints: bounded(0, 4), default_value: 1 })), [0, 4, 1, 2]);
  // SAMPLE_RATE bounds at 48000 Hz, a geometric middle, single precision.
  const log = controlPoints(
    ladspaPort(0, "f", { hints: bounded(0.0001, 0.45, { sample_rate: true, logarithmic: true }) }),
  );
  assert.deepEqual(log, [4.80000019, 21600, 321.993774]);
  assert.deepEqual(controlPoints(ladspaPort(0, "n", { hints: bounded(1, 4, { integer: true }) })), [1, 4, 3]);
  assert.deepEqual(controlPoints(ladspaPort(0, "t", { hints: { toggled: true }, default_value: 1 })), [0, 1]);
  assert.deepEqual(
    controlPoints(ladspaPort(0, "amp", { hints: { bounded_below: true, lower: 0 }, default_value: 1 })),
    [
      0,
      1,
      0.5,
    ],
  );
  assert.deepEqual(
    controlPoints(ladspaPort(0, "amp", { hints: { bounded_below: true, lower: 2 }, default_value: 1 })),
    [
      2,
      3,
      1,
      2.5,
    ],
  );
  assert.deepEqual(controlPoints(ladspaPort(0, "x", { hints: { bounded_above: true, upper: 0 } })), [-1, 0, -0.5]);
  assert.deepEqual(controlPoints(ladspaPort(0, "x")), [0, 1, 0.5]);
});

Deno.test("controlCombos() takes every combination when few, else a seeded sample led by the defaults", () => {
  const small = plugin(0, "g", [ladspaPort(0, "g", { hints: bounded(0, 4), default_value: 1 }), audio(1, "output")]);
  assert.deepEqual(controlCombos(small, 100, new Prng(1)), [[], [[0, 0]], [[0, 4]], [[0, 1]], [[0, 2]]]);
  const many = plugin(0, "m", Array.from({ length: 8 }, (_, i) => ladspaPort(i, `c${i}`, { hints: bounded(0, 1) })));
  const a = controlCombos(many, 20, new Prng(7));
  assert.equal(a.length, 20);
  assert.deepEqual(a[0], []);
  assert.deepEqual(controlCombos(many, 20, new Prng(7)), a, "the same seed, the same sample");
  assert.notDeepEqual(controlCombos(many, 20, new Prng(8)), a);
  assert.equal(new Set(a.map((c) => JSON.stringify(c))).size, 20, "no setting twice");
});

Deno.test("processingPlan() keeps within its budget and runs every plugin; sampleRatePlan() leaves out broken ones", () => {
  const lib = goodLibrary();
  for (let i = 2; i < 200; i++) lib.plugins.push(plugin(i, `p${i}`, [ladspaPort(0, "x", { hints: bounded(0, 1) })]));
  lib.plugins.push(plugin(200, null, [], { broken: "no Label" }));
  const plan = processingPlan(lib, 1);
  assert.ok(plan.length <= MIN_CALLS_PER_PLUGIN * 200, `${plan.length} calls`);
  assert.equal(new Set(plan.map((c) => c.method)).size, 200);
  // Each plugin: its defaults with every signal and block, and its bounds with one at least.
  for (const m of ["gain", "p7"]) {
    const calls = plan.filter((c) => c.method === m).map((c) => c.input);
    assert.equal(calls.filter((c) => !c.includes("#")).length, 9);
    assert.ok(calls.some((c) => / #0=0$/.test(c)) && calls.some((c) => / #0=[14]$/.test(c)), calls.join("; "));
  }
  assert.deepEqual(processingPlan(lib, 1), plan);
  const one = processingPlan(goodLibrary(), 1);
  assert.ok(one.length <= PROCESSING_BUDGET && one.some((c) => /^impulse frames=1 #0=4.80000019 /.test(c.input)));
  // Few controls: every setting with every signal and block.
  assert.equal(one.filter((c) => c.method === "gain").length, 9 * 5);
  assert.equal(sampleRatePlan(lib).length, 2 * 200);
});

Deno.test("LADSPA_CHECKS skip a library that is not LADSPA", async () => {
  const ctx = {
    path: "/nowhere/libx.so",
    shown: "libx.so",
    seed: 1,
    isolate: true,
    thresholds: DEFAULT_THRESHOLDS,
    description: { name: "x", version: "1", thread_safe_instances: false, methods: [] },
    hasStats: false,
    load: {},
    signal: new AbortController().signal,
    fuzzSkip: [],
  } satisfies CheckContext;
  for (const check of LADSPA_CHECKS) {
    assert.deepEqual(await check.run(ctx), { status: "skip", details: "not a LADSPA library", evidence: [] }, check.id);
  }
});

Deno.test("withPlugin() keeps the plugin open until an async callback is done", async () => {
  const ctx = {
    path: fixture("ref_c"),
    shown: "ref_c",
    seed: 1,
    isolate: false,
    thresholds: DEFAULT_THRESHOLDS,
    description: undefined,
    hasStats: false,
    load: {},
    signal: new AbortController().signal,
    fuzzSkip: [],
  } satisfies CheckContext;
  const out = await withPlugin(ctx, async (plugin) => {
    await new Promise((r) => setTimeout(r, 10));
    await using inst = await plugin.createInstance();
    return new TextDecoder().decode(await inst.invoke("upper", "open"));
  });
  assert.equal(out, "OPEN");
});

const fakeCtx = (over: Partial<CheckContext> = {}): CheckContext => ({
  path: "/lib/libx.so",
  shown: "libx.so",
  seed: 1,
  isolate: true,
  thresholds: DEFAULT_THRESHOLDS,
  description: undefined,
  hasStats: false,
  load: {},
  signal: new AbortController().signal,
  fuzzSkip: [],
  ...over,
});

Deno.test("judgeRuns() reports every plugin that crashed or hung, the failures after them, and repeats the first crash", () => {
  const crash = new PluginCrashError('Cannot invoke "b": the plugin crashed the sandbox child (killed by SIGSEGV)', {
    operation: 'invoke "b"',
    signal: "SIGSEGV",
    stderrTail: "",
  });
  const hang = new PluginTimeoutError('Cannot invoke "a": no reply within 2000 ms', {
    operation: 'invoke "a"',
    timeoutMs: 2000,
  });
  const panic = new PluginPanicError('Cannot invoke "c": plugin returned status 4 (PANIC): NaN', {
    operation: 'invoke "c"',
  });
  const run: PlanRun = {
    ran: 30,
    failed: [{ call: { method: "c", input: "impulse frames=1" }, error: panic }],
    stopped: [
      { call: { method: "a", input: "silence frames=64" }, error: hang },
      { call: { method: "b", input: "impulse frames=64" }, error: crash },
    ],
    cut: false,
  };
  const o = judgeRuns(fakeCtx({ load: { adapter: "/my/adapter.so" } }), [{ config: { sample_rate: 8000 }, run }], "");
  assert.equal(o.status, "crash");
  assert.equal(o.details, 'b("impulse frames=64") at {"sample_rate":8000} crashed (1 crash and 1 hang in 30 calls)');
  assert.deepEqual(o.evidence, [
    `a("silence frames=64") at {"sample_rate":8000} did not return in time: PluginTimeoutError: ${hang.message}`,
    `b("impulse frames=64") at {"sample_rate":8000} crashed: PluginCrashError: ${crash.message}`,
    `c("impulse frames=1") at {"sample_rate":8000}: PluginPanicError: ${panic.message}`,
  ]);
  assert.equal(
    o.repro,
    `plugcheck invoke libx.so b --input 'impulse frames=64' --isolate --config '{"sample_rate":8000}' --adapter /my/adapter.so`,
  );
  const hungOnly = judgeRuns(fakeCtx(), [{ config: {}, run: { ...run, failed: [], stopped: [run.stopped[0]!] } }], "");
  assert.equal(hungOnly.status, "timeout");
  const failedOnly = judgeRuns(fakeCtx(), [{ config: {}, run: { ...run, stopped: [] } }], "");
  assert.equal(failedOnly.status, "fail");
  assert.equal(failedOnly.details, "1 of 30 calls failed");
  const interrupted = judgeRuns(fakeCtx(), [{ config: {}, run: { ran: 3, failed: [], stopped: [], cut: true } }], "");
  assert.equal(interrupted.status, "skip");
  assert.equal(
    judgeRuns(fakeCtx(), [{ config: {}, run: { ran: 3, failed: [], stopped: [], cut: false } }], "ok").details,
    "3 calls: ok",
  );
});

// ---- end to end, through the LADSPA adapter ----------------------------------------------------------------------

const LADSPA_FILTER = { filter: ["^ladspa\\."], seed: 1, jobs: 2 } as const;
const SDK = "/usr/lib/ladspa";
const SDK_MISSING = !(await isFile(`${SDK}/amp.so`) && await isFile(`${SDK}/delay.so`));
const NEEDS_SDK = SDK_MISSING ? ` (ignored: ${SDK}/amp.so or delay.so is absent; .ci/run installs ladspa-sdk)` : "";

/** The status of each ladspa check on `path`, and the whole report. */
async function ladspaRun(path: string): Promise<{ status: Record<string, string>; report: CheckReport }> {
  const report = await runChecks(path, LADSPA_FILTER);
  return { status: Object.fromEntries(report.results.map((r) => [r.id, r.status])), report };
}

const ALL_PASS = {
  "ladspa.descriptors": "pass",
  "ladspa.ranges": "pass",
  "ladspa.sample_rates": "pass",
  "ladspa.processing": "pass",
  "ladspa.independence": "pass",
  "ladspa.denormals": "pass",
  "ladspa.inplace": "pass",
  "ladspa.run_adding": "pass",
  "ladspa.reset": "pass",
  "ladspa.hard_rt": "pass",
  "ladspa.block_size": "pass",
};

Deno.test({
  name:
    `runChecks() of ladspa-sdk's amp.so and delay.so passes the ladspa group (amp's 0-bounded log gain warns)${NEEDS_SDK}`,
  ignore: SDK_MISSING,
  fn: async () => {
    const amp = await ladspaRun(`${SDK}/amp.so`);
    // amp has no activate, so no plugin of it is declared pure: independence has nothing to compare; nor run_adding.
    assert.deepEqual(amp.status, {
      ...ALL_PASS,
      "ladspa.ranges": "warn",
      "ladspa.independence": "skip",
      "ladspa.run_adding": "skip",
    });
    const ranges = amp.report.results.find((r) => r.id === "ladspa.ranges")!;
    assert.deepEqual(ranges.evidence, [
      `"amp_mono" (#0) port 0 "Gain": LOGARITHMIC range 0..(open) includes 0: hosts cannot draw it`,
      `"amp_stereo" (#1) port 0 "Gain": LOGARITHMIC range 0..(open) includes 0: hosts cannot draw it`,
    ]);
    assert.equal(amp.report.exitCode, 0);
    const processing = amp.report.results.find((r) => r.id === "ladspa.processing")!;
    assert.match(processing.details, /^\d+ calls: 2 plugins, every output finite/);
    const delay = await ladspaRun(`${SDK}/delay.so`);
    assert.deepEqual(delay.status, { ...ALL_PASS, "ladspa.run_adding": "skip" });
  },
});

Deno.test("runChecks() of the LADSPA reference library passes the ladspa group", async () => {
  assert.deepEqual((await ladspaRun(ladspaFixture("ladspa_ref"))).status, ALL_PASS);
});

/** Each fixture, the check that catches it, and how (the others pass). */
const CAUGHT: [string, string, string, RegExp][] = [
  ["nan_at_upper", "ladspa.processing", "fail", /nan_at_upper\(".* #0=1"\).*PANIC.*wrote NaN/],
  ["default_out_of_bounds", "ladspa.ranges", "fail", /port 0 "Level": default 100 \(100\) is above the upper bound 1$/],
  ["duplicate_unique_id", "ladspa.descriptors", "fail", /"dup_b" \(#1\): unique ID 4207 is also "dup_a" \(#0\)'s/],
  ["bad_port_descriptor", "ladspa.descriptors", "fail", /port 3 "Meter": not exactly one of INPUT and OUTPUT/],
  ["log_range_includes_zero", "ladspa.ranges", "warn", /LOGARITHMIC range 0\.\.20000 includes 0/],
  [
    "crash_at_192k",
    "ladspa.sample_rates",
    "crash",
    /crash_at_192k\("silence frames=64"\) at \{"sample_rate":192000\} crashed/,
  ],
  [
    "shared_state",
    "ladspa.independence",
    "fail",
    /shared_state\("noise seed=3 frames=4096 block=64 twin"\), 2 instances block by block on one thread: .*differ at output port "Output", frame 0: .* They share state/,
  ],
  [
    "inplace_broken_undeclared",
    "ladspa.inplace",
    "fail",
    /^inplace_broken_undeclared\("noise seed=1 frames=64 fresh inplace"\): in place, port "Output"/,
  ],
  ["run_adding_ignores_gain", "ladspa.run_adding", "fail", /run_adding with gain 0\.5 wrote .* it must add gain x/],
  [
    "state_not_reset",
    "ladspa.reset",
    "fail",
    /after "noise seed=1 frames=4096" and deactivate \+ activate, port "Output"/,
  ],
  [
    "restarts_each_block",
    "ladspa.block_size",
    "warn",
    /block=1"\): in blocks of 1, port "Output": [0-9a-f]+ instead of/,
  ],
  ["alloc_in_run_hard_rt", "ladspa.hard_rt", "fail", /"alloc_in_run_hard_rt": run called malloc 4 times \(free 4 /],
];

/**
 * What the other checks say of a fixture: all pass, but independence skips a library none of whose plugins is
 * declared pure (they have no activate: the adapter cannot reset them between runs, docs/ladspa.md#independence),
 * and run_adding one none of whose plugins has run_adding.
 */
async function othersOf(name: string): Promise<Record<string, string>> {
  await using plugin = await loadPlugin(ladspaFixture(name), { log: "off" });
  const comparable = plugin.describe().methods.some((m) => m.pure);
  const lib = ladspaLibrary(plugin.describe()) as LadspaLibrary;
  const adding = lib.plugins.some((p) => p.has_run_adding === true);
  return {
    ...ALL_PASS,
    ...!comparable && { "ladspa.independence": "skip" },
    ...!adding && { "ladspa.run_adding": "skip" },
  };
}

for (const [name, id, status, evidence] of CAUGHT) {
  Deno.test(`runChecks() of the LADSPA fixture ${name}: ${id} says ${status}, the other ladspa checks pass`, async () => {
    const { status: got, report } = await ladspaRun(ladspaFixture(name));
    assert.deepEqual(got, { ...await othersOf(name), [id]: status });
    const result = report.results.find((r) => r.id === id)!;
    assert.ok(result.evidence.some((e) => evidence.test(e)), result.evidence.join("\n"));
    if (status === "crash") {
      assert.equal(
        result.repro,
        `plugcheck invoke ${
          ladspaFixture(name)
        } crash_at_192k --input 'silence frames=64' --isolate --config '{"sample_rate":192000}'`,
      );
    }
  });
}

/** The check column of the LADSPA table of docs/faults.md: fixture -> check id -> status. */
async function ladspaDocRows(): Promise<Map<string, Map<string, string>>> {
  const text = (await Deno.readTextFile(join(ROOT, "docs/faults.md"))).split("\n## LADSPA fixtures")[1];
  assert.ok(text !== undefined, "docs/faults.md has a LADSPA fixtures section");
  const rows = new Map<string, Map<string, string>>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("| `")) continue;
    const cells = line.slice(2, -2).split(" | ").map((c) => c.trim());
    const expected = new Map<string, string>();
    // "none (...)": no check of the group catches it (another command does; the row says which).
    for (const part of cells.at(-1)!.startsWith("none") ? [] : cells.at(-1)!.split(", ")) {
      const m = /^`(ladspa\.[a-z_]+)`(?: \((crash|timeout|warn)\))?$/.exec(part);
      assert.ok(m, `docs/faults.md, ${cells[0]}: cannot read ${JSON.stringify(part)}`);
      expected.set(m[1]!, m[2] ?? "fail");
    }
    rows.set(cells[0]!.replace(/`/g, ""), expected);
  }
  return rows;
}

const DOC_ROWS = await ladspaDocRows();
const CAUGHT_NAMES = new Set(CAUGHT.map(([name]) => name));

Deno.test("docs/faults.md has a LADSPA row for every LADSPA fault fixture, and the rows tested above say what they prove", () => {
  const fixtures = [...Deno.readDirSync(join(ROOT, "fixtures", "ladspa"))]
    .filter((e) => e.name.endsWith(".c") && e.name !== "ladspa_ref.c")
    .map((e) => e.name.slice(0, -2));
  assert.deepEqual([...DOC_ROWS.keys()].sort(), fixtures.sort());
  for (const [name, id, status] of CAUGHT) {
    assert.deepEqual(Object.fromEntries(DOC_ROWS.get(name)!), { [id]: status }, name);
  }
});

for (const [name, expected] of DOC_ROWS) {
  if (CAUGHT_NAMES.has(name)) continue; // tested above, with its evidence
  Deno.test(`runChecks() of the LADSPA fixture ${name}: exactly the ladspa checks of docs/faults.md do not pass`, async () => {
    const { status } = await ladspaRun(ladspaFixture(name));
    const got = Object.fromEntries(Object.entries(status).filter(([, s]) => s !== "pass" && s !== "skip"));
    assert.deepEqual(got, Object.fromEntries(expected));
  });
}

Deno.test("runChecks() of the LADSPA fixture write_past_output: every check that runs it reports the crash", async () => {
  const { status } = await ladspaRun(ladspaFixture("write_past_output"));
  const others = await othersOf("write_past_output");
  assert.deepEqual(status, {
    ...others,
    "ladspa.sample_rates": "crash",
    "ladspa.processing": "crash",
    // It has no activate: independence compares no plugin of it (it would crash there too).
    "ladspa.independence": others["ladspa.independence"] === "skip" ? "skip" : "crash",
    // Its plain run crashes: in-place and block size leave it out (processing's finding), so none is compared.
    "ladspa.inplace": "skip",
    "ladspa.block_size": "skip",
    // Every block of it crashes: no run of it ends for hard_rt to judge.
    "ladspa.hard_rt": "skip",
  });
});

Deno.test("plugcheck check --list shows the ladspa group, each rule linked in docs/ladspa.md", async () => {
  const r = await runCli(["check", "--list", "--filter", "^ladspa\\.", "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const listed = JSON.parse(r.stdout) as { id: string; group: string; help_uri: string }[];
  assert.deepEqual(listed.map((c) => c.id), LADSPA_CHECKS.map((c) => c.id));
  for (const c of listed) {
    assert.equal(c.group, "ladspa");
    assert.match(c.help_uri, /\/docs\/ladspa\.md#[a-z-]+$/);
  }
  const text = await runCli(["check", "--list"]);
  assert.match(text.stdout, /^ladspa\.sample_rates +#sample-rates +Every plugin instantiates/m);
  assert.match(text.stdout, /^errors\.no_crash /m);
});
