import { afterEach, describe, expect, it, vi } from "vitest";
import { TesseraError, createClient, type AuthEvent, type TesseraClient } from "../src/index";
import {
  ATTESTATION,
  AUTHENTICATOR_DATA,
  CHALLENGE,
  CLIENT_DATA,
  CREDENTIAL_ID,
  FakeLocks,
  FakeTessera,
  FakeWebAuthn,
  OTHER_PASSKEY,
  SIGNATURE,
  USER_HANDLE,
  b64url,
  creationJSON,
  requestJSON,
} from "./fake";

const BASE = "https://auth.example.com";
const PASSWORD = "correct horse battery";
const clients: TesseraClient[] = [];

/** A page of a browser with WebAuthn (`level3`: with its JSON helpers), and its client. */
function browser(options: { level3?: boolean; mode?: "cookie" | "bearer" } = {}) {
  const server = new FakeTessera();
  const webauthn = new FakeWebAuthn(options.level3 ?? true);
  vi.stubGlobal("PublicKeyCredential", webauthn.PublicKeyCredential);
  vi.stubGlobal("navigator", { locks: new FakeLocks(), credentials: webauthn.credentials });
  const auth = createClient({ baseUrl: BASE, fetch: server.fetch, mode: options.mode });
  clients.push(auth);
  const seen: AuthEvent[] = [];
  auth.onAuthChange((event) => seen.push(event));
  return { server, webauthn, auth, seen };
}

async function signedIn(options: Parameters<typeof browser>[0] = {}) {
  const page = browser(options);
  await page.auth.login({ email: "ada@example.com", password: PASSWORD });
  page.server.calls.length = 0;
  page.seen.length = 0;
  return page;
}

/** The bytes of a BufferSource, to compare with what the server encoded. */
const bytes = (source: unknown) => [...new Uint8Array(source as ArrayBuffer)];

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail("resolved"),
    (error: unknown) => error as TesseraError,
  );

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.unstubAllGlobals();
});

describe("passkeys.register", () => {
  it("posts the ceremony and the browser's credential JSON, with X-CSRF-Token in cookie mode", async () => {
    const { server, webauthn, auth, seen } = await signedIn();

    const passkey = await auth.passkeys.register("MacBook");

    expect(passkey).toEqual({
      id: "p1",
      name: "MacBook",
      created_at: "2026-12-04T00:00:00Z",
      last_used_at: null,
    });
    const [options, register] = server.calls;
    expect(options).toMatchObject({ method: "POST", path: "/users/me/passkeys/register/options" });
    expect(webauthn.parsed).toEqual([creationJSON]);
    expect(webauthn.created).toEqual([
      { publicKey: { parsedFrom: creationJSON }, signal: expect.any(AbortSignal) },
    ]);
    expect(register).toMatchObject({ method: "POST", path: "/users/me/passkeys/register" });
    expect(register!.body).toEqual({
      ceremony_id: "c1",
      credential: webauthn.json(true),
      name: "MacBook",
    });
    // toJSON's own field name, which webauthn-rs takes for `extensions`; never both.
    expect(register!.body).not.toHaveProperty("credential.extensions");
    for (const call of [options!, register!])
      expect(call.headers.get("x-csrf-token")).toBe("csrf-1");
    expect(server.ceremonies.size).toBe(0);
    expect(seen).toEqual([]);
  });

  it("converts by itself where the browser has no parseCreationOptionsFromJSON nor toJSON", async () => {
    const { server, webauthn, auth } = await signedIn({ level3: false });

    await auth.passkeys.register();

    const publicKey = webauthn.created[0]!.publicKey!;
    expect(bytes(publicKey.challenge)).toEqual(CHALLENGE);
    expect(bytes(publicKey.user.id)).toEqual(USER_HANDLE);
    expect(publicKey.user.name).toBe("ada@example.com");
    expect(publicKey.excludeCredentials!.map((c) => [c.type, bytes(c.id)])).toEqual([
      ["public-key", OTHER_PASSKEY],
    ]);
    expect(publicKey).toMatchObject({
      rp: creationJSON.rp,
      pubKeyCredParams: creationJSON.pubKeyCredParams,
    });
    const body = server.calls.at(-1)!.body as { credential: object; name?: string };
    expect(body.name).toBeUndefined();
    expect(body.credential).toEqual({
      id: b64url(CREDENTIAL_ID),
      rawId: "----Bwg",
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: b64url(CLIENT_DATA),
        attestationObject: b64url(ATTESTATION),
        transports: ["internal", "hybrid"],
      },
      clientExtensionResults: { credProps: { rk: true } },
    });
  });

  it("sends the bearer token in bearer mode, and refreshes once on token_expired", async () => {
    const { server, auth } = await signedIn({ mode: "bearer" });
    server.expired = true;

    await auth.passkeys.register("Phone");

    const posts = server.calls.filter((c) => c.path.startsWith("/users/me/passkeys"));
    expect(posts.map((c) => c.headers.get("authorization"))).toEqual([
      "Bearer at1",
      "Bearer at2",
      "Bearer at2",
    ]);
    expect(posts.every((c) => !c.headers.has("x-csrf-token"))).toBe(true);
    expect(server.refreshes).toBe(1);
  });
});

