import axios from "axios";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TesseraError, createClient, type AuthEvent, type TesseraClient } from "../src/index";
import { FakeLocks, FakeTessera } from "./fake";

const BASE = "https://auth.example.com";
const PASSWORD = "correct horse battery";
const clients: TesseraClient[] = [];

function tab(fake: FakeTessera, options: Partial<Parameters<typeof createClient>[0]> = {}) {
  const client = createClient({ baseUrl: BASE, fetch: fake.fetch, lockTimeoutMs: 300, ...options });
  clients.push(client);
  return client;
}

function events(client: TesseraClient) {
  const seen: AuthEvent[] = [];
  client.onAuthChange((event) => seen.push(event));
  return seen;
}

async function until(check: () => boolean, ms = 1000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const api = (client: TesseraClient, i: number) => client.fetch(`${BASE}/api/items/${i}`);

beforeEach(() => {
  vi.stubGlobal("navigator", { locks: new FakeLocks() });
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("importing and creating", () => {
  it("touches no browser global", async () => {
    vi.stubGlobal("navigator", undefined);
    expect(typeof document).toBe("undefined");
    const module = await import("../src/index");
    const client = module.createClient({ baseUrl: BASE });
    expect(client.user).toBeNull();
    expect(client.socialLoginUrl("github", "/after")).toBe(
      `${BASE}/auth/oauth/github/authorize?redirect_to=%2Fafter`,
    );
  });
});

describe("cookie mode", () => {
  it("signs in with cookie: true and keeps no token", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);

    const result = await auth.login({ email: "ada@example.com", password: PASSWORD });

    expect(result).toEqual({ user: expect.objectContaining({ email: "ada@example.com" }) });
    expect(fake.calls[0]!.body).toMatchObject({ cookie: true });
    expect(fake.calls[0]!.headers.has("x-csrf-token")).toBe(false);
    expect(JSON.stringify(auth)).not.toContain("at1");
    expect(auth.user?.email).toBe("ada@example.com");
  });

  it("trades a social login's login_code for the session", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);

    const result = await auth.exchangeLoginCode("code-1");

    expect(fake.calls[0]).toMatchObject({ path: "/auth/oauth/exchange", body: { login_code: "code-1", cookie: true } });
    expect(result).toEqual({ user: expect.objectContaining({ email: "ada@example.com" }) });
    await expect(auth.exchangeLoginCode("spent")).rejects.toMatchObject({ code: "code_invalid" });
  });

  it("sends X-CSRF-Token on unsafe methods only, and never in bearer mode", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);
    await auth.login({ email: "ada@example.com", password: PASSWORD });

    await auth.fetch(`${BASE}/api/items`, { method: "POST", body: "{}" });
    await auth.fetch(`${BASE}/api/items`);
    const bearerServer = new FakeTessera();
    const bearer = tab(bearerServer, { mode: "bearer" });
    await bearer.login({ email: "ada@example.com", password: PASSWORD });
    await bearer.fetch(`${BASE}/api/items`, { method: "DELETE" });

    const [post, get] = fake.calls.slice(-2);
    expect(post!.headers.get("x-csrf-token")).toBe("csrf-1");
    expect(get!.headers.has("x-csrf-token")).toBe(false);
    const deleted = bearerServer.calls.at(-1)!;
    expect(deleted.headers.get("authorization")).toBe("Bearer at1");
    expect(deleted.headers.has("x-csrf-token")).toBe(false);
  });

  it("takes the CSRF token from GET /auth/csrf when it knows none", async () => {
    const fake = new FakeTessera();
    fake.generation = 1;
    fake.jar = { at: "at1", csrf: "csrf-from-server" };
    const auth = tab(fake);

    const response = await auth.fetch(`${BASE}/api/items`, { method: "PUT" });

    expect(response.status).toBe(200);
    expect(fake.calls.map((c) => c.path)).toEqual(["/auth/csrf", "/api/items"]);
    expect(fake.calls[1]!.headers.get("x-csrf-token")).toBe("csrf-from-server");
  });
});

