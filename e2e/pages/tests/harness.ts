// The hosted pages' harness: the real tessera binary on a free port with a data directory of
// its own (its output kept for failure messages), Debian's Chromium, the mail it writes.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page, type Response } from "playwright-core";

/** e2e/pages, and the repository root two levels up. */
export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = path.resolve(packageDir, "../..");
export const tesseraBin = process.env.TESSERA_BIN ?? path.join(repoRoot, "target/debug/tessera");

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A mail as the file transport wrote it, its parts decoded. */
export type Mail = {
  file: string;
  to: string;
  subject: string;
  /** The text/plain part (the HTML part when there is none). */
  text: string;
  html: string;
};

/** A child process of the tests whose output a failure shows. */
type Logged = { label: string; logs(): string };

/** One running `tessera serve`, on its own port and data directory. */
export class Tessera {
  readonly label = "tessera";
  readonly output: string[] = [];
  readonly dataDir = mkdtempSync(path.join(tmpdir(), "hosted-pages-"));
  readonly url: string;
  readonly env: NodeJS.ProcessEnv;
  private child?: ChildProcess;
  private exitCode: number | null | undefined = undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number, extraEnv: Record<string, string>) {
    // The pages' address: the public URL when one is given (http://localhost for passkeys).
    this.url = extraEnv.TESSERA_PUBLIC_URL ?? `http://127.0.0.1:${port}`;
    this.env = {
      ...cleanEnv(),
      TESSERA_LISTEN: `127.0.0.1:${port}`,
      TESSERA_DATA_DIR: this.dataDir,
      TESSERA_PUBLIC_URL: this.url,
      TESSERA_COOKIES__DEV_INSECURE: "true",
      TESSERA_RATE_LIMITS__ENABLED: "false",
      TESSERA_MAIL__TRANSPORT: "file",
      ...extraEnv,
    };
  }

  /**
   * Starts the server (`env` added to the environment) and waits for `/healthz`; on `port` when
   * its URL must be known before (a provider's redirect URI), else on a free one.
   */
  static async start(env: Record<string, string> = {}, port?: number): Promise<Tessera> {
    if (!existsSync(tesseraBin)) {
      throw new Error(`${tesseraBin} is missing: run \`cargo build -p tessera\` (or set TESSERA_BIN)`);
    }
    const server = new Tessera(port ?? (await freePort()), env);
    running.push(server);
    try {
      server.spawn();
      await server.waitReady();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private spawn(): void {
    const child = spawn(tesseraBin, ["serve"], { env: this.env, cwd: this.dataDir, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line) this.output.push(`[tessera] ${line}`);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.on("exit", (code) => ((this.exitCode = code), resolve())));
  }

  private async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`tessera exited (${this.exitCode}) before it was ready:\n${this.logs()}`);
      try {
        const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return;
      } catch { /* not yet */ }
      await sleep(100);
    }
    throw new Error(`tessera not ready at ${this.url}/healthz after ${timeoutMs} ms:\n${this.logs()}`);
  }

  logs(): string {
    return this.output.join("\n");
  }

  /** TERM, KILL after 5 s; then the data directory goes. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && this.exitCode === undefined) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    const index = running.indexOf(this);
    if (index >= 0) running.splice(index, 1);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  get mailDir(): string {
    return path.join(this.dataDir, "mail");
  }

  /** Every whole mail written so far, oldest first. */
  mails(): Mail[] {
    if (!existsSync(this.mailDir)) return [];
    return readdirSync(this.mailDir)
      .filter((name) => name.endsWith(".eml"))
      .map((name) => path.join(this.mailDir, name))
      .map((file) => ({ file, modified: statSync(file).mtimeMs, raw: readFileSync(file, "utf8") }))
      // A file still being written is not a mail yet: a whole one ends with its closing boundary.
      .filter(({ raw }) => raw.trimEnd().endsWith("--"))
      .sort((a, b) => a.modified - b.modified)
      .map(({ file, raw }) => parseMail(file, raw));
  }

  /**
   * The decoded text of the newest mail to `address` whose subject contains `subject` (or
   * matches it, or for which the predicate holds); polls the mail directory until one comes.
   */
  async mailTo(address: string, subject: string | RegExp | ((mail: Mail) => boolean), timeoutMs = 10_000): Promise<string> {
    const wanted = (mail: Mail) =>
      typeof subject === "function" ? subject(mail)
      : typeof subject === "string" ? mail.subject.includes(subject)
      : subject.test(mail.subject);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mails = this.mails().filter((mail) => mail.to.toLowerCase().includes(address.toLowerCase()));
      const found = mails.filter(wanted).at(-1);
      if (found) return found.text;
      if (Date.now() > deadline) {
        const seen = mails.map((mail) => `  ${JSON.stringify(mail.subject)}`).join("\n") || "  (none)";
        throw new Error(`no mail to ${address} matching ${String(subject)} after ${timeoutMs} ms; mails to it:\n${seen}`);
      }
      await sleep(100);
    }
  }

  /** A new account through the JSON API; its access token. */
  async apiSignUp(email: string, password: string): Promise<string> {
    const response = await fetch(`${this.url}/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    if (response.status !== 201) throw new Error(`signup of ${email}: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** `POST path` with a JSON body (and a bearer token), expecting `expected`; the answer's JSON, if any. */
  async postJson(pathname: string, body: unknown, expected: number, bearer?: string): Promise<unknown> {
    const response = await fetch(`${this.url}${pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify(body),
    });
    if (response.status !== expected) {
      throw new Error(`POST ${pathname}: ${response.status}, expected ${expected}: ${await response.text()}`);
    }
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  }
}

const running: Logged[] = [];

// When a test fails, show what the servers said.
afterEach((context) => {
  if (context.task.result?.state === "fail") {
    for (const child of running) console.error(`---- ${child.label} output ----\n${child.logs()}\n------------------------`);
  }
});

/** The link to `pathname` (like `/ui/verify`) in a mail's text, absolute. */
export function linkIn(mail: string, pathname: string): string {
  const escaped = pathname.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`https?://[^\\s"'<>]*${escaped}\\?[^\\s"'<>]+`).exec(mail);
  if (!match) throw new Error(`no ${pathname} link in the mail:\n${mail}`);
  return match[0].replace(/&amp;/g, "&");
}

/** Chromium from Debian (playwright-core's own download cannot run here), headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/**
 * For one test file: a server (with `env`) and a browser, started before its tests, stopped
 * after. The pages are on http://localhost, a domain, so they offer passkeys as a deployment's
 * pages would (WebAuthn refuses an IP address).
 */
export function useServer(env: Record<string, string> = {}): { server: Tessera; browser: Browser } {
  const started = {} as { server: Tessera; browser: Browser };
  beforeAll(async () => {
    const port = await freePort();
    started.server = await Tessera.start({ TESSERA_PUBLIC_URL: `http://localhost:${port}`, ...env }, port);
    started.browser = await launchBrowser();
  });
  afterAll(async () => {
    await started.browser?.close();
    await started.server?.stop();
  });
  return started;
}

/** Submits the page's (only) form and returns the response of the navigation it causes. */
export async function submit(page: Page, selector = "main form button[type=submit]"): Promise<Response> {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(selector)]);
  if (!response) throw new Error(`submitting ${selector} on ${page.url()} navigated nowhere`);
  return response;
}

/**
 * Signs up through /ui/signup (on the server `page` last visited, or `base`): fills the form,
 * submits it and expects the signed-in answer.
 */
export async function signUp(page: Page, email: string, password: string, base?: string): Promise<Response> {
  const origin = base ?? new URL(page.url()).origin;
  await page.goto(`${origin}/ui/signup`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  const response = await submit(page);
  if (response.status() >= 400) {
    throw new Error(`signup of ${email} through the form: ${response.status()}\n${await page.locator("main").innerText()}`);
  }
  return response;
}

/**
 * Signs in through /ui/login on `base` (with `redirect_to`, if given): fills the form and
 * submits it. The response of the navigation: the target, the account page, the second step
 * (the same URL, answering the POST) or the form again with its refusal.
 */
export async function signIn(page: Page, base: string, email: string, secret: string, redirectTo?: string): Promise<Response> {
  const query = redirectTo ? `?redirect_to=${encodeURIComponent(redirectTo)}` : "";
  await page.goto(`${base}/ui/login${query}`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", secret);
  return submit(page);
}

/** Signs out through /ui/logout's button; throws unless the signed-out message shows. */
export async function signOut(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/ui/logout`);
  const response = await submit(page);
  const shown = await page.locator("main [role=status]").count();
  if (response.status() !== 200 || shown === 0) {
    throw new Error(`signing out answered ${response.status()}:\n${await page.locator("main").innerText()}`);
  }
}

/** The cookie names of plain-http development (TESSERA_COOKIES__DEV_INSECURE): no __Host- / __Secure- prefixes. */
export const cookieNames = { access: "tessera_at", refresh: "tessera_rt", csrf: "tessera_csrf" } as const;

/**
 * Asks for the verification mail of the account `context` is signed in to, as a script of the
 * server's origin would (its cookies, and `X-CSRF-Token` set to the CSRF cookie: the account
 * page has no button for it); the `/ui/verify` link of the mail that comes to `email`.
 */
export async function requestVerificationMail(context: BrowserContext, server: Tessera, email: string): Promise<string> {
  const csrf = (await context.cookies(server.url)).find((cookie) => cookie.name === cookieNames.csrf);
  if (!csrf) throw new Error(`no ${cookieNames.csrf} cookie for ${server.url}: is the browser signed in?`);
  const asked = await context.request.post(`${server.url}/auth/email/verify/request`, {
    headers: { "x-csrf-token": csrf.value },
  });
  if (asked.status() !== 202) {
    throw new Error(`POST /auth/email/verify/request: ${asked.status()}, expected 202: ${await asked.text()}`);
  }
  return linkIn(await server.mailTo(email, (mail) => mail.text.includes("/ui/verify?")), "/ui/verify");
}

/** Where the screenshots of failed steps go. */
export const failureDir = process.env.PAGES_FAILURE_DIR ?? path.join(tmpdir(), "tessera-pages-failures");

/**
 * Runs `body`; when it throws, takes a full-page screenshot of each page `pages()` gives that
 * is still open, and adds the files to the error's message.
 */
export async function screenshotOnFailure(label: string, pages: () => (Page | undefined)[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    mkdirSync(failureDir, { recursive: true });
    const shots: string[] = [];
    const stem = `${label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60)}-${Date.now()}`;
    for (const [index, page] of pages().entries()) {
      if (!page || page.isClosed()) continue;
      const file = path.join(failureDir, `${stem}-${index}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
        shots.push(`${file} (${page.url()})`);
      } catch (shotError) {
        shots.push(`no screenshot of ${page.url()}: ${String(shotError)}`);
      }
    }
    const note = `\nscreenshots:\n  ${shots.join("\n  ") || "(no open page)"}`;
    if (error instanceof Error) {
      error.message += note;
      throw error;
    }
    throw new Error(`${String(error)}${note}`);
  }
}

