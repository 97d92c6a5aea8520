// Seed 004's plots of the logit-weight distributions: the skewness histogram, the kurtosis
// histogram (log10, as the seed draws it), skewness against kurtosis coloured by type with
// hover, and a table filterable by type.
const R = DATA.report;
const root = document.getElementById("logits");
const TYPES = ["local_context", "partition", "prediction", "suppression", "unclassified"];
const colour = (t) => t === "unclassified" ? "#9ca3af" : PALETTE[TYPES.indexOf(t)];
const toks = (v, n) => v.slice(0, n).map((t) => JSON.stringify(t.token)).join(" ");
const describe = (f) => "#" + f.feature_id + (f.label ? " — " + f.label : "") + "\n" + f.type.replace("_", " ") +
  " · skew " + fmt(f.skewness, 2) + " · kurtosis " + fmt(f.kurtosis, 1) + " · std " + fmt(f.std, 4) + " (" + fmt(f.std_ratio, 2) + "× median)" +
  "\n+ " + toks(f.boosted, 6) + "\n− " + toks(f.suppressed, 6);

function histogram(values, title, axis) {
  const W = 560, H = 150, pad = 34, n = 40;
  const fin = values.filter(Number.isFinite);
  const lo = Math.min(...fin), hi = Math.max(...fin), w = (hi - lo) / n || 1;
  const counts = new Array(n).fill(0);
  for (const v of fin) counts[Math.min(n - 1, Math.floor((v - lo) / w))]++;
  const top = Math.max(...counts);
  const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + (H + 30), width: "100%", class: "hist" });
  svg.style.maxWidth = W + "px";
  const bw = (W - pad) / n;
  counts.forEach((c, i) => {
    const h = c ? Math.max(1, (H - 10) * c / top) : 0;
    const r = svgEl("rect", { x: pad + i * bw + 0.5, y: H - h, width: Math.max(1, bw - 1), height: h, fill: "#2563eb", class: "hbar" });
    r.addEventListener("mousemove", (ev) => tip(ev, axis + " " + fmt(lo + i * w, 2) + " – " + fmt(lo + (i + 1) * w, 2) + "\n" + c + " features"));
    r.addEventListener("mouseleave", untip);
    svg.append(r);
  });
  svg.append(svgEl("text", { x: pad, y: H + 16, "text-anchor": "start", text: fmt(lo, 2) }));
  svg.append(svgEl("text", { x: W, y: H + 16, "text-anchor": "end", text: fmt(hi, 2) }));
  svg.append(svgEl("text", { x: (W + pad) / 2, y: H + 28, "text-anchor": "middle", text: axis }));
  svg.append(svgEl("text", { x: 0, y: 12, text: String(top) }));
  return el("section", { class: "view" }, el("h2", { text: title }), svg);
}

