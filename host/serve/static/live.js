// Live updates of the rollout figures: every rollout event from
// /api/events refreshes the figures of the rollouts on the page from
// /api/rollouts (on a rollout's page, its stages too), appends the event to
// its timeline and, for an analysis event, redraws the charts from the server's
// /rollouts/NAME/analysis section. The page is complete without this script.
"use strict";
(function () {
  const rows = () => document.querySelectorAll("[data-rollout]");
  if (rows().length === 0) return;
  const page = document.body.dataset.rolloutPage;

  function text(el, value) {
    if (el && value !== undefined && value !== null) el.textContent = String(value);
  }

  function apply(summary) {
    document.querySelectorAll("[data-rollout]").forEach(function (root) {
      if (root.dataset.rollout !== summary.name) return;
      const s = summary.status;
      text(root.querySelector('[data-field="phase"]'), s.phase || "not started");
      text(root.querySelector('[data-field="step"]'), s.step);
      text(root.querySelector('[data-field="percent"]'), s.candidate_percent);
      text(root.querySelector('[data-field="router-percent"]'), s.router_candidate_percent);
      const bar = root.querySelector('[data-field="bar"]');
      if (bar && typeof s.candidate_percent === "number") bar.value = s.candidate_percent;
      summary.servers.forEach(function (srv) {
        root.querySelectorAll('[data-weight]').forEach(function (el) {
          if (el.dataset.weight === srv.name) text(el, srv.weight);
        });
      });
      if (summary.name === page && Array.isArray(s.stages)) stages(s.stages);
      const tally = s.approvals_tally;
      if (tally) {
        text(root.querySelector('[data-field="approved-by"]'),
          tally.approved_by.length ? tally.approved_by.join(", ") : "nobody yet");
        text(root.querySelector('[data-field="missing"]'), tally.missing);
      }
    });
  }

  // The rollout page's stage list, rebuilt from the status (text only).
  function stages(list) {
    const ol = document.getElementById("stages");
    if (!ol) return;
    const items = list.map(function (st) {
      const li = document.createElement("li");
      const progress = document.createElement("span");
      progress.className = "stage";
      progress.textContent = st.progress || "";
      li.append((st.name || "") + ": ", progress);
      if (st.detail) li.append(" \u2014 " + st.detail);
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.textContent = "no stages";
      items.push(li);
    }
    ol.replaceChildren.apply(ol, items);
  }

  function refresh() {
    fetch("/api/rollouts", { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) { list.forEach(apply); })
      .catch(function () {});
  }

  function append(data) {
    const list = document.getElementById("events");
    if (!list || data.rollout !== page) return;
    const e = data.event;
    const li = document.createElement("li");
    li.dataset.position = String(data.position);
    const time = document.createElement("time");
    time.textContent = e.ts || "";
    const kind = document.createElement("b");
    kind.textContent = e.event || "";
    li.append(time, " ", kind, " ", e.message || "");
    list.append(li);
  }

  function redrawAnalysis() {
    const section = document.getElementById("analysis");
    if (!section || !page) return;
    fetch("/rollouts/" + encodeURIComponent(page) + "/analysis", { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const parsed = new DOMParser().parseFromString(html, "text/html");
        section.replaceChildren.apply(section, Array.from(parsed.body.childNodes));
      })
      .catch(function () {});
  }

  const source = new EventSource("/api/events");
  const badge = document.getElementById("live");
  source.onopen = function () { if (badge) badge.hidden = false; };
  source.onerror = function () { if (badge) badge.hidden = true; };
  source.addEventListener("rollout", function (ev) {
    const data = JSON.parse(ev.data);
    append(data);
    refresh();
    if (data.rollout === page && data.event && data.event.event === "analysis") redrawAnalysis();
  });
  setInterval(refresh, 5000);
})();
