import { TesseraError, problemCode, toError } from "./error";
import { withLock } from "./lock";
import { browserError, credentialJSON, parseOptions } from "./passkey";
import type {
  AuthEvent,
  AuthListener,
  ClientOptions,
  MfaRequired,
  Passkey,
  PasskeyLoginInput,
  Session,
  TokenStorage,
  Tokens,
  User,
} from "./types";

const UNSAFE = /^(POST|PUT|PATCH|DELETE)$/i;
const JSON_TYPE = { "content-type": "application/json" };

/** Bearer mode's default: tokens in this tab's memory, gone with the page. */
export function memoryStorage(): TokenStorage {
  let tokens: Tokens | null = null;
  return {
    get: () => tokens,
    set: (value) => void (tokens = value),
    clear: () => void (tokens = null),
  };
}

/** What the grant endpoints answer (token response, or its cookie-mode form). */
interface GrantBody {
  user: User;
  expires_in: number;
  access_token?: string;
  refresh_token?: string;
  csrf_token?: string;
  mfa_required?: boolean;
  mfa_token?: string;
  methods?: string[];
}

/** The first half of a passkey ceremony (`…/options`). */
interface Ceremony {
  ceremony_id: string;
  publicKey: object;
  mediation?: CredentialMediationRequirement;
}

/**
 * The part of an axios instance the adapter uses; axios itself is not imported. Its config
 * type is axios's own, so it is left open here.
 */
