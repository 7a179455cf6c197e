/**
 * zod (v4): the functions plugcheck's schemas use, re-exported one by one
 * from one full `npm:` specifier with its version. Modules import them as a
 * namespace (`import * as z from "../util/zod.ts"`), which reads as zod's
 * own `z.object(...)`; unlike zod's `z` object, named exports let the
 * prebuilt bundle (`build/js/`) carry only what is used: ~170 KB of zod
 * instead of ~770 KB, and a bundled command line starts ~15 ms sooner. A
 * schema that needs another zod function adds it here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as z from "./zod.ts";
 * const Point = z.strictObject({ x: z.number(), y: z.number() });
 * type Point = z.infer<typeof Point>;
 * const p: Point = Point.parse({ x: 1, y: 2 });
 * assert.equal(p.y, 2);
 * assert.equal(Point.safeParse({ x: 1 }).success, false);
 * ```
 *
 * @module
 */
export {
  array,
  boolean,
  enum,
  int,
  literal,
  looseObject,
  number,
  object,
  record,
  strictObject,
  string,
  union,
  unknown,
} from "npm:zod@^4.1.0";
export type { infer, ZodError } from "npm:zod@^4.1.0";
