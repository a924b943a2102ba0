// Every hosted page, on a first visit (empty cache), transfers at most 30 kB in all; its assets
// are cached for a year under a content-hashed name; its policy allows no inline code or framing.
import { createHash } from "node:crypto";
import { afterAll, describe, expect, test } from "vitest";
import type { CDPSession } from "playwright-core";

import { useServer } from "./harness";
import { openPage, pages } from "./pages";

const budget = 30 * 1024;
const year = 365 * 24 * 60 * 60;

const system = useServer();
const table: { name: string; bytes: number; requests: number }[] = [];

/** One finished request as Chromium's network layer saw it. */
type Transfer = {
  url: string;
  status: number;
  method: string;
  type: string;
  /** Bytes received: headers and (encoded) body, what "transferred" means in DevTools. */
  bytes: number;
  headers: Record<string, string>;
  requestId: string;
};

/** Records every request of the page's target from now on, with the cache off. */
async function recordTransfers(cdp: CDPSession): Promise<{ transfers: Transfer[]; settled: () => Promise<void> }> {
  const pending = new Map<string, Omit<Transfer, "bytes">>();
  const transfers: Transfer[] = [];
  const lower = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  cdp.on("Network.requestWillBeSent", (event) => {
    // A redirect ends the request before it under the same id.
    if (event.redirectResponse) {
      const before = pending.get(event.requestId);
      transfers.push({
        url: event.redirectResponse.url,
        status: event.redirectResponse.status,
        method: before?.method ?? event.request.method,
        type: event.type ?? "",
        bytes: event.redirectResponse.encodedDataLength,
        headers: lower(event.redirectResponse.headers),
        requestId: event.requestId,
      });
    }
    pending.set(event.requestId, { url: event.request.url, status: 0, method: event.request.method, type: event.type ?? "", headers: {}, requestId: event.requestId });
  });
  cdp.on("Network.responseReceived", (event) => {
    const request = pending.get(event.requestId);
    if (request) Object.assign(request, { status: event.response.status, headers: lower(event.response.headers), type: event.type });
  });
  cdp.on("Network.loadingFinished", (event) => {
    const request = pending.get(event.requestId);
    if (!request) return;
    pending.delete(event.requestId);
    transfers.push({ ...request, bytes: event.encodedDataLength });
  });
  cdp.on("Network.loadingFailed", (event) => {
    const request = pending.get(event.requestId);
    if (!request) return;
    pending.delete(event.requestId);
    transfers.push({ ...request, status: -1, bytes: 0, headers: { error: event.errorText } });
  });
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  transfers.length = 0;
  const settled = async () => {
    for (let i = 0; i < 100 && pending.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
    if (pending.size > 0) throw new Error(`requests still open: ${[...pending.values()].map((r) => r.url).join(", ")}`);
  };
  return { transfers, settled };
}

for (const entry of pages) describe(entry.name, () => {
  test("a first visit stays within 30 kB; assets are immutable and hashed; the policy is strict", async () => {
    const context = await system.browser.newContext();
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      let recording: Awaited<ReturnType<typeof recordTransfers>> | undefined;
      const response = await openPage(system.server, page, entry, "en", async () => {
        recording = await recordTransfers(cdp);
      });
      await page.waitForLoadState("networkidle");
      await recording!.settled();
      const transfers = recording!.transfers;

      // The page's own document is among what was counted, and nothing failed.
      const documents = transfers.filter((t) => t.type === "Document");
      expect(documents.map((t) => t.url), "the page's document").toContain(response.url());
      expect(transfers.filter((t) => t.status < 0).map((t) => `${t.url}: ${t.headers.error}`)).toEqual([]);

      // Everything the page's target fetched counts; Chromium asks for /favicon.ico once per
      // browser, so the first page of the list carries it.
      const bytes = transfers.reduce((sum, t) => sum + t.bytes, 0);
      table.push({ name: entry.name, bytes, requests: transfers.length });
      const list = transfers.map((t) => `  ${t.status} ${t.method} ${t.url} ${t.bytes} B`).join("\n");
      expect(bytes, `${entry.name} transferred ${bytes} B:\n${list}`).toBeLessThanOrEqual(budget);
      // Every counted request was a real transfer: headers and body at least.
      for (const t of transfers) expect(t.bytes, `${t.url} counted no bytes`).toBeGreaterThan(0);

      // The document: a strict Content-Security-Policy.
      const policy = (await response.allHeaders())["content-security-policy"];
      expect(policy, `${response.url()} has no Content-Security-Policy`).toBeTruthy();
      const directives = new Map(policy!.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!.toLowerCase(), values]));
      expect(policy, "no inline code").not.toMatch(/unsafe-inline/i);
      expect(directives.get("frame-ancestors"), `frame-ancestors of ${policy}`).toEqual(["'none'"]);

      // The assets: a year, immutable, under a name carrying a hash of their content.
      for (const asset of transfers.filter((t) => new URL(t.url).pathname.startsWith("/ui/assets/"))) {
        expect(asset.status, asset.url).toBe(200);
        const cacheControl = asset.headers["cache-control"] ?? "";
        expect(cacheControl, `Cache-Control of ${asset.url}`).toMatch(/(^|,)\s*immutable\s*(,|$)/i);
        const maxAge = Number(/max-age=(\d+)/i.exec(cacheControl)?.[1] ?? 0);
        expect(maxAge, `max-age of ${asset.url}`).toBeGreaterThanOrEqual(year);
        const name = new URL(asset.url).pathname.split("/").pop()!;
        const hash = /[.-]([0-9a-f]{8,}|[A-Za-z0-9_-]{8,})\.[a-z0-9]+$/i.exec(name)?.[1];
        expect(hash, `${name} carries no hash`).toBeTruthy();
        const body = (await cdp.send("Network.getResponseBody", { requestId: asset.requestId })) as { body: string; base64Encoded: boolean };
        const content = Buffer.from(body.body, body.base64Encoded ? "base64" : "utf8");
        const digest = createHash("sha256").update(content).digest();
        expect(
          [digest.toString("hex"), digest.toString("base64url")].some((d) => d.startsWith(hash!)),
          `${name}: ${hash} is not a SHA-256 of what it serves`,
        ).toBe(true);
      }
    } finally {
      await context.close();
    }
  });
});

afterAll(() => {
  if (table.length === 0) return;
  const width = Math.max(...table.map((row) => row.name.length), 4);
  const lines = [`${"page".padEnd(width)}  ${"bytes".padStart(6)}  requests`];
  for (const row of table) lines.push(`${row.name.padEnd(width)}  ${String(row.bytes).padStart(6)}  ${row.requests}`);
  console.log(`\nFirst visit, bytes transferred (budget ${budget}):\n${lines.join("\n")}\n`);
});
