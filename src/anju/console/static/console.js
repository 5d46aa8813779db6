/* Anju console: shared helpers (translation, API calls with CSRF, durations, chime, countdowns). */
"use strict";

const Anju = (() => {
  const catalogEl = document.getElementById("i18n-catalog");
  const catalog = catalogEl ? JSON.parse(catalogEl.textContent) : {};

  /** Translate a catalog key, filling {name} placeholders. */
  function T(key, params) {
    let text = Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
    if (params) {
      for (const [k, v] of Object.entries(params)) text = text.split("{" + k + "}").join(String(v));
    }
    return text;
  }

  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }

  /** Call the JSON API with the session cookie; unsafe methods echo the CSRF cookie in a header. */
  async function api(method, url, body, extraHeaders) {
    const headers = Object.assign({ Accept: "application/json" }, extraHeaders || {});
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRF-Token"] = headers["X-CSRF-Token"] || cookie("anju_csrf");
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (response.status === 401) {
      window.location.href = "/login?expired=1&next=" + encodeURIComponent(window.location.pathname);
    }
    return { ok: response.ok, status: response.status, data };
  }

  /** An API error as a sentence the operator can act on. */
  function problem(result) {
    if (!result) return T("action.network");
    if (result.status === 409) return T("action.conflict");
    if (result.status === 403) return T("action.forbidden");
    let reason = result.data && result.data.detail;
    if (Array.isArray(reason)) reason = reason.map((d) => d.msg || JSON.stringify(d)).join("; ");
    return T("action.failed", { reason: reason || result.status });
  }

  function duration(totalSeconds) {
    const s = Math.max(0, Math.round(totalSeconds));
    if (s < 60) return T("dur.s", { s });
    if (s < 3600) return T("dur.ms", { m: Math.floor(s / 60), s: s % 60 });
    if (s < 86400) return T("dur.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return T("dur.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  }

  // Server time minus browser time, so countdowns follow the server's clock.
  let clockOffsetMs = 0;
  function syncClock(serverIso) {
    const t = Date.parse(serverIso);
    if (!Number.isNaN(t)) clockOffsetMs = t - Date.now();
  }
  function now() { return Date.now() + clockOffsetMs; }

  /** Seconds left until an ISO deadline (negative when overdue). */
  function secondsUntil(iso) { return (Date.parse(iso) - now()) / 1000; }

  function countdownText(iso) {
    if (!iso) return T("queue.not_scheduled");
    const left = secondsUntil(iso);
    return left >= 0 ? duration(left) : T("queue.overdue", { time: duration(-left) });
  }

  function tickCountdowns() {
    document.querySelectorAll("[data-deadline]").forEach((el) => {
      const iso = el.getAttribute("data-deadline");
      el.textContent = countdownText(iso);
      el.classList.toggle("overdue", Boolean(iso) && secondsUntil(iso) < 0);
    });
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = T("queue.ago", { time: duration(-secondsUntil(el.getAttribute("data-since"))) });
    });
  }

  // A chime made on the spot with WebAudio: nothing is fetched, it works on a closed network.
  // Browsers start audio only after a gesture on the site (a click or key here or on the page that
  // led here); until then the context is "suspended" and the chime waits for it.
  let audio = null;
  function unlockAudio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  function play(ctx) {
    const start = ctx.currentTime + 0.02;
    [880, 660, 880, 660].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const t0 = start + i * 0.22;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.35, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.21);
    });
    // Counted only once it really plays: the tests read this.
    window.anjuChimes = (window.anjuChimes || 0) + 1;
  }
  function chime() {
    const ctx = unlockAudio();
    if (!ctx) return false;
    if (ctx.state === "running") play(ctx);
    else ctx.resume().then(() => play(ctx), () => {});
    return true;
  }

  // Sound on or off is the operator's choice for the whole console, remembered in this browser.
  function soundOn() { return localStorage.getItem("anju.sound") !== "off"; }
  function setSound(on) {
    localStorage.setItem("anju.sound", on ? "on" : "off");
    if (on) unlockAudio();
  }
  function audioState() { return audio ? audio.state : "none"; }

  /** A new critical incident: chime (when sound is on) and a browser notification that opens it. */
  function announce(row) {
    if (soundOn()) chime();
    if ("Notification" in window && Notification.permission === "granted") {
      const n = new Notification(T("queue.new_critical"), {
        body: T("queue.new_critical_body", { household: row.household_name, rule: T("rule." + row.rule) }),
        tag: "anju-incident-" + row.id,
        requireInteraction: true,
      });
      n.onclick = () => { window.focus(); window.location.href = "/incidents/" + row.id; };
      window.anjuNotified = (window.anjuNotified || []).concat([row.id]);
    }
    window.anjuAnnounced = (window.anjuAnnounced || []).concat([row.id]);
  }

  function flash(el, text) {
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  function typingInField(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  // The alarm path's health (/readyz) as a red banner on every page of every staff user, until it
  // recovers. A service that does not answer at all is shown the same way.
  async function checkHealth(banner) {
    let failing = [];
    try {
      const response = await fetch("/readyz", { cache: "no-store", headers: { Accept: "application/json" } });
      const body = await response.json();
      const checks = (body && body.checks) || {};
      const reasons = (body && body.reasons) || {};
      failing = Object.keys(checks).filter((name) => !checks[name]).map((name) => [name, reasons[name] || ""]);
      if (!response.ok && !failing.length) failing = [["service", "HTTP " + response.status]];
    } catch (_) {
      failing = [["service", ""]];
    }
    const list = banner.querySelector("[data-health-checks]");
    list.replaceChildren(...failing.map(([name, reason]) => {
      const item = document.createElement("li");
      item.dataset.check = name;
      const key = "health.check." + name;
      const label = T(key);
      item.textContent = label === key ? name : label;
      if (reason) {
        const detail = document.createElement("span");
        detail.className = "health-reason";
        detail.textContent = reason;
        item.append(detail);
      }
      return item;
    }));
    banner.dataset.failing = failing.map(([name]) => name).join(" ");
    banner.hidden = failing.length === 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const banner = document.getElementById("health-banner");
    if (banner) {
      checkHealth(banner);
      setInterval(() => checkHealth(banner), Math.max(1000, Number(banner.dataset.pollMs) || 5000));
    }
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        // Revoke the token on the server (not just forget the cookie), then clear the cookies.
        const headers = { "X-CSRF-Token": cookie("anju_csrf") };
        try {
          await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin", headers });
        } finally {
          await fetch("/logout", { method: "POST", credentials: "same-origin", headers }).catch(() => null);
          window.location.href = "/login";
        }
      });
    }
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  });
  // Any click or key on any page is a gesture: let the chime play from now on.
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, () => { if (soundOn()) unlockAudio(); }, { capture: true, passive: true });
  }

  return {
    T, api, problem, duration, syncClock, now, countdownText, tickCountdowns, unlockAudio, chime, audioState,
    soundOn, setSound, announce, flash, typingInField, cookie,
  };
})();
