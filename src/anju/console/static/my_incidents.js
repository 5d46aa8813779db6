/* The responder's task list: "arrived" and "resolved" for each incident dispatched to them. */
"use strict";

(() => {
  const { T } = Anju;
  const errorEl = document.getElementById("task-error");

  document.querySelectorAll("form.task-form").forEach((form) => {
    const id = form.dataset.id;
    form.querySelectorAll("[data-action]").forEach((button) => {
      button.addEventListener("click", async () => {
        const action = button.dataset.action;
        const note = form.elements.note.value.trim();
        let result;
        if (action === "arrived") {
          button.disabled = true;
          result = await Anju.api("POST", "/api/v1/incidents/" + id + "/arrival", { note });
        } else {
          const outcome = form.elements.outcome ? form.elements.outcome.value : "";
          if (!outcome) return Anju.flash(errorEl, T("action.need_outcome"));
          if (!note) return Anju.flash(errorEl, T("action.need_note"));
          button.disabled = true;
          result = await Anju.api("POST", "/api/v1/incidents/" + id + "/transitions", { to: "resolved", outcome, note });
        }
        button.disabled = false;
        if (result.ok) return window.location.reload();
        Anju.flash(errorEl, Anju.problem(result));
      });
    });
  });
})();
