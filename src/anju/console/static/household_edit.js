/* Creating and editing a household with its residents and contacts: one request, all or nothing. */
"use strict";

(() => {
  const { T } = Anju;
  const config = JSON.parse(document.getElementById("edit-config").textContent);
  const form = document.getElementById("household-form");
  const errorEl = document.getElementById("edit-error");
  const existing = config.household;
  const $ = (id) => document.getElementById(id);
  const RESIDENT_FIELDS = ["name", "birth_year", "phone", "language", "mobility", "hearing", "dialect",
    "medical_notes", "medication", "preferred_hospital", "notes"];
  const CONTACT_FIELDS = ["name", "relation", "phone", "language"];
  let accessTouched = false;

  function withEnglishName(translations, nameEn) {
    // Other renderings are kept as they are; only the English name is edited here.
    const copy = JSON.parse(JSON.stringify(translations || {}));
    const en = Object.assign({}, copy.en || {});
    if (nameEn) en.name = nameEn; else delete en.name;
    if (Object.keys(en).length) copy.en = en; else delete copy.en;
    return copy;
  }

  function addRow(kind, data) {
    const template = $(kind + "-template");
    const row = template.content.firstElementChild.cloneNode(true);
    row.translations = (data && data.translations) || {};
    row.querySelectorAll("[data-f]").forEach((input) => {
      const f = input.dataset.f;
      if (!data) return;
      if (f === "name_en") input.value = (row.translations.en || {}).name || "";
      else if (data[f] !== null && data[f] !== undefined) input.value = String(data[f]);
    });
    row.querySelector(".remove-row").addEventListener("click", () => row.remove());
    $(kind === "resident" ? "residents" : "contacts").appendChild(row);
    return row;
  }

  function read(row, fields) {
    const get = (f) => row.querySelector(`[data-f="${f}"]`).value.trim();
    const out = {};
    fields.forEach((f) => { out[f] = get(f); });
    out.translations = withEnglishName(row.translations, get("name_en"));
    return out;
  }

  function body() {
    const data = {
      name: $("f-name").value.trim(),
      address: $("f-address").value.trim(),
      area: $("f-area").value.trim(),
      timezone: $("f-timezone").value.trim() || null,
      notes: $("f-notes").value.trim(),
      translations: withEnglishName(existing && existing.translations, $("f-name-en").value.trim()),
    };
    data.residents = [...document.querySelectorAll("#residents .resident-row")].map((row) => {
      const r = read(row, RESIDENT_FIELDS);
      r.birth_year = r.birth_year ? Number(r.birth_year) : null;
      r.phone = r.phone || null;
      return r;
    });
    data.contacts = [...document.querySelectorAll("#contacts .contact-row")].map((row, i) => {
      const c = read(row, CONTACT_FIELDS);
      c.priority = i;
      return c;
    });
    if (!existing || accessTouched) {
      data.key_holder = $("f-key-holder").value.trim();
      data.access_notes = $("f-access-notes").value.trim();
    }
    if (!existing) data.id = $("f-id").value.trim();
    return data;
  }

  const FIELD_IDS = { id: "f-id", name: "f-name", address: "f-address", area: "f-area", timezone: "f-timezone",
    notes: "f-notes", key_holder: "f-key-holder", access_notes: "f-access-notes" };

  /** The input a refusal's location (["body", "contacts", 0, "phone"]) points at, and its words. */
  function field(loc) {
    const path = (loc || []).filter((p) => p !== "body");
    if (path[0] === "residents" || path[0] === "contacts") {
      const rows = document.querySelectorAll(path[0] === "residents" ? "#residents .resident-row" : "#contacts .contact-row");
      const row = rows[Number(path[1])];
      const input = row && path[2] ? row.querySelector(`[data-f="${path[2]}"]`) : null;
      const key = path[0] === "residents" ? "edit.resident_n" : "edit.contact_n";
      return { input, where: T(key, { n: Number(path[1]) + 1 }) };
    }
    return { input: FIELD_IDS[path[0]] ? $(FIELD_IDS[path[0]]) : null, where: "" };
  }

  function labelOf(input) {
    const label = input && input.closest("label");
    return label && label.firstChild ? label.firstChild.textContent.trim() : "";
  }

  /** A refusal as the operator reads it: which field (marked in the form), and why. */
  function reason(result) {
    const detail = result.data && result.data.detail;
    if (!Array.isArray(detail)) return detail || String(result.status);
    return detail.map((d) => {
      const { input, where } = field(d.loc);
      if (input) input.classList.add("invalid");
      const name = [where, labelOf(input)].filter(Boolean).join(" · ");
      const text = String(d.msg || "").replace(/^Value error, /, "");
      return name ? `${name}: ${text}` : text;
    }).join("; ");
  }

  if (existing) {
    $("f-name").value = existing.name || "";
    $("f-name-en").value = ((existing.translations || {}).en || {}).name || "";
    $("f-address").value = existing.address || "";
    $("f-area").value = existing.area || "";
    $("f-timezone").value = existing.timezone || "";
    $("f-notes").value = existing.notes || "";
    existing.residents.forEach((r) => addRow("resident", r));
    existing.contacts.forEach((c) => addRow("contact", c));
  } else {
    $("f-timezone").value = config.default_timezone || "";
    addRow("resident", null);
    addRow("contact", null);
  }
  ["f-key-holder", "f-access-notes"].forEach((id) => $(id).addEventListener("input", () => { accessTouched = true; }));
  const load = $("load-access");
  if (load) {
    load.addEventListener("click", async () => {
      const result = await Anju.api("POST", config.access_url, {});
      if (!result.ok) return Anju.flash(errorEl, Anju.problem(result));
      $("f-key-holder").value = result.data.key_holder;
      $("f-access-notes").value = result.data.access_notes;
      accessTouched = true;
      load.hidden = true;
    });
  }
  $("add-resident").addEventListener("click", () => addRow("resident", null));
  $("add-contact").addEventListener("click", () => addRow("contact", null));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Anju.flash(errorEl, "");
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    const save = $("save-household");
    save.disabled = true;
    try {
      const data = body();
      const result = await Anju.api(existing ? "PATCH" : "POST", config.api_url, data);
      if (!result.ok) {
        Anju.flash(errorEl, T("edit.invalid", { reason: reason(result) }));
        errorEl.scrollIntoView({ block: "center" });
        return;
      }
      window.location.href = "/households/" + encodeURIComponent(result.data.id) + "?saved=1";
    } catch (_) {
      Anju.flash(errorEl, T("action.network"));
    } finally {
      save.disabled = false;
    }
  });
})();
