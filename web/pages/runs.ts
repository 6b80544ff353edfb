/**
 * The runs page: the run folders with their state, and the selected run's curves, redrawn from
 * server-sent events as its log.jsonl grows (web/server/follow_log.ts draws them with the
 * trainer's own plot code).
 */
import { $, apiJson, showMessage } from "./page_util.ts";

interface RunRow {
  name: string;
  state: string;
  reason: string;
  config: {
    network?: { kind?: string; arch?: string; depth?: number; width?: number };
    steps?: number;
  } | null;
  step: number;
  hasExport: boolean;
  reports: string[];
  checkpoints: string[];
}

let events: EventSource | null = null;
let selected = new URLSearchParams(location.search).get("run");

function networkName(c: RunRow["config"]): string {
  const n = c?.network;
  if (!n) return "";
  // run.json's network: `{ kind: "iresnet" | "mobilefacenet", ... }` (model/nets/network.ts);
  // older runs: IR-ResNet fields with an optional `arch` ("mbf", "mbf-large"), or `depth: 0`.
  const mbf = n.kind === "mobilefacenet" || n.arch?.startsWith("mbf") || n.depth === 0;
  if (mbf) return n.arch === "mbf-large" ? "MobileFaceNet-large" : "MobileFaceNet";
  return `IR-ResNet-${n.depth} x${n.width ?? 1}`;
}

function renderRuns(runs: RunRow[]): void {
  const body = $("#runs tbody");
  body.replaceChildren(...runs.map((r) => {
    const tr = document.createElement("tr");
    tr.className = "run" + (r.name === selected ? " selected" : "");
    tr.dataset.run = r.name;
    const cells = [
      r.name,
      "",
      `${r.step}${r.config?.steps ? ` / ${r.config.steps}` : ""}`,
      networkName(r.config),
      r.hasExport ? "model.json" : "",
      "",
    ];
    for (const c of cells) tr.appendChild(document.createElement("td")).textContent = c;
    const st = tr.children[1].appendChild(document.createElement("span"));
    st.className = `state state-${r.state}`;
    st.textContent = r.state;
    st.title = r.reason;
    for (const [k, rep] of r.reports.entries()) {
      if (k > 0) tr.children[5].append(", ");
      const a = tr.children[5].appendChild(document.createElement("a"));
      a.href = `/report?dir=${encodeURIComponent(rep)}`;
      a.textContent = rep.split("/").pop()!;
      a.onclick = (e) => e.stopPropagation();
    }
    tr.onclick = () => select(r.name);
    return tr;
  }));
  if (runs.length === 0) {
    showMessage(
      "#message",
      "note",
      "No run folders here yet: train one with `deno task train`, or start serve with --runs DIR.",
    );
  }
}

async function refresh(): Promise<RunRow[]> {
  const runs = await apiJson<RunRow[]>("/api/runs");
  renderRuns(runs);
  const sel = runs.find((r) => r.name === selected);
  if (sel) $("#run-status").textContent = `${sel.state}: ${sel.reason}`;
  return runs;
}

async function select(name: string): Promise<void> {
  selected = name;
  history.replaceState(null, "", `?run=${encodeURIComponent(name)}`);
  for (const tr of document.querySelectorAll<HTMLElement>("tr.run")) {
    tr.classList.toggle("selected", tr.dataset.run === name);
  }
  $("#run-title").textContent = name;
  const info = await apiJson<RunRow>(`/api/runs/${encodeURIComponent(name)}`);
  $("#config").textContent = JSON.stringify(info.config, null, 2);
  $("#checkpoints").replaceChildren(...info.checkpoints.map((c) => {
    const a = document.createElement("a");
    a.href = `/files/${encodeURIComponent(name)}/checkpoints/${encodeURIComponent(c)}?download=1`;
    a.download = c;
    a.textContent = c;
    return a;
  }));
  $("#run-status").textContent = `${info.state}: ${info.reason}`;
  events?.close();
  events = new EventSource(`/api/runs/${encodeURIComponent(name)}/events`);
  const curves = $("#curves");
  events.addEventListener("curves", (e) => {
    curves.innerHTML = JSON.parse((e as MessageEvent).data); // SVG from trainPlotSvg (escaped)
  });
  events.addEventListener("step", (e) => {
    const d = JSON.parse((e as MessageEvent).data);
    curves.dataset.step = String(d.step);
    curves.dataset.entries = String(d.entries);
  });
  events.addEventListener("problem", (e) => {
    showMessage("#message", "error", JSON.parse((e as MessageEvent).data).message);
  });
}

try {
  const runs = await refresh();
  const first = runs.find((r) => r.name === selected) ?? runs[runs.length - 1];
  if (first) await select(first.name);
  setInterval(() => refresh().catch((e) => showMessage("#message", "error", e.message)), 3000);
} catch (e) {
  showMessage("#message", "error", (e as Error).message);
}
