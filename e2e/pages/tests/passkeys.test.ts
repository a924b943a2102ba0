// Passkeys in Chromium with a virtual authenticator (the DevTools protocol's WebAuthn domain):
// add a passkey on the account page, sign out, sign in with it from the sign-in page (the
// button, email-first), and a user-verification failure shown as an error. WebAuthn needs a
// domain, so this server's public URL is http://localhost (a secure context, like https).
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";

import { cookieNames, freePort, launchBrowser, password, repoRoot, screenshotOnFailure, signOut, signUp, Tessera, uniqueEmail } from "./harness";

let server: Tessera;
let browser: Browser;
let base: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  server = await Tessera.start({ TESSERA_PUBLIC_URL: base }, port);
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.stop();
});

/** A fresh browser with a platform authenticator that holds discoverable credentials. */
async function withAuthenticator(): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { page, cdp, authenticatorId };
}

async function addPasskey(page: Page): Promise<void> {
  await page.goto(`${base}/ui/account`);
  const add = page.locator("[data-passkey-action]");
  await add.waitFor({ state: "visible" });
  await Promise.all([page.waitForURL(/done=passkey_added/), add.click()]);
}

test("a passkey added on the account page signs in from the sign-in page", async () => {
  const { page, cdp, authenticatorId } = await withAuthenticator();
  await screenshotOnFailure("passkey sign-in", () => [page], async () => {
    const email = uniqueEmail("passkey");
    await signUp(page, email, password, base);
    expect(new URL(page.url()).pathname).toBe("/ui/account");

    // The button appears only with the script; it makes a credential on the authenticator.
    await addPasskey(page);
    await expect(page.locator("[role=status]").innerText()).resolves.toContain("Passkey added");
    const rows = page.locator('section[data-passkeys="account"] .rows li');
    await expect(rows.count()).resolves.toBe(1);
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.isResidentCredential).toBe(true);

    // Signed out, then in with the passkey's button, email-first: no password typed. (The
    // page's autofill request is turned off here so that it does not answer first.)
    await signOut(page, base);
    const cookies = async () => (await page.context().cookies()).map((c) => c.name);
    expect(await cookies()).not.toContain(cookieNames.access);
    await page.addInitScript(() => {
      Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable", { value: async () => false });
    });
    await page.goto(`${base}/ui/login`);
    await page.fill("#email", email);
    await Promise.all([page.waitForURL(`${base}/ui/account?lang=en`), page.click("[data-passkey-action]")]);
    expect(await cookies()).toContain(cookieNames.access);
    await expect(page.locator("main .lead").first().innerText()).resolves.toContain(email);
    // The sign-in is recorded on the passkey.
    await expect(rows.first().innerText()).resolves.not.toContain("last used never");
  });
});

test("autofill: the sign-in page's conditional request signs in with a discoverable passkey", async () => {
  const { page } = await withAuthenticator();
  await screenshotOnFailure("passkey autofill", () => [page], async () => {
    const email = uniqueEmail("passkey-autofill");
    await signUp(page, email, password, base);
    await addPasskey(page);
    await signOut(page, base);

    // The virtual authenticator answers the conditional request at once, as a person picking
    // the passkey from the email field's suggestions would.
    await page.goto(`${base}/ui/login`);
    await page.waitForURL(`${base}/ui/account?lang=en`);
    await expect(page.locator("main .lead").first().innerText()).resolves.toContain(email);
  });
});

test("a passkey refused by the authenticator's user verification shows an error and signs nobody in", async () => {
  const { page, cdp, authenticatorId } = await withAuthenticator();
  await screenshotOnFailure("passkey user verification", () => [page], async () => {
    const email = uniqueEmail("passkey-uv");
    await signUp(page, email, password, base);
    await addPasskey(page);
    await signOut(page, base);

    await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
    await page.addInitScript(() => {
      Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable", { value: async () => false });
    });
    await page.goto(`${base}/ui/login`);
    await page.fill("#email", email);
    await page.click("[data-passkey-action]");
    const alert = page.locator("[data-passkey-error]");
    await alert.waitFor({ state: "visible" });
    expect(await alert.innerText()).toMatch(/did not sign you in|was not used/);
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    expect((await page.context().cookies()).map((c) => c.name)).not.toContain(cookieNames.access);
  });
});

