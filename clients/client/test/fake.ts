// A stand-in for a Tessera server and a browser's cookie jar, answering like the real one
// (API.md §1-§3) for what the client uses; plus a Web Locks manager shared by the "tabs".

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

const problem = (status: number, code: string) =>
  new Response(JSON.stringify({ type: "about:blank", status, code, detail: code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

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
      case "POST /api/things":
        return problem(422, "validation_error");
      default:
        return json({ ok: true, path });
    }
  };

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
