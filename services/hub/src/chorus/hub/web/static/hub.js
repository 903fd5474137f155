// Live character counts beside each commentary, as the network counts them:
// X counts every link as 23 characters and the post carries the tracked link
// (23 more, and a space). Mirrors chorus.hub.domain.commentary; the page
// works without it (the server renders the first count).
"use strict";
(function () {
  var LINK = /https?:\/\/\S+/g, X_LINK = 23;
  function counted(network, text) {
    if (network !== "x") { return text.length; }
    var links = text.match(LINK) || [];
    return text.replace(LINK, "").length + X_LINK * links.length + X_LINK + 1;
  }
  function update(area) {
    var count = document.getElementById(area.getAttribute("aria-describedby"));
    if (!count) { return; }
    var left = Number(area.dataset.limit) - Number(area.dataset.extra) - counted(area.dataset.network, area.value);
    count.textContent = count.dataset.template.replace("{n}", String(left));
    count.classList.toggle("over", left < 0);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-network]")) { update(event.target); }
  });
})();
