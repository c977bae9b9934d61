/**
 * The style sheet of the `/services` page, embedded as a string: system
 * fonts only, light and dark themes from `prefers-color-scheme` (every text
 * at a contrast of 4.5:1 or more), a compact table that becomes two lines
 * per service on a phone, and the detail panel at the right (the whole
 * screen on a phone).
 *
 * @module
 */

/** CSS of the page. */
export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1b1f24; --muted: #5b6470; --card: #fff; --line: #d7dbe0;
  --hover: #f0f3f7; --sel: #e8f0fe; --accent: #0b5fff; --on-accent: #fff; --rss: #7b3fc4;
  --ok: #137333; --warn: #a55a00; --bad: #c5221f; --info: #1a5fb4; --idle: #575e69;
  --ok-bg: #e6f4ea; --warn-bg: #fef3e0; --bad-bg: #fce8e6; --info-bg: #e8f0fe; --idle-bg: #eceef1;
  --code: #f0f2f5; --shadow: rgba(15, 20, 30, .18);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --fg: #e6e9ed; --muted: #9aa4b0; --card: #1b2026; --line: #2e353e;
    --hover: #222932; --sel: #1d2d4a; --accent: #7aa7ff; --on-accent: #0b1220; --rss: #c49bff;
    --ok: #7ed491; --warn: #f0b35a; --bad: #ff8a80; --info: #8ab4f8; --idle: #a9b1bb;
    --ok-bg: #183a24; --warn-bg: #3d2c10; --bad-bg: #442020; --info-bg: #1d2d4a; --idle-bg: #2a3038;
    --code: #0c0f12; --shadow: rgba(0, 0, 0, .5);
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
button, select, input {
  font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: .3rem .65rem; min-height: 2.1rem;
}
input[type=checkbox] { min-height: 0; }
button { cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: .55; cursor: default; }
button.danger { color: var(--bad); }
button.primary { background: var(--accent); color: var(--on-accent); border-color: var(--accent); }

header.top {
  display: flex; flex-direction: column; gap: .4rem; padding: .5rem 1rem;
  background: var(--card); border-bottom: 1px solid var(--line);
}
@media (min-width: 700px) { header.top { position: sticky; top: 0; z-index: 2; } }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .75rem; }
.spacer { flex: 1; }
h1 { font-size: 1.15rem; margin: 0; }
#conn { font-size: .85rem; color: var(--muted); }
#conn.live::before { content: "\\25CF  "; color: var(--ok); }
#summary { display: flex; flex-wrap: wrap; gap: .3rem; }
button.count { border-radius: 999px; padding: .1rem .6rem; min-height: 1.9rem; font-size: .85rem; }
button.count .n { font-weight: 700; font-variant-numeric: tabular-nums; }
button.count.some.c-failed, button.count.some.c-cooldown, button.count.some.c-unhealthy {
  color: var(--bad); border-color: var(--bad); background: var(--bad-bg);
}
button.count.some.c-backoff { color: var(--warn); border-color: var(--warn); background: var(--warn-bg); }
button.count[aria-pressed=true] {
  color: var(--on-accent); background: var(--accent); border-color: var(--accent);
}
#filter { width: 17rem; max-width: 100%; }
#shown { font-size: .85rem; color: var(--muted); }
#banner {
  margin: 0; padding: .5rem 1rem; background: var(--bad-bg); color: var(--bad);
  border-bottom: 1px solid var(--bad); font-weight: 600;
}
#banner button { margin-left: .5rem; }

main { padding: .5rem 1rem 2rem; }
table {
  width: 100%; border-collapse: collapse; background: var(--card);
  border: 1px solid var(--line); font-size: .875rem;
}
th, td { padding: .28rem .5rem; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th {
  font-size: .75rem; font-weight: 600; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted);
}
.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: var(--hover); }
tbody tr.selected { background: var(--sel); }
th.name { font-weight: 600; }
th.name a { color: inherit; text-decoration: none; }
th.name a:hover { text-decoration: underline; }
th.name small { color: var(--muted); font-weight: 400; margin-left: .4rem; }
tr.problem th.name { box-shadow: inset 4px 0 var(--bad); }
td.c-why { max-width: 0; width: 40%; overflow: hidden; text-overflow: ellipsis; color: var(--muted); }
tr.problem td.c-why { color: var(--bad); }
.badge {
  display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .78rem;
  font-weight: 600; line-height: 1.55;
}
.s-running, .h-healthy { color: var(--ok); background: var(--ok-bg); }
.s-starting, .s-stopping, .s-backoff { color: var(--warn); background: var(--warn-bg); }
.s-failed, .s-cooldown, .h-unhealthy { color: var(--bad); background: var(--bad-bg); }
.s-stopped, .s-exited, .h-unknown { color: var(--idle); background: var(--idle-bg); }
.h-none { color: var(--muted); font-weight: 400; }
@media (max-width: 640px) {
  header.top, main { padding-left: .5rem; padding-right: .5rem; }
  #filter { width: 100%; }
  .c-pid, .c-up, .c-rs, .c-cpu, .c-rss { display: none; }
  thead .c-why { display: none; }
  tr { display: grid; grid-template-columns: minmax(0, 1fr) auto auto; align-items: center; }
  th, td { border-bottom: 0; }
  tbody tr { border-bottom: 1px solid var(--line); }
  th.name { overflow: hidden; text-overflow: ellipsis; }
  td.c-why { grid-column: 1 / -1; max-width: none; width: auto; padding-top: 0; white-space: normal; font-size: .8rem; }
  td.c-why:empty { display: none; }
}

