const t0 = performance.now();
const m = await import("/work/main/lib/commands/invoke.ts");
const t1 = performance.now();
const code = await m.command.run(Deno.args);
const t2 = performance.now();
console.error(`before-import ${t0.toFixed(0)} import ${(t1-t0).toFixed(0)} run ${(t2-t1).toFixed(0)}`);
Deno.exit(code);
