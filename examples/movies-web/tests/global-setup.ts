// Builds the app once for the whole run. Next.js bakes next.config's rewrites into the build, so
// the build is given the ports Tessera and the movie service will listen on in every test file.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { appDir, freePort, repoRoot } from "./paths";

type Upstreams = { tesseraPort: number; moviesPort: number };

declare module "vitest" {
  export interface ProvidedContext {
    upstreams: Upstreams;
  }
}

const marker = path.join(appDir, ".next", "test-upstreams.json");

export default async function setup(project: TestProject): Promise<void> {
  // MOVIES_WEB_SKIP_BUILD=1 reuses the last test build (when only the tests changed).
  if (process.env.MOVIES_WEB_SKIP_BUILD === "1" && existsSync(marker)) {
    project.provide("upstreams", JSON.parse(readFileSync(marker, "utf8")) as Upstreams);
    return;
  }
  const upstreams: Upstreams = { tesseraPort: await freePort(), moviesPort: await freePort() };
  const started = Date.now();
  const result = spawnSync(process.execPath, [path.join(repoRoot, "node_modules/next/dist/bin/next"), "build"], {
    cwd: appDir,
    stdio: "inherit",
    env: {
      ...process.env,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      TESSERA_URL: `http://127.0.0.1:${upstreams.tesseraPort}`,
      MOVIES_URL: `http://127.0.0.1:${upstreams.moviesPort}`,
      // Puts the client on window.__tessera so a test can fire auth.fetch calls at an instant.
      NEXT_PUBLIC_TESSERA_TEST_HOOKS: "1",
    },
  });
  if (result.status !== 0) throw new Error(`next build failed (${result.status})`);
  console.log(`next build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  writeFileSync(marker, JSON.stringify(upstreams));
  project.provide("upstreams", upstreams);
}
