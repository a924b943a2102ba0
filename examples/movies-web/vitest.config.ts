import { defineConfig } from "vitest/config";

// Browser tests against the real processes: tessera, movies and `next start` of the built app.
// One file at a time (they share the two upstream ports baked into the build), long timeouts.
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    globalSetup: ["tests/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ["verbose"],
  },
});
