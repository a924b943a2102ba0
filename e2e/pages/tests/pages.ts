// Every hosted page the browser tests check (axe, weight and headers) and the screenshots show.
// A new page is one more entry here.
import type { BrowserContext, Page, Response } from "playwright-core";

import { linkIn, password, signUp, submit, totp, uniqueEmail, type Tessera } from "./harness";

/** What an entry's hooks get: the server, the browser context and page, a fresh address. */
export type VisitContext = {
  server: Tessera;
  context: BrowserContext;
  page: Page;
  /** An address nobody uses yet, for this visit (`needsSession` signs it up). */
  email: string;
  password: string;
};

export type HostedPage = {
  name: string;
  /** The route the page belongs to: the URL opened, unless `prepare` (a link) or `submit` (the answer to a form) lead there. */
  path: string;
  /** Signed in (through /ui/signup, as `email`) before the page is opened. */
  needsSession?: boolean;
  /** Makes what the page needs (an account, a mailed link) and returns the URL to open; else `path`. */
  prepare?: (ctx: VisitContext) => Promise<string>;
  /**
   * For a page that is the answer to a form rather than a URL: what to do on the opened page
   * (it must submit a form); the page under test is where that lands.
   */
  submit?: (ctx: VisitContext) => Promise<void>;
  /** Steps on the opened page before `submit`, not counted as the page's own (the forms before it). */
  arrive?: (ctx: VisitContext) => Promise<void>;
  /** A selector only this page matches: proof that the visit reached it. */
  shows: string;
  /** The page's status when it is not 200 (a form's "check your mail" answers 202). */
  status?: number;
};

export const pages: HostedPage[] = [
  { name: "login", path: "/ui/login", shows: 'form[action="/ui/login"] input[name=password]' },
  { name: "signup", path: "/ui/signup", shows: 'form[action="/ui/signup"] input[name=password]' },
  { name: "forgot", path: "/ui/forgot", shows: 'form[action="/ui/forgot"] input[name=email]' },
  { name: "logout", path: "/ui/logout", needsSession: true, shows: 'form[action="/ui/logout"] button' },
  {
    // The link in the verification mail, which a signed-in user asks for.
    name: "verify",
    path: "/ui/verify",
    shows: 'form[action="/ui/verify"] input[name=token]',
    prepare: async ({ server, email, password }) => {
      const token = await server.apiSignUp(email, password);
      await server.postJson("/auth/email/verify/request", {}, 202, token);
      return linkIn(await server.mailTo(email, (mail) => mail.text.includes("/ui/verify?")), "/ui/verify");
    },
  },
  {
    // The link in the mail that /ui/forgot sends.
    name: "reset",
    path: "/ui/reset",
    shows: 'form[action="/ui/reset"] input[name=new_password]',
    prepare: async ({ server, page, email, password }) => {
      await server.apiSignUp(email, password);
      await page.goto(`${server.url}/ui/forgot`);
      await page.fill("input[name=email]", email);
      const response = await submit(page);
      if (response.status() !== 202) throw new Error(`/ui/forgot answered ${response.status()}`);
      return linkIn(await server.mailTo(email, (mail) => mail.text.includes("/ui/reset?")), "/ui/reset");
    },
  },
  {
    // The sign-in link `POST /auth/magic-link` mails.
    name: "magic",
    path: "/ui/magic",
    shows: 'form[action="/ui/magic"] input[name=token]',
    prepare: async ({ server, email, password }) => {
      await server.apiSignUp(email, password);
      await server.postJson("/auth/magic-link", { email }, 202);
      return linkIn(await server.mailTo(email, (mail) => mail.text.includes("/ui/magic?")), "/ui/magic");
    },
  },
  {
    // The link mailed to the new address of an email change.
    name: "email-change",
    path: "/ui/email-change",
    shows: 'form[action="/ui/email-change"] input[name=token]',
    prepare: async ({ server, email, password }) => {
      const token = await server.apiSignUp(email, password);
      const newEmail = email.replace("@", ".new@");
      await server.postJson("/users/me/email", { new_email: newEmail, password }, 202, token);
      return linkIn(await server.mailTo(newEmail, (mail) => mail.text.includes("/ui/email-change?")), "/ui/email-change");
    },
  },
  {
    // Signing in without `redirect_to` lands here; with a passkey added, so its row (and the
    // rename form) is part of what is checked and shown.
    name: "account",
    path: "/ui/account",
    needsSession: true,
    prepare: async ({ server, context, page }) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send("WebAuthn.enable");
      await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await page.goto(`${server.url}/ui/account`);
      const add = page.locator("[data-passkey-action]");
      await add.waitFor({ state: "visible" });
      await Promise.all([page.waitForURL(/done=passkey_added/), add.click()]);
      return `${server.url}/ui/account`;
    },
    shows: 'form[action="/ui/account/passkeys/rename"]',
  },
  {
    // The second step: what /ui/login answers the password of an account with two-factor on.
    name: "mfa",
    path: "/ui/mfa",
    shows: 'form[action="/ui/mfa"] input[name=code]',
    prepare: async ({ server, email, password }) => {
      const token = await server.apiSignUp(email, password);
      const { secret } = (await server.postJson("/users/me/mfa/totp/setup", {}, 200, token)) as { secret: string };
      await server.postJson("/users/me/mfa/totp/confirm", { code: totp(secret) }, 200, token);
      return `${server.url}/ui/login`;
    },
    submit: async ({ page, email, password }) => {
      await page.fill("input[name=email]", email);
      await page.fill("input[name=password]", password);
      await page.click("main form button[type=submit]");
    },
  },
  {
    // The set-up of two-step verification: the account page's button answers with it.
    name: "totp",
    path: "/ui/account",
    shows: 'form[action="/ui/account/totp/confirm"] input[name=code]',
    needsSession: true,
    submit: async ({ page }) => {
      await page.click('form[action="/ui/account/totp/setup"] button[type=submit]');
    },
  },
  {
    // The recovery codes, shown once when two-step verification is turned on.
    name: "recovery",
    path: "/ui/account",
    shows: "ol.codes li code",
    needsSession: true,
    arrive: async ({ page }) => {
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click('form[action="/ui/account/totp/setup"] button[type=submit]'),
      ]);
    },
    submit: async ({ page }) => {
      const secret = (await page.locator(".secret code").innerText()).trim();
      await page.fill("input[name=code]", totp(secret));
      await page.click('form[action="/ui/account/totp/confirm"] button[type=submit]');
    },
  },
  {
    // Where a provider login that began on the sign-in page comes back: one click spends the
    // login code (any code shows the same page; spending it is the next step).
    name: "social",
    path: "/ui/social",
    shows: 'form[action="/ui/social"] input[name=login_code]',
    prepare: async ({ server }) => `${server.url}/ui/social?login_code=example-login-code`,
  },
  {
    // The sign-in form's second button: a magic link by mail.
    name: "magic-sent",
    path: "/ui/login",
    shows: "main [role=status]",
    status: 202,
    submit: async ({ page, email }) => {
      await page.fill("input[name=email]", email);
      await page.click('button[formaction="/ui/magic-link"]');
    },
  },
  {
    // The message page, as /ui/logout answers its button.
    name: "signed-out",
    path: "/ui/logout",
    shows: "main [role=status]",
    needsSession: true,
    submit: async ({ page }) => {
      await page.click("main form button[type=submit]");
    },
  },
];

