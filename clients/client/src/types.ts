/**
 * A Tessera user (API.md §2 "User object"). A user read from an access token on the server
 * (`@tessera/next`'s `getUser`) has only `id`, `email` and `roles` until the profile is loaded.
 */
export interface User {
  id: string;
  email: string;
  roles: string[];
  name?: string | null;
  email_verified?: boolean;
  mfa_enabled?: boolean;
  created_at?: string;
}

/** One signed-in device of the user (`GET /auth/sessions`). */
export interface Session {
  id: string;
  device_name: string | null;
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  last_used_at: string;
  current?: boolean;
}

/** One of the user's passkeys (`GET /users/me/passkeys`). */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  /** `null` until it is first used to log in. */
  last_used_at: string | null;
}

/** What `passkeys.login` takes; every field is optional. */
export interface PasskeyLoginInput {
  /** Email-first: that account's passkeys. Without it, any passkey of this site (autofill). */
  email?: string;
  deviceName?: string;
  /** Cancels the browser's pending request (`passkey_aborted`), e.g. autofill's. */
  signal?: AbortSignal;
  /**
   * How the browser asks; by default as the server says: `"conditional"` (autofill) without an
   * email, its dialog with one. `"optional"` opens the dialog without an email (a button).
   */
  mediation?: CredentialMediationRequirement;
}

/** What bearer mode keeps between requests. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
}

/** Where bearer mode keeps its tokens; the default keeps them in memory. */
export interface TokenStorage {
  get(): Tokens | null | Promise<Tokens | null>;
  set(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

export type AuthEvent = "signed_in" | "signed_out" | "refreshed" | "user_updated";

export type AuthListener = (event: AuthEvent, user: User | null) => void;

/** A login that needs its second factor: call `verifyMfa` with the token and a code. */
export interface MfaRequired {
  mfaRequired: true;
  mfaToken: string;
  methods: string[];
}

export interface ClientOptions {
  /** The Tessera server; `""` for the page's own origin (Tessera served under it). */
  baseUrl: string;
  /** `"cookie"` (browsers, default): HttpOnly cookies and CSRF; `"bearer"`: tokens in `storage`. */
  mode?: "cookie" | "bearer";
  storage?: TokenStorage;
  /** Seconds before expiry to refresh ahead, while the tab is visible. Default 30. */
  refreshSkew?: number;
  fetch?: typeof fetch;
  /** How long to wait for another tab's refresh before taking its lock over. Default 5000 ms. */
  lockTimeoutMs?: number;
}
