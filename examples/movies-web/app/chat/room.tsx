"use client";

import { useEffect, useRef, useState, type FormEvent } from "react";
import Link from "next/link";
import { useAuth } from "@tessera/react";
import { auth } from "@/lib/auth";
import { describe } from "@/lib/errors";

type Line = { key: number; who: string; text: string; mine: boolean };

export function ChatRoom({ url }: { url: string }) {
  const { user } = useAuth();
  const [lines, setLines] = useState<Line[]>([]);
  const [state, setState] = useState<"connecting" | "open" | "closed">("connecting");
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const socket = useRef<WebSocket | null>(null);
  const userId = user?.id;

  useEffect(() => {
    if (!userId) return;
    let cancelled = false;
    let ws: WebSocket | null = null;
    let counter = 0;
    setState("connecting");
    // Browsers cannot put a header on the upgrade: trade the session for a single-use ticket.
    auth.wsTicket().then(
      (ticket) => {
        if (cancelled) return;
        ws = new WebSocket(`${url}?ticket=${encodeURIComponent(ticket)}`);
        socket.current = ws;
        ws.onopen = () => setState("open");
        ws.onclose = () => setState("closed");
        ws.onerror = () => setError("The chat connection failed.");
        ws.onmessage = (event) => {
          const raw = String(event.data);
          const cut = raw.indexOf(": ");
          const who = cut > 0 ? raw.slice(0, cut) : "?";
          const text = cut > 0 ? raw.slice(cut + 2) : raw;
          setLines((old) => [...old.slice(-199), { key: counter++, who, text, mine: who === userId }]);
        };
      },
      (e: unknown) => {
        if (!cancelled) {
          setError(describe(e));
          setState("closed");
        }
      },
    );
    return () => {
      cancelled = true;
      ws?.close();
      socket.current = null;
    };
  }, [url, userId]);

  function send(event: FormEvent) {
    event.preventDefault();
    const text = draft.trim();
    if (!text || socket.current?.readyState !== WebSocket.OPEN) return;
    socket.current.send(text);
    setDraft("");
  }

  if (!user) {
    return (
      <section className="card narrow">
        <h1>Chat</h1>
        <p>
          <Link href="/login?next=/chat">Log in</Link> to join the room.
        </p>
      </section>
    );
  }

  return (
    <section className="card">
      <h1>
        Chat <span className={`dot ${state}`} data-testid="chat-state" data-state={state} title={state} />
      </h1>
      {error && <p className="error" role="alert">{error}</p>}
      <ol className="chat" data-testid="chat-log">
        {lines.length === 0 && <li className="muted">No messages yet. Say hello.</li>}
        {lines.map((line) => (
          <li key={line.key} className={line.mine ? "mine" : undefined}>
            <span className="who">{line.mine ? "you" : `user ${line.who.slice(-6)}`}</span>
            <span className="text">{line.text}</span>
          </li>
        ))}
      </ol>
      <form className="row" onSubmit={send}>
        <input name="message" placeholder="Write a message" value={draft} onChange={(e) => setDraft(e.target.value)} autoComplete="off" />
        <button type="submit" disabled={state !== "open"}>Send</button>
      </form>
    </section>
  );
}
