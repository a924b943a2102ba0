// The seed apps' whole journey in the browser: sign up, log in, favourites, the admin-only
// form refused for a user and allowed for an admin, the chat room through a ticket, and
// signing another device out from "your devices". Saves the screenshots in docs/.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import { useStack, login, password, screenshot, signup, uniqueEmail } from "./harness";

const system = useStack();

const viewport = { width: 1000, height: 640 };
const newPage = async (): Promise<Page> => (await system.browser.newContext({ viewport })).newPage();

async function addMovie(page: Page, title: string, year: string): Promise<string> {
  await page.goto(`${system.stack.appUrl}/admin`);
  await page.fill("input[name=title]", title);
  await page.fill("input[name=year]", year);
  await page.click("button[type=submit]");
  return (await page.waitForSelector("[data-testid=add-outcome]")).innerText();
}

test("signup, login, favourites, admin add, chat, your devices", async () => {
  const email = uniqueEmail("fan");

  // Sign up, then log in again from the login form.
  const page = await newPage();
  await signup(page, system.stack.appUrl, email, password, "Fan");
  await page.click("header button:text-is('Sign out')");
  await page.waitForURL(/\/login$/);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  await page.waitForSelector("p.error[role=alert]");
  await screenshot(page, "login");
  await login(page, system.stack.appUrl, email, password);

  // Favourites: add two, remove one.
  await page.goto(system.stack.appUrl);
  await page.click("[data-testid=movie-2] button");
  await page.waitForSelector("[data-testid=movie-2] button[aria-pressed=true]");
  await page.click("[data-testid=movie-3] button");
  await page.waitForSelector("[data-testid=movie-3] button[aria-pressed=true]");
  await page.click("[data-testid=movie-1] button");
  await page.waitForSelector("[data-testid=movie-1] button[aria-pressed=true]");
  await page.click("[data-testid=movie-1] button");
  await page.waitForSelector("[data-testid=movie-1] button[aria-pressed=false]");
  expect(await page.innerText("[data-testid=favorites]")).toMatch(/Casablanca[\s\S]*Alien/);
  await page.reload();
  await page.waitForSelector("[data-testid=favorites]");
  expect(await page.innerText("[data-testid=favorites]")).not.toContain("Metropolis");
  await screenshot(page, "movies");

  // The admin-only form: a 403 for this user, shown as a clear message.
  expect(await addMovie(page, "Playtime", "1967")).toContain("Only administrators can add movies");
  await screenshot(page, "admin-refused");

  // An admin made on the command line can.
  const adminEmail = uniqueEmail("admin");
  await system.stack.cli(["user", "create", "--email", adminEmail, "--password", password, "--role", "admin"]);
  const admin = await newPage();
  await login(admin, system.stack.appUrl, adminEmail, password);
  expect(await addMovie(admin, "Playtime", "1967")).toContain("Added “Playtime” (1967)");
  await page.goto(system.stack.appUrl);
  await page.waitForSelector("[data-testid=movies] >> text=Playtime");

  // The chat room: both enter with a ticket and see each other's messages.
  await page.goto(`${system.stack.appUrl}/chat`);
  await admin.goto(`${system.stack.appUrl}/chat`);
  await page.waitForSelector("[data-testid=chat-state][data-state=open]");
  await admin.waitForSelector("[data-testid=chat-state][data-state=open]");
  await page.fill("input[name=message]", "Anyone up for Casablanca tonight?");
  await page.press("input[name=message]", "Enter");
  await admin.waitForSelector("[data-testid=chat-log] >> text=Anyone up for Casablanca tonight?");
  await admin.fill("input[name=message]", "Yes! I just added Playtime too.");
  await admin.press("input[name=message]", "Enter");
  await page.waitForSelector("[data-testid=chat-log] >> text=Yes! I just added Playtime too.");
  await screenshot(page, "chat");

  // A second device of the same user, then signed out from the first one's "your devices".
  const laptop = await newPage();
  await login(laptop, system.stack.appUrl, email, password);
  await page.goto(`${system.stack.appUrl}/devices`);
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=device]").length === 2);
  expect(await page.locator("[data-testid=device][data-current=true]").count()).toBe(1);
  await screenshot(page, "devices");
  await page.setViewportSize({ width: 390, height: 720 });
  await screenshot(page, "devices-phone");
  await page.setViewportSize(viewport);
  await page.click("[data-testid=device][data-current=false] button");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=device]").length === 1);

  // The other device is signed out on its next call.
  const next = await laptop.evaluate(async () => {
    const client = (window as unknown as { __tessera: { fetch: typeof fetch } }).__tessera;
    const response = await client.fetch("/users/me");
    return { status: response.status, body: (await response.json()) as { code?: string } };
  });
  expect(next.status).toBe(401);
  expect(next.body.code).toBe("token_revoked");
  await laptop.waitForSelector("[data-testid=signed-out]", { timeout: 2000 });
  // And this device still works.
  await page.reload();
  await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
});