/** `url` with `?lang=` set. */
export function withLang(url: string, lang?: string): string {
  if (!lang) return url;
  const parsed = new URL(url);
  parsed.searchParams.set("lang", lang);
  return parsed.toString();
}

/** A context for one visit of `entry` on `page`. */
export function visitContext(server: Tessera, page: Page, entry: HostedPage): VisitContext {
  return { server, context: page.context(), page, email: uniqueEmail(entry.name), password };
}

/**
 * Opens `entry` in `page` (in `lang`): signs in if it needs a session, prepares it, then makes
 * the last navigation, calling `beforeLast` just before it (to measure only the page itself).
 * The response of that navigation, checked to be the page and not an error.
 */
export async function openPage(
  server: Tessera,
  page: Page,
  entry: HostedPage,
  lang?: string,
  beforeLast?: () => Promise<void>,
): Promise<Response> {
  const ctx = visitContext(server, page, entry);
  if (entry.needsSession) await signUp(page, ctx.email, ctx.password, server.url);
  const url = withLang(entry.prepare ? await entry.prepare(ctx) : `${server.url}${entry.path}`, lang);
  if (!entry.submit && !new URL(url).pathname.startsWith(entry.path)) throw new Error(`${entry.name}: prepared ${url}, not ${entry.path}`);
  let response: Response | null;
  if (entry.submit) {
    await page.goto(url);
    await entry.arrive?.(ctx);
    await beforeLast?.();
    const navigation = page.waitForNavigation({ waitUntil: "load" });
    await entry.submit(ctx);
    response = await navigation;
  } else {
    await beforeLast?.();
    response = await page.goto(url);
  }
  if (!response) throw new Error(`${entry.name}: no response for ${url}`);
  if (response.status() !== (entry.status ?? 200)) {
    throw new Error(`${entry.name}: ${response.request().method()} ${response.url()} answered ${response.status()}:\n${await page.locator("body").innerText()}`);
  }
  if ((await page.locator(entry.shows).count()) === 0) {
    throw new Error(`${entry.name}: ${page.url()} has no ${entry.shows}:\n${await page.locator("body").innerText()}`);
  }
  return response;
}
