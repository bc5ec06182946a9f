/**
 * The dashboard's style sheet: light and dark (prefers-color-scheme), one column on a phone, a
 * table-like grid from 760 px on; every status has a colour and a word and a symbol, so colour is
 * never the only sign.
 *
 * @module
 */

export const STYLE_CSS = `
:root {
  --bg: #f8fafc; --fg: #0f172a; --muted: #475569; --card: #ffffff; --line: #e2e8f0;
  --accent: #1d4ed8; --focus: #f59e0b; --code: #f1f5f9;
  --queued: #6b7280; --working: #1d4ed8; --completed: #15803d; --failed: #b91c1c;
  --cancelled: #92400e; --timed_out: #b45309; --interrupted: #7c3aed; --warn-bg: #fef3c7; --warn: #92400e;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: 15px; line-height: 1.45; color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0b1120; --fg: #e2e8f0; --muted: #94a3b8; --card: #111827; --line: #1f2937;
    --accent: #60a5fa; --focus: #fbbf24; --code: #0f172a;
    --queued: #9ca3af; --working: #60a5fa; --completed: #4ade80; --failed: #f87171;
    --cancelled: #fbbf24; --timed_out: #fb923c; --interrupted: #c4b5fd; --warn-bg: #422006; --warn: #fde68a;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: var(--card); padding: 6px; z-index: 9; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 12px;
  padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
.brand { display: flex; align-items: center; gap: 8px; font-weight: 700; color: var(--fg);
  text-decoration: none; font-size: 17px; }
.live { font-size: 13px; color: var(--muted); }
.live::before { content: "● "; color: var(--completed); }
.live.down::before { color: var(--failed); }
main:focus { outline: none; }
main { max-width: 1400px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 20px; margin: 8px 0 12px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
button, select, input { font: inherit; color: inherit; }
input, select { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 8px; min-width: 0; }
button { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 12px; cursor: pointer; }
button:hover { border-color: var(--accent); }
button.danger { border-color: var(--failed); color: var(--failed); }
button.primary { background: var(--accent); color: var(--bg); border-color: var(--accent); }
button:disabled { opacity: .5; cursor: default; }
.filters { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; margin-bottom: 10px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
.filters .wide { grid-column: 1 / -1; }
@media (min-width: 760px) { .filters { grid-template-columns: 2fr 1fr 1fr 1fr; } .filters .wide { grid-column: auto; } }
.summary { display: flex; justify-content: space-between; align-items: center; gap: 8px;
  color: var(--muted); font-size: 13px; margin: 6px 0; flex-wrap: wrap; }
.tasks { list-style: none; margin: 0; padding: 0; border: 1px solid var(--line); border-radius: 8px;
  background: var(--card); overflow: hidden; }
.row { display: grid; grid-template-columns: 1fr auto; gap: 4px 12px; padding: 10px 12px;
  border-top: 1px solid var(--line); align-items: center; }
.row:first-child { border-top: 0; }
.row .what { min-width: 0; grid-column: 1 / -1; }
.row .title { font-weight: 600; text-decoration: none; color: var(--fg); display: block;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .title:hover { text-decoration: underline; }
.row .cmd { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; color: var(--muted);
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .meta { font-size: 13px; color: var(--muted); display: flex; gap: 10px; flex-wrap: wrap; }
.row .bar { grid-column: 1 / -1; }
@media (min-width: 760px) {
  .row { grid-template-columns: 130px minmax(0, 1fr) 220px 150px; }
  .row .what { grid-column: auto; }
  .row .bar { grid-column: auto; }
  .row .meta { justify-content: flex-end; }
}
.status { display: inline-flex; align-items: center; gap: 5px; font-weight: 600; font-size: 13px;
  padding: 2px 8px; border-radius: 999px; border: 1.5px solid currentColor; white-space: nowrap; width: max-content; }
.status::before { font-weight: 700; }
.s-queued { color: var(--queued); } .s-queued::before { content: "◷"; }
.s-working { color: var(--working); } .s-working::before { content: "▶"; }
.s-completed { color: var(--completed); } .s-completed::before { content: "✓"; }
.s-failed { color: var(--failed); } .s-failed::before { content: "✗"; }
.s-cancelled { color: var(--cancelled); } .s-cancelled::before { content: "■"; }
.s-timed_out { color: var(--timed_out); } .s-timed_out::before { content: "⧗"; }
.s-interrupted { color: var(--interrupted); } .s-interrupted::before { content: "↯"; }
.progress { position: relative; height: 18px; border-radius: 4px; background: var(--line); overflow: hidden;
  font-size: 12px; }
.progress .fill { position: absolute; inset: 0 auto 0 0; background: var(--working); opacity: .35;
  transition: width .3s; }
.progress .text { position: relative; padding: 0 6px; line-height: 18px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; display: block; }
.warn { background: var(--warn-bg); color: var(--warn); border-radius: 4px; padding: 1px 6px; font-size: 12.5px;
  font-weight: 600; }
.empty { padding: 24px; text-align: center; color: var(--muted); }
.pager { display: flex; gap: 8px; justify-content: flex-end; margin-top: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin-bottom: 12px; }
.facts { display: grid; grid-template-columns: 1fr; gap: 2px 16px; margin: 0; }
.facts dt { font-size: 12px; color: var(--muted); margin-top: 6px; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
@media (min-width: 760px) { .facts { grid-template-columns: 160px 1fr; } .facts dt { margin-top: 0; } }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
pre.cmd { background: var(--code); padding: 8px; border-radius: 6px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.actions { display: flex; gap: 8px; margin-left: auto; }
.output-head { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; justify-content: space-between; margin-bottom: 6px; }
.output-head h2, .card h2 { font-size: 15px; margin: 0; }
pre.output { background: var(--code); border-radius: 6px; padding: 8px; margin: 0; height: 55vh; min-height: 200px;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12.5px; }
.note { color: var(--muted); font-size: 12.5px; font-style: italic; }
.grep { display: flex; gap: 8px; flex-wrap: wrap; margin: 8px 0; }
.grep input { flex: 1 1 200px; }
.matches { list-style: none; padding: 0; margin: 0; }
.matches li { border-top: 1px solid var(--line); padding: 4px 0; }
.matches pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.matches .hit { background: var(--warn-bg); color: var(--fg); }
.ln { color: var(--muted); user-select: none; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg);
  max-width: min(440px, 92vw); }
dialog::backdrop { background: rgb(0 0 0 / .45); }
dialog .buttons { display: flex; gap: 8px; justify-content: flex-end; margin-top: 12px; }
.error { color: var(--failed); font-weight: 600; }
.login { max-width: 460px; margin-top: 10vh; }
.login-form { display: flex; flex-direction: column; gap: 8px; }
.toast { position: fixed; bottom: 16px; left: 50%; transform: translateX(-50%); background: var(--fg); color: var(--bg);
  padding: 8px 14px; border-radius: 6px; max-width: 90vw; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;
