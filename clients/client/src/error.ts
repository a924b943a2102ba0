/**
 * A problem+json answer of Tessera, or a failure that has none (status 0): the server could not
 * be reached (`network_error`), or the browser's passkey dialog failed (`passkey_*`, with the
 * browser's `DOMException` as `cause`).
 */
export class TesseraError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: { field: string; message: string }[],
  ) {
    super(detail || code);
    this.name = "TesseraError";
  }
}

/** The `code` of a problem+json response, without consuming it. */
export async function problemCode(response: Response): Promise<string | undefined> {
  try {
    return (await response.clone().json())?.code;
  } catch {
    return undefined;
  }
}

/** The error a failed response stands for. */
export async function toError(response: Response): Promise<TesseraError> {
  const body = await response.json().catch(() => ({}));
  return new TesseraError(
    response.status,
    body.code ?? "http_" + response.status,
    body.detail ?? response.statusText,
    body.errors,
  );
}
