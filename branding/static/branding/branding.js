// Branding page: a live preview of the embed as the form changes, and the shards' status kept fresh.
(function () {
  "use strict";
  var HEX = /^#[0-9a-fA-F]{6}$/;
  function byId(id) { return document.getElementById(id); }
  function value(name) { var el = byId("id_" + name); return el ? el.value.trim() : null; }

  function preview() {
    var name = value("display_name"), color = value("color"), footer = value("footer_text"), icon = value("icon_url");
    if (name === null) { return; }
    byId("preview-name").textContent = name || "jobdesk bot";
    byId("preview-footer").textContent = footer || "";
    byId("embed-preview").style.borderLeftColor = HEX.test(color) ? color : "#202225";
    var img = byId("preview-icon");
    if (/^https:\/\/\S+$/.test(icon)) { img.src = icon; img.style.display = ""; }
    else { img.removeAttribute("src"); img.style.display = "none"; }
  }

  // A cell as the template renders it, with its heading as data-label (the table stacks on a phone).
  function cell(text, label) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    td.setAttribute("data-label", label);
    return td;
  }

  function render(fanOut) {
    var box = byId("fan-out");
    if (!fanOut || !byId("shards")) { return; }
    byId("fan-out-version").textContent = fanOut.version;
    var status = byId("fan-out-status");
    status.textContent = fanOut.status; status.className = "status-" + fanOut.status;
    byId("fan-out-summary").textContent = fanOut.summary;
    var job = byId("fan-out-job");
    if (job) { job.textContent = fanOut.job_status || ""; job.className = "status-" + (fanOut.job_status || ""); }
    var body = byId("shards").tBodies[0];
    body.textContent = "";
    fanOut.shards.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.id = "shard-" + row.shard;
      var st = cell(row.status, "status"); st.className = "status status-" + row.status;
      var at = cell(row.at_display, "last attempt"); at.className = "nowrap";  // the guild's zone, from the server
      [cell(row.shard, "shard"), st, cell(row.attempts, "attempts"), cell(row.http_status, "HTTP"), at,
       cell(row.error, "error")]
        .forEach(function (td) { tr.appendChild(td); });
      body.appendChild(tr);
    });
    return box;
  }

  // The shards are being sent, or the fan-out's job has not ended yet (it follows the shards).
  function stillMoving(status, jobStatus) {
    return status === "sending" || ["pending", "queued", "running", "retrying"].indexOf(jobStatus) !== -1;
  }

  function poll() {
    var box = byId("fan-out");
    if (!box) { return; }
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.fan_out) { return; }
        if (String(data.fan_out.version) !== byId("fan-out-version").textContent) { window.location.reload(); return; }
        render(data.fan_out);
        if (stillMoving(data.fan_out.status, data.fan_out.job_status)) { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["display_name", "color", "footer_text", "icon_url"].forEach(function (name) {
      var el = byId("id_" + name);
      if (el) { el.addEventListener("input", preview); }
    });
    preview();
    var status = byId("fan-out-status");
    var job = byId("fan-out-job");
    if (status && stillMoving(status.textContent, job ? job.textContent : "")) { setTimeout(poll, 1000); }
  });
})();
