/**
 * Deadlines that wait out a loaded machine (`lib/ffi/stall_deadline.ts`):
 * time a process spent waiting for a CPU is added to a deadline, up to ten
 * times its length, and a real hang still ends.
 */
import assert from "node:assert/strict";
import { ProcInfo } from "../lib/ffi/proc_info.ts";
import { MAX_STRETCH, stallTimer, stallTracker, withStallDeadline } from "../lib/ffi/stall_deadline.ts";

Deno.test("ProcInfo.runDelays() reads how long each thread of a process waited for a CPU", () => {
  const delays = ProcInfo.get().runDelays(Deno.pid)!;
  assert.ok(delays.has(Deno.pid), "the main thread is listed");
  for (const ms of delays.values()) assert.ok(ms >= 0 && Number.isFinite(ms));
  assert.equal(ProcInfo.get().runDelays(2 ** 22 + 7), undefined);
});

Deno.test("stallTimer() fires later by the time waited for a CPU, and never later than MAX_STRETCH times its length", async () => {
  const order: string[] = [];
  const fired = (name: string, done: () => void) => () => (order.push(name), done());
  await Promise.all([
    // A stall that never ends is capped: 30 ms x MAX_STRETCH.
    new Promise<void>((r) => stallTimer(30, () => Infinity, fired("stalled", r))),
    new Promise<void>((r) => stallTimer(30, () => 0, fired("plain", r))),
  ]);
  assert.equal(MAX_STRETCH, 10);
  assert.deepEqual(order, ["plain", "stalled"]);
});

Deno.test("withStallDeadline() still ends a real hang: a promise that never settles is rejected", async () => {
  const never = new Promise<never>(() => {});
  await assert.rejects(withStallDeadline(never, 20, () => [Deno.pid], () => new Error("hung")), /hung/);
  assert.equal(await withStallDeadline(Promise.resolve(7), 1000, () => [Deno.pid], () => new Error("late")), 7);
  // A sleeping process accrues no wait for a CPU.
  const stalled = stallTracker(() => [Deno.pid]);
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(stalled() < 1000);
});
