// Social login in Chromium through a real OpenID provider (crates/tessera-testkit/oidc-provider,
// panva's oidc-provider, run by this file): the provider button of /ui/login, the provider's
// own login and consent pages, Tessera's /ui/social landing and its one click, then the account
// page, or the app's `redirect_to`; and a login declined at the provider.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";

import { cookieNames, freePort, launchBrowser, linkIn, OidcProvider, screenshotOnFailure, Tessera } from "./harness";

/** The provider's name in Tessera's configuration, in its URLs and on its button. */
const name = "op";
const client = { clientId: "tessera-hosted-pages", clientSecret: "the hosted page tests' client secret" };

let provider: OidcProvider;
let server: Tessera;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // The provider must know Tessera's callback before Tessera can know the provider.
  const port = await freePort();
  provider = await OidcProvider.start({ ...client, redirectUris: [`http://127.0.0.1:${port}/auth/oauth/${name}/callback`] });
  const key = `TESSERA_OAUTH__PROVIDERS__${name.toUpperCase()}__`;
  server = await Tessera.start({
    [`${key}ISSUER`]: provider.issuer,
    [`${key}CLIENT_ID`]: client.clientId,
    [`${key}CLIENT_SECRET`]: client.clientSecret,
  }, port);
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.stop();
  await provider?.stop();
});

/** A test with a fresh browser (no cookie of Tessera or the provider), screenshots on failure. */
function flow(title: string, body: (page: Page) => Promise<void>) {
  test(title, async () => {
    const context = await browser.newContext();
    contexts.push(context);
    // The provider's development pages import a web font; this machine has no Internet.
    await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    const page = await context.newPage();
    await screenshotOnFailure(title, () => [page], () => body(page));
  });
}

const pathOf = (p: Page) => new URL(p.url()).pathname;
const main = (p: Page) => p.locator("main").innerText();

/** Clicks the provider's button on Tessera's sign-in page: on to the provider's login page. */
async function continueWithProvider(p: Page) {
  const button = p.getByRole("link", { name: `Continue with ${name}` });
  expect(await button.count(), `the provider's button on ${p.url()}:\n${await main(p)}`).toBe(1);
  await Promise.all([p.waitForNavigation({ waitUntil: "load" }), button.click()]);
  expect(new URL(p.url()).origin, "at the provider").toBe(provider.issuer);
}

/**
 * Goes through the provider's pages as `login` (its login form, any password; its consent
 * page) until the browser is back at Tessera; the prompts it answered, in order.
 */
async function signInAtProvider(p: Page, login: string): Promise<string[]> {
  const prompts: string[] = [];
  while (new URL(p.url()).origin === provider.issuer) {
    if (prompts.length >= 4) throw new Error(`still at the provider after ${prompts.join(", ")}: ${p.url()}\n${await p.locator("body").innerText()}`);
    const prompt = await p.locator("form input[name=prompt]").getAttribute("value", { timeout: 5000 });
    prompts.push(prompt ?? "(none)");
    if (prompt === "login") {
      await p.fill("input[name=login]", login);
      await p.fill("input[name=password]", "any password");
    } else if (prompt !== "consent") {
      throw new Error(`an unexpected prompt ${prompt} at ${p.url()}`);
    }
    await Promise.all([p.waitForNavigation({ waitUntil: "load" }), p.click("form button[type=submit]")]);
  }
  return prompts;
}

/** On Tessera's provider landing: one click to finish signing in. */
async function finishOnLanding(p: Page) {
  expect(pathOf(p), `${p.url()}:\n${await p.locator("body").innerText()}`).toBe("/ui/social");
  expect(await p.locator("h1").innerText()).toBe("Continue signing in");
  // The login code waits in the form for the click; it is not spent by opening the page.
  expect(await p.locator('form[action="/ui/social"] input[name=login_code]').inputValue()).not.toBe("");
  await Promise.all([p.waitForNavigation({ waitUntil: "load" }), p.getByRole("button", { name: "Continue" }).click()]);
}

/** GET /users/me with the browser's cookies. */
async function me(p: Page): Promise<{ status: number; body: { id?: string; email?: string; email_verified?: boolean } }> {
  const response = await p.request.get(`${server.url}/users/me`);
  return { status: response.status(), body: (await response.json()) as { id?: string; email?: string } };
}

let accountId: string | undefined;