function scatter(features) {
  const W = 760, H = 420, padL = 48, padB = 36;
  const xs = features.map((f) => f.skewness), ys = features.map((f) => Math.log10(Math.max(f.kurtosis, 1e-9)));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => padL + (W - padL - 10) * (x - x0) / ((x1 - x0) || 1);
  const sy = (y) => H - padB - (H - padB - 10) * (y - y0) / ((y1 - y0) || 1);
  const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", class: "scatter" });
  svg.style.maxWidth = W + "px";
  svg.append(svgEl("line", { x1: padL, y1: H - padB, x2: W - 10, y2: H - padB, stroke: "#9ca3af" }));
  svg.append(svgEl("line", { x1: padL, y1: 10, x2: padL, y2: H - padB, stroke: "#9ca3af" }));
  for (const [x, t, a] of [[padL, fmt(x0, 1), "start"], [W - 10, fmt(x1, 1), "end"], [(W + padL) / 2, "skewness", "middle"]]) svg.append(svgEl("text", { x, y: H - 12, "text-anchor": a, text: t }));
  for (const [y, t] of [[H - padB, fmt(Math.pow(10, y0), 1)], [16, fmt(Math.pow(10, y1), 1)], [(H - padB) / 2, "kurtosis (log)"]]) svg.append(svgEl("text", { x: 2, y, text: t }));
  features.forEach((f, i) => {
    const c = svgEl("circle", { cx: sx(xs[i]).toFixed(1), cy: sy(ys[i]).toFixed(1), r: 3, fill: colour(f.type), "fill-opacity": 0.7, class: "point", "data-feature": f.feature_id });
    c.addEventListener("mousemove", (ev) => tip(ev, describe(f)));
    c.addEventListener("mouseleave", untip);
    c.addEventListener("click", () => show(f.type, f.feature_id));
    svg.append(c);
  });
  const legend = el("p", { class: "legend" }, ...TYPES.map((t) => el("span", {}, el("span", { class: "swatch", style: "background:" + colour(t) }), " " + t.replace("_", " ") + "  ")));
  return el("section", { class: "view" }, el("h2", { text: "Skewness vs kurtosis" }), legend, svg,
    el("p", { class: "caption", text: "Each dot a feature; hover for its top tokens, click to list its type below." }));
}

const body = el("tbody");
const pick = el("select", { id: "type" }, el("option", { value: "", text: "all types" }), ...TYPES.map((t) => el("option", { value: t, text: t.replace("_", " ") })));
function show(type, focus) {
  pick.value = type;
  body.replaceChildren();
  for (const f of R.features) {
    if (type && f.type !== type) continue;
    const row = el("tr", { "data-feature": f.feature_id, class: f.feature_id === focus ? "focus" : "" }, el("td", { class: "num", text: String(f.feature_id) }),
      el("td", { text: f.type.replace("_", " ") }), el("td", { class: "num", text: fmt(f.std_ratio, 2) }), el("td", { class: "num", text: fmt(f.skewness, 2) }),
      el("td", { class: "num", text: fmt(f.kurtosis, 1) }), el("td", { text: toks(f.boosted, 5) }), el("td", { text: toks(f.suppressed, 5) }), el("td", { text: f.label || "" }));
    body.append(row);
  }
  const row = body.querySelector("tr.focus");
  if (row) row.scrollIntoView({ block: "center" });
}
pick.addEventListener("change", () => show(pick.value));

const T = R.thresholds;
root.append(el("section", { class: "view" }, el("h2", { text: "Summary" }),
  el("p", { text: R.features.length + " features · W_U " + R.unembed + " · vocabulary " + R.vocab + " · median std " + fmt(R.median_std, 4) }),
  el("p", { text: R.types.map((t) => t.type.replace("_", " ") + " " + t.count).join(" · ") }),
  el("p", { class: "caption", text: "local context: kurtosis ≥ " + T.high_kurtosis + " and std < " + T.low_std + "× median · suppression: skew ≤ " + T.negative_skew +
    " and kurtosis < " + T.low_kurtosis + " · partition: std ≥ " + T.high_std + "× median, skew > " + T.right_skew + ", kurtosis < " + T.low_kurtosis +
    " · prediction: skew ≥ " + T.high_skew + " and std between " + T.low_std + " and " + T.high_std + "× median (first match wins)" })));
root.append(histogram(R.features.map((f) => f.skewness), "Skewness of the logit-weight distributions", "skewness"));
root.append(histogram(R.features.map((f) => Math.log10(Math.max(f.kurtosis, 1e-9))), "Kurtosis of the logit-weight distributions (log10)", "log10 kurtosis"));
root.append(scatter(R.features));
root.append(el("section", { class: "view" }, el("h2", { text: "Features" }), el("p", {}, pick),
  el("table", { id: "features" }, el("thead", {}, el("tr", {}, ...["feature", "type", "std/median", "skew", "kurtosis", "boosted", "suppressed", "label"].map((h) => el("th", { text: h })))), body)));
show("");
