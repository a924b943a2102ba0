// One refresh across tabs: two tabs of one browser, a 2-second access token, ten API calls
// in each tab at the moment it expires, and exactly one POST /auth/refresh at the server.
import { createServer, type AddressInfo, type Socket } from "node:net";
import { beforeAll, describe, expect, test } from "vitest";
import { newAccount, useStack } from "./harness";
import { burst, oneRefreshPerExpiry, twoTabs, untilExpired } from "./tabs";

const TTL_MS = 2000;
const system = useStack({ accessTtl: "2s" });

describe("refresh", () => {
  let email: string;
  beforeAll(async () => {
    email = await newAccount(system, "tabs");
  });

  test("two tabs, ten calls each at expiry: one POST /auth/refresh, both tabs stay signed in", async () => {
    await oneRefreshPerExpiry(system, email, TTL_MS);
  });

  test("a tab closed in the middle of its refresh does not stop the other tab", async () => {
    const { one, two, loggedInAt } = await twoTabs(system, email);
    // Tab one's refresh goes to a server that never answers, so the tab holds the lock when it
    // goes away, and its request never reaches Tessera.
    let held!: () => void;
    const reached = new Promise<void>((resolve) => (held = resolve));
    const sockets: Socket[] = [];
    const silent = createServer((socket) => (sockets.push(socket), held()));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    await one.route("**/auth/refresh", (route) => route.continue({ url: `http://127.0.0.1:${port}/auth/refresh` }));
    try {
      await untilExpired(loggedInAt, TTL_MS);
      const before = await system.stack.refreshAttempts();
      void one.evaluate(() => {
        const client = (window as unknown as { __tessera: { fetch: typeof fetch } }).__tessera;
        void client.fetch("/users/me");
      });
      await reached;
      await one.close({ runBeforeUnload: false });
      const started = Date.now();
      const statuses = await burst(two);
      const took = Date.now() - started;
      expect(statuses).toEqual(Array(10).fill(200));
      expect(took).toBeLessThan(5000);
      expect((await system.stack.refreshAttempts()) - before).toBe(1);
      await two.waitForSelector(`[data-testid=user-email]:text-is("${email}")`, { timeout: 1000 });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await two.context().close();
    }
  });

  test("a logout in one tab shows the other tab signed out within a second", async () => {
    const { one, two } = await twoTabs(system, email);
    await one.click("header button:text-is('Sign out')");
    const started = Date.now();
    await two.waitForSelector("[data-testid=signed-out]", { timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
    await one.waitForURL(/\/login$/);
    await one.context().close();
  });
});
