/* The responder's phone page: arrival and resolution through the signed link. */
"use strict";

(() => {
  const { T } = Anju;
  const config = JSON.parse(document.getElementById("responder-config").textContent);
  const errorEl = document.getElementById("action-error");
  const value = (id) => { const el = document.getElementById(id); return el ? el.value.trim() : ""; };

  document.querySelectorAll("[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      const action = button.dataset.action;
      const body = { action, note: value("note"), outcome: value("outcome") || null };
      if (action === "resolved") {
        if (!body.outcome) return Anju.flash(errorEl, T("action.need_outcome"));
        if (!body.note) return Anju.flash(errorEl, T("action.need_note"));
      }
      button.disabled = true;
      const result = await Anju.api("POST", config.action_url, body, { [config.csrf_header]: "responder" });
      button.disabled = false;
      if (result.ok) return window.location.reload();
      Anju.flash(errorEl, result.data && result.data.key ? T(result.data.key, { reason: result.data.detail }) : Anju.problem(result));
    });
  });
})();
