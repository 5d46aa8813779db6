/* The shift hand-over: the note for the next shift, recorded with the open items (audited). */
"use strict";

(() => {
  const { T } = Anju;
  const config = JSON.parse(document.getElementById("handover-config").textContent);
  const flash = document.getElementById("shift-flash");
  const button = document.getElementById("shift-submit");
  button.addEventListener("click", async () => {
    const note = document.getElementById("shift-note").value.trim();
    if (!note) return Anju.flash(flash, T("action.need_note"));
    button.disabled = true;
    const result = await Anju.api("POST", config.url, { note });
    button.disabled = false;
    if (result.ok) return window.location.reload();
    Anju.flash(flash, Anju.problem(result));
  });
})();
