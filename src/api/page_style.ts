/**
 * The style sheet of the `/services` page, embedded as a string: system
 * fonts only, light and dark themes from `prefers-color-scheme`, one column
 * on a phone.
 *
 * @module
 */

/** CSS of the page. */
export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1b1f24; --muted: #5b6470; --card: #fff; --line: #d7dbe0;
  --accent: #0b5fff; --ok: #137333; --warn: #a55a00; --bad: #c5221f; --info: #1a5fb4;
  --idle: #6b7280; --ok-bg: #e6f4ea; --warn-bg: #fef3e0; --bad-bg: #fce8e6; --info-bg: #e8f0fe;
  --idle-bg: #eceef1; --code: #f0f2f5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --fg: #e6e9ed; --muted: #9aa4b0; --card: #1b2026; --line: #2e353e;
    --accent: #7aa7ff; --ok: #7ed491; --warn: #f0b35a; --bad: #ff8a80; --info: #8ab4f8;
    --idle: #a0a8b3; --ok-bg: #183a24; --warn-bg: #3d2c10; --bad-bg: #442020; --info-bg: #1d2d4a;
    --idle-bg: #2a3038; --code: #0c0f12;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  overflow-wrap: anywhere;
}
header {
  display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1rem;
  padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--card);
}
header h1 { font-size: 1.15rem; margin: 0; }
header .spacer { flex: 1; }
a { color: var(--accent); }
#conn { font-size: .85rem; color: var(--muted); }
#conn.live::before { content: "\\25CF  "; color: var(--ok); }
#banner {
  margin: 0; padding: .6rem 1rem; background: var(--bad-bg); color: var(--bad);
  border-bottom: 1px solid var(--bad); font-weight: 600;
}
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
.grid {
  display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 330px), 1fr));
}
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem;
  display: flex; flex-direction: column; gap: .5rem; min-width: 0;
}
.card h2 { font-size: 1rem; margin: 0; display: flex; flex-wrap: wrap; gap: .25rem .5rem; align-items: baseline; }
.card h2 small { color: var(--muted); font-weight: 400; font-size: .8rem; }
.badges { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.state, .health {
  display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
}
.s-running, .h-healthy { color: var(--ok); background: var(--ok-bg); }
.s-starting, .s-stopping, .s-backoff { color: var(--warn); background: var(--warn-bg); }
.s-failed, .s-cooldown, .h-unhealthy { color: var(--bad); background: var(--bad-bg); }
.s-stopped, .s-exited, .h-unknown { color: var(--idle); background: var(--idle-bg); }
.health-msg { font-size: .8rem; color: var(--muted); }
dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .75rem; margin: 0; font-size: .9rem; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; font-variant-numeric: tabular-nums; display: flex; align-items: center; gap: .5rem; }
dd.reason { display: block; }
dd.reason.bad { color: var(--bad); }
svg.spark { width: 80px; height: 18px; flex: none; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; }
button, select, input[type=search] {
  font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: .35rem .7rem; min-height: 2.25rem;
}
button { cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
button.danger { color: var(--bad); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.msg { margin: 0; font-size: .85rem; min-height: 1.2em; color: var(--muted); }
.msg.error { color: var(--bad); font-weight: 600; }
#logs {
  margin-top: 1rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .75rem; display: flex; flex-direction: column; gap: .5rem; min-width: 0;
}
.logbar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.logbar h2 { font-size: 1rem; margin: 0 auto 0 0; }
.logbar label { display: inline-flex; gap: .3rem; align-items: center; font-size: .9rem; }
.logbar input[type=search] { width: 12rem; max-width: 100%; }
#log-info { font-size: .8rem; color: var(--muted); }
#log-lines {
  margin: 0; background: var(--code); border-radius: 6px; padding: .5rem; height: 50vh;
  overflow: auto; font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  white-space: pre-wrap; word-break: break-all;
}
#log-lines div.err { color: var(--bad); }
#log-lines div.nomatch { display: none; }
#log-lines mark { background: var(--warn-bg); color: inherit; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
@media (max-width: 480px) {
  main { padding: .5rem; }
  .logbar h2 { flex-basis: 100%; }
}
`;