/** The RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s steps) of a base32 `secret` at `unixSeconds` (now by default). */
export function totp(secret: string, unixSeconds = Date.now() / 1000): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/[\s=]+/g, "").toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${secret}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** How long a code may take from the test to the server's check (typing, submitting). */
const codeTransit = 10;

/**
 * An authenticator app holding `secret`. The server accepts the codes of the 30-s step before
 * and after the current one, and each step once: so a test need not wait half a minute between
 * codes, the app gives the earliest step not given out yet that the server will still accept
 * when the code arrives, and waits only when that step is more than one ahead.
 */
export class Authenticator {
  private lastStep = -1;

  constructor(readonly secret: string) {}

  /** The code of the earliest step not given out yet that the server accepts on arrival. */
  async code(): Promise<string> {
    for (;;) {
      const now = Date.now() / 1000;
      const step = Math.max(this.lastStep + 1, Math.floor((now + codeTransit) / 30) - 1);
      if (step <= Math.floor(now / 30) + 1) {
        this.lastStep = step;
        return totp(this.secret, step * 30);
      }
      await sleep(((step - 1) * 30 - now) * 1000 + 100);
    }
  }

  /** The code last given out, as someone replaying it would type it. */
  lastCode(): string {
    if (this.lastStep < 0) throw new Error("no code given out yet");
    return totp(this.secret, this.lastStep * 30);
  }
}

