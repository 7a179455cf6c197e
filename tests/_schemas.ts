/**
 * Test helpers: the report files of `plugcheck check` validated against
 * their pinned schemas (tests/schemas/, see its README): JUnit XML against
 * the Jenkins xUnit plugin's JUnit XSD with libxml2 compiled to WebAssembly
 * (xmllint-wasm), SARIF against the SARIF 2.1.0 JSON schema with ajv.
 * Test-only dependencies, pinned here rather than in deno.json.
 */
// deno-lint-ignore no-import-prefix
import AjvModule from "npm:ajv@8.20.0/dist/2020.js";
// deno-lint-ignore no-import-prefix
import addFormatsModule from "npm:ajv-formats@3.0.1";
// deno-lint-ignore no-import-prefix
import { validateXML } from "npm:xmllint-wasm@5.3.0";

const JUNIT_XSD = Deno.readTextFileSync(new URL("./schemas/junit.xsd", import.meta.url));

/** Validates a JUnit document against the pinned XSD. */
export async function validateJunit(xml: string): Promise<{ valid: boolean; errors: string[] }> {
  const out = await validateXML({
    xml: [{ fileName: "report.xml", contents: xml }],
    schema: [{ fileName: "junit.xsd", contents: JUNIT_XSD }],
  });
  return { valid: out.valid, errors: out.errors.map((e) => e.rawMessage) };
}

/** A validator of SARIF logs against the pinned schema; its `errors` say why the last log failed. */
export function sarifValidator(): ((log: unknown) => boolean) & { errors?: unknown } {
  const schema = JSON.parse(Deno.readTextFileSync(new URL("./schemas/sarif-2.1.0.json", import.meta.url)));
  // The schema's `language` pattern is not a valid unicode-mode RegExp, so compile without the u flag.
  const ajv = new AjvModule.default({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormatsModule.default(ajv);
  return ajv.compile(schema);
}
