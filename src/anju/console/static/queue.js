/* The live queue: snapshot + Server-Sent Events, triage (AnjuTriage: filters, search, sort, area
   groups, the 60 s / 180 s acknowledgement marks), assign to me, chime and notification. */
"use strict";

(() => {
  const { T } = Anju;
  const config = JSON.parse(document.getElementById("queue-config").textContent);
  const ACTIVE = new Set(["open", "acknowledged", "dispatched"]);
  const CLOSING = new Set(["resolved", "follow_up"]);
  const rows = new Map(); // id -> row
  let loaded = false; // the first snapshot is not "new"
  let selected = null; // id of the selected incident
  const view = AnjuTriage.readView(window.location.search);
  const marks = config.ack_marks;
  let tiers = ""; // the acknowledgement tiers at the last render: a change re-sorts the queue
  const statusEl = document.getElementById("live-status");
  const alertsState = document.getElementById("alerts-state");

  Anju.syncClock(config.server_now);

  function setStatus(state, key) {
    statusEl.dataset.state = state;
    statusEl.textContent = T(key);
  }

  function tierSignature(list) {
    const nowMs = Anju.now();
    return list.map((r) => r.id + ":" + AnjuTriage.ackTier(r, nowMs, marks)).join(",");
  }

  function cell(tr, content, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content == null ? "" : String(content);
    tr.appendChild(td);
    return td;
  }

  function badge(cls, text) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    return span;
  }

  function householdCell(row) {
    const wrap = document.createElement("div");
    const link = document.createElement("a");
    link.href = "/incidents/" + row.id;
    link.textContent = row.household_name;
    link.className = "incident-link";
    wrap.appendChild(link);
    const meta = document.createElement("div");
    meta.className = "muted small";
    meta.textContent = [row.area, row.address].filter(Boolean).join(" · ");
    wrap.appendChild(meta);
    return wrap;
  }

  function render() {
    const nowMs = Anju.now();
    const everything = [...rows.values()];
    tiers = tierSignature(everything);
    refreshChoices(everything);
    const all = everything.filter((r) => AnjuTriage.matches(r, view, config.user_id))
      .sort(AnjuTriage.comparator(view, nowMs, marks));
    const active = all.filter((r) => ACTIVE.has(r.state));
    const closing = all.filter((r) => CLOSING.has(r.state));
    fill("queue-active", active, true);
    fill("queue-closing", closing, false);
    const shown = document.getElementById("shown-count");
    shown.textContent = all.length === everything.length ? "" : T("queue.shown", { shown: all.length, total: everything.length });
    document.getElementById("active-count").textContent = active.length;
    document.getElementById("closing-count").textContent = closing.length;
    document.getElementById("queue-empty").hidden = active.length > 0;
    document.getElementById("closing-empty").hidden = closing.length > 0;
    if (selected !== null && !rows.has(selected)) selected = null;
    highlight();
    Anju.tickCountdowns();
    document.title = (active.length ? "(" + active.length + ") " : "") + document.title.replace(/^\(\d+\) /, "");
  }

  function fill(tableId, list, live) {
    const tbody = document.querySelector("#" + tableId + " tbody");
    tbody.replaceChildren();
    for (const [label, members] of AnjuTriage.groups(list, view)) {
      if (view.group !== "none") {
        const head = document.createElement("tr");
        head.className = "group-row";
        const th = document.createElement("th");
        th.colSpan = 8;
        th.textContent = (label || T("queue.no_area")) + " · " + members.length;
        head.appendChild(th);
        tbody.appendChild(head);
      }
      for (const row of members) tbody.appendChild(rowElement(row, live));
    }
  }

  function assignable(row) {
    // Open incidents are taken by acknowledging; later ones by taking the ownership over.
    if (!config.can_assign || row.state === "open" || row.owner_id === config.user_id) return false;
    return row.owner_id == null || config.is_admin;
  }

  function actionButton(cls, key, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = cls + " small-button";
    button.textContent = T(key);
    button.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
    return button;
  }

  function rowElement(row, live) {
    const tier = AnjuTriage.ackTier(row, Anju.now(), marks);
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    tr.dataset.state = row.state;
    tr.dataset.severity = row.severity;
    tr.dataset.ack = tier;
    tr.className = "sev-row sev-row-" + row.severity + (row.state === "open" ? " unacked ack-" + tier : "");
    cell(tr, badge("sev sev-" + row.severity, T("severity." + row.severity)));
    cell(tr, householdCell(row));
    cell(tr, T("rule." + row.rule));
    cell(tr, badge("state state-" + row.state, T("state." + row.state)));
    const ageCell = cell(tr, "", "age-cell");
    const age = document.createElement("span");
    age.className = "age";
    age.dataset.since = row.opened_at;
    ageCell.appendChild(age);
    if (tier === "late" || tier === "overdue") {
      ageCell.appendChild(badge("ack-chip ack-" + tier, tier === "late" ? T("queue.ack_late") : T("queue.ack_overdue")));
    }
    if (live) {
      const next = cell(tr, "", "countdown");
      // Escalation steps fire only while nobody has acknowledged.
      if (row.state === "open" && row.next_escalation_at) next.dataset.deadline = row.next_escalation_at;
      else next.textContent = T("queue.not_scheduled");
    } else {
      cell(tr, "", "countdown").dataset.deadline = row.follow_up_due_at || "";
    }
    cell(tr, row.owner_name || T("common.nobody"));
    const last = cell(tr, "", "row-actions");
    if (live && row.state === "open" && config.can_act) {
      last.appendChild(actionButton("ack primary", "action.acknowledged", () => acknowledge(row.id)));
    } else if (!live) {
      last.textContent = row.outcome ? T("outcome." + row.outcome) : "";
    }
    if (assignable(row)) last.appendChild(actionButton("assign-me secondary", "queue.assign_me", () => assignToMe(row.id)));
    // Phones show rows as cards: the age, deadline and owner cells carry their column's name.
    const heads = tr.ownerDocument.querySelectorAll("#" + (live ? "queue-active" : "queue-closing") + " thead th");
    tr.querySelectorAll("td").forEach((td, i) => {
      if (i >= 4 && i <= 6 && heads[i]) { td.dataset.label = heads[i].textContent; td.classList.add("labelled"); }
    });
    tr.addEventListener("click", (e) => {
      if (e.target.closest("a,button")) return;
      selected = row.id;
      highlight();
    });
    tr.addEventListener("dblclick", () => { window.location.href = "/incidents/" + row.id; });
    return tr;
  }

  function refreshChoices(all) {
    fillChoices("f-area", AnjuTriage.areaChoices(all).map((a) => [a, a]));
    const owners = new Map();
    for (const r of all) if (r.owner_id != null && r.owner_id !== config.user_id) owners.set(String(r.owner_id), r.owner_name);
    fillChoices("f-owner", [...owners.entries()].sort((a, b) => String(a[1]).localeCompare(String(b[1]))), 3);
  }

  /** The options after the fixed first ``keep`` ones, rebuilt; the view's value stays chosen. */
  function fillChoices(id, pairs, keep = 1) {
    const select = document.getElementById(id);
    const field = id.slice(2);
    while (select.options.length > keep) select.remove(keep);
    const values = new Set(pairs.map((p) => p[0]));
    if (view[field] && !values.has(view[field]) && select.querySelector("option[value='" + CSS.escape(view[field]) + "']") === null) {
      pairs.push([view[field], view[field]]);
    }
    for (const [value, text] of pairs) select.add(new Option(text, value));
    select.value = view[field] || "";
  }

  function bindTriage() {
    for (const field of AnjuTriage.FIELDS) {
      const el = document.getElementById("f-" + field);
      el.value = view[field];
      el.addEventListener(field === "q" ? "input" : "change", () => {
        view[field] = el.value.trim();
        AnjuTriage.writeView(view);
        render();
      });
    }
    document.getElementById("f-clear").addEventListener("click", () => {
      Object.assign(view, AnjuTriage.readView(""));
      for (const field of AnjuTriage.FIELDS) document.getElementById("f-" + field).value = view[field];
      AnjuTriage.writeView(view);
      render();
    });
  }

  function highlight() {
    document.querySelectorAll("tr[data-id]").forEach((tr) => {
      tr.classList.toggle("selected", Number(tr.dataset.id) === selected);
    });
  }

  function upsert(row) {
    const known = rows.get(row.id);
    if (known && known.version > row.version) return; // an older copy arrived late
    const isNew = !known && loaded;
    if (ACTIVE.has(row.state) || CLOSING.has(row.state)) rows.set(row.id, row);
    else rows.delete(row.id);
    if (isNew && row.severity === "critical" && row.state === "open") Anju.announce(row);
  }

  async function loadSnapshot() {
    const result = await Anju.api("GET", config.snapshot_url);
    if (!result.ok || !result.data) return;
    Anju.syncClock(result.data.server_now);
    const fresh = new Map(result.data.incidents.map((r) => [r.id, r]));
    for (const id of [...rows.keys()]) if (!fresh.has(id)) rows.delete(id);
    for (const row of fresh.values()) upsert(row);
    loaded = true;
    render();
  }

  let source = null;
  let pollTimer = null;
  function connect() {
    source = new EventSource(config.stream_url);
    source.addEventListener("hello", (e) => {
      setStatus("live", "queue.live");
      Anju.syncClock(JSON.parse(e.data).server_now);
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
      loadSnapshot();
    });
    source.addEventListener("resync", () => loadSnapshot());
    source.addEventListener("incident", (e) => {
      const msg = JSON.parse(e.data);
      Anju.syncClock(msg.server_now);
      upsert(msg.row);
      render();
    });
    source.onerror = () => {
      setStatus("down", "queue.reconnecting");
      // EventSource retries by itself; meanwhile keep the table fresh by polling.
      if (!pollTimer) pollTimer = setInterval(loadSnapshot, 10000);
    };
  }

  async function assignToMe(id) {
    const result = await Anju.api("POST", "/api/v1/incidents/" + id + "/owner", { user_id: config.user_id });
    if (!result.ok) {
      alertsState.textContent = Anju.problem(result);
      alertsState.className = "flash flash-error";
    }
    await loadSnapshot();
  }

  async function acknowledge(id) {
    const result = await Anju.api("POST", "/api/v1/incidents/" + id + "/transitions", { to: "acknowledged" });
    if (!result.ok) {
      alertsState.textContent = Anju.problem(result);
      alertsState.className = "flash flash-error";
    }
    await loadSnapshot();
  }

  function updateAlertsState() {
    const perm = "Notification" in window ? Notification.permission : "denied";
    const on = Anju.soundOn();
    let text = on ? T("queue.alerts_on") : T("queue.alerts_off");
    if (on && perm === "denied") text += " " + T("queue.alerts_blocked");
    alertsState.textContent = text;
    alertsState.className = "muted small";
  }

  document.getElementById("enable-alerts").addEventListener("click", async () => {
    Anju.setSound(true);
    if ("Notification" in window && Notification.permission === "default") {
      try { await Notification.requestPermission(); } catch (_) { /* older browsers */ }
    }
    updateAlertsState();
  });

  const help = document.getElementById("shortcut-help");
  const helpButton = document.getElementById("toggle-help");
  function toggleHelp() {
    help.hidden = !help.hidden;
    helpButton.setAttribute("aria-expanded", String(!help.hidden));
  }
  helpButton.addEventListener("click", toggleHelp);

  function move(delta) {
    const ids = [...document.querySelectorAll("#queue-active tbody tr[data-id], #queue-closing tbody tr[data-id]")].map((tr) => Number(tr.dataset.id));
    if (!ids.length) return;
    const at = ids.indexOf(selected);
    selected = ids[Math.min(ids.length - 1, Math.max(0, at === -1 ? 0 : at + delta))];
    highlight();
    const tr = document.querySelector('tr[data-id="' + selected + '"]');
    if (tr) tr.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", (e) => {
    if (Anju.typingInField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    // Any key press counts as a gesture: let the chime play from now on.
    if (Anju.soundOn()) Anju.unlockAudio();
    switch (e.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "Enter": case "o":
        if (selected !== null) window.location.href = "/incidents/" + selected;
        break;
      case "a": {
        const row = rows.get(selected);
        if (row && row.state === "open" && config.can_act) acknowledge(row.id);
        break;
      }
      case "s":
        Anju.setSound(!Anju.soundOn());
        updateAlertsState();
        break;
      case "/": e.preventDefault(); document.getElementById("f-q").focus(); break;
      case "?": toggleHelp(); break;
      default: return;
    }
    e.preventDefault();
  });


  // A row crossing the 60 s or 180 s mark changes colour and moves up: re-render when a tier changes.
  setInterval(() => { if (loaded && tierSignature([...rows.values()]) !== tiers) render(); }, 1000);

  bindTriage();
  updateAlertsState();
  connect();
})();
