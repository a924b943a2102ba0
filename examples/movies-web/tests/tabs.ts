// Two tabs of one browser around an access token's expiry (refresh.test.ts, strict-mode.test.ts).
import { expect } from "vitest";
import type { Page } from "playwright-core";
import { type Stack, type System, login, password, sleep } from "./harness";

/** Fires `n` auth.fetch calls to Tessera's /users/me at once; their statuses. */
export function burst(page: Page, n = 10): Promise<number[]> {
  return page.evaluate(async (n) => {
    const client = (window as unknown as { __tessera: { fetch: typeof fetch } }).__tessera;
    return Promise.all(Array.from({ length: n }, () => client.fetch("/users/me").then((r) => r.status)));
  }, n);
}

/** Waits until an access cookie of `ttlMs` set at `since` has expired. */
export async function untilExpired(since: number, ttlMs: number): Promise<void> {
  await sleep(Math.max(0, since + ttlMs + 300 - Date.now()));
}

/** A new browser context with two tabs signed in as `email`; when the login happened. */
export async function twoTabs({ browser, stack }: System, email: string): Promise<{ one: Page; two: Page; loggedInAt: number }> {
  const context = await browser.newContext();
  const one = await context.newPage();
  await login(one, stack.appUrl, email, password);
  const loggedInAt = Date.now();
  const two = await context.newPage();
  await two.goto(stack.appUrl);
  await two.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
  return { one, two, loggedInAt };
}

/**
 * Two tabs signed in as `email` fire ten calls each at the moment the token expires, and again
 * when its successor expires: every call succeeds, the server sees exactly one refresh each
 * time, and both tabs still show the user.
 */
export async function oneRefreshPerExpiry(system: System, email: string, ttlMs: number): Promise<void> {
  const { one, two, loggedInAt } = await twoTabs(system, email);
  await untilExpired(loggedInAt, ttlMs);
  await oneRefreshForTwoTabs(system.stack, one, two, email);
  await sleep(ttlMs + 300);
  await oneRefreshForTwoTabs(system.stack, one, two, email);
  await one.context().close();
}

async function oneRefreshForTwoTabs(stack: Stack, one: Page, two: Page, email: string): Promise<void> {
  const before = await stack.refreshAttempts();
  const [a, b] = await Promise.all([burst(one), burst(two)]);
  expect([...a, ...b]).toEqual(Array(20).fill(200));
  expect((await stack.refreshAttempts()) - before).toBe(1);
  for (const page of [one, two]) {
    await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`, { timeout: 1000 });
  }
}
