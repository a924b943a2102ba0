/**
 * Runs `task` holding the cross-tab lock `name` (Web Locks), so one tab at a time refreshes.
 * Without the API (Node, old browsers) it just runs: the in-tab single flight still holds.
 *
 * Never deadlocks: a tab closed mid-refresh releases the lock by itself; a holder that does not
 * let go within `timeoutMs` (a frozen tab, a hung request) has the lock taken from it. Taking it
 * over is safe because the server returns the same successor for a refresh token presented
 * twice within its grace window.
 */
export async function withLock<T>(
  name: string,
  timeoutMs: number,
  task: () => Promise<T>,
): Promise<T> {
  const locks = typeof navigator == "undefined" ? undefined : navigator.locks;
  if (!locks) return task();
  let started = false;
  const run = () => ((started = true), task());
  try {
    return await locks.request(name, { signal: AbortSignal.timeout(timeoutMs) }, run);
  } catch (error) {
    // Only a wait that timed out is taken over; the task's own failures are the caller's.
    if (started) throw error;
    return locks.request(name, { steal: true }, run);
  }
}
