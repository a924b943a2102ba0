// Prints the minified + gzipped size of the browser packages and fails above CLIENT.md's budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const budgets = [
  ["@tessera/client", "client/dist/index.js", 4096],
  ["@tessera/react", "react/dist/index.js", 1536],
];
let over = false;
for (const [name, file, budget] of budgets) {
  const code = readFileSync(new URL(`../${file}`, import.meta.url));
  const size = gzipSync(code, { level: 9 }).length;
  const verdict = size <= budget ? "within" : "OVER";
  console.log(`${name}: ${size} B min+gzip (${verdict} the ${budget} B budget)`);
  over ||= size > budget;
}
process.exit(over ? 1 : 0);
