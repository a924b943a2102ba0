"use client";

import { useCallback, useEffect, useState } from "react";
import Link from "next/link";
import { useAuth } from "@tessera/react";
import { call, listMovies, type Movie } from "@/lib/movies";
import { describe } from "@/lib/errors";

export default function MoviesPage() {
  const { user } = useAuth();
  const [movies, setMovies] = useState<Movie[] | null>(null);
  const [favorites, setFavorites] = useState<Set<number>>(new Set());
  const [error, setError] = useState<string | null>(null);

  const loadFavorites = useCallback(async () => {
    const response = await call("/me/favorites");
    if (!response.ok) throw new Error(`Could not load your favourites (${response.status}).`);
    const list = (await response.json()) as Movie[];
    setFavorites(new Set(list.map((m) => m.id)));
  }, []);

  useEffect(() => {
    listMovies().then(setMovies, (e: unknown) => setError(describe(e)));
  }, []);

  useEffect(() => {
    if (!user) {
      setFavorites(new Set());
      return;
    }
    loadFavorites().catch((e: unknown) => setError(describe(e)));
  }, [user, loadFavorites]);

  async function toggle(movie: Movie) {
    setError(null);
    try {
      const response = favorites.has(movie.id)
        ? await call(`/me/favorites/${movie.id}`, { method: "DELETE" })
        : await call("/me/favorites", { method: "POST", body: JSON.stringify({ movie_id: movie.id }) });
      if (!response.ok && response.status !== 404) throw new Error(`The movie service answered ${response.status}.`);
      await loadFavorites();
    } catch (e) {
      setError(describe(e));
    }
  }

  const favoriteMovies = (movies ?? []).filter((m) => favorites.has(m.id));

  return (
    <div className="stack">
      <section className="card">
        <h1>Movies</h1>
        {error && <p className="error" role="alert">{error}</p>}
        {movies === null ? (
          <p className="muted">Fetching the list…</p>
        ) : (
          <ul className="movies" data-testid="movies">
            {movies.map((movie) => (
              <li key={movie.id} data-testid={`movie-${movie.id}`}>
                <span>
                  <strong>{movie.title}</strong> <span className="muted">({movie.year})</span>
                </span>
                {user ? (
                  <button className={favorites.has(movie.id) ? "fav on" : "fav"} aria-pressed={favorites.has(movie.id)} onClick={() => toggle(movie)}>
                    {favorites.has(movie.id) ? "★ Favourite" : "☆ Add to favourites"}
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
        {!user && (
          <p className="muted">
            <Link href="/login">Log in</Link> to keep a list of favourites.
          </p>
        )}
      </section>
      {user && (
        <section className="card">
          <h2>Your favourites</h2>
          {favoriteMovies.length === 0 ? (
            <p className="muted" data-testid="no-favorites">None yet: press ☆ on a movie.</p>
          ) : (
            <ul className="plain" data-testid="favorites">
              {favoriteMovies.map((m) => (
                <li key={m.id}>
                  {m.title} <span className="muted">({m.year})</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}
