// Texts with a feature table each: clicking a feature shades the text's tokens by its
// activation; hovering a token shows its activation and the token's strongest listed
// features.
function renderView(view, vi) {
  const section = el("section", { class: "view", id: "view-" + vi });
  if (view.title) section.append(el("h2", { text: view.title }));
  for (const n of view.notes || []) section.append(el("p", { class: "caption", text: n }));
  const caption = el("p", { class: "caption" });
  const text = el("div", { class: "text", "data-view": vi });
  const spans = view.tokens.map((t, i) => {
    const s = el("span", { class: "tok", "data-pos": i, text: visible(t) });
    s.addEventListener("mousemove", (ev) => hover(ev, view, i, t));
    s.addEventListener("mouseleave", untip);
    return s;
  });
  spans.forEach((s, i) => {
    if (view.boundary !== null && view.boundary !== undefined && i === view.boundary) {
      text.append(el("span", { class: "boundary", title: "the model's continuation starts here", text: "▶" }));
    }
    text.append(s);
  });
  const head = el("tr", {}, el("th", { class: "num", text: "#" }), ...view.columns.map((c) => el("th", { class: c.num ? "num" : "", title: c.help || "", text: c.name })), el("th", { text: "label" }));
  const body = el("tbody");
  const rows = view.features.map((f, fi) => {
    const label = f.url ? el("a", { href: f.url, text: f.label || "Neuronpedia", target: "_blank", rel: "noopener" }) : (f.label || "");
    const r = el("tr", { "data-feature": f.id, onclick: () => select(fi) }, el("td", { class: "num", text: String(fi + 1) }),
      ...f.cells.map((c, ci) => el("td", { class: view.columns[ci].num ? "num" : "", text: c })), el("td", {}, label));
    body.append(r);
    return r;
  });
  if (view.legend) section.append(el("p", { class: "legend", text: view.legend }));
  section.append(el("table", {}, el("thead", {}, head), body), caption, text);
  function select(fi) {
    rows.forEach((r, i) => r.classList.toggle("selected", i === fi));
    const f = view.features[fi];
    const max = Math.max(0, ...f.acts);
    spans.forEach((s, i) => { s.style.background = shade(f.acts[i], max); });
    caption.textContent = "Tokens shaded by feature " + f.id + (f.label ? " — " + f.label : "") + " (max " + fmt(max) + "). Click another row to switch; hover a token for values.";
    view.selected = fi;
  }
  if (view.features.length) select(0);
  else caption.textContent = "No feature to show.";
  return section;
}
function hover(ev, view, i, t) {
  let lines = ["token " + i + ": " + JSON.stringify(t)];
  if (view.features.length) {
    const f = view.features[view.selected || 0];
    lines.push("feature " + f.id + ": " + fmt(f.acts[i]));
    const here = view.features.map((g) => [g.acts[i], g.id]).filter((x) => x[0] > 0).sort((a, b) => b[0] - a[0]).slice(0, 3);
    if (here.length) lines.push("strongest here: " + here.map((x) => x[1] + " (" + fmt(x[0], 2) + ")").join(", "));
  }
  tip(ev, lines.join("\n"));
}
const views = document.getElementById("views");
DATA.views.forEach((v, i) => views.append(renderView(v, i)));
