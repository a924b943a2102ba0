import { defineConfig } from "vitest/config";

// Chromium against the real tessera binary: each file starts its own server on a free port;
// one file at a time (two cores), long timeouts. Two projects: the tests (`npm test`) and the
// screenshots of the pages for docs/ui (`npm run screenshots`), which are not a test.
export default defineConfig({
  test: {
    environment: "node",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ["verbose"],
    projects: [
      { extends: true, test: { name: "pages", include: ["tests/**/*.test.ts"] } },
      { extends: true, test: { name: "screenshots", include: ["screenshots.ts"], testTimeout: 900_000 } },
    ],
  },
});
