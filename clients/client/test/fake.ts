// A stand-in for a Tessera server and a browser's cookie jar, answering like the real one
// (API.md §1-§3) for what the client uses; plus a Web Locks manager shared by the "tabs", and
// a browser's WebAuthn (`navigator.credentials`, `PublicKeyCredential`) with one authenticator.

export interface Call {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

const user = (email: string) => ({
  id: "u1",
  email,
  name: null,
  roles: [],
  email_verified: false,
  mfa_enabled: false,
  created_at: "2026-12-03T00:00:00Z",
});

const passkey = (id: string, name: string) => ({
  id,
  name,
  created_at: "2026-12-04T00:00:00Z",
  last_used_at: null,
});

const problem = (status: number, code: string) =>
  new Response(JSON.stringify({ type: "about:blank", status, code, detail: code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** WebAuthn's JSON encoding of bytes: base64url without padding. */
export const b64url = (bytes: number[]) => Buffer.from(bytes).toString("base64url");

// Bytes whose base64 has "+", "/" and padding, so a converter that forgets base64url shows.
export const CHALLENGE = [0xfb, 0xff, 0xbf, 0x01];
export const USER_HANDLE = [0xfa, 0xfb];
export const OTHER_PASSKEY = [0xff, 0xee, 0xdd, 0xcc, 0xbb];
export const CREDENTIAL_ID = [0xfb, 0xef, 0xbe, 0x07, 0x08];
export const CLIENT_DATA = [...Buffer.from('{"type":"webauthn.get"}')];
export const ATTESTATION = [0xa3, 0x63, 0x66, 0x6d, 0x74, 0x64, 0xfe];
export const AUTHENTICATOR_DATA = [0x49, 0x96, 0x0d, 0xe5, 0xff];
export const SIGNATURE = [0x30, 0x45, 0xfb, 0xff];

/** `PublicKeyCredentialCreationOptions` as webauthn-rs writes them (API.md §3). */
export const creationJSON = {
  rp: { name: "Tessera", id: "auth.example.com" },
  user: { id: b64url(USER_HANDLE), name: "ada@example.com", displayName: "ada@example.com" },
  challenge: b64url(CHALLENGE),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  timeout: 300000,
  excludeCredentials: [{ type: "public-key", id: b64url(OTHER_PASSKEY) }],
  authenticatorSelection: {
    residentKey: "preferred",
    requireResidentKey: false,
    userVerification: "preferred",
  },
  attestation: "none",
  extensions: { credProps: true },
};

/** `PublicKeyCredentialRequestOptions`: the account's passkeys email-first, none without. */
export const requestJSON = (email?: string) => ({
  challenge: b64url(CHALLENGE),
  timeout: 300000,
  rpId: "auth.example.com",
  allowCredentials: email ? [{ type: "public-key", id: b64url(CREDENTIAL_ID) }] : [],
  userVerification: "preferred",
});

export class FakeTessera {
  calls: Call[] = [];
  refreshes = 0;
  generation = 0;
  /** The current access token is past `exp`. */
  expired = false;
  /** The session ended: refresh answers this code. */
  refreshFailure: "refresh_invalid" | "refresh_reused" | null = null;
  /** The session was signed out elsewhere (another device, an admin): its tokens answer this. */
  revoked = false;
  /** The retry after a refresh still finds the token expired (a broken server). */
  stayExpired = false;
  expiresIn = 900;
  /** The browser's cookies for this server, shared by every tab. */
  jar: { at?: string; rt?: string; csrf?: string } = {};
  refreshGate: Promise<void> = Promise.resolve();
  /** Passkey ceremonies begun and not yet finished. */
  ceremonies = new Set<string>();
  private begun = 0;
  /** The passkey login answers `mfa_required` (no server does; the client must cope). */
  passkeyAsksMfa = false;

  access() {
    return "at" + this.generation;
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    const text = await request.text();
    const body = text ? JSON.parse(text) : undefined;
    this.calls.push({ method: request.method, path, headers: request.headers, body });
    const cookieMode = init.credentials == "include";
    const bearer = request.headers.get("authorization")?.replace(/^Bearer /, "");
    const token = bearer ?? (cookieMode ? this.jar.at : undefined);
    const route = `${request.method} ${path}`;

    if (route == "POST /auth/login" || route == "POST /auth/signup") {
      if (body.password != "correct horse battery") return problem(401, "invalid_credentials");
      this.generation++;
      this.expired = false;
      return this.grant(body.cookie, body.email, route.endsWith("signup") ? 201 : 200);
    }
    if (route == "POST /auth/oauth/exchange") {
      // The server's body: `login_code` (single-use); anything else is a 422.
      if (typeof body?.login_code != "string") return problem(422, "validation_error");
      if (body.login_code != "code-1") return problem(400, "code_invalid");
      this.generation++;
      this.expired = false;
      return this.grant(body.cookie, "ada@example.com", 200);
    }
    if (route == "POST /auth/refresh") {
      this.refreshes++;
      await this.refreshGate;
      if (cookieMode && request.headers.get("x-csrf-token") != this.jar.csrf)
        return problem(403, "csrf_failed");
      if (this.refreshFailure) return problem(401, this.refreshFailure);
      this.generation++;
      this.expired = this.stayExpired;
      return this.grant(body?.cookie ?? false, "ada@example.com", 200);
    }
    if (route == "POST /auth/passkey/options")
      return json({
        ceremony_id: this.begin(),
        publicKey: requestJSON(body.email),
        ...(body.email ? {} : { mediation: "conditional" }),
      });
    if (route == "POST /auth/passkey/login") {
      const known =
        this.ceremonies.delete(body.ceremony_id) &&
        body.credential.rawId == b64url(CREDENTIAL_ID) &&
        body.credential.response.signature == b64url(SIGNATURE);
      if (!known) return problem(401, "invalid_credentials");
      if (this.passkeyAsksMfa)
        return json({ mfa_required: true, mfa_token: "mfa-1", methods: ["totp"], expires_in: 300 });
      this.generation++;
      this.expired = false;
      return this.grant(body.cookie ?? false, "ada@example.com", 200);
    }
    if (route == "GET /auth/csrf") return json({ csrf_token: (this.jar.csrf ??= "csrf-1") });
    if (!token) return problem(401, "token_missing");
    if (this.revoked) return problem(401, "token_revoked");
    if (token != this.access()) return problem(401, this.expired ? "token_expired" : "token_invalid");
    if (this.expired) return problem(401, "token_expired");
    if (request.method != "GET" && cookieMode && request.headers.get("x-csrf-token") != this.jar.csrf)
      return problem(403, "csrf_failed");
    switch (route) {
      case "GET /users/me":
        return json(user("ada@example.com"));
      case "POST /auth/logout":
        this.jar = {};
        return new Response(null, { status: 204 });
      case "POST /auth/ws-ticket":
        return json({ ticket: "ticket-1", expires_in: 30 });
      case "GET /auth/sessions":
        return json([{ id: "s1", current: true }]);
      case "POST /users/me/passkeys/register/options":
        return json({ ceremony_id: this.begin(), publicKey: creationJSON });
      case "POST /users/me/passkeys/register": {
        const { ceremony_id, credential, name } = body;
        if (
          !this.ceremonies.delete(ceremony_id) ||
          typeof credential?.response?.attestationObject != "string"
        )
          return problem(422, "validation_error");
        return json(passkey("p1", name ?? "Passkey"), 201);
      }
      case "GET /users/me/passkeys":
        return json([passkey("p1", "MacBook"), passkey("p2", "YubiKey")]);
      case "PATCH /users/me/passkeys/p1":
        return json(passkey("p1", body.name));
      case "DELETE /users/me/passkeys/p1":
        return new Response(null, { status: 204 });
      case "DELETE /users/me/passkeys/p2":
        return problem(409, "last_login_method");
      case "POST /api/things":
        return problem(422, "validation_error");
      default:
        return json({ ok: true, path });
    }
  };

  private begin() {
    const id = "c" + ++this.begun;
    this.ceremonies.add(id);
    return id;
  }

  private grant(cookie: boolean, email: string, status: number) {
    const tokens = { access_token: this.access(), refresh_token: "rt" + this.generation };
    const rest = { expires_in: this.expiresIn, refresh_expires_in: 2592000, session_id: "s1", user: user(email) };
    if (!cookie) return json({ ...tokens, token_type: "Bearer", ...rest }, status);
    this.jar = { at: tokens.access_token, rt: tokens.refresh_token, csrf: this.jar.csrf ?? "csrf-1" };
    return json({ ...rest, csrf_token: this.jar.csrf }, status);
  }
}

/** Web Locks with what the client relies on: FIFO exclusive locks, `signal` and `steal`. */
export class FakeLocks {
  private holder: symbol | null = null;
  private waiting: (() => void)[] = [];

  async request<T>(
    _name: string,
    options: { signal?: AbortSignal; steal?: boolean },
    task: () => Promise<T>,
  ): Promise<T> {
    const me = Symbol();
    if (options.steal) this.holder = null;
    else
      while (this.holder) {
        await new Promise<void>((resolve, reject) => {
          this.waiting.push(resolve);
          options.signal?.addEventListener("abort", () => reject(options.signal!.reason));
        });
      }
    this.holder = me;
    try {
      return await task();
    } finally {
      // A stolen lock's holder finishing later releases nothing.
      if (this.holder == me) {
        this.holder = null;
        // Every waiter looks again (one may have given up waiting meanwhile).
        for (const wake of this.waiting.splice(0)) wake();
      }
    }
  }

  /** A tab that takes the lock and never lets go. */
  hold() {
    this.holder = Symbol("frozen tab");
  }
}

const buffer = (bytes: number[]) => new Uint8Array(bytes).buffer;

/**
 * A browser's WebAuthn with one platform authenticator. `level3`: the browser has
 * `PublicKeyCredential.parse…FromJSON` and `credential.toJSON()` (Chromium); without, as older
 * Safari and Firefox, the client converts by itself.
 */
export class FakeWebAuthn {
  /** What `navigator.credentials.create` / `get` were given. */
  created: CredentialCreationOptions[] = [];
  got: CredentialRequestOptions[] = [];
  /** What the Level 3 parsers were given. */
  parsed: unknown[] = [];
  /** The browser's answer instead of a credential (the user cancelled, …). */
  failure: unknown = null;
  /** The authenticator's credential (another one than the account's: a refused login). */
  credentialId = CREDENTIAL_ID;
  /** A request waits for this, as a conditional one waits for the user to pick a passkey. */
  userPicks: Promise<void> = Promise.resolve();

  constructor(readonly level3: boolean) {}

  /** `globalThis.PublicKeyCredential` */
  get PublicKeyCredential() {
    const parse = (options: Record<string, unknown>) => {
      this.parsed.push(options);
      return { parsedFrom: options };
    };
    return this.level3
      ? { parseCreationOptionsFromJSON: parse, parseRequestOptionsFromJSON: parse }
      : {};
  }

  /** `navigator.credentials` */
  credentials = {
    create: (options: CredentialCreationOptions) => this.answer(options, this.created, true),
    get: (options: CredentialRequestOptions) => this.answer(options, this.got, false),
  };

  private async answer<T>(options: T & { signal?: AbortSignal }, seen: T[], create: boolean) {
    seen.push(options);
    const { signal } = options;
    // An aborted request rejects with its signal's reason (Credential Management Level 1).
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", () => reject(signal.reason));
      void this.userPicks.then(resolve);
    });
    if (this.failure) throw this.failure;
    return this.credential(create);
  }

  /** The credential, and the JSON that Chromium's `toJSON()` makes of it. */
  credential(create: boolean) {
    const response = create
      ? {
          clientDataJSON: buffer(CLIENT_DATA),
          attestationObject: buffer(ATTESTATION),
          getTransports: () => ["internal", "hybrid"],
        }
      : {
          clientDataJSON: buffer(CLIENT_DATA),
          authenticatorData: buffer(AUTHENTICATOR_DATA),
          signature: buffer(SIGNATURE),
          userHandle: buffer(USER_HANDLE),
        };
    const credential = {
      id: b64url(this.credentialId),
      rawId: buffer(this.credentialId),
      type: "public-key",
      authenticatorAttachment: "platform",
      response,
      getClientExtensionResults: () => (create ? { credProps: { rk: true } } : {}),
    };
    return this.level3 ? { ...credential, toJSON: () => this.json(create) } : credential;
  }

  /** Its `toJSON()`: base64url strings, extension results as `clientExtensionResults`. */
  json(create: boolean) {
    return {
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: "public-key",
      authenticatorAttachment: "platform",
      response: create
        ? {
            clientDataJSON: b64url(CLIENT_DATA),
            attestationObject: b64url(ATTESTATION),
            transports: ["internal", "hybrid"],
            ...(this.level3 && {
              authenticatorData: b64url(AUTHENTICATOR_DATA),
              publicKeyAlgorithm: -7,
            }),
          }
        : {
            clientDataJSON: b64url(CLIENT_DATA),
            authenticatorData: b64url(AUTHENTICATOR_DATA),
            signature: b64url(SIGNATURE),
            userHandle: b64url(USER_HANDLE),
          },
      clientExtensionResults: create ? { credProps: { rk: true } } : {},
    };
  }
}
