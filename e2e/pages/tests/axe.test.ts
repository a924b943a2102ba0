// Every hosted page, in English and Korean, light and dark, has no serious or critical axe-core
// violation and says its language in <html lang>.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, test } from "vitest";
import type { AxeResults, Result } from "axe-core";

import { useServer } from "./harness";
import { openPage, pages } from "./pages";

// The pages' policy has no script-src: axe goes in through DevTools evaluation, which the
// page's CSP does not govern (a <script> tag would be refused).
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

declare const axe: { run: (context: unknown, options: unknown) => Promise<AxeResults> };

const languages = ["en", "ko"] as const;
const schemes = ["light", "dark"] as const;

const system = useServer();

function describeViolations(violations: Result[]): string {
  return violations
    .map((v) => [
      `${v.id} (${v.impact}): ${v.help}`,
      `  ${v.helpUrl}`,
      ...v.nodes.map((node) => `  - ${node.target.join(" ")}: ${node.failureSummary?.replace(/\n/g, " / ") ?? ""}`),
    ].join("\n"))
    .join("\n");
}

for (const entry of pages) describe(entry.name, () => {
  for (const lang of languages) {
    for (const scheme of schemes) {
      test(`${lang} ${scheme}`, async () => {
        const context = await system.browser.newContext();
        try {
          const page = await context.newPage();
          await page.emulateMedia({ colorScheme: scheme });
          await openPage(system.server, page, entry, lang);

          expect(await page.getAttribute("html", "lang"), `<html lang> of ${page.url()}`).toBe(lang);
          expect(await page.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches)).toBe(scheme === "dark");

          await page.evaluate(axeSource);
          const results = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
          // A run that checked nothing would pass anything.
          expect(results.passes.length + results.violations.length + results.incomplete.length).toBeGreaterThan(0);
          const blocking = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
          const minor = results.violations.filter((v) => !blocking.includes(v));
          if (minor.length > 0) console.log(`${entry.name} ${lang} ${scheme}, below serious:\n${describeViolations(minor)}`);
          if (blocking.length > 0) console.error(`${entry.name} ${lang} ${scheme} (${page.url()}):\n${describeViolations(blocking)}`);
          expect(blocking.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), describeViolations(blocking)).toEqual([]);
        } finally {
          await context.close();
        }
      });
    }
  }
});
