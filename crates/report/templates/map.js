// Seed 000's feature map: each decoder row a dot at its 2-D coordinates, coloured by its
// preferred group; hovering shows what the seed's hover shows (id, label, group, activation,
// ratio, firing rate); the filter box and the legend hide the rest.
const R = DATA.report;
const root = document.getElementById("map");
// Without groups every dot is blue; with groups, features silent in every group are grey.
const groupColour = (g) => g === null ? (R.groups.length ? "#9ca3af" : "#2563eb") : PALETTE[R.groups.indexOf(g) % PALETTE.length];
const hidden = new Set();
const pct = (x) => x === null || x === undefined ? "–" : (100 * x).toFixed(x < 0.01 ? 2 : 0) + "%";

function describe(p) {
  const lines = ["Feature " + p.feature_id + (p.label ? " — " + p.label : "")];
  if (R.groups.length && p.group === null) lines.push("Silent in every group");
  if (p.group !== null) {
    lines.push("Group: " + p.group);
    lines.push("Act: " + fmt(p.activation, 4) + " · Ratio: " + (p.ratio === null ? "∞" : fmt(p.ratio, 1) + "x") + " · Fire: " + pct(p.firing_rate));
  }
  if (p.corpus_firing_rate !== null) lines.push("Corpus: fires on " + pct(p.corpus_firing_rate) + " of tokens · max " + fmt(p.corpus_max, 3));
  lines.push("(" + fmt(p.x, 2) + ", " + fmt(p.y, 2) + ")");
  return lines.join("\n");
}

const W = 900, H = 640, pad = 12;
const xs = R.points.map((p) => p.x), ys = R.points.map((p) => p.y);
const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
const sx = (x) => pad + (W - 2 * pad) * (x - x0) / ((x1 - x0) || 1);
const sy = (y) => H - pad - (H - 2 * pad) * (y - y0) / ((y1 - y0) || 1);
const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", class: "scatter map" });
svg.style.maxWidth = W + "px";
svg.append(svgEl("rect", { x: 0.5, y: 0.5, width: W - 1, height: H - 1, fill: "none", stroke: "#d9dee3" }));
const dots = R.points.map((p) => {
  const c = svgEl("circle", { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3.5, fill: groupColour(p.group), "fill-opacity": 0.75,
    stroke: "#fff", "stroke-width": 0.5, class: "point", "data-feature": p.feature_id });
  c.addEventListener("mousemove", (ev) => tip(ev, describe(p)));
  c.addEventListener("mouseleave", untip);
  svg.append(c);
  return c;
});

const q = el("input", { type: "search", id: "q", placeholder: "filter: feature id, label or group" });
const count = el("span", { class: "caption", id: "count" });
function apply() {
  const needle = q.value.trim().toLowerCase();
  let shown = 0;
  R.points.forEach((p, i) => {
    const match = !needle || String(p.feature_id) === needle || (p.label || "").toLowerCase().includes(needle) || (p.group || "").toLowerCase().includes(needle);
    const on = match && !hidden.has(p.group);
    dots[i].style.display = on ? "" : "none";
    if (on) shown++;
  });
  count.textContent = " " + shown + " of " + R.points.length + " features shown";
}
q.addEventListener("input", apply);

const legend = el("p", { class: "legend", id: "legend" });
const silent = R.points.filter((p) => p.group === null).length;
for (const g of R.groups.concat(R.groups.length && silent ? [null] : [])) {
  const n = R.points.filter((p) => p.group === g).length;
  const item = el("span", { class: "key", "data-group": g === null ? "" : g, title: "click to hide or show" },
    el("span", { class: "swatch", style: "background:" + groupColour(g) }), " " + (g === null ? "silent in every group" : g) + " (" + n + ")  ");
  item.addEventListener("click", () => {
    if (hidden.has(g)) hidden.delete(g); else hidden.add(g);
    item.classList.toggle("off", hidden.has(g));
    apply();
  });
  legend.append(item);
}

const method = R.method === "umap" ? "UMAP (cosine, n_neighbors " + R.n_neighbors + ", min_dist " + R.min_dist + ", seed " + R.seed + ")"
  : "PCA (PC1 " + pct(R.explained[0]) + ", PC2 " + pct(R.explained[1]) + " of the variance)";
root.append(el("section", { class: "view" }, el("h2", { text: "Feature decoder map — " + R.points.length + " features" }),
  el("p", { text: method + " of " + R.d_in + "-dimensional decoder rows · trustworthiness " + fmt(R.trustworthiness, 4) + " (k " + R.trustworthiness_k + ")" }),
  el("p", { class: "caption", text: "Features: " + R.selection + "." }),
  el("p", {}, q, count), R.groups.length ? legend : null, svg,
  el("p", { class: "caption", text: "Each dot a feature's decoder direction; nearby dots write similar directions. Hover for details." })));
apply();
