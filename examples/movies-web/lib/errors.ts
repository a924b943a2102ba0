import { TesseraError } from "@tessera/client";

/** A message fit to show for whatever an auth call or a fetch threw. */
export function describe(error: unknown): string {
  if (error instanceof TesseraError) return error.detail || error.code || `Error ${error.status}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
