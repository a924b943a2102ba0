"use client";

import { useState, type FormEvent } from "react";
import { useAuth } from "@tessera/react";
import { call, type Movie } from "@/lib/movies";
import { describe } from "@/lib/errors";

export default function AddMoviePage() {
  const { user } = useAuth();
  const [title, setTitle] = useState("");
  const [year, setYear] = useState("");
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setOutcome(null);
    const y = Number(year);
    if (!title.trim()) return setOutcome({ ok: false, text: "Enter a title." });
    if (!Number.isInteger(y) || y < 1888 || y > 2100) return setOutcome({ ok: false, text: "Enter a year such as 1967." });
    setBusy(true);
    try {
      const response = await call("/movies", { method: "POST", body: JSON.stringify({ title: title.trim(), year: y }) });
      if (response.status === 201) {
        const movie = (await response.json()) as Movie;
        setOutcome({ ok: true, text: `Added “${movie.title}” (${movie.year}).` });
        setTitle("");
        setYear("");
      } else if (response.status === 403) {
        setOutcome({ ok: false, text: "Only administrators can add movies, and your account does not have the admin role (403 Forbidden)." });
      } else if (response.status === 401) {
        setOutcome({ ok: false, text: "You are signed out. Log in again to add a movie." });
      } else {
        setOutcome({ ok: false, text: `The movie service answered ${response.status}.` });
      }
    } catch (e) {
      setOutcome({ ok: false, text: describe(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card narrow" onSubmit={submit} noValidate>
      <h1>Add a movie</h1>
      <p className="muted">
        For administrators.{" "}
        {user && !user.roles.includes("admin") && "Your account has no admin role, so the movie service will refuse."}
      </p>
      <label>
        Title
        <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Year
        <input name="year" inputMode="numeric" value={year} onChange={(e) => setYear(e.target.value)} />
      </label>
      {outcome && (
        <p className={outcome.ok ? "success" : "error"} role={outcome.ok ? "status" : "alert"} data-testid="add-outcome">
          {outcome.text}
        </p>
      )}
      <button type="submit" disabled={busy}>Add movie</button>
    </form>
  );
}
