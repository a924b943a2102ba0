// The Next.js side: the signed-in user is in the server HTML (no loading state, no flash), and
// an expired access cookie is refreshed once by the proxy (middleware) before the page renders.
import { describe, expect, test } from "vitest";
import type { BrowserContext } from "playwright-core";
import { useStack, login, password, serve, signup, sleep, uniqueEmail } from "./harness";

const system = useStack({ accessTtl: "3s" });

/** A context whose pages record whether the auth "loading" state ever reached the DOM. */
async function watchedContext(): Promise<BrowserContext> {
  const context = await system.browser.newContext();
  await context.addInitScript(() => {
    const w = window as unknown as { __sawLoading: boolean };
    w.__sawLoading = false;
    const check = () => {
      if (document.querySelector("[data-testid=auth-loading]")) w.__sawLoading = true;
    };
    new MutationObserver(check).observe(document, { childList: true, subtree: true });
    document.addEventListener("DOMContentLoaded", check);
  });
  return context;
}

describe("server rendering", () => {
  test("the first paint shows the signed-in user: in the server HTML, never a loading state", async () => {
    const context = await watchedContext();
    const page = await context.newPage();
    const email = uniqueEmail("ssr");
    await signup(page, system.stack.appUrl, email, password);
    for (const path of ["/", "/devices", "/chat"]) {
      const response = await page.goto(`${system.stack.appUrl}${path}`);
      const html = (await response?.text()) ?? "";
      expect(html).toContain(email);
      expect(html).not.toContain("auth-loading");
      await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
      expect(await page.evaluate(() => (window as unknown as { __sawLoading: boolean }).__sawLoading)).toBe(false);
    }
    // Signed out, the server HTML says so at once as well.
    const fresh = await (await watchedContext()).newPage();
    const response = await fresh.goto(system.stack.appUrl);
    const html = (await response?.text()) ?? "";
    expect(html).toContain('data-testid="signed-out"');
    expect(await fresh.evaluate(() => (window as unknown as { __sawLoading: boolean }).__sawLoading)).toBe(false);
    await fresh.context().close();
    await context.close();
  });

  test("after the access cookie expires, a navigation refreshes once in the proxy and still renders the user", async () => {
    const context = await watchedContext();
    const page = await context.newPage();
    const email = uniqueEmail("expired");
    await signup(page, system.stack.appUrl, email, password);
    await login(page, system.stack.appUrl, email, password);
    // Leave the app so no script of it refreshes in the background, and let the token expire.
    await page.goto("about:blank");
    await sleep(3500);
    const before = await system.stack.refreshAttempts();
    const response = await page.goto(`${system.stack.appUrl}/devices`);
    const html = (await response?.text()) ?? "";
    expect((await system.stack.refreshAttempts()) - before).toBe(1);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/devices");
    expect(html).toContain(email);
    await page.waitForSelector("[data-testid=device][data-current=true]");
    expect(await page.evaluate(() => (window as unknown as { __sawLoading: boolean }).__sawLoading)).toBe(false);
    await context.close();
  });

  test("a link from another site, after the access cookie expired, still lands signed in", async () => {
    // localhost and 127.0.0.1 are different sites: the browser withholds the SameSite=Strict
    // refresh cookie on this navigation, so the proxy steps once through a page of the app.
    const context = await watchedContext();
    const page = await context.newPage();
    const email = uniqueEmail("linked");
    await signup(page, system.stack.appUrl, email, password);
    const elsewhere = await serve(`<!doctype html><a id="go" href="${system.stack.appUrl}/devices">your devices</a>`);
    try {
      await page.goto(elsewhere.url.replace("127.0.0.1", "localhost"));
      await sleep(3500);
      const before = await system.stack.refreshAttempts();
      await page.click("#go");
      await page.waitForSelector("[data-testid=device][data-current=true]");
      expect(new URL(page.url()).pathname).toBe("/devices");
      expect(await page.textContent("[data-testid=user-email]")).toBe(email);
      expect((await system.stack.refreshAttempts()) - before).toBe(1);
    } finally {
      elsewhere.server.close();
      await context.close();
    }
  });

  test("a protected page sends a signed-out visitor to the login page", async () => {
    const context = await system.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${system.stack.appUrl}/devices`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await context.close();
  });
});
