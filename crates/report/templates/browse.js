// The browse page of a set of dashboards: every feature with its label and statistics;
// typing filters by id or label, clicking a header sorts, a row opens its dashboard.
const body = document.querySelector("#list tbody");
const q = document.getElementById("q");
const count = document.getElementById("count");
let sortKey = DATA.sort || "feature_id", sortDesc = false;
const value = (f, k) => k === "label" ? (f.label || "") : k === "rate" ? f.stats.firing_rate : k === "feature_id" ? f.feature_id : f.stats[k];
function render() {
  const needle = q.value.trim().toLowerCase();
  const rows = DATA.features.filter((f) => !needle || String(f.feature_id) === needle || String(f.feature_id).startsWith(needle) || (f.label || "").toLowerCase().includes(needle));
  rows.sort((a, b) => { const x = value(a, sortKey), y = value(b, sortKey); const c = x < y ? -1 : x > y ? 1 : a.feature_id - b.feature_id; return sortDesc ? -c : c; });
  body.replaceChildren(...rows.map((f) => {
    const link = el("a", { href: DATA.href.replace("{id}", f.feature_id), text: String(f.feature_id) });
    const tr = el("tr", { "data-feature": f.feature_id, onclick: (ev) => { if (ev.target.tagName !== "A") location.href = link.href; } },
      el("td", { class: "num" }, link), el("td", { text: f.label || "" }),
      el("td", { class: "num", text: (100 * f.stats.firing_rate).toFixed(3) + "%" }), el("td", { class: "num", text: fmt(f.stats.max) }),
      el("td", { class: "num", text: fmt(f.stats.mean_nonzero) }));
    return tr;
  }));
  count.textContent = rows.length + " of " + DATA.features.length + " features";
}
document.querySelectorAll("#list th").forEach((th) => th.addEventListener("click", () => {
  const k = th.dataset.key;
  sortDesc = sortKey === k ? !sortDesc : k !== "feature_id" && k !== "label";
  sortKey = k;
  render();
}));
q.addEventListener("input", render);
render();
