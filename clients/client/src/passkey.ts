// WebAuthn's JSON form (base64url buffers) to the browser's objects and back. Browsers with the
// Level 3 helpers (`PublicKeyCredential.parse…FromJSON`, `credential.toJSON()`) convert
// themselves; for the others (older Safari and Firefox) a small conversion does the same.

import { TesseraError } from "./error";

/* eslint-disable @typescript-eslint/no-explicit-any -- WebAuthn's JSON, passed through */
type Json = any;

/** The Level 3 helpers, which not every browser with WebAuthn has. */
interface Helpers {
  parseCreationOptionsFromJSON?(options: Json): Json;
  parseRequestOptionsFromJSON?(options: Json): Json;
}

const bytes = (text: string) =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

const base64url = (buffer: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const ids = (list?: { id: string }[]) => list?.map((d) => ({ ...d, id: bytes(d.id) }));

/** `PublicKeyCredentialCreationOptions` or `…RequestOptions` from the server's JSON. */
export function parseOptions(create: boolean, options: Json) {
  const helpers = PublicKeyCredential as Helpers;
  const parse = create ? helpers.parseCreationOptionsFromJSON : helpers.parseRequestOptionsFromJSON;
  return parse
    ? parse.call(helpers, options)
    : {
        ...options,
        challenge: bytes(options.challenge),
        ...(options.user && { user: { ...options.user, id: bytes(options.user.id) } }),
        excludeCredentials: ids(options.excludeCredentials),
        allowCredentials: ids(options.allowCredentials),
      };
}

/**
 * A new credential or an assertion as the server reads it (webauthn-rs: base64url without
 * padding; client extension results under `clientExtensionResults`, which it also accepts as
 * `extensions`, one of the two only).
 */
export function credentialJSON(credential: PublicKeyCredential): Json {
  if (typeof credential.toJSON == "function") return credential.toJSON();
  const answer: Json = credential.response;
  const response: Json = {};
  for (const key of [
    "clientDataJSON",
    "attestationObject",
    "authenticatorData",
    "signature",
    "userHandle",
  ])
    if (answer[key]) response[key] = base64url(answer[key]);
  if (answer.getTransports) response.transports = answer.getTransports();
  return {
    id: credential.id,
    rawId: base64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

/** The browser's refusals by `DOMException` name; anything else is `passkey_failed`. */
const REFUSALS: Record<string, string> = {
  NotAllowedError: "passkey_cancelled",
  InvalidStateError: "passkey_exists",
};

/**
 * A failure of `navigator.credentials` as a `TesseraError` (status 0: no server answer). An
 * aborted request rejects with its signal's reason, whatever that is: `aborted` says so.
 */
export function browserError(error: unknown, aborted: boolean): TesseraError {
  const { name, message } = (error ?? {}) as Error;
  const code = aborted ? "passkey_aborted" : (REFUSALS[name] ?? "passkey_failed");
  return Object.assign(new TesseraError(0, code, message ?? String(error)), { cause: error });
}
