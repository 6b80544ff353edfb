/**
 * The evaluation report page: an eval-lfw `--out` folder inside the runs folder
 * (`/report?dir=<run>/<eval>`): accuracy per fold, the ROC (eval-lfw's roc.svg), threshold,
 * TAR@FAR, and the worst pairs from review.json with both aligned faces side by side, paged.
 * Without `dir`, the list of reports found in the run folders.
 */
import { $, apiJson, showMessage } from "./page_util.ts";

interface ReviewPair {
  a: string;
  b: string;
  same: boolean;
  cosine: number | null;
  fold: number;
}
interface Review {
  threshold: { distance: number; cosine: number };
  foldAccuracy: number[];
  pairs: ReviewPair[];
  falseAccepts: number[];
  falseRejects: number[];
  faces: Record<string, string>;
}
interface ReportJson {
  label: string;
  counts: { pairs: number; counted: number };
  result: {
    accuracyMean: number;
    accuracyStd: number;
    foldAccuracy: number[];
    bestThreshold: number;
    auc: number;
    eer: number;
    farTarget: number;
    tar: { mean: number; std: number; far: number };
    tarAtFarExact: number;
  };
}

const PAGE = 10;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const fileUrl = (dir: string, name: string) =>
  `/files/${[...dir.split("/"), ...name.split("/")].map(encodeURIComponent).join("/")}`;

function row(table: HTMLElement, cells: string[], th = false): void {
  const tr = table.appendChild(document.createElement("tr"));
  for (const c of cells) tr.appendChild(document.createElement(th ? "th" : "td")).textContent = c;
}

async function listReports(): Promise<void> {
  const runs = await apiJson<{ name: string; reports: string[] }[]>("/api/runs");
  const all = runs.flatMap((r) => r.reports);
  $("#reports").replaceChildren(...all.map((d) => {
    const li = document.createElement("li");
    const a = li.appendChild(document.createElement("a"));
    a.href = `/report?dir=${encodeURIComponent(d)}`;
    a.textContent = d;
    return li;
  }));
  if (all.length === 0) {
    showMessage(
      "#message",
      "note",
      "No reports yet: deno task eval-lfw ... --out runs/<run>/eval writes one into a run folder.",
    );
  }
}

function facePicture(dir: string, review: Review, key: string): HTMLElement {
  const name = review.faces[key];
  if (!name) {
    const d = document.createElement("div");
    d.className = "noimg";
    d.textContent = "no picture";
    return d;
  }
  const img = document.createElement("img");
  img.src = fileUrl(dir, name);
  img.alt = key;
  return img;
}

function showPairs(
  dir: string,
  review: Review,
  kind: "falseAccepts" | "falseRejects",
  page: number,
) {
  const list = review[kind];
  const pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(Math.max(0, page), pages - 1);
  $("#page").textContent = `page ${page + 1} of ${pages} (${list.length} ${
    kind === "falseAccepts" ? "false accepts" : "false rejects"
  })`;
  const box = $("#pairs");
  box.dataset.page = String(page);
  box.replaceChildren(
    ...list.slice(page * PAGE, (page + 1) * PAGE).map((i) => {
      const p = review.pairs[i];
      const div = document.createElement("div");
      div.className = "pair";
      div.dataset.index = String(i);
      const info = document.createElement("div");
      info.innerHTML = `<b>pair ${i + 1}</b> (fold ${p.fold + 1}, ${
        p.same ? "same person" : "different people"
      })<br>cosine <b class="cos">${p.cosine!.toFixed(4)}</b>, threshold ${
        review.threshold.cosine.toFixed(4)
      }`;
      const names = document.createElement("div");
      names.textContent = `${p.a} | ${p.b}`;
      info.appendChild(names);
      div.append(facePicture(dir, review, p.a), facePicture(dir, review, p.b), info);
      return div;
    }),
  );
  if (list.length === 0) box.textContent = "None at this threshold.";
  return page;
}

async function showReport(dir: string): Promise<void> {
  const { report, review } = await apiJson<{ report: ReportJson; review: Review | null }>(
    `/api/report?dir=${encodeURIComponent(dir)}`,
  );
  const r = report.result;
  $("#title").textContent = `${report.label}: ${dir}`;
  $("#report").hidden = false;
  const summary = $("#summary");
  row(summary, ["accuracy", `${pct(r.accuracyMean)} +- ${pct(r.accuracyStd)}`]);
  row(summary, ["pairs counted", `${report.counts.counted} of ${report.counts.pairs}`]);
  row(summary, [
    "threshold (all pairs)",
    `squared L2 ${r.bestThreshold.toFixed(2)} = cosine ${(1 - r.bestThreshold / 2).toFixed(4)}`,
  ]);
  row(summary, [
    `TAR@FAR=${r.farTarget}`,
    `${pct(r.tar.mean)} +- ${pct(r.tar.std)} (exact ROC ${pct(r.tarAtFarExact)})`,
  ]);
  row(summary, ["AUC / EER", `${r.auc.toFixed(4)} / ${pct(r.eer)}`]);
  const folds = $("#folds");
  row(folds, ["fold", ...r.foldAccuracy.map((_, i) => String(i + 1))], true);
  row(folds, ["accuracy", ...r.foldAccuracy.map(pct)]);
  ($("#roc") as HTMLImageElement).src = fileUrl(dir, "roc.svg");
  if (!review) {
    showMessage("#message", "note", "This report has no review.json (made by an older eval-lfw).");
    return;
  }
  let kind: "falseAccepts" | "falseRejects" = "falseAccepts", page = 0;
  const draw = () => page = showPairs(dir, review, kind, page);
  for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=kind]")) {
    radio.onchange = () => {
      kind = radio.value as typeof kind;
      page = 0;
      draw();
    };
  }
  $("#prev").onclick = () => (page--, draw());
  $("#next").onclick = () => (page++, draw());
  draw();
}

try {
  const dir = new URLSearchParams(location.search).get("dir");
  if (dir) await showReport(dir);
  else await listReports();
} catch (e) {
  showMessage("#message", "error", (e as Error).message);
}