describe.sequential(`social login through a real OpenID provider ("${name}")`, () => {
  flow("signs in from /ui/login through the provider's pages; the account page lists the provider", async (p) => {
    await p.goto(`${server.url}/ui/login`);
    await continueWithProvider(p);
    expect(await signInAtProvider(p, "ada")).toEqual(["login", "consent"]);
    await finishOnLanding(p);

    expect(pathOf(p), await main(p)).toBe("/ui/account");
    expect(await p.locator("main p.lead").innerText()).toBe("Signed in as ada@example.test.");
    // The provider said the address is verified.
    expect(await p.locator('section[aria-labelledby="email-heading"] .badge').innerText()).toBe("verified");
    const linked = p.locator('section[aria-labelledby="providers-heading"]');
    expect(await linked.locator("h2").innerText()).toBe("Linked accounts");
    const row = linked.locator(`li:has(input[name=provider][value="${name}"])`);
    expect(await row.count(), await linked.innerText()).toBe(1);
    expect(await row.locator("strong").innerText()).toBe(name);
    expect(await row.innerText()).toContain("ada@example.test");
    expect(await linked.getByRole("link", { name: `Link ${name}` }).count(), "no button to link it again").toBe(0);

    const signedIn = await me(p);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toMatchObject({ email: "ada@example.test", email_verified: true });
    accountId = signedIn.body.id;
  });

  flow("with redirect_to on /ui/login, the same provider login ends at that URL, signed in to the same account", async (p) => {
    const target = `${server.url}/healthz`;
    await p.goto(`${server.url}/ui/login?redirect_to=${encodeURIComponent(target)}`);
    await continueWithProvider(p);
    const prompts = await signInAtProvider(p, "ada");
    expect(prompts[0], "a fresh browser signs in at the provider").toBe("login");
    await finishOnLanding(p);

    expect(p.url()).toBe(target);
    const signedIn = await me(p);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.email).toBe("ada@example.test");
    expect(accountId, "the first test's account").toBeTruthy();
    expect(signedIn.body.id).toBe(accountId);
  });

  flow("an account the provider made has no password: a mailed link sets one, and it signs in", async (p) => {
    await p.goto(`${server.url}/ui/login`);
    await continueWithProvider(p);
    await signInAtProvider(p, "grace");
    await finishOnLanding(p);
    expect(pathOf(p), await main(p)).toBe("/ui/account");

    // No form asks for a password the account does not have; one button mails the link.
    const section = p.locator('section[aria-labelledby="password-heading"]');
    expect(await section.innerText()).toContain("Your account has no password");
    expect(await p.locator("input[name=current_password]").count()).toBe(0);
    await Promise.all([p.waitForURL(/done=password_link/), section.getByRole("button", { name: "Email me a link to set a password" }).click()]);
    expect(await p.locator("[role=status]").innerText()).toContain("A link to choose your password is on its way");

    const mail = await server.mailTo("grace@example.test", "password");
    await p.goto(linkIn(mail, "/ui/reset"));
    await p.fill("input[name=new_password]", "grace's very own password");
    await Promise.all([p.waitForNavigation({ waitUntil: "load" }), p.locator("main form button[type=submit]").click()]);
    expect(await p.locator("h1").innerText()).toBe("Password changed");

    // The new password signs in to the same account, and the page now offers to change it.
    await p.goto(`${server.url}/ui/login`);
    await p.fill("input[name=email]", "grace@example.test");
    await p.fill("input[name=password]", "grace's very own password");
    await Promise.all([p.waitForURL(`${server.url}/ui/account?lang=en`), p.locator('form[action="/ui/login"] button[type=submit]').first().click()]);
    expect(await p.locator("input[name=current_password]").count()).toBe(1);
  });

  flow("declined at the provider: back on the sign-in page with the reason, not signed in", async (p) => {
    await p.goto(`${server.url}/ui/login`);
    await continueWithProvider(p);
    const cancel = p.getByRole("link", { name: "[ Cancel ]" });
    expect(await cancel.count(), await p.locator("body").innerText()).toBe(1);
    await Promise.all([p.waitForNavigation({ waitUntil: "load" }), cancel.click()]);

    expect(new URL(p.url()).origin).toBe(server.url);
    expect(pathOf(p)).toBe("/ui/social");
    expect(new URL(p.url()).searchParams.get("error")).toBe("access_denied");
    expect(await p.locator("h1").innerText()).toBe("Sign in");
    const alert = p.locator("main [role=alert]:visible");
    expect(await alert.count(), await main(p)).toBe(1);
    expect(await alert.isVisible()).toBe(true);
    expect(await alert.innerText()).toBe("Signing in with the provider was cancelled.");
    expect(await p.locator('form[action="/ui/login"] input[name=password]').count()).toBe(1);
    expect(await p.getByRole("link", { name: `Continue with ${name}` }).count(), "the button to try again").toBe(1);

    const jar = await p.context().cookies(server.url);
    expect(jar.some((cookie) => cookie.name === cookieNames.access), "no session cookie").toBe(false);
    expect((await me(p)).status).toBe(401);
  });
});
