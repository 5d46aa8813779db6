/* The incident page: transition buttons (exactly the API's allowed list), arrival, follow-up, notes. */
"use strict";

(() => {
  const { T } = Anju;
  const config = JSON.parse(document.getElementById("incident-config").textContent);
  const errorEl = document.getElementById("action-error");
  const form = document.getElementById("action-form");
  const value = (id) => { const el = document.getElementById(id); return el ? el.value.trim() : ""; };
  let busy = false;

  function fail(text) { Anju.flash(errorEl, text); }

  async function run(steps) {
    if (busy) return;
    busy = true;
    fail("");
    form && form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      for (const [url, body] of steps) {
        const result = await Anju.api("POST", url, body);
        if (!result.ok) {
          fail(Anju.problem(result));
          if (result.status === 409) setTimeout(() => window.location.reload(), 1500);
          return;
        }
      }
      window.location.reload();
    } catch (_) {
      fail(T("action.network"));
    } finally {
      busy = false;
      form && form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  function transition(to) {
    const note = value("note");
    const body = { to, note };
    const steps = [];
    if (to === "dispatched") {
      const contact = value("responder-contact");
      if (contact) body.responder_contact_id = Number(contact);
      else {
        body.responder_name = value("responder-name");
        body.responder_kind = value("responder-kind");
        if (!body.responder_name) return fail(T("action.need_responder"));
      }
    }
    if (to === "resolved") {
      body.outcome = value("outcome");
      if (!body.outcome) return fail(T("action.need_outcome"));
      if (!note) return fail(T("action.need_note"));
    }
    if (to === "closed" && config.follow_up_due) {
      // Closing with a follow-up still due: the reason to skip it is recorded first.
      const reason = value("waive-reason");
      if (!reason) return fail(T("action.need_note"));
      steps.push([config.follow_up_url, { action: "waive", note: reason }]);
    }
    steps.push([config.transitions_url, body]);
    return run(steps);
  }

  const handlers = {};
  document.querySelectorAll("button.transition").forEach((b) => {
    const go = () => transition(b.dataset.to);
    b.addEventListener("click", go);
    handlers[b.dataset.key] = go;
  });
  const bind = (id, fn) => {
    const b = document.getElementById(id);
    if (!b) return;
    b.addEventListener("click", fn);
    handlers[b.dataset.key] = fn;
  };
  bind("arrive", () => run([[config.arrival_url, { note: value("note") }]]));
  bind("follow-up-done", () => run([[config.follow_up_url, { action: "done", note: value("note") }]]));
  bind("add-note", () => {
    const note = value("note");
    if (!note) return fail(T("action.need_note"));
    return run([[config.notes_url, { note }]]);
  });

  const contact = document.getElementById("responder-contact");
  if (contact) {
    // Picking a contact fills the name and role; "someone else" leaves them to type.
    contact.addEventListener("change", () => {
      const opt = contact.selectedOptions[0];
      const name = document.getElementById("responder-name");
      const kind = document.getElementById("responder-kind");
      name.disabled = Boolean(contact.value);
      if (contact.value) {
        name.value = opt.dataset.name || "";
        if ([...kind.options].some((o) => o.value === opt.dataset.kind)) kind.value = opt.dataset.kind;
      }
    });
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { window.location.href = "/"; return; }
    if (Anju.typingInField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const fn = handlers[e.key];
    if (fn) { e.preventDefault(); fn(); }
  });

  // Hand-over: to another operator, with a note, recorded on the timeline.
  const handOver = document.getElementById("hand-over");
  if (handOver) {
    document.getElementById("handover-user").addEventListener("change", () => fail(""));
    handOver.addEventListener("click", async () => {
      const to = value("handover-user");
      if (!to) return fail(T("action.need_handover_user"));
      if (busy) return;
      busy = true;
      handOver.disabled = true;
      try {
        const result = await Anju.api("POST", config.owner_url, { user_id: Number(to), note: value("handover-note") });
        if (result.ok) window.location.reload();
        else fail(Anju.problem(result));
      } catch (_) {
        fail(T("action.network"));
      } finally {
        busy = false;
        handOver.disabled = false;
      }
    });
  }

  // The live stream: this incident changed (reload when nothing is half-typed), or a new critical
  // incident came in elsewhere (chime, notification and a banner that opens it).
  const statusEl = document.getElementById("live-status");
  const banner = document.getElementById("new-critical");
  const known = new Set([config.id]);
  let loaded = false;

  function setStatus(state, key) {
    if (!statusEl) return;
    statusEl.dataset.state = state;
    statusEl.textContent = T(key);
  }

  function showNewCritical(row) {
    const text = document.createElement("span");
    text.textContent = T("queue.new_critical") + " · " +
      T("queue.new_critical_body", { household: row.household_name, rule: T("rule." + row.rule) }) + " ";
    const link = document.createElement("a");
    link.href = "/incidents/" + row.id;
    link.className = "button primary";
    link.dataset.incidentId = row.id;
    link.textContent = T("queue.open_it");
    const line = document.createElement("div");
    line.append(text, link);
    banner.appendChild(line);
    banner.hidden = false;
  }

  async function loadKnown() {
    const result = await Anju.api("GET", config.snapshot_url);
    if (!result.ok || !result.data) return;
    for (const row of result.data.incidents) known.add(row.id);
    loaded = true;
    setStatus("live", "queue.live");
  }

  function onIncident(row) {
    if (row.id === config.id) {
      const current = Number(document.querySelector("[data-version]").dataset.version);
      if (row.version <= current || busy) return;
      const typing = ["note", "waive-reason", "responder-name", "handover-note"].some((id) => value(id));
      if (!typing) window.location.reload();
      return;
    }
    const isNew = loaded && !known.has(row.id);
    known.add(row.id);
    if (isNew && row.severity === "critical" && row.state === "open") {
      Anju.announce(row);
      showNewCritical(row);
    }
  }

  if (window.EventSource && config.watch_queue) {
    const source = new EventSource(config.stream_url);
    // Subscribed first, then the snapshot: an incident is "new" only if it was not there already.
    source.addEventListener("hello", () => { loadKnown(); });
    source.addEventListener("resync", () => { loadKnown(); });
    source.addEventListener("incident", (e) => onIncident(JSON.parse(e.data).row));
    source.onerror = () => {
      setStatus("down", "queue.reconnecting");
      if (source.readyState === EventSource.CLOSED) source.close();
    };
  }
})();
