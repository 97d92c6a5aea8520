// Two models' discoveries of the same prompts: the summary, and per prompt the rank
// correlation of the scores and the features gained and lost (hover a row for the whole text).
const D = DATA.drift;
const root = document.getElementById("drift");
const f3 = (x) => x === null || x === undefined ? "–" : Number(x).toFixed(3);
root.append(el("section", { class: "view" }, el("h2", { text: "Summary" }),
  el("p", { text: D.prompts.length + " prompts · Spearman mean " + f3(D.mean_spearman) + ", median " + f3(D.median_spearman) + " · B returns " + (100 * D.mean_overlap).toFixed(0) + "% of A's features on average" }),
  el("p", { class: "caption", text: "most gained: " + D.most_gained.slice(0, 10).map((c) => "#" + c.feature.feature_id + " (" + c.prompts + ")").join(", ") }),
  el("p", { class: "caption", text: "most lost: " + D.most_lost.slice(0, 10).map((c) => "#" + c.feature.feature_id + " (" + c.prompts + ")").join(", ") })));
const body = el("tbody");
for (const p of D.prompts) {
  const w = p.spearman === null ? 0 : Math.max(0, p.spearman) * 120;
  const bar = el("span", { class: "bar", style: "width:" + w.toFixed(0) + "px" });
  const row = el("tr", {}, el("td", { class: "num", text: f3(p.spearman) }), el("td", {}, bar), el("td", { class: "num", text: String(p.shared) }),
    el("td", { text: p.gained.slice(0, 6).map((k) => "#" + k.feature_id).join(" ") }), el("td", { text: p.lost.slice(0, 6).map((k) => "#" + k.feature_id).join(" ") }),
    el("td", { text: p.text.slice(0, 70) }));
  row.addEventListener("mousemove", (ev) => tip(ev, p.text.slice(0, 300) + "\nρ " + f3(p.spearman)));
  row.addEventListener("mouseleave", untip);
  body.append(row);
}
root.append(el("section", { class: "view" }, el("h2", { text: "Per prompt" }),
  el("table", {}, el("thead", {}, el("tr", {}, ...["ρ", "", "shared", "gained by B", "lost by B", "text"].map((h) => el("th", { text: h })))), body)));
