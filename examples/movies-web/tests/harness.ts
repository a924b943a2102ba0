// A tiny harness: the real processes on free ports, their output kept for failures, a browser.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";

import { appDir, repoRoot, freePort } from "./paths";
export { appDir, repoRoot, freePort };
export const tesseraBin = process.env.TESSERA_BIN ?? path.join(repoRoot, "target/debug/tessera");
export const moviesBin = process.env.MOVIES_BIN ?? path.join(repoRoot, "target/debug/movies");
export const serviceKey = "movies-web-test-service-key-0123456789";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child process whose output is kept (last 400 lines) to show when a test fails. */
export class Proc {
  readonly output: string[] = [];
  readonly child: ChildProcess;
  exitCode: number | null | undefined = undefined;
  readonly exited: Promise<void>;

  constructor(readonly name: string, command: string, args: string[], env: NodeJS.ProcessEnv, cwd = repoRoot) {
    this.child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line) this.output.push(`[${name}] ${line}`);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => ((this.exitCode = code), resolve())));
  }

  /** TERM the process group (next start has children), KILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined || !this.child.pid) return;
    const pid = this.child.pid;
    try { process.kill(-pid, "SIGTERM"); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ } }, 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `url` until it answers 2xx; fails early when the process exits. */
export async function waitReady(proc: Proc, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited (${proc.exitCode}) before it was ready:\n${proc.output.join("\n")}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms:\n${proc.output.join("\n")}`);
}

export type StackOptions = {
  accessTtl?: string;
  env?: Record<string, string>;
  /** `next dev` instead of the test build: React's development mode, StrictMode double mounts. */
  dev?: boolean;
};

/** The running system: Tessera, the movie service and the built web app, each on its own port. */
export class Stack {
  readonly procs: Proc[] = [];
  readonly dataDir = mkdtempSync(path.join(tmpdir(), "movies-web-"));
  tesseraUrl = "";
  moviesUrl = "";
  appUrl = "";
  tesseraEnv!: NodeJS.ProcessEnv;

  static async start(options: StackOptions = {}): Promise<Stack> {
    for (const bin of [tesseraBin, moviesBin]) {
      if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build -p tessera -p movies\` (or set TESSERA_BIN / MOVIES_BIN)`);
    }
    const stack = new Stack();
    current.push(stack);
    try {
      await stack.boot(options);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  private async boot(options: StackOptions): Promise<void> {
    // The build baked these two ports into its rewrites (tests/global-setup.ts).
    const { tesseraPort, moviesPort } = inject("upstreams");
    const appPort = await freePort();
    this.tesseraUrl = `http://127.0.0.1:${tesseraPort}`;
    this.moviesUrl = `http://127.0.0.1:${moviesPort}`;
    this.appUrl = `http://127.0.0.1:${appPort}`;
    const base = cleanEnv();
    this.tesseraEnv = {
      ...base,
      TESSERA_LISTEN: `127.0.0.1:${tesseraPort}`,
      TESSERA_DATA_DIR: this.dataDir,
      TESSERA_PUBLIC_URL: this.appUrl,
      TESSERA_COOKIES__DEV_INSECURE: "true",
      TESSERA_SERVICE_KEYS: serviceKey,
      TESSERA_TOKENS__LEEWAY: "0s",
      ...(options.accessTtl ? { TESSERA_TOKENS__ACCESS_TTL: options.accessTtl } : {}),
      ...options.env,
    };
    const tessera = new Proc("tessera", tesseraBin, ["serve"], this.tesseraEnv);
    this.procs.push(tessera);
    await waitReady(tessera, `${this.tesseraUrl}/healthz`);

    const movies = new Proc("movies", moviesBin, [], {
      ...base,
      TESSERA_URL: this.tesseraUrl,
      MOVIES_SERVICE_KEY: serviceKey,
      MOVIES_LISTEN: `127.0.0.1:${moviesPort}`,
      MOVIES_COOKIES: "true",
      MOVIES_ALLOWED_ORIGINS: this.appUrl,
    });
    this.procs.push(movies);
    await waitReady(movies, `${this.moviesUrl}/movies`);

    const next = new Proc(
      "next",
      process.execPath,
      [path.join(repoRoot, "node_modules/next/dist/bin/next"), options.dev ? "dev" : "start", "-H", "127.0.0.1", "-p", String(appPort)],
      {
        ...base,
        TESSERA_URL: this.tesseraUrl,
        MOVIES_URL: this.moviesUrl,
        ...(options.dev ? { NODE_ENV: "development", NEXT_PUBLIC_TESSERA_TEST_HOOKS: "1", NEXT_TELEMETRY_DISABLED: "1" } : {}),
      },
      appDir,
    );
    this.procs.push(next);
    // The development server compiles each page on its first request: slow on two cores.
    await waitReady(next, `${this.appUrl}/login`, options.dev ? 180_000 : 60_000);
  }

  /** Runs the tessera CLI (`user create`, `import`, ...) on this server's data, with its env. */
  async cli(args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(tesseraBin, args, { env: this.tesseraEnv, cwd: this.dataDir });
    return stdout;
  }

  /** The sum of a Prometheus counter over the series whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.tesseraUrl}/metrics`)).text();
    let sum = 0;
    for (const line of text.split("\n")) {
      const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (!match || match[1] !== name) continue;
      const have = Object.fromEntries([...(match[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[4]);
    }
    return sum;
  }

  /** Successful refreshes so far, as Tessera counts them. */
  refreshes(): Promise<number> {
    return this.metric("tessera_http_requests_total", { route: "/auth/refresh", status: "200" });
  }

  /** Every POST /auth/refresh the server answered, whatever the status. */
  refreshAttempts(): Promise<number> {
    return this.metric("tessera_http_requests_total", { route: "/auth/refresh" });
  }

  logs(): string {
    return this.procs.map((p) => p.output.join("\n")).join("\n");
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    const index = current.indexOf(this);
    if (index >= 0) current.splice(index, 1);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

const current: Stack[] = [];

/** The system under test and the browser that drives it. */
export type System = { stack: Stack; browser: Browser };

/** For one test file: the system and a browser, started before its tests and stopped after. */
export function useStack(options: StackOptions = {}): System {
  const started = {} as System;
  beforeAll(async () => {
    started.stack = await Stack.start(options);
    started.browser = await launchBrowser();
  });
  afterAll(async () => {
    await started.browser?.close();
    await started.stack?.stop();
  });
  return started;
}

// When a test fails, show what the processes said.
afterEach((context) => {
  if (context.task.result?.state === "fail") {
    for (const stack of current) console.error(`---- process output ----\n${stack.logs()}\n------------------------`);
  }
});

function cleanEnv(): NodeJS.ProcessEnv {
  // Next's types make NODE_ENV required; "production" is what `next start` needs and the Rust
  // processes ignore it.
  const env: NodeJS.ProcessEnv = { NODE_ENV: "production", RUST_LOG: "info" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("TESSERA_") && !k.startsWith("MOVIES_") && k !== "RUST_LOG" && k !== "NODE_ENV") env[k] = v;
  }
  return env;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** Another web site: one page of HTML, on 127.0.0.1 and a free port. */
export async function serve(html: string): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer((_, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

/**
 * Saves a screenshot of the page under test-results/ (ignored by git), or into docs/ for the
 * README with MOVIES_WEB_SCREENSHOTS=docs.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.MOVIES_WEB_SCREENSHOTS === "docs" ? "docs" : "test-results";
  await page.screenshot({ path: path.join(appDir, dir, `${name}.png`) });
}

// Driving the app's screens.
export async function signup(page: Page, appUrl: string, email: string, password: string, name?: string): Promise<void> {
  await page.goto(`${appUrl}/signup`);
  await page.fill("input[name=email]", email);
  if (name) await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
}

export async function login(page: Page, appUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${appUrl}/login`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
}

/** A new account, signed up in a context of its own that is closed after; its email. */
export async function newAccount(system: System, who: string): Promise<string> {
  const email = uniqueEmail(who);
  const context = await system.browser.newContext();
  await signup(await context.newPage(), system.stack.appUrl, email, password);
  await context.close();
  return email;
}

let counter = 0;
export const uniqueEmail = (who: string) => `${who}.${Date.now().toString(36)}${counter++}@example.com`;
export const password = "popcorn and cinema";
