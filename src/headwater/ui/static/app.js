// Headwater UI: column lineage highlighting, live run pages and the SQL box. No libraries.
"use strict";

function pickColumn(column) {
  const data = JSON.parse(document.getElementById("lineage-data").textContent);
  const entry = data[column];
  const key = document.getElementById("lineage").dataset.asset;
  document.querySelectorAll("li.col, tr.column-row").forEach((el) => el.classList.remove("picked", "upstream", "downstream"));
  if (!entry) return;
  const mark = (id, css) => document.querySelectorAll(`li.col[data-id="${CSS.escape(id)}"]`).forEach((el) => el.classList.add(css));
  mark(`${key}.${column}`, "picked");
  document.querySelectorAll(`tr.column-row[data-column="${CSS.escape(column)}"]`).forEach((el) => el.classList.add("picked"));
  const fill = (listId, items) => {
    const list = document.getElementById(listId);
    list.replaceChildren();
    if (!items.length) { const li = document.createElement("li"); li.textContent = "(none)"; list.appendChild(li); }
    for (const item of items) {
      const li = document.createElement("li");
      li.textContent = `${item.id}  [${item.how}${item.steps > 1 ? `, ${item.steps} steps` : ""}]`;
      li.dataset.id = item.id;
      list.appendChild(li);
    }
  };
  entry.upstream.forEach((item) => mark(item.id, "upstream"));
  entry.downstream.forEach((item) => mark(item.id, "downstream"));
  fill("lineage-upstream", entry.upstream);
  fill("lineage-downstream", entry.downstream);
  document.getElementById("lineage-column").textContent = `${key}.${column}`;
  document.getElementById("lineage-detail").hidden = false;
}

function watchRun(container) {
  if (container.dataset.live !== "yes") return;
  const poll = async () => {
    try {
      const response = await fetch(container.dataset.liveUrl, { cache: "no-store" });
      if (response.ok) {
        container.innerHTML = await response.text();
        const status = container.querySelector("#run-status");
        if (status && status.dataset.status !== "running") return;
      }
    } catch (error) { /* the server restarted: try again */ }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}

function sqlBox(form) {
  const text = document.getElementById("sql-text");
  const status = document.getElementById("sql-status");
  const table = document.getElementById("sql-result");
  const csv = document.getElementById("sql-csv");
  const refreshCsv = () => { csv.href = "/api/query.csv?sql=" + encodeURIComponent(text.value); };
  text.addEventListener("input", refreshCsv);
  refreshCsv();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "running…";
    table.replaceChildren();
    const response = await fetch("/api/query", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql: text.value }),
    });
    const body = await response.json();
    if (!response.ok) { status.textContent = body.error + (body.hint ? ` (${body.hint})` : ""); status.className = "error"; return; }
    status.className = "note";
    status.textContent = `${body.rows.length} rows${body.truncated ? " (truncated)" : ""} in ${body.elapsed_ms} ms`;
    const head = document.createElement("tr");
    for (const name of body.columns) { const th = document.createElement("th"); th.textContent = name; head.appendChild(th); }
    const thead = document.createElement("thead"); thead.appendChild(head); table.appendChild(thead);
    const tbody = document.createElement("tbody");
    for (const row of body.rows) {
      const tr = document.createElement("tr");
      for (const value of row) { const td = document.createElement("td"); td.textContent = value === null ? "∅" : String(value); tr.appendChild(td); }
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.pick").forEach((button) => button.addEventListener("click", () => pickColumn(button.dataset.column)));
  const live = document.getElementById("run-live");
  if (live) watchRun(live);
  const form = document.getElementById("sql-form");
  if (form) sqlBox(form);
});
