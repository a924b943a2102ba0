// The one-refresh rule under React's development mode, where StrictMode (on in next.config.ts)
// mounts every client component twice: the provider subscribes, unsubscribes and subscribes
// again, and the client's cross-tab lock must come through it.
import { expect, test } from "vitest";
import config from "../next.config";
import { newAccount, useStack } from "./harness";
import { oneRefreshPerExpiry } from "./tabs";

const system = useStack({ accessTtl: "2s", dev: true });

test("under next dev with StrictMode: two tabs, ten calls each at expiry, one POST /auth/refresh", async () => {
  expect(config.reactStrictMode).toBe(true);
  await oneRefreshPerExpiry(system, await newAccount(system, "strict"), 2000);
});