describe("passkeys.login", () => {
  it("email-first: the account's passkeys in the browser's dialog, then a grant (bearer)", async () => {
    const { server, webauthn, auth, seen } = browser({ mode: "bearer", level3: false });

    const result = await auth.passkeys.login({ email: "ada@example.com", deviceName: "Firefox" });

    expect(result).toEqual({ user: expect.objectContaining({ email: "ada@example.com" }) });
    expect(auth.user?.email).toBe("ada@example.com");
    expect(seen).toEqual(["signed_in"]);
    const [options, login] = server.calls;
    expect(options).toMatchObject({
      path: "/auth/passkey/options",
      body: { email: "ada@example.com" },
    });
    const request = webauthn.got[0]!;
    expect(request.mediation).toBeUndefined();
    expect(bytes(request.publicKey!.challenge)).toEqual(CHALLENGE);
    expect(request.publicKey!.allowCredentials!.map((c) => bytes(c.id))).toEqual([CREDENTIAL_ID]);
    expect(request.publicKey!.rpId).toBe("auth.example.com");
    expect(login).toMatchObject({ path: "/auth/passkey/login" });
    expect(login!.body).toEqual({
      ceremony_id: "c1",
      device_name: "Firefox",
      credential: {
        id: b64url(CREDENTIAL_ID),
        rawId: b64url(CREDENTIAL_ID),
        type: "public-key",
        authenticatorAttachment: "platform",
        response: {
          clientDataJSON: b64url(CLIENT_DATA),
          authenticatorData: b64url(AUTHENTICATOR_DATA),
          signature: b64url(SIGNATURE),
          userHandle: b64url(USER_HANDLE),
        },
        clientExtensionResults: {},
      },
    });
    // The new session's tokens are the client's: its next call carries them.
    await auth.passkeys.list();
    expect(server.calls.at(-1)!.headers.get("authorization")).toBe("Bearer at1");
  });

  it("discoverable: conditional mediation as the server says, cookie mode as login", async () => {
    const { server, webauthn, auth, seen } = browser();

    await auth.passkeys.login();

    const [options, login] = server.calls;
    expect(options!.body).toEqual({});
    expect(webauthn.parsed).toEqual([requestJSON()]);
    expect(webauthn.got).toEqual([
      {
        publicKey: { parsedFrom: requestJSON() },
        mediation: "conditional",
        signal: expect.any(AbortSignal),
      },
    ]);
    expect(login!.body).toEqual({
      ceremony_id: "c1",
      credential: webauthn.json(false),
      cookie: true,
    });
    // No session yet, so no CSRF token to send: as `login`, whose answer sets one.
    for (const call of [options!, login!]) expect(call.headers.has("x-csrf-token")).toBe(false);
    expect(seen).toEqual(["signed_in"]);
    await auth.passkeys.rename("p1", "Work laptop");
    expect(server.calls.at(-1)!.headers.get("x-csrf-token")).toBe("csrf-1");
  });

  it("lets the page choose the dialog instead of autofill", async () => {
    const { webauthn, auth } = browser();

    await auth.passkeys.login({ mediation: "optional" });

    expect(webauthn.got[0]!.mediation).toBe("optional");
  });

  it("returns mfa_required as login does", async () => {
    const { server, auth, seen } = browser();
    server.passkeyAsksMfa = true;

    const result = await auth.passkeys.login({ email: "ada@example.com" });

    expect(result).toEqual({ mfaRequired: true, mfaToken: "mfa-1", methods: ["totp"] });
    expect(auth.user).toBeNull();
    expect(seen).toEqual([]);
  });

  it("throws the server's 401 invalid_credentials as a TesseraError", async () => {
    const { server, webauthn, auth, seen } = browser();
    webauthn.credentialId = [1, 2, 3];

    const error = await failure(auth.passkeys.login({ email: "ada@example.com" }));

    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(server.calls.map((c) => c.path)).toEqual([
      "/auth/passkey/options",
      "/auth/passkey/login",
    ]);
    expect(auth.user).toBeNull();
    expect(seen).toEqual([]);
  });
});

