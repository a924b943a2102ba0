import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from "jose";
import { cookies } from "next/headers";
import { NextResponse, type NextRequest } from "next/server";
import type { User } from "@tessera/client";

/** Where Tessera is, seen from the Next.js server, and what its tokens must say. */
export interface TesseraServerOptions {
  /** Tessera's URL for server-to-server calls (JWKS, refresh). Default `TESSERA_URL`. */
  tesseraUrl?: string;
  /** The tokens' `iss`. Default `TESSERA_ISSUER`, else `tesseraUrl`. */
  issuer?: string;
  /** The tokens' `aud`. Default `TESSERA_AUDIENCE`, else `tessera`. */
  audience?: string;
}

export interface MiddlewareOptions extends TesseraServerOptions {
  /** Pages that need a session: `/account`, `/account/:path*` (a plain path covers its subpaths). */
  protect?: string[];
  /** Where a visitor without a session is sent, with `?next=`. Default `/login`. */
  loginPath?: string;
  /** The refresh hop, under `/auth` so the browser sends the refresh cookie. */
  refreshPath?: string;
}

// Over https the prefixed names, in development (`cookies.dev_insecure`) the plain ones.
const ACCESS = ["__Host-tessera_at", "tessera_at"];

function settings(options: TesseraServerOptions = {}) {
  const env = typeof process == "undefined" ? {} : process.env;
  const url = (options.tesseraUrl ?? env.TESSERA_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  return {
    url,
    issuer: options.issuer ?? env.TESSERA_ISSUER ?? url,
    audience: options.audience ?? env.TESSERA_AUDIENCE ?? "tessera",
  };
}

// One key set per server and process: jose caches the keys and refetches on an unknown `kid`.
const keySets = new Map<string, JWTVerifyGetKey>();

function keysOf(url: string) {
  let keys = keySets.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url + "/.well-known/jwks.json"), { cooldownDuration: 1000 });
    keySets.set(url, keys);
  }
  return keys;
}

/**
 * The user of a valid access token, checked locally through the JWKS (signature with the key's
 * own algorithm, `typ`, `iss`, `aud`, `exp` with Tessera's 30 s leeway); `null` for anything else.
 * Revocations are not seen here: the API refuses a revoked token at once.
 */
