/* The queue's triage: filters, search, sort, area grouping and the acknowledgement marks (60 s / 180 s).
   Pure functions over the queue's rows; the view state lives in the URL so a view can be bookmarked. */
"use strict";

const AnjuTriage = (() => {
  const FIELDS = ["q", "state", "severity", "rule", "area", "owner", "sort", "group"];
  const DEFAULTS = { sort: "priority", group: "none" };
  const LEVELS = { district: 1, town: 2, village: 3 };

  /** An area as its path: "徐汇区 / 天平街道 / 天平村" (also ›, > or ／ between levels). */
  function areaPath(area) {
    return String(area || "").split(/\s*[/／›>]\s*/).map((p) => p.trim()).filter(Boolean);
  }

  /** The area's first ``depth`` levels joined as the console shows them. */
  function areaPrefix(area, depth) {
    return areaPath(area).slice(0, depth).join(" › ");
  }

  /** "fresh", "late" (past the first mark) or "overdue" (past the second) for an unacknowledged row. */
  function ackTier(row, nowMs, marks) {
    if (row.state !== "open") return "";
    const age = (nowMs - Date.parse(row.opened_at)) / 1000;
    if (age >= marks[1]) return "overdue";
    if (age >= marks[0]) return "late";
    return "fresh";
  }

  const TIER_RANK = { overdue: 3, late: 2, fresh: 1, "": 0 };

  function readView(search) {
    const params = new URLSearchParams(search);
    const view = {};
    for (const f of FIELDS) view[f] = params.get(f) || DEFAULTS[f] || "";
    return view;
  }

  function writeView(view) {
    const params = new URLSearchParams(window.location.search);
    for (const f of FIELDS) {
      if (view[f] && view[f] !== DEFAULTS[f]) params.set(f, view[f]);
      else params.delete(f);
    }
    const query = params.toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function matches(row, view, me) {
    if (view.state && row.state !== view.state) return false;
    if (view.severity && row.severity !== view.severity) return false;
    if (view.rule && row.rule !== view.rule) return false;
    if (view.area) {
      const path = areaPath(row.area).join(" › ");
      if (path !== view.area && !path.startsWith(view.area + " › ")) return false;
    }
    if (view.owner === "me" && row.owner_id !== me) return false;
    if (view.owner === "none" && row.owner_id != null) return false;
    if (view.owner && !["me", "none"].includes(view.owner) && String(row.owner_id) !== view.owner) return false;
    if (view.q) {
      const hay = [row.id, row.household_id, row.household_name, row.address, row.area, row.owner_name]
        .map((v) => String(v || "").toLowerCase()).join(" ");
      for (const word of view.q.toLowerCase().split(/\s+/).filter(Boolean)) {
        if (!hay.includes(word.replace(/^#/, ""))) return false;
      }
    }
    return true;
  }

  function comparator(view, nowMs, marks) {
    const oldest = (a, b) => a.opened_at.localeCompare(b.opened_at) || a.id - b.id;
    const severity = (a, b) => b.severity_rank - a.severity_rank;
    switch (view.sort) {
      case "age": return oldest;
      case "newest": return (a, b) => -oldest(a, b);
      case "severity": return (a, b) => severity(a, b) || oldest(a, b);
      case "area": return (a, b) => String(a.area).localeCompare(String(b.area)) || severity(a, b) || oldest(a, b);
      default:
        // Working order: what waits past the marks first (longest first), then most severe, then oldest.
        return (a, b) => TIER_RANK[ackTier(b, nowMs, marks)] - TIER_RANK[ackTier(a, nowMs, marks)]
          || severity(a, b) || oldest(a, b);
    }
  }

  /** Rows in groups: [[label, rows]], the group of the most urgent row first; one group when not grouping. */
  function groups(rows, view) {
    const depth = LEVELS[view.group];
    if (!depth) return [["", rows]];
    const byKey = new Map();
    for (const row of rows) {
      const key = areaPrefix(row.area, depth);
      if (!byKey.has(key)) byKey.set(key, []);
      byKey.get(key).push(row);
    }
    return [...byKey.entries()];
  }

  /** Every area prefix (district, district › town, …) the rows name, for the area filter. */
  function areaChoices(rows) {
    const seen = new Set();
    for (const row of rows) {
      const path = areaPath(row.area);
      for (let depth = 1; depth <= Math.min(path.length, 3); depth += 1) seen.add(path.slice(0, depth).join(" › "));
    }
    return [...seen].sort();
  }

  return { FIELDS, areaPath, areaPrefix, ackTier, readView, writeView, matches, comparator, groups, areaChoices };
})();