describe("the browser's refusals", () => {
  it("turns NotAllowedError into passkey_cancelled, with the DOMException as cause", async () => {
    const { server, webauthn, auth } = browser();
    const cancelled = new DOMException(
      "The operation either timed out or was not allowed.",
      "NotAllowedError",
    );
    webauthn.failure = cancelled;

    const error = await failure(auth.passkeys.login({ email: "ada@example.com" }));

    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({
      status: 0,
      code: "passkey_cancelled",
      detail: cancelled.message,
    });
    expect(error.cause).toBe(cancelled);
    expect(server.calls.map((c) => c.path)).toEqual(["/auth/passkey/options"]);
  });

  it("turns InvalidStateError (already registered) into passkey_exists, others into passkey_failed", async () => {
    const { webauthn, auth } = await signedIn();

    webauthn.failure = new DOMException("already registered", "InvalidStateError");
    await expect(auth.passkeys.register()).rejects.toMatchObject({
      status: 0,
      code: "passkey_exists",
    });
    webauthn.failure = new DOMException("bad rp id", "SecurityError");
    await expect(auth.passkeys.register()).rejects.toMatchObject({
      code: "passkey_failed",
      detail: "bad rp id",
    });
  });

  it("cancels a pending conditional request on the page's signal", async () => {
    const { server, webauthn, auth } = browser();
    webauthn.userPicks = new Promise(() => {});
    const page = new AbortController();

    const pending = failure(auth.passkeys.login({ signal: page.signal }));
    await vi.waitFor(() => expect(webauthn.got).toHaveLength(1));
    page.abort("the user went on with a password");

    const error = await pending;
    expect(error).toMatchObject({ status: 0, code: "passkey_aborted" });
    expect(error.cause).toBe("the user went on with a password");
    expect(server.calls.map((c) => c.path)).toEqual(["/auth/passkey/options"]);
  });

  it("aborts the pending autofill request when the page starts another passkey call", async () => {
    const { webauthn, auth } = browser();
    let pick = () => {};
    webauthn.userPicks = new Promise((resolve) => (pick = resolve));

    const autofill = failure(auth.passkeys.login());
    await vi.waitFor(() => expect(webauthn.got).toHaveLength(1));
    const button = auth.passkeys.login({ email: "ada@example.com" });
    pick();

    expect(await autofill).toMatchObject({ code: "passkey_aborted" });
    expect(await button).toEqual({ user: expect.objectContaining({ email: "ada@example.com" }) });
    expect(webauthn.got[0]!.signal!.aborted).toBe(true);
    expect(webauthn.got[1]!.signal!.aborted).toBe(false);
  });

  it("says passkey_unsupported without calling the server where there is no WebAuthn", async () => {
    const server = new FakeTessera();
    vi.stubGlobal("navigator", { locks: new FakeLocks() });
    const auth = createClient({ baseUrl: BASE, fetch: server.fetch });
    clients.push(auth);

    await expect(auth.passkeys.login()).rejects.toMatchObject({
      status: 0,
      code: "passkey_unsupported",
    });
    expect(server.calls).toEqual([]);
  });
});

describe("managing passkeys", () => {
  it("lists, renames and removes, with X-CSRF-Token on the unsafe methods", async () => {
    const { server, auth } = await signedIn();

    const list = await auth.passkeys.list();
    const renamed = await auth.passkeys.rename("p1", "Work laptop");
    await auth.passkeys.remove("p1");
    const last = await failure(auth.passkeys.remove("p2"));

    expect(list.map((p) => p.name)).toEqual(["MacBook", "YubiKey"]);
    expect(renamed).toMatchObject({ id: "p1", name: "Work laptop" });
    expect(last).toBeInstanceOf(TesseraError);
    expect(last).toMatchObject({ status: 409, code: "last_login_method" });
    expect(server.calls.map((c) => [c.method, c.path, c.headers.get("x-csrf-token")])).toEqual([
      ["GET", "/users/me/passkeys", null],
      ["PATCH", "/users/me/passkeys/p1", "csrf-1"],
      ["DELETE", "/users/me/passkeys/p1", "csrf-1"],
      ["DELETE", "/users/me/passkeys/p2", "csrf-1"],
    ]);
    expect(server.calls[1]!.body).toEqual({ name: "Work laptop" });
  });
});