describe("refresh", () => {
  it("refreshes once for ten requests that find the token expired together", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);
    await auth.login({ email: "ada@example.com", password: PASSWORD });
    fake.expired = true;

    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => api(auth, i)));

    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(fake.refreshes).toBe(1);
    // One refresh flight in the tab: one look at whether another tab refreshed first.
    expect(fake.calls.filter((c) => c.path == "/users/me")).toHaveLength(1);
    expect(fake.calls.find((c) => c.path == "/auth/refresh")!.body).toEqual({ cookie: true });
  });

  it("refreshes once for two tabs each firing ten requests at expiry", async () => {
    const fake = new FakeTessera();
    const [a, b] = [tab(fake), tab(fake)];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    b.hydrate(a.user);
    fake.expired = true;

    const all = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(i % 2 ? a : b, i)),
    );

    expect(all.every((r) => r.status == 200)).toBe(true);
    expect(fake.refreshes).toBe(1);
    expect(a.user).not.toBeNull();
    expect(b.user).not.toBeNull();
  });

  it("takes over a lock that a frozen tab never releases", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake, { lockTimeoutMs: 200 });
    await auth.login({ email: "ada@example.com", password: PASSWORD });
    (navigator as unknown as { locks: FakeLocks }).locks.hold();
    fake.expired = true;
    const started = Date.now();

    const response = await api(auth, 1);

    expect(response.status).toBe(200);
    expect(fake.refreshes).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("signs out on refresh_invalid or refresh_reused instead of looping", async () => {
    for (const failure of ["refresh_invalid", "refresh_reused"] as const) {
      const fake = new FakeTessera();
      const [a, b] = [tab(fake), tab(fake)];
      await a.login({ email: "ada@example.com", password: PASSWORD });
      const seenByA = events(a);
      const seenByB = events(b);
      fake.expired = true;
      fake.refreshFailure = failure;

      const response = await api(a, 1);

      expect(response.status).toBe(401);
      expect(fake.refreshes).toBe(1);
      expect(a.user).toBeNull();
      expect(seenByA).toEqual(["signed_out"]);
      await until(() => seenByB.includes("signed_out"));
      await api(a, 2);
      expect(fake.refreshes).toBe(2);
    }
  });

  it("signs out in every tab on token_revoked, without a refresh", async () => {
    const fake = new FakeTessera();
    const [a, b] = [tab(fake), tab(fake)];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    const seenByA = events(a);
    const seenByB = events(b);
    fake.revoked = true;

    const response = await api(a, 1);

    expect(response.status).toBe(401);
    expect(fake.refreshes).toBe(0);
    expect(a.user).toBeNull();
    expect(seenByA).toEqual(["signed_out"]);
    await until(() => seenByB.includes("signed_out"));
    // Already signed out: a second revoked answer says nothing more.
    await api(a, 2);
    expect(seenByA).toEqual(["signed_out"]);
  });

  it("refreshes on exactly token_expired, and retries once", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);
    await auth.login({ email: "ada@example.com", password: PASSWORD });

    fake.jar.at = "forged";
    const invalid = await api(auth, 1);
    expect(invalid.status).toBe(401);
    expect(fake.refreshes).toBe(0);

    fake.jar.at = fake.access();
    fake.expired = true;
    fake.stayExpired = true;
    const still = await api(auth, 2);
    expect(still.status).toBe(401);
    expect(fake.refreshes).toBe(1);
    expect(fake.calls.filter((c) => c.path == "/api/items/2")).toHaveLength(2);
  });

  it("re-sends a Request's body on the retry", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);
    await auth.login({ email: "ada@example.com", password: PASSWORD });
    fake.expired = true;

    const response = await auth.fetch(
      new Request(`${BASE}/api/items`, { method: "PATCH", body: '{"n":1}' }),
    );

    expect(response.status).toBe(200);
    const patches = fake.calls.filter((c) => c.method == "PATCH");
    expect(patches.map((c) => c.body)).toEqual([{ n: 1 }, { n: 1 }]);
  });

  it("refreshes ahead of expiry while the page is visible, not while hidden", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const page = { visibilityState: "hidden", cookie: "", listeners: [] as (() => void)[] };
    vi.stubGlobal("document", {
      get visibilityState() {
        return page.visibilityState;
      },
      get cookie() {
        return page.cookie;
      },
      addEventListener: (_: string, f: () => void) => page.listeners.push(f),
      removeEventListener: () => {},
    });
    const fake = new FakeTessera();
    fake.expiresIn = 120;
    const auth = tab(fake, { refreshSkew: 30 });
    await auth.login({ email: "ada@example.com", password: PASSWORD });

    await vi.advanceTimersByTimeAsync(91_000);
    expect(fake.refreshes).toBe(0);

    page.visibilityState = "visible";
    page.listeners.forEach((f) => f());
    await vi.waitFor(() => expect(fake.refreshes).toBe(1));

    await vi.advanceTimersByTimeAsync(89_000);
    expect(fake.refreshes).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    await vi.waitFor(() => expect(fake.refreshes).toBe(2));
  });
});

