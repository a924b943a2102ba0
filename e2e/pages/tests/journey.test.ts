// The whole life of one account in Chromium with JavaScript on, step after step on the hosted
// pages: sign up, confirm the address, sign out and in, turn on two-step verification, sign in
// with a code and with a recovery code, reset the password from the mail, sign another device
// out, change the address. Each step starts where the one before left the account; after a
// failed step the rest are skipped, and the failure carries screenshots of the open pages.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BrowserContext, Locator, Page } from "playwright-core";

import {
  Authenticator,
  linkIn,
  password,
  screenshotOnFailure,
  signIn,
  signOut,
  signUp,
  submit,
  uniqueEmail,
  useServer,
} from "./harness";

const system = useServer();
const email = uniqueEmail("journey");
const newEmail = email.replace("@", ".new@");
const newPassword = "a new and longer passphrase";

let context: BrowserContext;
let page: Page;
/** The second device of step 8. */
let otherContext: BrowserContext | undefined;
let otherPage: Page | undefined;
let authenticator: Authenticator;
let recoveryCodes: string[] = [];
let stopped = false;

/** One step of the journey: skipped after a failed one; its failure comes with screenshots. */
function step(name: string, body: () => Promise<void>) {
  test(name, async (ctx) => {
    if (stopped) ctx.skip("an earlier step failed");
    try {
      await screenshotOnFailure(name, () => [page, otherPage], body);
    } catch (error) {
      stopped = true;
      throw error;
    }
  });
}

const base = () => system.server.url;
const pathOf = (p: Page) => new URL(p.url()).pathname;
const main = (p: Page) => p.locator("main").innerText();

/** The badge after the address in the account page's email section. */
const emailBadge = (p: Page) => p.locator('section[aria-labelledby="email-heading"] .badge');
/** The rows of the account page's devices list. */
const deviceRows = (p: Page): Locator => p.locator('section[aria-labelledby="devices-heading"] li');

/** On the account page, signed in as `address`. */
async function expectAccountPage(p: Page, address: string) {
  expect(pathOf(p), `${p.url()}:\n${await main(p)}`).toBe("/ui/account");
  expect(await p.locator("h1").innerText()).toBe("Your account");
  expect(await p.locator("main p.lead").innerText()).toBe(`Signed in as ${address}.`);
}

/** The second step's form, as the sign-in answered the password. */
async function expectSecondStep(p: Page) {
  expect(await p.locator('form[action="/ui/mfa"] input[name=code]').count(), `${p.url()}:\n${await main(p)}`).toBe(1);
  expect(await p.locator("h1").innerText()).toBe("Two-step verification");
}

/** Enters `code` on the second step's form; the response of the navigation. */
async function enterCode(p: Page, code: string) {
  await p.fill('form[action="/ui/mfa"] input[name=code]', code);
  return submit(p, 'form[action="/ui/mfa"] button[type=submit]');
}

/** The refusal shown on the page: one visible role=alert with text. */
async function expectAlert(p: Page, text: string | RegExp) {
  const alert = p.locator("main [role=alert]:visible");
  expect(await alert.count(), `an alert on ${p.url()}:\n${await main(p)}`).toBe(1);
  expect(await alert.isVisible()).toBe(true);
  const shown = (await alert.innerText()).trim();
  if (typeof text === "string") expect(shown).toContain(text);
  else expect(shown).toMatch(text);
}

