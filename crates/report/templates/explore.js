// Seed 001's exploration as one page: the ranked lists, each category's specialists,
// co-activation, and the two heatmaps (hover a cell for its text, feature and value).
const R = DATA.report, E = R.exploration;
const root = document.getElementById("explore");
const lab = (f) => R.labels[f] ? " — " + R.labels[f] : "";
const link = (f) => R.neuronpedia_id ? el("a", { href: "https://www.neuronpedia.org/" + R.neuronpedia_id + "/" + f, target: "_blank", rel: "noopener", text: "#" + f }) : "#" + f;
function table(head, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { class: h.num ? "num" : "", text: h.name })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => el("td", { class: head[i].num ? "num" : "" }, c))))));
}
function section(title, ...kids) { const s = el("section", { class: "view" }, el("h2", { text: title })); kids.forEach((k) => s.append(k)); root.append(s); }
const ranked = (list, what, fmtv) => table([{ name: "feature" }, { name: what, num: true }, { name: "label" }],
  list.slice(0, 10).map((r) => [link(r.feature_id), fmtv(r.value), R.labels[r.feature_id] || ""]));
section("Interesting features (" + E.n_texts + " texts, one vector each: " + R.reduce + ")",
  el("div", { class: "grid" },
    el("div", {}, el("h3", { text: "Most frequent (texts active)" }), ranked(E.frequent, "texts", (v) => v + "/" + E.n_texts)),
    el("div", {}, el("h3", { text: "Strongest (max activation)" }), ranked(E.strongest, "max", (v) => fmt(v, 2))),
    el("div", {}, el("h3", { text: "Most selective (fewest texts > " + E.strong + ")" }), ranked(E.selective, "strong texts", (v) => v + "/" + E.n_texts))));
for (const d of E.details) {
  section(d.role + ": feature " + d.feature_id + lab(d.feature_id),
    el("p", { class: "caption", text: "active in " + d.active + "/" + E.n_texts + " texts · strong in " + d.strong + " · mean when active " + fmt(d.mean_when_active) + " · max " + fmt(d.max) }),
    table([{ name: "text" }, { name: "category" }, { name: "activation", num: true }], d.top_texts.map((t) => [R.texts[t.text].text, R.texts[t.text].category, fmt(t.act)])));
}
const cats = el("div", {});
for (const c of E.categories) {
  const verdict = c.specialist === null ? "no feature is stronger inside than outside" : (c.true_specialist ? "✓ true specialist: #" + c.specialist : "✗ no true specialist (best score 0)");
  cats.append(el("h3", { text: (c.category || "(none)") + " (" + c.texts + " texts): " + verdict }),
    table([{ name: "feature" }, { name: "max", num: true }, { name: "strong inside", num: true }, { name: "strong outside", num: true }, { name: "score", num: true }, { name: "label" }],
      c.top.map((x) => [link(x.feature_id), fmt(x.max, 2), x.strong_inside + "/" + c.texts, x.strong_outside + "/" + (E.n_texts - c.texts), String(x.specialist_score), R.labels[x.feature_id] || ""])),
    el("p", { class: "caption", text: "most common (texts active): " + c.most_common.map((m) => "#" + m.feature_id + " " + m.value + "/" + c.texts).join(", ") }));
}
const best = E.best_specialist ? "Best specialist overall: #" + E.best_specialist[1] + " for " + E.best_specialist[0] + " (score " + E.best_specialist[2] + ")" + lab(E.best_specialist[1]) : "No feature is a true specialist of any category.";
section("Specialists per category (strong = activation > " + E.strong + "; score = strong inside − strong outside)", el("p", { text: best }), cats);
function heatmap(h, title, cellW, cellH, rowLabelW) {
  const W = rowLabelW + h.columns.length * cellW, H = 20 + h.rows.length * cellH;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("width", "100%"); svg.setAttribute("class", "heatmap");
  svg.style.maxWidth = W + "px";
  const max = Math.max(1e-9, ...h.z.flat());
  h.z.forEach((row, i) => {
    const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
    t.setAttribute("x", rowLabelW - 4); t.setAttribute("y", 20 + i * cellH + cellH * 0.75); t.setAttribute("text-anchor", "end"); t.textContent = h.rows[i].slice(0, 44);
    svg.append(t);
    row.forEach((v, j) => {
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("x", rowLabelW + j * cellW); r.setAttribute("y", 20 + i * cellH); r.setAttribute("width", cellW - 1); r.setAttribute("height", cellH - 1);
      r.setAttribute("fill", v > 0 ? shade(v, max) : "#f3f4f6"); r.setAttribute("class", "cell");
      r.addEventListener("mousemove", (ev) => tip(ev, h.rows[i] + "\n" + h.columns[j] + "\nactivation " + fmt(v, 2)));
      r.addEventListener("mouseleave", untip);
      svg.append(r);
    });
  });
  h.columns.forEach((c, j) => {
    if (h.columns.length > 20) return;
    const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
    t.setAttribute("x", rowLabelW + j * cellW + 2); t.setAttribute("y", 14); t.textContent = c.slice(0, 8);
    svg.append(t);
  });
  return el("div", {}, el("h3", { text: title }), svg);
}
section("Heatmaps (hover a cell)",
  heatmap(E.heatmap_frequent, "The 10 most frequent features × texts", 34, 14, 230),
  heatmap(E.heatmap_features, "Strongest, frequent, selective and specialists × texts (grouped by category)", 12, 18, 230));
const co = E.cooccurrence;
section("Co-activation of the 10 most frequent features (texts active together; Jaccard)",
  table([{ name: "" }, ...co.features.map((f) => ({ name: "#" + f, num: true }))],
    co.features.map((f, i) => [link(f), ...co.counts[i].map((c, j) => c + " (" + fmt(co.jaccard[i][j], 2) + ")")])));
