import { ChatRoom } from "./room";

// Read at request time, not baked into the bundle: where browsers open the chat WebSocket.
// The movie service takes the upgrade directly (a rewrite cannot carry it), with a ticket.
function chatUrl(): string {
  if (process.env.MOVIES_WS_URL) return process.env.MOVIES_WS_URL;
  const base = (process.env.MOVIES_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");
  return `${base.replace(/^http/, "ws")}/chat`;
}

export default function ChatPage() {
  return <ChatRoom url={chatUrl()} />;
}
