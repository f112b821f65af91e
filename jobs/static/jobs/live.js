// The admin's live job list: each poll of #live-rows (htmx) carries the ids of the rows on the page, so
// that the server answers with just their status, attempts and duration cells.
document.addEventListener("htmx:configRequest", function (event) {
  if (event.detail.elt.id !== "live-rows") return;
  var seen = {};
  document.querySelectorAll("#result_list .job-live[data-job-id]").forEach(function (cell) {
    seen[cell.dataset.jobId] = true;
  });
  event.detail.parameters.ids = Object.keys(seen).join(",");
});