/** The OpenID provider of the social-login tests: crates/tessera-testkit/oidc-provider (panva's oidc-provider). */
export const oidcProviderDir = path.join(repoRoot, "crates/tessera-testkit/oidc-provider");

/**
 * One running `node provider.mjs` on a free port, with one confidential client that may
 * redirect to `redirectUris`. Its development login page signs in any login name (the password
 * is ignored): with an `@` the name is the email, without one it is `NAME@example.test`; names
 * starting with `unverified` have `email_verified: false`. Its pages have a "[ Cancel ]" link that
 * ends the request with `access_denied`.
 */
export class OidcProvider {
  readonly label = "oidc-provider";
  readonly output: string[] = [];
  readonly issuer: string;
  private exitCode: number | null | undefined = undefined;
  private exited: Promise<void>;

  private constructor(readonly port: number, private readonly child: ChildProcess) {
    this.issuer = `http://127.0.0.1:${port}`;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line) this.output.push(`[oidc-provider] ${line}`);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.on("exit", (code) => ((this.exitCode = code), resolve())));
  }

  static async start(client: { clientId: string; clientSecret: string; redirectUris: string[] }): Promise<OidcProvider> {
    if (!existsSync(path.join(oidcProviderDir, "node_modules/oidc-provider"))) {
      throw new Error(`oidc-provider is not installed: run \`npm ci\` in ${oidcProviderDir}`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: String(port),
        CLIENT_ID: client.clientId,
        CLIENT_SECRET: client.clientSecret,
        REDIRECT_URIS: client.redirectUris.join(","),
      };
      // Development mode: production mode refuses some of what a loopback test needs.
      delete env.NODE_ENV;
      const child = spawn(process.execPath, ["provider.mjs"], { cwd: oidcProviderDir, env, stdio: ["ignore", "pipe", "pipe"] });
      const provider = new OidcProvider(port, child);
      running.push(provider);
      if (await provider.waitReady()) return provider;
      await provider.stop();
      if (!provider.logs().includes("cannot listen")) throw new Error(`oidc-provider did not start:\n${provider.logs()}`);
    }
    throw new Error("oidc-provider: no free port after 5 attempts");
  }

  /** Whether the discovery document answers before the process exits or 30 s pass. */
  private async waitReady(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.exitCode === undefined) {
      try {
        const response = await fetch(`${this.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return true;
      } catch { /* not yet */ }
      await sleep(50);
    }
    return false;
  }

  logs(): string {
    return this.output.join("\n");
  }

  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    const index = running.indexOf(this);
    if (index >= 0) running.splice(index, 1);
  }
}

let counter = 0;
export const uniqueEmail = (who: string) => `${who}.${Date.now().toString(36)}${(counter++).toString(36)}@example.com`;
export const password = "correct horse battery staple";

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { RUST_LOG: "info" };
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("TESSERA_") && k !== "RUST_LOG") env[k] = v;
  }
  return env;
}

// A small MIME reader: what lettre writes (multipart/alternative, parts in 7bit,
// quoted-printable or base64, headers possibly RFC 2047 encoded).

type Part = { headers: Map<string, string>; body: string };

function parseMail(file: string, raw: string): Mail {
  const top = splitPart(raw);
  const leaves = flatten(top);
  const decoded = (type: string) => {
    const part = leaves.find((leaf) => (leaf.headers.get("content-type") ?? "text/plain").toLowerCase().startsWith(type));
    return part ? decodeBody(part) : "";
  };
  const html = decoded("text/html");
  return {
    file,
    to: decodeWords(top.headers.get("to") ?? ""),
    subject: decodeWords(top.headers.get("subject") ?? ""),
    text: decoded("text/plain") || html,
    html,
  };
}

function splitPart(raw: string): Part {
  const text = raw.replace(/\r\n/g, "\n");
  const blank = text.indexOf("\n\n");
  const head = blank >= 0 ? text.slice(0, blank) : text;
  const body = blank >= 0 ? text.slice(blank + 2) : "";
  const headers = new Map<string, string>();
  // Unfold continuation lines, then one header a line.
  for (const line of head.replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function flatten(part: Part): Part[] {
  const type = part.headers.get("content-type") ?? "";
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!type.toLowerCase().startsWith("multipart/") || !boundary) return [part];
  const pieces = part.body.split(`--${boundary}`);
  // Before the first boundary is the preamble, after the closing one (`--boundary--`) the epilogue.
  return pieces
    .slice(1)
    .filter((piece) => !piece.startsWith("--"))
    .flatMap((piece) => flatten(splitPart(piece.replace(/^\n/, ""))));
}

function decodeBody(part: Part): string {
  const encoding = (part.headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  const charset = (/charset="?([^";]+)"?/i.exec(part.headers.get("content-type") ?? "")?.[1] ?? "utf-8").toLowerCase();
  let bytes: Buffer;
  if (encoding === "base64") bytes = Buffer.from(part.body.replace(/\s+/g, ""), "base64");
  else if (encoding === "quoted-printable") bytes = quotedPrintable(part.body);
  else bytes = Buffer.from(part.body, "utf8");
  return new TextDecoder(charset).decode(bytes).replace(/\r\n/g, "\n").replace(/\n$/, "");
}

function quotedPrintable(text: string): Buffer {
  const unfolded = text.replace(/=\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const hex = unfolded.slice(i + 1, i + 3);
    if (unfolded[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(unfolded[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header. */
function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bqBQ]\?[^?]*\?=)\s+(?==\?)/g, "$1")
    .replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=/g, (_, charset: string, kind: string, data: string) => {
      const bytes = kind.toLowerCase() === "b"
        ? Buffer.from(data, "base64")
        : quotedPrintable(data.replace(/_/g, " "));
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    });
}
