/**
 * The LADSPA fixtures (fixtures/ladspa/README.md), checked with Debian's
 * ladspa-sdk rather than plugcheck's own adapter: every fixture is built, and
 * `analyseplugin -l` lists exactly the labels and unique IDs its README row
 * gives (so the table and the libraries cannot drift apart); the reference
 * gain doubles a sine through `applyplugin`. `deno task build` builds the
 * fixtures first; without ladspa-sdk (`apt-get install ladspa-sdk`) the tests
 * are ignored, saying why.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { isFile, ROOT, text } from "./_helpers.ts";

const SDK_MISSING = !(await isFile("/usr/bin/analyseplugin")) || !(await isFile("/usr/bin/applyplugin"));
const SKIP_REASON = "ladspa_fixtures_test: ignored: /usr/bin/analyseplugin or applyplugin is absent " +
  "(Debian: apt-get install ladspa-sdk)";
if (SDK_MISSING) console.warn(SKIP_REASON);

const SOURCES = join(ROOT, "fixtures/ladspa");
const ladspaLib = (name: string) => join(ROOT, "build/fixtures/ladspa", `lib${name}.so`);

/** Runs an ladspa-sdk tool, bounded; returns its exit code and output. */
async function sdk(tool: string, args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(`/usr/bin/${tool}`, {
    args,
    ...(cwd ? { cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { code: r.code, out: text(r.stdout) + text(r.stderr) };
}

/** One row of the README table: the fixture's file stem, and its plugins as "label id". */
interface Row {
  fixture: string;
  plugins: string[];
  rule: string;
  caughtBy: string;
}

/** The findings a row may name (the lead's LADSPA checks follow these names). */
const FINDINGS = [
  "crash",
  "timeout",
  "non-finite output",
  "ladspa.descriptors",
  "ladspa.ranges",
  "ladspa.sample_rates",
  "ladspa.processing",
  "ladspa.inplace",
  "ladspa.hard_rt",
  "ladspa.independence",
  "ladspa.reset",
  "ladspa.run_adding",
  "ladspa.block_size",
  "ladspa.denormals",
];

async function readmeRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const line of (await Deno.readTextFile(join(SOURCES, "README.md"))).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const fixture = cells[1]?.match(/^`([a-z0-9_]+)\.c`$/)?.[1];
    if (!fixture) continue;
    const labels = [...(cells[2] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const ids = (cells[3] ?? "").split(",").map((s) => s.trim());
    assert.equal(labels.length, ids.length, `README row ${fixture}: as many labels as unique IDs`);
    rows.push({
      fixture,
      plugins: labels.map((l, i) => `${l} ${ids[i]}`),
      rule: cells[4] ?? "",
      caughtBy: cells[6] ?? "",
    });
  }
  return rows;
}

Deno.test({
  name: "fixtures/ladspa README: analyseplugin lists each built fixture's labels and unique IDs as its row says",
  ignore: SDK_MISSING,
  async fn() {
    const sources: string[] = [];
    for await (const e of Deno.readDir(SOURCES)) {
      if (e.isFile && e.name.endsWith(".c")) sources.push(e.name.slice(0, -2));
    }
    const rows = await readmeRows();
    assert.deepEqual(rows.map((r) => r.fixture).sort(), sources.sort(), "one README row per fixtures/ladspa/*.c");
    const ids = new Map<string, string>();
    for (const row of rows) {
      const lib = ladspaLib(row.fixture);
      assert.ok(await isFile(lib), `${lib} is built (deno task build)`);
      const listed = await sdk("analyseplugin", ["-l", lib]);
      assert.equal(listed.code, 0, `analyseplugin -l ${lib}: ${listed.out}`);
      // `analyseplugin -l`: one "label  id  name" line per plugin.
      const plugins = listed.out.split("\n").map((l) => l.match(/^(\S+)\s+(\d+)\s/)).filter((m) => m !== null)
        .map((m) => `${m[1]} ${m[2]}`);
      assert.deepEqual(plugins, row.plugins, `${row.fixture}: the plugins analyseplugin lists`);
      // Unique IDs are distinct across the fixtures, except inside the one whose fault is sharing one.
      for (const id of new Set(row.plugins.map((p) => p.split(" ")[1]!))) {
        assert.ok(!ids.has(id), `unique ID ${id} of ${row.fixture} is also ${ids.get(id)}'s`);
        ids.set(id, row.fixture);
      }
      // The finding that should catch it starts the last cell ("none" for the reference).
      const finding = row.caughtBy.replace(/`/g, "");
      assert.ok(
        row.rule === "none"
          ? finding.startsWith("none")
          : FINDINGS.some((f) => finding === f || finding.startsWith(`${f} `) || finding.startsWith(`${f},`)),
        `${row.fixture}: "${row.caughtBy}" names none of ${FINDINGS.join(", ")}`,
      );
      const source = await Deno.readTextFile(join(SOURCES, `${row.fixture}.c`));
      assert.equal(
        source.startsWith("/* FAULT FIXTURE — misbehaves on purpose:"),
        row.rule !== "none",
        `${row.fixture}: a fault (and only a fault) starts with the FAULT FIXTURE comment`,
      );
    }
  },
});

const RATE = 44100;

/** A mono 16-bit PCM WAV file: the 44-byte canonical header, then the samples. */
function wav(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const v = new DataView(bytes.buffer);
  const tag = (at: number, s: string) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  tag(0, "RIFF");
  v.setUint32(4, 36 + samples.length * 2, true);
  tag(8, "WAVE");
  tag(12, "fmt ");
  v.setUint32(16, 16, true); // fmt chunk size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, RATE, true);
  v.setUint32(28, RATE * 2, true); // bytes per second
  v.setUint16(32, 2, true); // block align
  v.setUint16(34, 16, true); // bits per sample
  tag(36, "data");
  v.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => v.setInt16(44 + i * 2, s, true));
  return bytes;
}

/** The samples of a mono 16-bit PCM WAV file with the 44-byte header (as applyplugin writes it). */
function unwav(bytes: Uint8Array): Int16Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  assert.deepEqual([tag(0), tag(8), tag(12), tag(36)], ["RIFF", "WAVE", "fmt ", "data"], "a 44-byte WAV header");
  assert.deepEqual([v.getUint16(20, true), v.getUint16(22, true), v.getUint16(34, true)], [1, 1, 16], "mono PCM16");
  const n = v.getUint32(40, true) / 2;
  return Int16Array.from({ length: n }, (_, i) => v.getInt16(44 + i * 2, true));
}

Deno.test({
  name: "ladspa_ref ref_gain: applyplugin at Gain 2 doubles a 16-bit sine",
  ignore: SDK_MISSING,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "plugcheck-ladspa-" });
    try {
      // 0.1 s of 440 Hz at a quarter of full scale: doubled, it stays far from clipping.
      const sine = Int16Array.from(
        { length: RATE / 10 },
        (_, i) => Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / RATE)),
      );
      await Deno.writeFile(join(dir, "in.wav"), wav(sine));
      const run = await sdk("applyplugin", ["in.wav", "out.wav", ladspaLib("ladspa_ref"), "ref_gain", "2"], dir);
      assert.equal(run.code, 0, `applyplugin: ${run.out}`);
      const out = unwav(await Deno.readFile(join(dir, "out.wav")));
      assert.equal(out.length, sine.length, "as many samples out as in");
      const worst = sine.reduce((m, s, i) => Math.max(m, Math.abs(out[i]! - 2 * s)), 0);
      assert.ok(worst <= 2, `every sample doubled (to within the 16-bit conversions' rounding): worst error ${worst}`);
      assert.ok(Math.max(...out) > 15_000, "the doubled sine's peak is there");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
