// Two-step login in the browser against the real server: the login form gets `mfa_required`,
// asks for the code, refuses a wrong one beside the field, and signs in with the right one;
// the client keeps the session in cookies as for any login.
import { createHmac } from "node:crypto";
import { expect, test } from "vitest";
import { useStack, password, screenshot, uniqueEmail } from "./harness";

const system = useStack();

/** RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) for `unixSeconds`, computed here. */
function totp(secretBase32: string, unixSeconds: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of secretBase32.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(char.toUpperCase());
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const digest = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const offset = digest.readUInt8(19) & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

const now = () => Math.floor(Date.now() / 1000);

/** An account with two-factor on, set up through the API; its TOTP secret. */
async function accountWithTotp(email: string): Promise<string> {
  const api = system.stack.tesseraUrl;
  const post = (path: string, body: object, token?: string) =>
    fetch(`${api}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const signup = await (await post("/auth/signup", { email, password })).json();
  const setup = await (await post("/users/me/mfa/totp/setup", {}, signup.access_token)).json();
  // The previous step's code, so the current one is still unused for the login.
  const confirmed = await post("/users/me/mfa/totp/confirm", { code: totp(setup.secret, now() - 30) }, signup.access_token);
  expect(confirmed.status).toBe(200);
  return setup.secret;
}

test("a login with two-factor on asks for the code, refuses a wrong one and signs in", async () => {
  // Arrange
  const email = uniqueEmail("twostep");
  const secret = await accountWithTotp(email);
  const page = await (await system.browser.newContext({ viewport: { width: 390, height: 760 } })).newPage();

  // Act: the password, then a wrong code, then the right one.
  await page.goto(`${system.stack.appUrl}/login`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("h1:text-is('Two-step verification')");
  const right = totp(secret, now());
  await page.fill("input[name=code]", right === "000000" ? "111111" : "000000");
  await page.click("button[type=submit]");
  const refusal = await (await page.waitForSelector("p.error[role=alert]")).innerText();
  await screenshot(page, "mfa-step");
  await page.fill("input[name=code]", right);
  await page.click("button[type=submit]");

  // Assert
  await page.waitForSelector(`[data-testid=user-email]:text-is("${email}")`);
  expect(refusal).toMatch(/code/i);
  expect(await page.evaluate(() => document.cookie)).not.toMatch(/tessera_at|tessera_rt/);
  const cookies = await page.context().cookies();
  expect(cookies.map((c) => c.name).sort()).toEqual(expect.arrayContaining(["tessera_at", "tessera_rt", "tessera_csrf"]));
});
