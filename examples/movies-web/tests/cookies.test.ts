// Cookie mode seen from the browser: no token is readable by script, and a page on another
// origin (same site: 127.0.0.1 on another port) can neither change anything nor read anything.
import { describe, expect, test } from "vitest";
import { useStack, password, serve, signup, uniqueEmail } from "./harness";

const system = useStack();

describe("cookie mode", () => {
  test("after login, document.cookie holds only tessera_csrf: no access or refresh token", async () => {
    const context = await system.browser.newContext();
    const page = await context.newPage();
    const email = uniqueEmail("cookie");
    await signup(page, system.stack.appUrl, email, password);
    const visible = await page.evaluate(() => document.cookie);
    expect(visible.split("; ").map((c) => c.split("=")[0])).toEqual(["tessera_csrf"]);
    // The tokens are there, as HttpOnly cookies the browser sends but script never sees.
    const all = await context.cookies(); // every path: tessera_rt lives under /auth
    const byName = Object.fromEntries(all.map((c) => [c.name, c]));
    expect(byName.tessera_at?.httpOnly).toBe(true);
    expect(byName.tessera_at?.sameSite).toBe("Lax");
    expect(byName.tessera_rt?.httpOnly).toBe(true);
    expect(byName.tessera_rt?.path).toBe("/auth");
    expect(byName.tessera_rt?.sameSite).toBe("Strict");
    expect(byName.tessera_csrf?.httpOnly).toBe(false);
    // After a full reload (login again in the same tab) still no token in script's reach.
    await page.reload();
    await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
    expect(await page.evaluate(() => document.cookie)).not.toMatch(/tessera_(at|rt)=/);
    await context.close();
  });

  test("a page on another origin cannot log the user out nor read their data", async () => {
    const context = await system.browser.newContext();
    const page = await context.newPage();
    const email = uniqueEmail("victim");
    await signup(page, system.stack.appUrl, email, password);

    const app = system.stack.appUrl;
    const evilPage = `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="${app}/auth/logout" target="sink"><input name="x" value="1"></form>
<form id="g" method="POST" action="${app}/auth/logout-all" target="sink"></form>
<script>
  const settle = (p) => p.then((r) => ({ outcome: "resolved", type: r.type, status: r.status }), (e) => ({ outcome: "rejected", error: String(e) }));
  window.results = Promise.all([
    settle(fetch("${app}/auth/logout", { method: "POST", credentials: "include" })),
    settle(fetch("${app}/auth/logout", { method: "POST", credentials: "include", mode: "no-cors" })),
    settle(fetch("${app}/api/me/favorites", { method: "POST", credentials: "include", mode: "no-cors", headers: { "content-type": "text/plain" }, body: '{"movie_id": 1}' })),
    settle(fetch("${app}/users/me", { credentials: "include" }).then((r) => r.text().then(() => r))),
    settle(fetch("${app}/auth/csrf", { credentials: "include" }).then((r) => r.text().then(() => r))),
  ]);
</script></body></html>`;
    const { url: evilOrigin, server } = await serve(evilPage);
    try {
      const logoutsBefore = await system.stack.metric("tessera_http_requests_total", { route: "/auth/logout", status: "204" });
      const refusedBefore = await system.stack.metric("tessera_http_requests_total", { route: "/auth/logout", status: "403" });

      const evil = await context.newPage();
      await evil.goto(evilOrigin);
      const results = (await evil.evaluate("window.results")) as Array<{ outcome: string; type?: string; status?: number }>;
      // Nothing readable: CORS fetches reject, no-cors ones are opaque (status 0, no body).
      expect(results[0]).toMatchObject({ outcome: "rejected" });
      expect(results[1]).toMatchObject({ outcome: "resolved", type: "opaque", status: 0 });
      expect(results[2]).toMatchObject({ outcome: "resolved", type: "opaque", status: 0 });
      expect(results[3]).toMatchObject({ outcome: "rejected" });
      expect(results[4]).toMatchObject({ outcome: "rejected" });
      // And the forms: a classic cross-origin form POST.
      await evil.evaluate(() => (document.getElementById("f") as HTMLFormElement).submit());
      await evil.waitForTimeout(500);
      await evil.evaluate(() => (document.getElementById("g") as HTMLFormElement).submit());
      await evil.waitForTimeout(500);

      // The server refused every logout attempt (403 csrf_failed), none ended the session...
      const refused = (await system.stack.metric("tessera_http_requests_total", { route: "/auth/logout", status: "403" })) - refusedBefore;
      expect(refused).toBeGreaterThanOrEqual(3);
      expect(await system.stack.metric("tessera_http_requests_total", { route: "/auth/logout", status: "204" })).toBe(logoutsBefore);
      expect(await system.stack.metric("tessera_http_requests_total", { route: "/auth/logout-all", status: "204" })).toBe(0);

      // ...so the session still works, and no favourite was added behind the user's back.
      await page.reload();
      await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
      const me = await page.evaluate(async () => {
        const client = (window as unknown as { __tessera: { fetch: typeof fetch } }).__tessera;
        const r = await client.fetch("/users/me");
        const f = await client.fetch("/api/me/favorites");
        return { me: r.status, favorites: (await f.json()) as unknown[] };
      });
      expect(me).toEqual({ me: 200, favorites: [] });
    } finally {
      server.close();
      await context.close();
    }
  });
});
