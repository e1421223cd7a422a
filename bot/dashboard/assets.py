"""The dashboard's stylesheet and script, shipped in the package (no CDN, no build
step: it works with no internet). The pages work without the script; it only makes
the rule tester answer as you type."""

from __future__ import annotations

CSS = """
:root { --bg: #ffffff; --fg: #1d2127; --muted: #5b6470; --line: #d9dde3; --accent: #2458d6; --ok: #1d7a3a;
        --bad: #b3261e; --card: #f5f7fa; --hit: #fff2a8; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121417; --fg: #e6e8eb; --muted: #9aa3ad; --line: #2c3138; --accent: #7aa2ff; --ok: #5fc27e;
          --bad: #ff8a80; --card: #1b1f24; --hit: #5a4d00; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg);
       color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .75rem 1rem;
         border-bottom: 1px solid var(--line); }
header strong { font-size: 1.1rem; margin-right: auto; }
nav a, header form button { color: var(--accent); text-decoration: none; padding: .25rem .4rem; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top;
         overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; font-size: .9rem; }
.muted { color: var(--muted); font-size: .9rem; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem;
        margin: .75rem 0; }
form.inline { display: inline; }
label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
input[type=text], input[type=url], input[type=search], input[type=date], select { width: 100%; padding: .5rem; font: inherit;
        color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: .375rem; }
button { font: inherit; padding: .45rem .9rem; border-radius: .375rem; border: 1px solid var(--accent);
         background: var(--accent); color: #fff; cursor: pointer; }
button.quiet { background: transparent; color: var(--accent); }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
mark { background: var(--hit); color: inherit; padding: 0 .1em; }
.bars { display: flex; gap: .25rem; align-items: flex-end; height: 6rem; }
.bars div { flex: 1; background: var(--accent); min-height: 2px; border-radius: 2px 2px 0 0; }
.stats { display: flex; flex-wrap: wrap; gap: 1rem; }
.stats .card { flex: 1 1 10rem; margin: 0; }
.stats b { display: block; font-size: 1.5rem; }
.error { color: var(--bad); white-space: pre-wrap; font-family: ui-monospace, monospace; }
ul.results { padding-left: 1.2rem; }
pre { overflow-x: auto; font-size: .85rem; white-space: pre; }
@media (max-width: 40rem) { th.wide, td.wide { display: none; } }
"""

TESTER_JS = """
(function () {
  var field = document.getElementById("rule");
  var out = document.getElementById("tester-results");
  if (!field || !out) return;
  var timer = null, asked = 0;
  function render(data) {
    out.textContent = "";
    var head = document.createElement("p");
    head.textContent = data.error ? data.error : data.summary;
    if (data.error) head.className = "error";
    out.appendChild(head);
    var list = document.createElement("ul");
    list.className = "results";
    (data.matches || []).forEach(function (m) {
      var li = document.createElement("li");
      m.title.forEach(function (piece) {
        if (piece[1]) { var mk = document.createElement("mark"); mk.textContent = piece[0]; li.appendChild(mk); }
        else li.appendChild(document.createTextNode(piece[0]));
      });
      var meta = document.createElement("div");
      meta.className = "muted";
      meta.textContent = m.feed + " · matched " + m.terms.join(", ");
      li.appendChild(meta);
      list.appendChild(li);
    });
    out.appendChild(list);
  }
  function ask() {
    var rule = field.value.trim(), mine = ++asked;
    if (!rule) { out.textContent = ""; return; }
    fetch("/api/test?rule=" + encodeURIComponent(rule), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) { if (mine === asked) render(data); })
      .catch(function () {});
  }
  field.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 200); });
  if (field.value) ask();
})();
"""
