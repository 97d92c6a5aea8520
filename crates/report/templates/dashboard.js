// One feature's dashboard (as SAEDashboard / Neuronpedia show it): statistics, activation
// histogram, firings per category, top ± logit tokens, top examples and quantile groups with
// tokens shaded by activation (hover for values).
function examplesView(examples, max, title) {
  const box = el("div", { class: "examples" });
  if (title) box.append(el("h3", { text: title }));
  for (const e of examples) {
    const line = el("div", { class: "text example" });
    line.append(el("span", { class: "act", text: fmt(e.act, 2) + "  " }));
    e.tokens.forEach((t, i) => {
      const s = el("span", { class: "tok" + (i === e.peak ? " peak" : ""), text: oneLine(t) });
      s.style.background = shade(e.acts[i], max);
      s.addEventListener("mousemove", (ev) => tip(ev, JSON.stringify(t) + "\nactivation " + fmt(e.acts[i]) + "\ndoc " + e.doc + (e.category ? " (" + e.category + ")" : "") + ", token " + (e.position - e.peak + i)));
      s.addEventListener("mouseleave", untip);
      line.append(s);
    });
    box.append(line);
  }
  return box;
}
function histogram(bars) {
  const W = 520, H = 140, pad = 28;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + (H + 24)); svg.setAttribute("width", "100%"); svg.setAttribute("class", "hist"); svg.style.maxWidth = W + "px";
  if (!bars.length) return el("p", { class: "caption", text: "never fires on the indexed tokens" });
  const top = Math.max(...bars.map((b) => b.count));
  const bw = (W - pad) / bars.length;
  bars.forEach((b, i) => {
    const h = Math.max(1, (H - 10) * b.count / top);
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("x", pad + i * bw + 1); r.setAttribute("y", H - h); r.setAttribute("width", Math.max(1, bw - 2)); r.setAttribute("height", h);
    r.setAttribute("fill", "#ea580c"); r.setAttribute("class", "hbar");
    r.addEventListener("mousemove", (ev) => tip(ev, "activation " + fmt(b.lo, 3) + " – " + (b.hi === null ? "∞" : fmt(b.hi, 3)) + "\n" + b.count + " tokens"));
    r.addEventListener("mouseleave", untip);
    svg.append(r);
  });
  const label = (x, t, anchor) => {
    const e = document.createElementNS("http://www.w3.org/2000/svg", "text");
    e.setAttribute("x", x); e.setAttribute("y", H + 16); e.setAttribute("text-anchor", anchor); e.textContent = t;
    svg.append(e);
  };
  label(pad, fmt(bars[0].lo, 3), "start");
  label(W, bars[bars.length - 1].hi === null ? "∞" : fmt(bars[bars.length - 1].hi, 3), "end");
  return svg;
}
function categories(cats) {
  const box = el("div", {});
  const rate = (c) => c.tokens ? c.count / c.tokens : 0;
  const max = Math.max(1e-12, ...cats.map(rate));
  for (const c of [...cats].sort((a, b) => rate(b) - rate(a))) {
    const row = el("div", { class: "catrow" }, el("span", { class: "catname", text: c.category || "(none)" }),
      el("span", { class: "bar", style: "width:" + (120 * rate(c) / max).toFixed(1) + "px" }),
      el("span", { class: "caption", text: " " + (100 * rate(c)).toFixed(2) + "% (" + c.count + " of " + c.tokens + ")" }));
    box.append(row);
  }
  return box;
}
function logitList(items, title) {
  const t = el("table", { class: "logits" }, el("thead", {}, el("tr", {}, el("th", { text: title }), el("th", { class: "num", text: "weight" }))));
  const body = el("tbody");
  for (const x of items) body.append(el("tr", {}, el("td", { class: "mono", text: oneLine(x.token) }), el("td", { class: "num", text: fmt(x.value, 3) })));
  t.append(body);
  return t;
}
function renderFeature(r) {
  const d = el("section", { class: "view" });
  const title = el("h2", { text: "Feature " + r.feature_id + (r.label ? " — " + r.label : "") });
  d.append(title);
  const links = el("p", { class: "caption", text: r.sae_id + " · " });
  if (r.neuronpedia_url) links.append(el("a", { href: r.neuronpedia_url, target: "_blank", rel: "noopener", text: "Neuronpedia" }));
  d.append(links);
  const s = r.stats;
  d.append(el("p", { class: "statline", text: "density " + (100 * s.firing_rate).toFixed(3) + "% (" + s.firing_count + " of " + s.n_tokens + " tokens) · mean " + fmt(s.mean, 4) + " · mean when firing " + fmt(s.mean_nonzero) + " · P95 " + fmt(s.p95) + " · max " + fmt(s.max) }));
  const grid = el("div", { class: "grid" });
  grid.append(el("div", {}, el("h3", { text: "Activation histogram (nonzero, log-spaced)" }), histogram(r.histogram)));
  grid.append(el("div", {}, el("h3", { text: "Firing rate per corpus category" }), categories(r.categories)));
  if (r.logits) grid.append(el("div", { class: "logitbox" }, el("h3", { text: "Logit lens: W_dec · W_U" }), el("div", { class: "pair" }, logitList(r.logits.boosted, "boosted"), logitList(r.logits.suppressed, "suppressed"))));
  d.append(grid);
  d.append(examplesView(r.top, s.max, "Top activations"));
  for (const g of [...r.quantiles].reverse()) {
    const det = el("details", { class: "quantile" }, el("summary", { text: "Quantile group " + (g.bin + 1) + " of " + r.quantiles.length + ": activations " + fmt(g.lo) + " – " + fmt(g.hi) }));
    det.append(examplesView(g.examples, s.max, null));
    d.append(det);
  }
  return d;
}
const dash = document.getElementById("dash");
for (const r of DATA.features) dash.append(renderFeature(r));