interface AxiosLike {
  interceptors: {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    request: { use(onFulfilled: (config: any) => Promise<any>): unknown };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    response: { use(onFulfilled: undefined, onRejected: (error: any) => Promise<any>): unknown };
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request(config: any): Promise<unknown>;
}
interface AxiosConfig {
  method?: string;
  withCredentials?: boolean;
  headers?: object;
  _tesseraRetry?: boolean;
}
interface AxiosFailure {
  config?: AxiosConfig;
  response?: { status: number; data?: { code?: string } };
}

export type TesseraClient = ReturnType<typeof createClient>;

/**
 * A client of one Tessera server. Touches no browser global until it is used, so it can be
 * created at module scope of code that also renders on the server.
 */
export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/$/, "");
  const cookieMode = options.mode != "bearer";
  const storage = options.storage ?? memoryStorage();
  const skew = (options.refreshSkew ?? 30) * 1000;
  const lockMs = options.lockTimeoutMs ?? 5000;
  const listeners = new Set<AuthListener>();
  let user: User | null = null;
  let expiresAt = 0;
  let lifetime = 0;
  let csrfMemo: string | undefined;
  // Counts the grants and sign-outs this tab has learned of, its own or another tab's.
  let generation = 0;
  let inflight: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let channel: BroadcastChannel | undefined;
  let watching = false;
  let ceremony: AbortController | undefined;

  const doc = () => (typeof document == "undefined" ? undefined : document);

  function csrfCookie() {
    return doc()?.cookie.match(/(?:^|;\s*)tessera_csrf=([^;]+)/)?.[1];
  }

  async function csrf(): Promise<string> {
    return (
      csrfCookie() ??
      csrfMemo ??
      (csrfMemo = (await call<{ csrf_token: string }>("/auth/csrf")).csrf_token)
    );
  }

  /** One request with this client's credentials: cookies and the CSRF header, or the bearer. */
  async function send(
    input: RequestInfo | URL,
    init: RequestInit = {},
    withCsrf = true,
  ): Promise<Response> {
    bus();
    const request = input instanceof Request ? input : undefined;
    const headers = new Headers(init.headers ?? request?.headers);
    const method = init.method ?? request?.method ?? "GET";
    if (!cookieMode) {
      const tokens = await storage.get();
      if (tokens && !headers.has("authorization"))
        headers.set("authorization", "Bearer " + tokens.accessToken);
    } else if (withCsrf && UNSAFE.test(method) && !headers.has("x-csrf-token")) {
      headers.set("x-csrf-token", await csrf());
    }
    try {
      return await (options.fetch ?? fetch)(input, {
        ...init,
        headers,
        credentials: cookieMode ? "include" : init.credentials,
      });
    } catch (error) {
      throw new TesseraError(0, "network_error", String(error));
    }
  }

  /**
   * `fetch` for the app's own API and Tessera's: on a 401 `token_expired`, one refresh and one
   * retry. Any other answer, or a refresh that fails, comes back as it is; a `token_revoked`
   * also signs the client out, since the session is over and no refresh can bring it back.
   */
  async function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // A Request's body can be read once: keep a copy for the retry.
    const retry = input instanceof Request ? input.clone() : input;
    const response = await send(input, init);
    const code = response.status == 401 ? await problemCode(response) : undefined;
    if (code == "token_revoked" && user) await signedOut();
    if (code != "token_expired") return response;
    try {
      await refresh(true);
    } catch (error) {
      if (error instanceof TesseraError && error.status == 401) return response;
      throw error;
    }
    return send(retry, init);
  }

  /** A JSON call to Tessera through `authFetch`; problem+json answers are thrown. */
  async function call<T>(path: string, method = "GET", body?: unknown): Promise<T> {
    const response = await authFetch(base + path, {
      method,
      headers: body === undefined ? undefined : JSON_TYPE,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await toError(response);
    return (response.status == 204 ? undefined : await response.json()) as T;
  }

  /** A POST to an endpoint that needs no session (so no CSRF header), as login's. */
  async function post<T>(path: string, body: object): Promise<T> {
    const response = await send(
      base + path,
      { method: "POST", headers: JSON_TYPE, body: JSON.stringify(body) },
      false,
    );
    if (!response.ok) throw await toError(response);
    return response.json();
  }

  /** Signup, login, the MFA step, the exchange and passkeys: a grant, in cookies or `storage`. */
  async function grant(path: string, body: object): Promise<{ user: User } | MfaRequired> {
    const data = await post<GrantBody>(path, cookieMode ? { ...body, cookie: true } : body);
    if (data.mfa_required)
      return { mfaRequired: true, mfaToken: data.mfa_token!, methods: data.methods ?? [] };
    await accept(data, "signed_in");
    return { user: data.user };
  }

  async function accept(data: GrantBody, event: AuthEvent) {
    user = data.user;
    lifetime = data.expires_in * 1000;
    expiresAt = Date.now() + lifetime;
    generation++;
    if (cookieMode) csrfMemo = data.csrf_token;
    else
      await storage.set({
        accessToken: data.access_token!,
        refreshToken: data.refresh_token!,
        expiresAt,
      });
    emit(event, true);
    schedule();
  }

  /**
   * One refresh at a time: callers in this tab share one promise, and tabs take turns through a
   * Web Lock. A tab that gets the lock after another tab refreshed uses that result instead of
   * refreshing again: it heard the other tab's broadcast, or its own cookies (or the shared
   * storage) work again.
   */
  function refresh(expired = false): Promise<void> {
    return (inflight ??= shared(expired).finally(() => (inflight = null)));
  }

  async function shared(expired: boolean) {
    const seen = generation;
    const failed = cookieMode ? undefined : (await storage.get())?.accessToken;
    await withLock("tessera-refresh " + base, lockMs, async () => {
      if (generation != seen) return;
      if (expired ? await freshAlready(failed) : expiresAt - lead() > Date.now()) return;
      await refreshNow();
    });
  }

  async function freshAlready(failed?: string) {
    if (!cookieMode) {
      const tokens = await storage.get();
      return !!tokens && tokens.accessToken != failed;
    }
    const response = await send(base + "/users/me");
    if (response.ok) user = await response.json();
    return response.ok;
  }

  async function refreshNow() {
    const tokens = cookieMode ? null : await storage.get();
    if (!cookieMode && !tokens) throw new TesseraError(401, "refresh_invalid", "not signed in");
    const response = await send(base + "/auth/refresh", {
      method: "POST",
      headers: JSON_TYPE,
      body: JSON.stringify(tokens ? { refresh_token: tokens.refreshToken } : { cookie: true }),
    });
    if (response.ok) return accept(await response.json(), "refreshed");
    const error = await toError(response);
    // The session is over: say so once, instead of refreshing in a loop.
    if (error.code == "refresh_invalid" || error.code == "refresh_reused") await signedOut();
    throw error;
  }

  async function signedOut() {
    forget();
    if (!cookieMode) await storage.clear();
    emit("signed_out", true);
  }

  function forget() {
    user = null;
    expiresAt = 0;
    csrfMemo = undefined;
    generation++;
    clearTimeout(timer);
  }

  function emit(event: AuthEvent, broadcast: boolean) {
    if (broadcast) bus()?.postMessage({ event, user, expiresAt, lifetime });
    for (const listener of [...listeners]) listener(event, user);
  }

  /** The channel to this origin's other tabs, opened on first use. */
  function bus() {
    if (!channel && typeof BroadcastChannel != "undefined") {
      channel = new BroadcastChannel("tessera " + base);
      channel.onmessage = ({ data }) => {
        if (data.event == "signed_out") {
          forget();
          if (!cookieMode) void storage.clear();
        } else {
          user = data.user;
          expiresAt = data.expiresAt;
          lifetime = data.lifetime;
          generation++;
          schedule();
        }
        emit(data.event, false);
      };
      // In Node, an open channel would keep the process alive.
      (channel as { unref?: () => void }).unref?.();
    }
    return channel;
  }

  /**
   * Refreshes ahead of expiry while the tab is visible. Tokens that live less than twice the
   * skew are left to the reactive refresh, or the timer would refresh without pause.
   */
  const lead = () => (lifetime > 2 * skew ? skew : 0);

  function schedule() {
    clearTimeout(timer);
    const page = doc();
    if (!page || !expiresAt || !lead()) return;
    if (!watching) {
      watching = true;
      page.addEventListener("visibilitychange", ahead);
    }
    timer = setTimeout(ahead, Math.max(0, expiresAt - lead() - Date.now()));
    (timer as { unref?: () => void }).unref?.();
  }

  function ahead() {
    if (doc()?.visibilityState == "visible" && user && lead() && expiresAt - lead() <= Date.now())
      refresh().catch(() => {});
  }

  /**
   * A passkey ceremony: the server's options, the browser's dialog, the server's verdict. One at
   * a time: a new one aborts the one pending, since browsers take one WebAuthn request at a time
   * and autofill's waits as long as the page is open.
   */
  async function passkey<T>(
    create: boolean,
    start: () => Promise<Ceremony>,
    finish: (ceremony_id: string, credential: unknown) => Promise<T>,
    input: PasskeyLoginInput = {},
  ): Promise<T> {
    if (typeof PublicKeyCredential == "undefined" || !navigator.credentials)
      throw new TesseraError(0, "passkey_unsupported", "no WebAuthn here");
    ceremony?.abort();
    const controller = (ceremony = new AbortController());
    const { signal } = input;
    const stop = () => controller.abort(signal!.reason);
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop);
    try {
      const options = await start();
      let credential;
      try {
        credential = credentialJSON(
          (await navigator.credentials[create ? "create" : "get"]({
            publicKey: parseOptions(create, options.publicKey),
            mediation: input.mediation ?? options.mediation,
            signal: controller.signal,
          })) as PublicKeyCredential,
        );
      } catch (error) {
        throw browserError(error, controller.signal.aborted);
      }
      return await finish(options.ceremony_id, credential);
    } finally {
      signal?.removeEventListener("abort", stop);
      if (ceremony == controller) ceremony = undefined;
    }
  }

  async function end(path: string) {
    try {
      await call(path, "POST");
    } catch (error) {
      // Already signed out at the server (401): sign out here too, quietly.
      if (!(error instanceof TesseraError && error.status == 401)) throw error;
    } finally {
      await signedOut();
    }
  }

  return {
    /** The signed-in user, as this tab knows it. */
    get user() {
      return user;
    },
    /** Sets the user the server rendered the page for (no event), and joins the other tabs. */
    hydrate(known: User | null) {
      user = known;
      bus();
    },
    signup: (input: { email: string; password: string; name?: string; deviceName?: string }) =>
      grant("/auth/signup", { ...input, device_name: input.deviceName }) as Promise<{
        user: User;
      }>,
    login: (input: { email: string; password: string; deviceName?: string }) =>
      grant("/auth/login", {
        email: input.email,
        password: input.password,
        device_name: input.deviceName,
      }),
    verifyMfa: (input: { mfaToken: string; code: string }) =>
      grant("/auth/login/mfa", { mfa_token: input.mfaToken, code: input.code }) as Promise<{
        user: User;
      }>,
    /** After the social-login redirect: the one-time code of its `?login_code=`. */
    exchangeLoginCode: (code: string) =>
      grant("/auth/oauth/exchange", { login_code: code }) as Promise<{ user: User }>,
    socialLoginUrl: (provider: string, redirectTo: string) =>
      `${base}/auth/oauth/${encodeURIComponent(provider)}/authorize?redirect_to=${encodeURIComponent(redirectTo)}`,
    /** Ends this session, here and in every tab (even if the server cannot be told). */
    logout: () => end("/auth/logout"),
    logoutAll: () => end("/auth/logout-all"),
    async getUser(): Promise<User> {
      user = await call<User>("/users/me");
      emit("user_updated", false);
      return user;
    },
    sessions: {
      list: () => call<Session[]>("/auth/sessions"),
      revoke: (id: string) => call<void>(`/auth/sessions/${encodeURIComponent(id)}`, "DELETE"),
    },
    fetch: authFetch,
    refresh: () => refresh(),
    wsTicket: async () => (await call<{ ticket: string }>("/auth/ws-ticket", "POST")).ticket,
    /**
     * Passkeys (WebAuthn), in a browser. Its dialog's failures are `TesseraError`s of status 0:
     * `passkey_cancelled` (dismissed, timed out, not verified, or no passkey of this site on the
     * device: browsers do not tell these apart), `passkey_aborted` (the `signal`, or a newer
     * passkey call), `passkey_exists` (this authenticator already holds one of the user's
     * passkeys), `passkey_unsupported` (no WebAuthn), `passkey_failed` (anything else).
     */
    passkeys: {
      /** Adds a passkey to the signed-in user's account. */
      register: (name?: string) =>
        passkey(
          true,
          () => call<Ceremony>("/users/me/passkeys/register/options", "POST"),
          (ceremony_id, credential) =>
            call<Passkey>("/users/me/passkeys/register", "POST", { ceremony_id, credential, name }),
        ),
      /** Logs in with a passkey: as `login`, without a password and without a second step. */
      login: (input: PasskeyLoginInput = {}) =>
        passkey(
          false,
          () => post<Ceremony>("/auth/passkey/options", { email: input.email }),
          (ceremony_id, credential) =>
            grant("/auth/passkey/login", {
              ceremony_id,
              credential,
              device_name: input.deviceName,
            }),
          input,
        ),
      list: () => call<Passkey[]>("/users/me/passkeys"),
      rename: (id: string, name: string) =>
        call<Passkey>(`/users/me/passkeys/${encodeURIComponent(id)}`, "PATCH", { name }),
      /** Refused with 409 `last_login_method` when it is the account's only way in. */
      remove: (id: string) => call<void>(`/users/me/passkeys/${encodeURIComponent(id)}`, "DELETE"),
    },
    onAuthChange(listener: AuthListener) {
      bus();
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    /** Gives existing axios code the same credentials, refresh and retry. */
    withAxios<T extends AxiosLike>(instance: T): T {
      instance.interceptors.request.use(async (config: AxiosConfig) => {
        const put = (name: string, value: string) =>
          (config.headers = Object.assign(config.headers ?? {}, { [name]: value }));
        if (cookieMode) {
          config.withCredentials = true;
          if (UNSAFE.test(config.method ?? "get")) put("x-csrf-token", await csrf());
        } else {
          const tokens = await storage.get();
          if (tokens) put("authorization", "Bearer " + tokens.accessToken);
        }
        return config;
      });
      instance.interceptors.response.use(undefined, async (error: AxiosFailure) => {
        const config = error.config;
        if (
          !config ||
          config._tesseraRetry ||
          error.response?.status != 401 ||
          error.response.data?.code != "token_expired"
        )
          throw error;
        await refresh(true);
        config._tesseraRetry = true;
        return instance.request(config);
      });
      return instance;
    },
    /** Stops timers and listeners (hot reload, tests). */
    destroy() {
      clearTimeout(timer);
      listeners.clear();
      channel?.close();
      channel = undefined;
      doc()?.removeEventListener("visibilitychange", ahead);
      watching = false;
    },
  };
}
