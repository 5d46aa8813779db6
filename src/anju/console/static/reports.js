/* Household import: upload, then either the counts or every bad row (nothing was written). */
"use strict";

(() => {
  const { T } = Anju;
  const form = document.getElementById("import-form");
  if (!form) return;
  const out = document.getElementById("import-result");

  function table(errors) {
    const t = document.createElement("table");
    t.className = "data compact import-errors";
    const head = t.createTHead().insertRow();
    for (const key of ["import.row", "import.column", "import.problem"]) {
      const th = document.createElement("th");
      th.textContent = T(key);
      head.appendChild(th);
    }
    const body = t.createTBody();
    for (const e of errors) {
      const tr = body.insertRow();
      tr.insertCell().textContent = e.row || "";
      tr.insertCell().textContent = e.column || "";
      const key = "import.err." + e.code;
      tr.insertCell().textContent = T(key, e.params || {}) === key ? e.message : T(key, e.params || {});
    }
    return t;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.replaceChildren();
    const result = await Anju.api("POST", "/api/v1/households/import", new FormData(form));
    const p = document.createElement("p");
    if (result.ok) {
      p.className = "flash flash-ok";
      p.textContent = T("import.ok", result.data);
      out.appendChild(p);
      form.reset();
      return;
    }
    p.className = "flash flash-error";
    const errors = (result.data && result.data.errors) || [];
    p.textContent = errors.length ? T("import.failed", { count: errors.length }) : Anju.problem(result);
    out.appendChild(p);
    if (errors.length) out.appendChild(table(errors));
  });
})();
