/* The campaign builder (templates/campaigns/campaign_new.html): the weight beside each number
 * only matters for weighted rotation, so it shows only then. Without this script every weight
 * shows (and is ignored by the other rotations). */
(function () {
  "use strict";

  function start() {
    var rotation = document.getElementById("id_rotation");
    if (!rotation) return;
    function sync() {
      var weighted = rotation.value === "weighted";
      document.querySelectorAll("[data-sender-weight]").forEach(function (el) {
        el.hidden = !weighted;
      });
    }
    rotation.addEventListener("change", sync);
    sync();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