test("a passkey is renamed from its row on the account page", async () => {
  const { page } = await withAuthenticator();
  await screenshotOnFailure("passkey rename", () => [page], async () => {
    await signUp(page, uniqueEmail("passkey-rename"), password, base);
    await addPasskey(page);
    const row = page.locator('section[data-passkeys="account"] .rows li').first();
    const field = row.getByLabel("New name");
    await expect(field.isVisible(), "the form waits behind its Rename summary").resolves.toBe(false);

    await row.locator("summary").click();
    await field.fill("Work laptop");
    await Promise.all([page.waitForURL(/done=passkey_renamed/), row.getByRole("button", { name: "Save" }).click()]);

    await expect(page.locator("[role=status]").innerText()).resolves.toContain("Passkey renamed.");
    await expect(row.locator("strong").innerText()).resolves.toBe("Work laptop");
    await expect(row.getByRole("button", { name: "Remove Work laptop" }).count()).resolves.toBe(1);
  });
});

test("autofill: a request left waiting is renewed before its ceremony runs out, and still signs in", async () => {
  const { page, cdp, authenticatorId } = await withAuthenticator();
  await screenshotOnFailure("passkey autofill renewal", () => [page], async () => {
    const email = uniqueEmail("passkey-renewal");
    await signUp(page, email, password, base);
    await addPasskey(page);
    await signOut(page, base);

    // Nobody picks the passkey for now: the autofill request waits, on the page's own clock.
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: false });
    await page.clock.install();
    const ceremonies: string[] = [];
    const used: string[] = [];
    page.on("response", async (response) => {
      const pathname = new URL(response.url()).pathname;
      if (pathname === "/auth/passkey/options") ceremonies.push(((await response.json()) as { ceremony_id: string }).ceremony_id);
    });
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/auth/passkey/login") used.push((request.postDataJSON() as { ceremony_id: string }).ceremony_id);
    });
    await page.goto(`${base}/ui/login`);
    await expect.poll(() => ceremonies.length).toBe(1);

    // Four and a half minutes on: a new ceremony replaces the one about to run out.
    await page.clock.fastForward("04:31");
    await expect.poll(() => ceremonies.length).toBe(2);
    expect(ceremonies[1]).not.toBe(ceremonies[0]);

    // With someone there to pick the passkey, the next renewal's request signs in: its ceremony
    // is the one the server is shown. (A virtual authenticator answers only requests made
    // after presence is turned on, so the person "arrives" before the third.)
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: true });
    await page.clock.fastForward("04:31");
    await page.waitForURL(`${base}/ui/account?lang=en`);
    expect(ceremonies).toHaveLength(3);
    expect(used).toEqual([ceremonies[2]]);
    await expect(page.locator("main .lead").first().innerText()).resolves.toContain(email);
  });
});

test("with JavaScript off the sign-in page shows no passkey button but keeps the autofill hint", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${base}/ui/login`);
  await expect(page.locator("[data-passkey-action]").isHidden()).resolves.toBe(true);
  await expect(page.locator("#email").getAttribute("autocomplete")).resolves.toBe("username webauthn");
});

test("@tessera/client: passkeys.register() and passkeys.login() in the browser, cookie mode", async () => {
  const context = await browser.newContext({ bypassCSP: true });
  contexts.push(context);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  // The client as an app bundles it (npm run build), served on the pages' origin.
  const bundle = path.join(repoRoot, "clients/client/dist/index.js");
  await page.route(`${base}/__client/index.js`, (route) =>
    route.fulfill({ contentType: "text/javascript", body: readFileSync(bundle, "utf8") }),
  );
  await screenshotOnFailure("client passkeys", () => [page], async () => {
    const email = uniqueEmail("client-passkey");
    await page.goto(`${base}/ui/forgot`);
    // A string, so the test runner's module transform leaves the page's import() alone.
    type Outcome = {
      added: { name: string };
      signedOut: unknown;
      signedIn: { user: { email: string } };
      listed: { last_used_at: string | null }[];
      me: { email: string };
    };
    const outcome: Outcome = await page.evaluate(`(async () => {
      const { createClient } = await import("/__client/index.js");
      const auth = createClient({ baseUrl: "" });
      await auth.signup({ email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)} });
      const added = await auth.passkeys.register("Client key");
      await auth.logout();
      const signedOut = auth.user;
      const signedIn = await auth.passkeys.login({ email: ${JSON.stringify(email)}, mediation: "optional" });
      const listed = await auth.passkeys.list();
      const me = await (await auth.fetch("/users/me")).json();
      return { added, signedOut, signedIn, listed, me };
    })()`);
    expect(outcome.added.name).toBe("Client key");
    expect(outcome.signedOut).toBeNull();
    expect(outcome.signedIn.user.email).toBe(email);
    expect(outcome.listed).toHaveLength(1);
    expect(outcome.listed[0]?.last_used_at).not.toBeNull();
    expect(outcome.me.email).toBe(email);
    const cookies = (await context.cookies()).map((c) => c.name);
    expect(cookies).toContain(cookieNames.access);
  });
});
