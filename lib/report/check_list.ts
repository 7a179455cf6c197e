/**
 * What `plugcheck check --list` prints: one line per check (its id, the
 * anchor of the rule it enforces in docs/abi.md, its title), or with
 * `--format json` one entry per check with the rule's full link and the
 * stage the check needs, defined as a zod schema.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckListJsonSchema, checkListJson, renderCheckList } from "./check_list.ts";
 * const checks = [
 *   { id: "lifecycle.init", title: "npa_plugin_init succeeds", rule: "lifecycle", needs: "symbols" as const },
 *   { id: "errors.statuses", title: "Every status is an npa status", rule: "status-codes", needs: "plugin" as const },
 * ];
 * assert.ok(renderCheckList(checks) === [
 *   "lifecycle.init   #lifecycle     npa_plugin_init succeeds",
 *   "errors.statuses  #status-codes  Every status is an npa status",
 *   "",
 * ].join("\n"));
 * const doc = CheckListJsonSchema.parse(checkListJson(checks));
 * assert.ok(doc[1]!.group === "errors" && doc[1]!.help_uri.endsWith("docs/abi.md#status-codes"));
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { groupOf } from "../check/catalog.ts";
import { type CheckSpec, STAGES } from "../check/spec.ts";
import { DEFAULT_HELP_BASE, ruleUri } from "./sarif.ts";

/** The document `plugcheck check --list --format json` prints: the checks selected. */
export const CheckListJsonSchema = z.array(z.object({
  id: z.string(),
  group: z.string(),
  title: z.string(),
  rule: z.string(),
  help_uri: z.string(),
  /** How far the plugin must get in loading for the check to run (else it is skipped). */
  needs: z.enum(STAGES),
}));

/** The JSON document of `--list`. */
export type CheckListJson = z.infer<typeof CheckListJsonSchema>;

/** The checks as the list shows them: what `--list` needs of each. */
export type ListedCheck = Pick<CheckSpec, "id" | "title" | "rule" | "needs">;

/** `--list`: one line per check (id, rule anchor, title). */
export function renderCheckList(checks: readonly ListedCheck[]): string {
  const w = Math.max(...checks.map((c) => c.id.length));
  const rw = Math.max(...checks.map((c) => c.rule.length)) + 1;
  return `${checks.map((c) => `${c.id.padEnd(w)}  #${c.rule.padEnd(rw)} ${c.title}`).join("\n")}\n`;
}

/** `--list --format json`. */
export function checkListJson(checks: readonly ListedCheck[], helpBase: string = DEFAULT_HELP_BASE): CheckListJson {
  return checks.map((c) => ({
    id: c.id,
    group: groupOf(c.id),
    title: c.title,
    rule: c.rule,
    help_uri: ruleUri(c.rule, helpBase, c.id),
    needs: c.needs,
  }));
}
