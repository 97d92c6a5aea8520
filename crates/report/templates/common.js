// Shared by every saex page: data from the JSON block, element building, token shading, the
// hover tooltip. No network, no libraries.
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}
function fmt(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d === undefined ? 3 : d); }
function shade(act, max) {
  if (!(act > 0) || !(max > 0)) return "";
  const a = Math.min(1, act / max);
  return "rgba(234, 88, 12, " + (0.12 + 0.78 * a).toFixed(3) + ")";
}
function visible(t) { return t.replace(/\n/g, "⏎\n").replace(/\t/g, "⇥"); }
function oneLine(t) { return t.replace(/\n/g, "⏎").replace(/\t/g, "⇥"); }
const TIP = document.getElementById("tip");
function tip(ev, text) {
  TIP.textContent = text;
  TIP.hidden = false;
  const x = Math.min(ev.clientX + 12, window.innerWidth - 370), y = ev.clientY + 14;
  TIP.style.left = x + "px";
  TIP.style.top = y + "px";
}
function untip() { TIP.hidden = true; }
