// The hosted pages' screenshots for the documentation, not a test:
//   npm run screenshots -w e2e/pages
// writes docs/ui/<page>-<width>-<scheme>.png for every page of tests/pages.ts, 1280 and 390
// pixels wide (full page height), light and dark, in English.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { test } from "vitest";

import { freePort, launchBrowser, repoRoot, Tessera } from "./tests/harness";
import { openPage, pages } from "./tests/pages";

const outDir = path.join(repoRoot, "docs/ui");
const widths = [1280, 390] as const;
const schemes = ["light", "dark"] as const;

test("screenshots of every hosted page", async () => {
  mkdirSync(outDir, { recursive: true });
  // On localhost, a domain, so the pages offer passkeys as a deployment's would.
  const port = await freePort();
  const server = await Tessera.start({ TESSERA_PUBLIC_URL: `http://localhost:${port}` }, port);
  const browser = await launchBrowser();
  try {
    for (const entry of pages) {
      for (const width of widths) {
        for (const scheme of schemes) {
          const context = await browser.newContext({
            viewport: { width, height: width > 600 ? 800 : 844 },
            deviceScaleFactor: 1,
            colorScheme: scheme,
            locale: "en-US",
          });
          try {
            const page = await context.newPage();
            await openPage(server, page, entry, "en");
            await page.waitForLoadState("networkidle");
            // Addresses and times change from run to run; the pictures should not.
            await page.evaluate(() => {
              const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                node.textContent = node.textContent!
                  .replace(/[\w.+-]+\.[0-9a-z]+@example\.com/g, "ada@example.com")
                  .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/g, "2026-01-05 09:30");
              }
              for (const input of document.querySelectorAll<HTMLInputElement>("input[type=email], input[type=text]")) {
                input.value = input.value.replace(/[\w.+-]+\.[0-9a-z]+@example\.com/g, "ada@example.com");
              }
            });
            const file = path.join(outDir, `${entry.name}-${width}-${scheme}.png`);
            await page.screenshot({ path: file, fullPage: true });
            console.log(path.relative(repoRoot, file));
          } finally {
            await context.close();
          }
        }
      }
    }
  } finally {
    await browser.close();
    await server.stop();
  }
});
