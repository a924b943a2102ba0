// The hosted pages with JavaScript off: sign up, confirm the address from the mail, sign out,
// sign in back to the app (`redirect_to`), a wrong password, and a forgotten one reset by mail.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BrowserContext, Page } from "playwright-core";

import { cookieNames, linkIn, password, requestVerificationMail, submit, uniqueEmail, useServer } from "./harness";

const system = useServer();
const email = uniqueEmail("nojs");
const newPassword = "another long passphrase";
let context: BrowserContext;
let page: Page;

// The cookie names of plain-http development (TESSERA_COOKIES__DEV_INSECURE).
const names = cookieNames;

async function cookies(): Promise<Map<string, { value: string; path: string; httpOnly: boolean }>> {
  // Every cookie of the server, whatever its path (the refresh cookie lives under /auth).
  const host = new URL(system.server.url).hostname;
  return new Map((await context.cookies()).filter((c) => c.domain === host).map((c) => [c.name, c]));
}

/** GET /users/me with `token` as a bearer: the status and body. */
async function me(token: string): Promise<{ status: number; body: { email?: string; email_verified?: boolean } }> {
  const response = await fetch(`${system.server.url}/users/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as { email?: string; email_verified?: boolean } };
}

async function signIn(secret: string, redirectTo?: string) {
  const query = redirectTo ? `?redirect_to=${encodeURIComponent(redirectTo)}` : "";
  await page.goto(`${system.server.url}/ui/login${query}`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", secret);
  return submit(page);
}

describe("with JavaScript off", () => {
  beforeAll(async () => {
    context = await system.browser.newContext({ javaScriptEnabled: false });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
  });

  test("the browser runs no page script", async () => {
    // On a blank page of this context (no policy of the server's in the way), an inline script
    // would change the title.
    const blank = await context.newPage();
    await blank.setContent("<title>served</title><script>document.title = 'scripted'</script>");
    expect(await blank.title()).toBe("served");
    await blank.close();
  });

  test("signs up through /ui/signup; the address is confirmed from the mail's /ui/verify link", async () => {
    await page.goto(`${system.server.url}/ui/signup`);
    await page.fill("input[name=name]", "No Script");
    await page.fill("input[name=email]", email);
    await page.fill("input[name=password]", password);
    const response = await submit(page);
    expect(response.status()).toBe(200);
    expect(await page.locator("main").innerText()).toContain(email);

    const jar = await cookies();
    for (const name of Object.values(names)) expect(jar.has(name), `cookie ${name} after signup`).toBe(true);
    const signedUp = await me(jar.get(names.access)!.value);
    expect(signedUp.status).toBe(200);
    expect(signedUp.body).toMatchObject({ email, email_verified: false });

    // The signed-in browser asks for a verification mail with its cookies (and the CSRF token),
    // as an app of this origin would; the newest mail's link is the one followed.
    const link = await requestVerificationMail(context, system.server, email);
    expect(link.startsWith(`${system.server.url}/ui/verify?token=`), link).toBe(true);

    await page.goto(link);
    const confirmed = await submit(page);
    expect(confirmed.status()).toBe(200);
    await expect.poll(() => page.locator("main [role=status]").count()).toBeGreaterThan(0);
    expect((await me(jar.get(names.access)!.value)).body.email_verified).toBe(true);
  });

  test("signs out through /ui/logout: the cookies go and the session ends", async () => {
    const before = (await cookies()).get(names.access)?.value;
    expect(before, "signed in before").toBeTruthy();
    expect((await me(before!)).status).toBe(200);

    await page.goto(`${system.server.url}/ui/logout`);
    const response = await submit(page);
    expect(response.status()).toBe(200);
    expect(await page.locator("main [role=status]").count()).toBeGreaterThan(0);

    const jar = await cookies();
    for (const name of [names.access, names.refresh]) expect(jar.has(name), `cookie ${name} after logout`).toBe(false);
    expect((await me(before!)).status, "the signed-out access token").toBe(401);
  });

  test("a wrong password: 401, the error next to the form as role=alert, no cookies", async () => {
    const response = await signIn("not the password");
    expect(response.status()).toBe(401);
    expect(new URL(page.url()).pathname).toBe("/ui/login");

    const alert = page.locator("main [role=alert]:visible");
    expect(await alert.count()).toBe(1);
    expect(await alert.isVisible()).toBe(true);
    expect((await alert.innerText()).trim()).not.toBe("");
    // Next to the form: the fields point at it, and it sits beside the form in the page.
    const id = await alert.getAttribute("id");
    expect(id, "the alert has an id the fields can refer to").toBeTruthy();
    for (const field of ["email", "password"]) {
      const input = page.locator(`form[action="/ui/login"] input[name=${field}]`);
      expect((await input.getAttribute("aria-describedby"))?.split(/\s+/), `${field}'s aria-describedby`).toContain(id);
      expect(await input.getAttribute("aria-invalid")).toBe("true");
    }
    const beside = await alert.evaluate((node) => {
      const form = document.querySelector('form[action="/ui/login"]');
      return !!form && (node.parentElement === form.parentElement || form.contains(node));
    });
    expect(beside, "the alert is a sibling of the form or inside it").toBe(true);
    expect(await page.inputValue("input[name=email]"), "the address stays filled in").toBe(email);
    expect((await cookies()).has(names.access)).toBe(false);
  });

  test("signs in through /ui/login with redirect_to and lands there with the session cookies", async () => {
    const target = `${system.server.url}/healthz`;
    const response = await signIn(password, target);
    expect(page.url()).toBe(target);
    expect(response.url()).toBe(target);
    expect(response.status()).toBe(200);
    // The sign-in itself answered with a redirect (post/redirect/get), not a page.
    const redirect = response.request().redirectedFrom();
    expect(redirect?.method()).toBe("POST");
    expect(new URL(redirect!.url()).pathname).toBe("/ui/login");
    expect((await redirect!.response())?.status()).toBe(303);

    const jar = await cookies();
    for (const name of Object.values(names)) expect(jar.has(name), `cookie ${name} after sign-in`).toBe(true);
    expect(jar.get(names.access)).toMatchObject({ httpOnly: true, path: "/" });
    expect(jar.get(names.refresh)).toMatchObject({ httpOnly: true, path: "/auth" });
    expect(jar.get(names.csrf)).toMatchObject({ httpOnly: false });
    const signedIn = await me(jar.get(names.access)!.value);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.email).toBe(email);
  });

  test("forgot password: the mail's /ui/reset link sets a new one, which signs in", async () => {
    await context.clearCookies();
    await page.goto(`${system.server.url}/ui/forgot`);
    await page.fill("input[name=email]", email);
    const asked = await submit(page);
    expect(asked.status()).toBe(202);
    expect(await page.locator("main [role=status]").count()).toBeGreaterThan(0);

    const link = linkIn(await system.server.mailTo(email, (mail) => mail.text.includes("/ui/reset?")), "/ui/reset");
    await page.goto(link);
    await page.fill("input[name=new_password]", newPassword);
    const reset = await submit(page);
    expect(reset.status()).toBe(200);
    expect(await page.locator("main [role=status]").count()).toBeGreaterThan(0);

    // The link is spent.
    await page.goto(link);
    await page.fill("input[name=new_password]", "yet another passphrase");
    expect((await submit(page)).status()).toBeGreaterThanOrEqual(400);

    expect((await signIn(password)).status(), "the old password").toBe(401);
    const response = await signIn(newPassword);
    expect(response.status()).toBe(200);
    expect(await page.locator("main").innerText()).toContain(email);
    const jar = await cookies();
    expect((await me(jar.get(names.access)!.value)).body.email).toBe(email);
  });
});
