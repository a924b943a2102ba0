export { createClient, memoryStorage } from "./client";
export type { TesseraClient } from "./client";
export { TesseraError } from "./error";
export type {
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
