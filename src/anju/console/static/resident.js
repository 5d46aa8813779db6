/* The resident first: bridged calls, the key holder on demand, the desk phone, the call script. */
"use strict";

(() => {
  const { T } = Anju;
  const configEl = document.getElementById("resident-config");
  if (!configEl) return;
  const config = JSON.parse(configEl.textContent);
  const lang = document.body.dataset.lang || "zh-CN";
  const message = document.getElementById("call-message");

  function say(el, text, ok) {
    if (!el) return;
    el.classList.toggle("flash-ok", !!ok);
    el.classList.toggle("flash-error", !ok);
    Anju.flash(el, text);
  }

  // A bridged call: the centre rings the operator's desk phone, then connects the person.
  document.querySelectorAll("button.bridge-call").forEach((button) => {
    button.addEventListener("click", async () => {
      const body = button.dataset.residentId
        ? { resident_id: Number(button.dataset.residentId) }
        : { contact_id: Number(button.dataset.contactId) };
      button.disabled = true;
      try {
        const result = await Anju.api("POST", config.calls_url, body);
        if (!result.ok) return say(message, Anju.problem(result), false);
        say(message, T("resident.calling", { desk: config.desk_phone, name: button.dataset.name }), true);
        setTimeout(() => window.location.reload(), 2500);
      } catch (_) {
        say(message, T("action.network"), false);
      } finally {
        button.disabled = false;
      }
    });
  });

  // The key holder and access notes: fetched (and audited) only when asked for.
  const show = document.getElementById("show-access");
  if (show) {
    show.addEventListener("click", async () => {
      show.disabled = true;
      const result = await Anju.api("POST", config.access_url, { incident_id: config.incident_id });
      show.disabled = false;
      if (!result.ok) return say(message, Anju.problem(result), false);
      const data = result.data;
      const rendering = (data.translations || {})[lang] || (data.translations || {})[lang.split("-")[0]] || {};
      document.getElementById("key-holder").textContent = rendering.key_holder || data.key_holder || "—";
      document.getElementById("access-notes").textContent = rendering.access_notes || data.access_notes || "—";
      document.getElementById("access-text").hidden = false;
      show.hidden = true;
    });
  }

  const desk = document.getElementById("desk-phone-form");
  if (desk) {
    desk.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = document.getElementById("desk-phone").value.trim();
      const result = await Anju.api("PUT", config.desk_phone_url, { desk_phone: value || null });
      if (!result.ok) return say(message, Anju.problem(result), false);
      config.desk_phone = result.data.desk_phone || "";
      say(message, T("resident.saved"), true);
      setTimeout(() => window.location.reload(), 800);
    });
  }

  // The call script: each question's answer, recorded on the timeline as the call's outcome.
  const record = document.getElementById("record-script");
  if (record) {
    const result = document.getElementById("script-result");
    record.addEventListener("click", async () => {
      const answers = {};
      document.querySelectorAll("#script-form fieldset.script-q").forEach((set) => {
        const picked = set.querySelector("input:checked");
        if (picked) answers[set.dataset.key] = picked.value;
      });
      if (!Object.keys(answers).length) return say(result, T("script.need_answer"), false);
      const note = document.getElementById("script-note").value.trim();
      record.disabled = true;
      try {
        const answer = await Anju.api("POST", config.outcome_url, { answers, note });
        if (!answer.ok) return say(result, Anju.problem(answer), false);
        const summaries = answer.data.summaries || {};
        let text = T("script.recorded", { summary: summaries[lang] || answer.data.summary });
        const outcome = answer.data.suggested_outcome;
        if (outcome) {
          text += " " + T("script.suggested", { outcome: T("outcome." + outcome) });
          const select = document.getElementById("outcome");
          if (select && !select.value) select.value = outcome;
        }
        say(result, text, true);
      } catch (_) {
        say(result, T("action.network"), false);
      } finally {
        record.disabled = false;
      }
    });
  }
})();
