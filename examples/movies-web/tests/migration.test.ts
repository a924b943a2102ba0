// "Moving an existing app onto Tessera" (README): import the old app's bcrypt users, then they
// log in through the web app with the password they always had.
import path from "node:path";
import { expect, test } from "vitest";
import { useStack, appDir, login } from "./harness";

const system = useStack();

// tests/fixtures/users.jsonl holds one user exported from a passlib/bcryptjs app: a real
// bcrypt hash (`$2b$`, cost 10) of the password below.
const OLD_PASSWORD = "reel to reel 1999";

test("bcrypt users imported with `tessera import` log in through the web app", async () => {
  const output = await system.stack.cli(["import", path.join(appDir, "tests/fixtures/users.jsonl")]);
  expect(output).toContain("imported 1 user(s)");
  const page = await (await system.browser.newContext()).newPage();
  await login(page, system.stack.appUrl, "old.fan@example.com", OLD_PASSWORD);
  const me = await page.evaluate(async () => {
    const client = (window as unknown as { __tessera: { fetch: typeof fetch } }).__tessera;
    return (await client.fetch("/users/me")).json() as Promise<{ email: string; name: string }>;
  });
  expect(me).toMatchObject({ email: "old.fan@example.com", name: "Old Fan" });
  // A wrong password is still refused.
  await page.click("header button:text-is('Sign out')");
  await page.waitForURL(/\/login$/);
  await page.fill("input[name=email]", "old.fan@example.com");
  await page.fill("input[name=password]", "reel to reel 2000");
  await page.click("button[type=submit]");
  await page.waitForSelector("p.error[role=alert]");
});