describe.sequential("an account's life in Chromium, JavaScript on", () => {
  beforeAll(async () => {
    context = await system.browser.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await otherContext?.close();
    await context?.close();
  });

  step("1. signs up on /ui/signup and lands on the account page, the address not verified", async () => {
    // JavaScript is on in this browser (the pages themselves run none: their policy has no script-src).
    const blank = await context.newPage();
    await blank.setContent("<title>served</title><script>document.title = 'scripted'</script>");
    expect(await blank.title(), "an inline script ran").toBe("scripted");
    await blank.close();

    const response = await signUp(page, email, password, base());
    expect(response.status()).toBe(200);
    await expectAccountPage(page, email);
    expect(await emailBadge(page).innerText()).toBe("not verified");
    // Signing up on the hosted page mails the link that proves the address.
    const link = linkIn(await system.server.mailTo(email, (mail) => mail.text.includes("/ui/verify?")), "/ui/verify");
    expect(link.startsWith(`${base()}/ui/verify?token=`), link).toBe(true);
  });

  step("2. asks for the verification mail on the account page, confirms from its link; the account page says verified", async () => {
    const earlier = new Set(system.server.mails().map((mail) => mail.file));
    const asked = await submit(page, 'form[action="/ui/account/verify"] button[type=submit]');
    expect(asked.status(), await main(page)).toBe(200);
    await expectAccountPage(page, email);
    expect(await page.locator("main [role=status]").innerText()).toContain("A verification link is on its way to your address.");
    const mail = await system.server.mailTo(email, (mail) => mail.text.includes("/ui/verify?") && !earlier.has(mail.file));
    const link = linkIn(mail, "/ui/verify");
    expect(link.startsWith(`${base()}/ui/verify?token=`), link).toBe(true);

    await page.goto(link);
    expect(await page.locator("h1").innerText()).toBe("Confirm your email");
    const confirmed = await submit(page);
    expect(confirmed.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Email confirmed");
    expect(await page.locator("main [role=status]").innerText()).toBe(`${email} is confirmed.`);

    await page.goto(`${base()}/ui/account`);
    await expectAccountPage(page, email);
    expect(await emailBadge(page).innerText()).toBe("verified");
    expect(await page.locator('form[action="/ui/account/verify"]').count(), "no verification button once verified").toBe(0);
  });

  step("3. signs out on /ui/logout and back in on /ui/login", async () => {
    await signOut(page, base());
    expect(await page.locator("h1").innerText()).toBe("Signed out");
    // Signed out: the account page sends the browser to sign in.
    await page.goto(`${base()}/ui/account`);
    expect(pathOf(page)).toBe("/ui/login");

    const response = await signIn(page, base(), email, password);
    expect(response.status()).toBe(200);
    await expectAccountPage(page, email);
  });

  step("4. turns on two-step verification: QR code and key, a code from the app, 10 recovery codes", async () => {
    const mfa = page.locator('section[aria-labelledby="mfa-heading"]');
    expect(await mfa.innerText()).toContain("Off.");
    const setup = await submit(page, 'form[action="/ui/account/totp/setup"] button[type=submit]');
    expect(setup.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Set up your authenticator app");

    const qr = page.locator("main figure.qr svg");
    expect(await qr.count()).toBe(1);
    expect(await qr.isVisible()).toBe(true);
    const box = await qr.boundingBox();
    expect(box && box.width > 50 && box.height > 50, `the QR code is drawn: ${JSON.stringify(box)}`).toBe(true);
    const secret = (await page.locator("main .secret code").innerText()).replace(/\s+/g, "");
    expect(secret).toMatch(/^[A-Z2-7]{16,}=*$/);
    // The key shown is the one of the QR code's otpauth:// URI.
    const uri = new URL(await page.locator("input[name=otpauth_uri]").inputValue());
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("secret")).toBe(secret);

    authenticator = new Authenticator(secret);
    await page.fill("input[name=code]", await authenticator.code());
    const confirmed = await submit(page, 'form[action="/ui/account/totp/confirm"] button[type=submit]');
    expect(confirmed.status(), await main(page)).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Save your recovery codes");
    expect(await page.locator("main [role=status]").innerText()).toBe("Two-step verification is on.");
    recoveryCodes = await page.locator("main ol.codes code").allInnerTexts();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size, "ten different codes").toBe(10);
    for (const code of recoveryCodes) expect(code.trim()).toMatch(/^\S{6,}$/);

    await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: "I saved them" }).click()]);
    await expectAccountPage(page, email);
    expect(await mfa.innerText()).toContain("On: signing in asks for a code");
  });

  step("5. signs in with the password and a code from the app on the second step", async () => {
    await signOut(page, base());
    const answered = await signIn(page, base(), email, password);
    expect(answered.status()).toBe(200);
    await expectSecondStep(page);

    // The code step 4 turned the app on with is spent.
    const replayed = await enterCode(page, authenticator.lastCode());
    expect(replayed.status()).toBe(401);
    await expectAlert(page, "That code is wrong or was used already.");
    await expectSecondStep(page);

    const response = await enterCode(page, await authenticator.code());
    expect(response.status(), await main(page)).toBe(200);
    await expectAccountPage(page, email);
  });

  step("6. signs in with a recovery code, which works once", async () => {
    const [code] = recoveryCodes;
    await signOut(page, base());
    await signIn(page, base(), email, password);
    await expectSecondStep(page);
    const response = await enterCode(page, code!);
    expect(response.status(), await main(page)).toBe(200);
    await expectAccountPage(page, email);

    await signOut(page, base());
    await signIn(page, base(), email, password);
    await expectSecondStep(page);
    const again = await enterCode(page, code!);
    expect(again.status()).toBe(401);
    expect(pathOf(page)).toBe("/ui/mfa");
    await expectAlert(page, "That code is wrong or was used already.");
    await expectSecondStep(page);
    expect(await page.getAttribute("input[name=code]", "aria-invalid")).toBe("true");
  });

  step("7. resets the password from the mail's /ui/reset link: the old one is refused, the new one signs in", async () => {
    await page.goto(`${base()}/ui/forgot`);
    await page.fill("input[name=email]", email);
    const asked = await submit(page);
    expect(asked.status()).toBe(202);
    expect(await page.locator("h1").innerText()).toBe("Check your mail");

    const link = linkIn(await system.server.mailTo(email, (mail) => mail.text.includes("/ui/reset?")), "/ui/reset");
    expect(link.startsWith(`${base()}/ui/reset?token=`), link).toBe(true);
    await page.goto(link);
    await page.fill("input[name=new_password]", newPassword);
    const reset = await submit(page);
    expect(reset.status(), await main(page)).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Password changed");

    const old = await signIn(page, base(), email, password);
    expect(old.status(), "the old password").toBe(401);
    expect(pathOf(page)).toBe("/ui/login");
    await expectAlert(page, "That email and password do not match an account.");

    const answered = await signIn(page, base(), email, newPassword);
    expect(answered.status()).toBe(200);
    await expectSecondStep(page);
    const response = await enterCode(page, await authenticator.code());
    expect(response.status(), await main(page)).toBe(200);
    await expectAccountPage(page, email);
  });

  step("8. signs another device out from the account page; that device is sent to sign in", async () => {
    otherContext = await system.browser.newContext();
    otherPage = await otherContext.newPage();
    await signIn(otherPage, base(), email, newPassword);
    await expectSecondStep(otherPage);
    await enterCode(otherPage, await authenticator.code());
    await expectAccountPage(otherPage, email);
    // The other device's own row says "this device": its session's id.
    const otherRow = deviceRows(otherPage).filter({ hasText: "this device" });
    expect(await otherRow.count()).toBe(1);
    const otherSession = await otherRow.locator("input[name=session_id]").inputValue();

    await page.goto(`${base()}/ui/account`);
    await expectAccountPage(page, email);
    // The reset of step 7 ended every earlier session: this browser and the other one.
    expect(await deviceRows(page).count(), await main(page)).toBe(2);
    const rows = deviceRows(page).filter({ hasNotText: "this device" });
    expect(await rows.count()).toBe(1);
    expect(await rows.locator("input[name=session_id]").inputValue()).toBe(otherSession);

    const ended = await submit(page, `section[aria-labelledby="devices-heading"] li:has(input[value="${otherSession}"]) button[type=submit]`);
    expect(ended.status()).toBe(200);
    await expectAccountPage(page, email);
    expect(await page.locator("main [role=status]").innerText()).toBe("That device is signed out.");
    expect(await deviceRows(page).count()).toBe(1);
    expect(await deviceRows(page).innerText()).toContain("this device");

    // The other device's next visit finds its session over and goes to sign in.
    await otherPage.goto(`${base()}/ui/account`);
    expect(pathOf(otherPage), await main(otherPage)).toBe("/ui/login");
    expect(await otherPage.locator('form[action="/ui/login"] input[name=password]').count()).toBe(1);
    // This browser is still signed in.
    await page.goto(`${base()}/ui/account`);
    await expectAccountPage(page, email);
  });

  step("9. changes the address from the account page and the new address's mail link", async () => {
    await page.fill("#new_email", newEmail);
    await page.fill("#email_password", newPassword);
    const asked = await submit(page, 'form[action="/ui/account/email"] button[type=submit]');
    expect(asked.status(), await main(page)).toBe(200);
    expect(await page.locator("main [role=status]").innerText()).toContain("A confirmation link is on its way to the new address.");
    // Until the link is followed, the account keeps its address.
    await expectAccountPage(page, email);

    const link = linkIn(await system.server.mailTo(newEmail, (mail) => mail.text.includes("/ui/email-change?")), "/ui/email-change");
    expect(link.startsWith(`${base()}/ui/email-change?token=`), link).toBe(true);
    expect(system.server.mails().some((mail) => mail.to.includes(email) && mail.text.includes("/ui/email-change?")), "the link goes to the new address only").toBe(false);
    await page.goto(link);
    const changed = await submit(page);
    expect(changed.status(), await main(page)).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Email changed");
    expect(await page.locator("main [role=status]").innerText()).toBe(`Your account now uses ${newEmail}.`);

    // The old address is told.
    const notice = await system.server.mailTo(email, /email was changed/i);
    expect(notice).toContain("mail now goes to the new address");

    await page.goto(`${base()}/ui/account`);
    await expectAccountPage(page, newEmail);
    expect(await emailBadge(page).innerText()).toBe("verified");

    await signOut(page, base());
    const oldAddress = await signIn(page, base(), email, newPassword);
    expect(oldAddress.status(), "the old address").toBe(401);
    await expectAlert(page, "That email and password do not match an account.");
    await signIn(page, base(), newEmail, newPassword);
    await expectSecondStep(page);
    // A recovery code not used yet (no wait for the next step of the app).
    const response = await enterCode(page, recoveryCodes[1]!);
    expect(response.status(), await main(page)).toBe(200);
    await expectAccountPage(page, newEmail);
  });
});
