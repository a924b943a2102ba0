import { auth } from "./auth";

export type Movie = { id: number; title: string; year: number };

/** The movie service, reached through this app's /api/* (next.config.ts rewrites). */
export async function listMovies(): Promise<Movie[]> {
  const response = await fetch("/api/movies", { cache: "no-store" });
  if (!response.ok) throw new Error(`The movie service answered ${response.status}.`);
  return (await response.json()) as Movie[];
}

/** A call the movie service authenticates: auth.fetch sends the cookie and, on unsafe methods, the CSRF header. */
export async function call(path: string, init?: RequestInit): Promise<Response> {
  const headers = new Headers(init?.headers);
  if (init?.body !== undefined) headers.set("content-type", "application/json");
  return auth.fetch(`/api${path}`, { ...init, headers });
}
