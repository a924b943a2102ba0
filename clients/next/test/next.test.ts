import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tesseraMiddleware, verifyAccessToken } from "../src/index";

// A stand-in Tessera: a JWKS, and a refresh endpoint that records what it was sent.
let server: Server;
let url: string;
let key: CryptoKey;
let refreshAnswer = 200;
const refreshes: IncomingMessage[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
  server = createServer((request, response) => {
    if (request.url == "/.well-known/jwks.json") {
      response.setHeader("content-type", "application/json");
      return response.end(JSON.stringify({ keys: [jwk] }));
    }
    if (request.url == "/auth/refresh" && request.method == "POST") {
      refreshes.push(request);
      response.statusCode = refreshAnswer;
      if (refreshAnswer == 200) {
        response.setHeader("set-cookie", [
          "tessera_at=new-access; Path=/; Max-Age=100; SameSite=Lax; HttpOnly",
          "tessera_rt=new-refresh; Path=/auth; Max-Age=100; SameSite=Strict; HttpOnly",
        ]);
        return response.end("{}");
      }
      response.setHeader("set-cookie", ["tessera_at=; Path=/; Max-Age=0"]);
      return response.end(JSON.stringify({ code: "refresh_invalid" }));
    }
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => server.close());

const token = (claims: Record<string, unknown>, expiresIn = 900, typ = "at+jwt") => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: "https://auth.example.com",
    aud: "tessera",
    sub: "u1",
    email: "ada@example.com",
    roles: ["admin"],
    sid: "s1",
    iat: now,
    exp: now + expiresIn,
    ...claims,
  })
    .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ })
    .sign(key);
};

const options = () => ({ tesseraUrl: url, issuer: "https://auth.example.com", audience: "tessera" });

describe("verifyAccessToken", () => {
  it("returns the user of a valid token, checked through the JWKS", async () => {
    const user = await verifyAccessToken(await token({}), options());

    expect(user).toEqual({ id: "u1", email: "ada@example.com", roles: ["admin"] });
  });

  it("refuses an expired, foreign, mistyped or tampered token", async () => {
    const bad = [
      await token({}, -120),
      await token({ iss: "https://evil.example.com" }),
      await token({ aud: "other" }),
      await token({}, 900, "JWT"),
      (await token({})).slice(0, -4) + "AAAA",
      "not-a-jwt",
    ];

    for (const candidate of bad) expect(await verifyAccessToken(candidate, options())).toBeNull();
  });
});

const page = (path: string, cookie?: string, site = "same-origin") =>
  new NextRequest(`http://app.test${path}`, {
    headers: {
      accept: "text/html",
      "sec-fetch-mode": "navigate",
      "sec-fetch-site": site,
      ...(cookie ? { cookie } : {}),
    },
  });

describe("tesseraMiddleware", () => {
  // Made per call: the fake server's URL is known only once it listens.
  const middleware = (request: NextRequest) =>
    tesseraMiddleware({ ...options(), protect: ["/account"] })(request);

  it("lets a page with a live access cookie through", async () => {
    const response = await middleware(page("/account", `tessera_at=${await token({})}`));

    expect(response.headers.get("x-middleware-next")).toBe("1");
  });

  it("sends a navigation with an expired access cookie once through the refresh hop", async () => {
    const expired = await token({}, -5);

    const response = await middleware(page("/account/settings?tab=2", `tessera_at=${expired}`));

    expect(response.status).toBe(307);
    const to = new URL(response.headers.get("location")!);
    expect(to.pathname).toBe("/auth/_next-refresh");
    expect(to.searchParams.get("to")).toBe("/account/settings?tab=2");
  });

  it("refreshes at the hop with the browser's cookies and CSRF token, and carries the new cookies back", async () => {
    refreshAnswer = 200;
    const before = refreshes.length;

    const response = await middleware(
      page("/auth/_next-refresh?to=/account", "tessera_rt=old-refresh; tessera_csrf=c5rf; tessera_at=x"),
    );

    expect(refreshes.length).toBe(before + 1);
    const sent = refreshes.at(-1)!;
    expect(sent.headers.cookie).toContain("tessera_rt=old-refresh");
    expect(sent.headers["x-csrf-token"]).toBe("c5rf");
    expect(sent.headers.origin).toBeUndefined();
    expect(sent.headers["sec-fetch-site"]).toBe("same-origin");
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://app.test/account");
    const set = response.headers.getSetCookie();
    expect(set.some((c) => c.startsWith("tessera_at=new-access"))).toBe(true);
    expect(set.some((c) => c.startsWith("tessera_rt=new-refresh"))).toBe(true);
  });

  it("steps a cross-site arrival once through a page of this site instead of refreshing without the cookie", async () => {
    refreshAnswer = 200;
    const before = refreshes.length;

    const first = await middleware(page("/auth/_next-refresh?to=/account%3Fa%3D1", "tessera_at=x", "cross-site"));
    const again = await middleware(
      page("/auth/_next-refresh?to=/account&again=1", "tessera_rt=r; tessera_csrf=c; tessera_at=x", "cross-site"),
    );

    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("text/html");
    expect(await first.text()).toContain(
      'content="0;url=/auth/_next-refresh?to=%2Faccount%3Fa%3D1&amp;again=1"',
    );
    // The second time it refreshes whatever the browser says: never a loop.
    expect(refreshes.length).toBe(before + 1);
    expect(again.status).toBe(307);
  });

  it("a failed refresh of a protected page goes to the login page, cookies cleared", async () => {
    refreshAnswer = 401;

    const response = await middleware(page("/auth/_next-refresh?to=/account", "tessera_rt=gone"));

    const to = new URL(response.headers.get("location")!);
    expect(to.pathname).toBe("/login");
    expect(to.searchParams.get("next")).toBe("/account");
    expect(response.headers.getSetCookie()).toContain("tessera_at=; Path=/; Max-Age=0");
  });

  it("never redirects outside the site", async () => {
    refreshAnswer = 200;
    for (const to of ["//evil.example.com/x", "https://evil.example.com", "/\\evil.example.com"]) {
      const response = await middleware(page(`/auth/_next-refresh?to=${encodeURIComponent(to)}`));
      expect(response.headers.get("location")).toBe("http://app.test/");
    }
  });

  it("sends a visitor without a session from a protected page to the login page", async () => {
    const protectedPage = await middleware(page("/account/x"));
    const openPage = await middleware(page("/movies"));

    expect(new URL(protectedPage.headers.get("location")!).searchParams.get("next")).toBe("/account/x");
    expect(openPage.headers.get("x-middleware-next")).toBe("1");
  });

  it("leaves API calls alone, even with an expired cookie", async () => {
    const expired = await token({}, -5);
    const api = new NextRequest("http://app.test/auth/refresh", {
      method: "POST",
      headers: { cookie: `tessera_at=${expired}`, accept: "application/json" },
    });

    const response = await middleware(api);

    expect(response.headers.get("x-middleware-next")).toBe("1");
  });
});