export async function verifyAccessToken(
  token: string,
  options?: TesseraServerOptions,
): Promise<User | null> {
  const { url, issuer, audience } = settings(options);
  try {
    const { payload } = await jwtVerify(token, keysOf(url), {
      issuer,
      audience,
      typ: "at+jwt",
      clockTolerance: 30,
      algorithms: ["EdDSA", "ES256", "RS256"],
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
    return { id: String(payload.sub), email: String(payload.email ?? ""), roles };
  } catch {
    return null;
  }
}

/** For server components and route handlers: the signed-in user of this request, or `null`. */
export async function getUser(options?: TesseraServerOptions): Promise<User | null> {
  const jar = await cookies();
  const token = ACCESS.map((name) => jar.get(name)?.value).find(Boolean);
  return token ? verifyAccessToken(token, options) : null;
}

/**
 * Middleware (Next 15 `middleware.ts`, Next 16 `proxy.ts`) for page navigations.
 *
 * The refresh cookie is scoped to `/auth`, so a page request never carries it. A navigation
 * with an expired access cookie is therefore sent once (307) through `refreshPath`, where the
 * browser does send it: there Tessera is asked to refresh, server to server, and its new cookies
 * ride on the 307 back to the page. The page's render then sees them, the pitfall of cookies
 * set in middleware but invisible to the same render does not arise. Protected pages without a
 * session go to `loginPath?next=…`.
 */
export function tesseraMiddleware(options: MiddlewareOptions = {}) {
  const refreshPath = options.refreshPath ?? "/auth/_next-refresh";
  const loginPath = options.loginPath ?? "/login";
  const guarded = (options.protect ?? []).map(pattern);
  const isProtected = (path: string) => guarded.some((re) => re.test(path));

  return async function middleware(request: NextRequest): Promise<NextResponse> {
    const { pathname, search } = request.nextUrl;
    if (pathname == refreshPath) return hop(request);
    // Only page navigations: API calls (Tessera's own under /auth, the app's) handle their
    // 401s themselves, through @tessera/client.
    const page =
      request.method == "GET" &&
      !pathname.startsWith("/auth/") &&
      (request.headers.get("sec-fetch-mode") == "navigate" ||
        (request.headers.get("accept") ?? "").includes("text/html"));
    if (!page) return NextResponse.next();
    const access = ACCESS.map((name) => request.cookies.get(name)?.value).find(Boolean);
    if (access && expired(access)) {
      const to = new URL(refreshPath, request.url);
      to.searchParams.set("to", pathname + search);
      return NextResponse.redirect(to, 307);
    }
    if (!access && isProtected(pathname)) return toLogin(request, pathname + search);
    return NextResponse.next();
  };

  async function hop(request: NextRequest): Promise<NextResponse> {
    const to = localPath(request.nextUrl.searchParams.get("to"));
    // Arriving from another site (a link in a mail, a search result), the browser withholds the
    // SameSite=Strict refresh cookie, and the refresh would fail. Step once through a page of
    // this site: its navigation is same-site, so the cookie comes along. `again` stops a loop.
    const params = new URLSearchParams(request.nextUrl.search);
    if (request.headers.get("sec-fetch-site") == "cross-site" && !params.has("again")) {
      params.set("again", "1");
      return sameSiteStep(`${refreshPath}?${params}`);
    }
    let answer: Response | undefined;
    try {
      answer = await fetch(settings(options).url + "/auth/refresh", {
        method: "POST",
        headers: {
          cookie: request.headers.get("cookie") ?? "",
          "x-csrf-token": request.cookies.get("tessera_csrf")?.value ?? "",
          // What the browser said about where this request came from, so Tessera applies its
          // own rules to it (a navigation has no Origin; behind a proxy, nextUrl's may be wrong).
          ...pick(request.headers, ["origin", "sec-fetch-site"]),
          "content-type": "application/json",
        },
        body: "{}",
        cache: "no-store",
      });
    } catch {
      answer = undefined;
    }
    const ok = !!answer?.ok;
    const response =
      !ok && isProtected(new URL(to, request.url).pathname)
        ? toLogin(request, to)
        : NextResponse.redirect(new URL(to, request.url), 307);
    const set = answer?.headers.getSetCookie() ?? [];
    for (const cookie of set) response.headers.append("set-cookie", cookie);
    // A failed refresh that cleared nothing (Tessera unreachable) must not send the browser
    // round again: drop the expired access cookie here.
    if (!ok && set.length == 0)
      for (const name of ACCESS)
        response.headers.append(
          "set-cookie",
          `${name}=; Path=/; Max-Age=0${name.startsWith("__Host-") ? "; Secure" : ""}`,
        );
    return response;
  }

  function toLogin(request: NextRequest, next: string) {
    const login = new URL(loginPath, request.url);
    login.searchParams.set("next", next);
    return NextResponse.redirect(login, 307);
  }
}

/**
 * A page that navigates to `path` at once, from this site (a meta refresh works without script
 * and under any Content-Security-Policy).
 */
function sameSiteStep(path: string) {
  const url = path.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const html = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${url}"><title>Signing you in</title>`;
  return new NextResponse(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    },
  });
}

/** The named headers that are present. */
function pick(headers: Headers, names: string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  return picked;
}

/** Whether a token's `exp` has passed (unverified: only to decide on a refresh). */
function expired(token: string) {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp == "number" && exp * 1000 <= Date.now();
  } catch {
    return false;
  }
}

/** A path of this site only (`/x?y`), never `//host` or a URL, else `/`. */
function localPath(to: string | null) {
  return to && /^\/(?![/\\])/.test(to) ? to : "/";
}

function pattern(path: string) {
  const body = path
    .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
    .replace(/\/:\w+\*/g, "(?:/.*)?")
    .replace(/:\w+/g, "[^/]+");
  return new RegExp(`^${body}${path.includes(":") ? "" : "(?:/.*)?"}$`);
}
