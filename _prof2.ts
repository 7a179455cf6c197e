const mods = Deno.args;
for (const m of mods) {
  const t0 = performance.now();
  await import(m);
  console.error(`${m} ${(performance.now()-t0).toFixed(1)}`);
}
