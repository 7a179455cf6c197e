/**
 * The README's console samples are real: every `$ plugcheck ...` line is run
 * and the lines shown under it must appear in its output, in order. In a
 * line, `...` stands for anything; a line that is only `...` for any lines.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runCli } from "./_helpers.ts";

interface Sample {
  args: string[];
  expected: string[];
}

/** Splits a shell line into words, honouring single quotes (all the README uses). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function samples(readme: string): Sample[] {
  const out: Sample[] = [];
  for (const block of readme.matchAll(/```console\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split("\n")) {
      if (line.startsWith("$ plugcheck ")) out.push({ args: words(line.slice("$ plugcheck ".length)), expected: [] });
      else if (line !== "" && out.length > 0) out.at(-1)!.expected.push(line);
    }
  }
  return out;
}

const pattern = (line: string) =>
  new RegExp(`^${line.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);

/** True when every expected line matches an actual line, in order (`...` alone skips any lines). */
function follows(actual: string[], expected: string[]): string | undefined {
  let at = 0;
  for (const want of expected) {
    if (want.trim() === "...") continue;
    const re = pattern(want);
    while (at < actual.length && !re.test(actual[at]!)) at++;
    if (at === actual.length) return want;
    at++;
  }
  return undefined;
}

const readme = await Deno.readTextFile(join(ROOT, "README.md"));
const found = samples(readme);

Deno.test("README has console samples to check", () => {
  assert.ok(found.length >= 6, `${found.length} samples`);
});

for (const s of found) {
  Deno.test(`README sample: plugcheck ${s.args.join(" ")}`, async () => {
    const r = await runCli(s.args);
    const actual = `${r.stdout}\n${r.stderr}`.split("\n");
    const missing = follows(actual, s.expected);
    assert.equal(
      missing,
      undefined,
      `README line not in the output:\n${missing}\n--- output ---\n${actual.join("\n")}`,
    );
  });
}