#detail {
  position: fixed; top: 0; right: 0; bottom: 0; z-index: 3; width: min(48rem, 100%);
  overflow-y: auto; padding: .75rem 1rem 2rem; background: var(--card);
  border-left: 1px solid var(--line); box-shadow: -8px 0 28px var(--shadow);
  display: flex; flex-direction: column; gap: .6rem;
}
.dhead { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .6rem; }
.dhead h2 { margin: 0; font-size: 1.2rem; overflow-wrap: anywhere; }
.dhead h2:focus { outline: none; }
.dhead h2 small { color: var(--muted); font-weight: 400; font-size: .85rem; }
.dhead .close { margin-left: auto; }
.badges { display: flex; gap: .35rem; }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; }
.confirm { padding: .5rem .75rem; border: 1px solid var(--bad); border-radius: 6px; background: var(--bad-bg); }
.confirm p { margin: 0 0 .4rem; }
.msg { margin: 0; min-height: 1.2em; font-size: .85rem; color: var(--muted); }
.msg.error { color: var(--bad); font-weight: 600; }
#detail h3 { font-size: .95rem; margin: .4rem 0 .3rem; }
#detail h4 { font-size: .8rem; margin: .4rem 0 .1rem; color: var(--muted); font-weight: 600; }
dl.fields {
  display: grid; grid-template-columns: fit-content(8rem) minmax(0, 1fr); gap: .15rem .9rem;
  margin: 0; font-size: .875rem;
}
@media (min-width: 640px) {
  dl.fields {
    grid-template-columns: fit-content(9rem) minmax(0, 1fr) fit-content(9rem) minmax(0, 1fr);
  }
  dl.fields dd.reason { grid-column: 2 / -1; }
}
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; min-width: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.charts svg { display: block; max-width: 100%; }
.chart text { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axisline { stroke: var(--muted); stroke-width: 1; }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.6; stroke-linejoin: round; }
.chart .area { fill: var(--accent); opacity: .14; }
.chart .dot { fill: var(--accent); }
.chart.rss .line { stroke: var(--rss); }
.chart.rss .area, .chart.rss .dot { fill: var(--rss); }
.chart .exit { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 3 2; }
.legend, .note { margin: .2rem 0 0; font-size: .8rem; color: var(--muted); }
ol.timeline {
  list-style: none; margin: 0; padding: 0; max-height: 16rem; overflow-y: auto;
  font-size: .85rem; border: 1px solid var(--line); border-radius: 6px;
}
ol.timeline li {
  display: grid; grid-template-columns: auto 4.2rem minmax(0, 1fr); gap: .5rem; align-items: baseline;
  padding: .2rem .5rem; border-bottom: 1px solid var(--line);
}
ol.timeline li:last-child { border-bottom: 0; }
ol.timeline time { font-variant-numeric: tabular-nums; color: var(--muted); }
ol.timeline .tag { font-size: .75rem; font-weight: 600; text-align: center; border-radius: 999px; color: var(--idle); background: var(--idle-bg); }
ol.timeline .what { overflow-wrap: anywhere; }
.t-bad .tag { color: var(--bad); background: var(--bad-bg); }
.t-warn .tag { color: var(--warn); background: var(--warn-bg); }
.t-ok .tag { color: var(--ok); background: var(--ok-bg); }
section.logs { display: flex; flex-direction: column; gap: .4rem; min-width: 0; }
.logbar { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .6rem; }
.logbar h3 { margin: 0 auto 0 0 !important; }
.logbar label { display: inline-flex; align-items: center; gap: .3rem; font-size: .875rem; }
#log-search { width: 11rem; max-width: 100%; }
#log-info { font-size: .8rem; color: var(--muted); }
#log-lines {
  height: 45vh; min-height: 12rem; overflow: auto; padding: .35rem .5rem; border-radius: 6px;
  background: var(--code); font: 12px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
}
#log-lines .l, #log-lines .m { display: flex; gap: .6rem; }
#log-lines .t { flex: none; color: var(--muted); }
#log-lines .s { flex: none; color: var(--muted); }
#log-lines .x { white-space: pre-wrap; word-break: break-all; min-width: 0; }
#log-lines .err .x { color: var(--bad); }
#log-lines .m { color: var(--info); font-weight: 700; border-top: 1px dashed var(--line); margin-top: .15rem; }
#log-lines .m-exit { color: var(--bad); }
#log-lines .nomatch { display: none; }
#log-lines:empty::before { content: "No lines."; color: var(--muted); }

dialog {
  width: min(26rem, calc(100% - 2rem)); padding: 1rem 1.25rem; border: 1px solid var(--line);
  border-radius: 8px; background: var(--card); color: var(--fg);
}
dialog::backdrop { background: rgba(0, 0, 0, .45); }
dialog form { display: flex; flex-direction: column; gap: .5rem; }
dialog h2 { font-size: 1.05rem; margin: 0; }
dialog p { margin: 0; color: var(--muted); }
`;