describe("events across tabs", () => {
  it("a login in one tab signs the others in, a logout signs them out", async () => {
    const fake = new FakeTessera();
    const [a, b] = [tab(fake), tab(fake)];
    const seen = events(b);

    await a.login({ email: "ada@example.com", password: PASSWORD });
    await until(() => b.user?.email == "ada@example.com");
    await a.logout();
    await until(() => b.user === null);

    expect(seen).toEqual(["signed_in", "signed_out"]);
    expect(fake.calls.find((c) => c.path == "/auth/logout")!.headers.get("x-csrf-token")).toBe(
      "csrf-1",
    );
  });
});

describe("bearer mode", () => {
  it("keeps tokens in its storage, refreshes with the refresh token and clears on logout", async () => {
    const fake = new FakeTessera();
    let stored: unknown = null;
    const auth = tab(fake, {
      mode: "bearer",
      storage: {
        get: () => stored as never,
        set: (tokens) => void (stored = tokens),
        clear: () => void (stored = null),
      },
    });
    await auth.login({ email: "ada@example.com", password: PASSWORD });
    expect(stored).toMatchObject({ accessToken: "at1", refreshToken: "rt1" });
    fake.expired = true;

    const me = await auth.getUser();

    expect(me.email).toBe("ada@example.com");
    expect(fake.calls.find((c) => c.path == "/auth/refresh")!.body).toEqual({ refresh_token: "rt1" });
    expect(fake.calls.at(-1)!.headers.get("authorization")).toBe("Bearer at2");
    await auth.logout();
    expect(stored).toBeNull();
  });
});

describe("errors", () => {
  it("throws problem+json answers as TesseraError", async () => {
    const auth = tab(new FakeTessera());

    const error = await auth
      .login({ email: "ada@example.com", password: "wrong" })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("reports an unreachable server as network_error", async () => {
    const auth = tab(new FakeTessera(), {
      fetch: () => Promise.reject(new TypeError("fetch failed")),
    });

    await expect(auth.getUser()).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});

describe("axios adapter", () => {
  it("adds the CSRF header and cookies, refreshes on token_expired and retries once", async () => {
    const fake = new FakeTessera();
    const auth = tab(fake);
    await auth.login({ email: "ada@example.com", password: PASSWORD });
    const instance = auth.withAxios(
      axios.create({
        baseURL: BASE,
        adapter: async (config) => {
          const response = await fake.fetch(`${config.baseURL}${config.url}`, {
            method: config.method?.toUpperCase(),
            headers: Object.fromEntries(
              Object.entries(config.headers.toJSON()).map(([k, v]) => [k, String(v)]),
            ),
            credentials: config.withCredentials ? "include" : "omit",
          });
          const data = await response.json();
          const result = { data, status: response.status, statusText: "", headers: {}, config };
          if (response.status >= 400)
            throw new axios.AxiosError("failed", undefined, config, undefined, result);
          return result;
        },
      }),
    );
    fake.expired = true;

    const response = await instance.post("/api/items", {});

    expect(response.status).toBe(200);
    expect(fake.refreshes).toBe(1);
    const posts = fake.calls.filter((c) => c.path == "/api/items");
    expect(posts).toHaveLength(2);
    expect(posts.every((c) => c.headers.get("x-csrf-token") == "csrf-1")).toBe(true);
  });
});
