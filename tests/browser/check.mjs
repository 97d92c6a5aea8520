// Opens a saex page in Debian's headless chromium, fails on any console error or page error,
// runs the interactions of its kind, and saves a screenshot.
//
//   node tests/browser/check.mjs PAGE.html KIND SCREENSHOT.png
//
// Prints one JSON line of what it checked; exits 1 with a one-line reason otherwise.
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [page_path, kind, shot] = process.argv.slice(2);
if (!page_path || !kind || !shot) {
  console.error("usage: check.mjs PAGE.html KIND SCREENSHOT.png");
  process.exit(2);
}

const KINDS = {
  // Texts with a feature table each (discover, top-features, highlight).
  async texts(page, report) {
    const views = await page.locator("section.view").count();
    if (views < 1) throw new Error("no text view rendered");
    report.views = views;
    const view = page.locator("section.view").first();
    const toks = view.locator(".tok");
    report.tokens = await toks.count();
    if (report.tokens < 1) throw new Error("the first view has no tokens");
    const rows = view.locator("tbody tr");
    report.rows = await rows.count();
    if (report.rows < 1) throw new Error("the first view lists no feature");
    if (!(await rows.first().getAttribute("class") || "").includes("selected")) throw new Error("the first feature is not selected on load");
    const shading = async () => view.locator(".tok").evaluateAll((els) => els.map((e) => e.style.background || ""));
    const before = await shading();
    if (!before.some((b) => b !== "")) throw new Error("no token is shaded by the first feature");
    if (report.rows > 1) {
      await rows.nth(1).click();
      if (!(await rows.nth(1).getAttribute("class") || "").includes("selected")) throw new Error("clicking a feature row does not select it");
      const after = await shading();
      report.shading_changed = JSON.stringify(after) !== JSON.stringify(before);
      await rows.first().click();
    }
    // Hover the strongest token: the tooltip shows its values.
    const i = before.findIndex((b) => b !== "");
    await toks.nth(i).hover();
    const tip = page.locator("#tip");
    if (!(await tip.isVisible())) throw new Error("hovering a token shows no tooltip");
    const text = await tip.textContent();
    if (!/feature \d+: \d/.test(text)) throw new Error("the tooltip does not show the feature's value: " + JSON.stringify(text));
    report.tooltip = text.split("\n").slice(0, 2).join(" | ");
  },
  // A feature dashboard: histogram bars and example tokens show values on hover; the
  // quantile groups open.
  async dashboard(page, report) {
    const bars = page.locator("svg.hist rect.hbar");
    report.bars = await bars.count();
    if (report.bars < 1) throw new Error("the dashboard has no histogram bars");
    await bars.first().hover();
    const tip = page.locator("#tip");
    if (!(await tip.isVisible()) || !/tokens/.test(await tip.textContent())) throw new Error("hovering a histogram bar shows no count");
    const toks = page.locator(".examples .tok");
    report.examples = await page.locator(".example").count();
    if (report.examples < 1) throw new Error("the dashboard shows no example");
    const shaded = await toks.evaluateAll((els) => els.findIndex((e) => e.style.background !== ""));
    if (shaded < 0) throw new Error("no example token is shaded");
    await toks.nth(shaded).hover();
    if (!/activation \d/.test(await tip.textContent())) throw new Error("hovering an example token shows no activation");
    report.tooltip = (await tip.textContent()).split("\n").slice(0, 2).join(" | ");
    const groups = page.locator("details.quantile");
    report.quantile_groups = await groups.count();
    if (report.quantile_groups > 0) {
      await groups.first().locator("summary").click();
      if (!(await groups.first().locator(".example").first().isVisible())) throw new Error("opening a quantile group shows no example");
    }
  },
  // The exploration report: tables and both heatmaps render; hovering a heatmap cell shows
  // its text, feature and activation.
  async explore(page, report) {
    report.sections = await page.locator("section.view").count();
    if (report.sections < 4) throw new Error("the report has " + report.sections + " sections");
    const maps = page.locator("svg.heatmap");
    report.heatmaps = await maps.count();
    if (report.heatmaps !== 2) throw new Error("expected 2 heatmaps, found " + report.heatmaps);
    const cell = maps.nth(1).locator("rect.cell").first();
    await cell.scrollIntoViewIfNeeded();
    await cell.hover();
    const t = await page.locator("#tip").textContent();
    if (!/activation \d/.test(t)) throw new Error("hovering a heatmap cell shows no activation: " + JSON.stringify(t));
    report.tooltip = t.split("\n").join(" | ");
  },
  // The drift report: the summary and one row per prompt; hovering a row shows the text and ρ.
  async drift(page, report) {
    report.rows = await page.locator("#drift tbody tr").count();
    if (report.rows < 1) throw new Error("the drift report lists no prompt");
    await page.locator("#drift tbody tr").first().hover();
    const t = await page.locator("#tip").textContent();
    if (!/ρ /.test(t)) throw new Error("hovering a row shows no correlation: " + JSON.stringify(t));
    report.tooltip = t.split("\n").join(" | ");
  },
  // Seed 004's plots: two histograms and the scatter render; hovering a point shows its
  // moments and tokens; picking a type filters the table to that type.
  async logit_stats(page, report) {
    report.histograms = await page.locator("svg.hist").count();
    if (report.histograms !== 2) throw new Error("expected 2 histograms, found " + report.histograms);
    const points = page.locator("svg.scatter circle.point");
    report.points = await points.count();
    if (report.points < 1) throw new Error("the scatter has no point");
    await points.first().scrollIntoViewIfNeeded();
    await points.first().hover({ force: true });
    const t = await page.locator("#tip").textContent();
    if (!/skew .* kurtosis/.test(t)) throw new Error("hovering a point shows no moments: " + JSON.stringify(t));
    report.tooltip = t.split("\n").slice(0, 2).join(" | ");
    const type = await page.evaluate(() => DATA.report.features[0].type);
    await page.selectOption("#type", type);
    const shown = await page.locator("#features tbody tr").evaluateAll((rows) => rows.map((r) => r.children[1].textContent));
    if (!shown.length || shown.some((x) => x !== type.replace("_", " "))) throw new Error("filtering by " + type + " shows " + shown.slice(0, 5).join(","));
    report.filtered = shown.length;
  },
  // Seed 000's feature map: one dot per feature; hovering one shows its id (and, with groups,
  // its group and numbers); the filter box narrows the dots; a legend entry hides its group.
  async map(page, report) {
    const points = page.locator("svg.map circle.point");
    report.points = await points.count();
    const want = await page.evaluate(() => DATA.report.points.length);
    if (report.points !== want || want < 3) throw new Error("the map draws " + report.points + " of " + want + " points");
    const first = await page.evaluate(() => DATA.report.points[0]);
    const dot = page.locator('svg.map circle.point[data-feature="' + first.feature_id + '"]');
    await dot.scrollIntoViewIfNeeded();
    await dot.hover({ force: true });
    const tip = page.locator("#tip");
    if (!(await tip.isVisible())) throw new Error("hovering a point shows no tooltip");
    const t = await tip.textContent();
    if (!t.startsWith("Feature " + first.feature_id)) throw new Error("the tooltip does not name the feature: " + JSON.stringify(t));
    if (first.group !== null && !/Group: .*\n.*Act: .* Ratio: .* Fire: /s.test(t)) throw new Error("the tooltip lacks the group's numbers: " + JSON.stringify(t));
    report.tooltip = t.split("\n").slice(0, 3).join(" | ");
    const visible = async () => points.evaluateAll((els) => els.filter((e) => e.style.display !== "none").length);
    await page.fill("#q", String(first.feature_id));
    const shown = await visible();
    if (shown < 1 || shown >= report.points) throw new Error("filtering by " + first.feature_id + " shows " + shown + " points");
    await page.fill("#q", "");
    if ((await visible()) !== report.points) throw new Error("clearing the filter does not show every point");
    const keys = page.locator("#legend .key");
    report.groups = await keys.count();
    if (report.groups > 0) {
      await keys.first().click();
      const left = await visible();
      if (left >= report.points) throw new Error("hiding a group from the legend hides nothing");
      await keys.first().click();
      report.legend_hides = report.points - left;
    }
  },
  // The browse page: search by id and by label filters the list; a row opens its dashboard.
  async browse(page, report) {
    const rows = page.locator("#list tbody tr");
    report.rows = await rows.count();
    if (report.rows < 1) throw new Error("the browse page lists no feature");
    const id = await rows.nth(report.rows - 1).getAttribute("data-feature");
    await page.fill("#q", id);
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-feature")));
    if (!ids.includes(id) || ids.some((x) => !x.startsWith(id))) throw new Error("searching " + id + " gives " + ids.join(","));
    const label = await page.evaluate(() => (DATA.features.find((f) => f.label) || {}).label || null);
    if (label) {
      await page.fill("#q", label.slice(0, 6));
      const n = await rows.count();
      if (n < 1) throw new Error("searching a label finds nothing: " + label);
      report.label_search = n;
    }
    await page.fill("#q", id);
    await Promise.all([page.waitForURL(/features\/\d+\.html$/), rows.first().locator("a").click()]);
    await page.waitForLoadState("load");
    if ((await page.locator("section.view h2").count()) < 1) throw new Error("the dashboard it links to does not render");
    report.found = true;
  },
};

const check = KINDS[kind];
if (!check) {
  console.error("unknown kind " + kind + "; expected one of " + Object.keys(KINDS).join(", "));
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const requests = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push("console " + m.type() + ": " + m.text()); });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  await page.goto(pathToFileURL(page_path).href, { waitUntil: "load" });
  const report = { page: page_path, kind };
  await check(page, report);
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot, fullPage: false });
  if (requests.length) problems.push("the page made network requests: " + requests.slice(0, 3).join(", "));
  if (problems.length) throw new Error(problems.join("; "));
  report.screenshot = shot;
  console.log(JSON.stringify(report));
} catch (e) {
  console.error(page_path + ": " + (e && e.message ? e.message.split("\n")[0] : e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
