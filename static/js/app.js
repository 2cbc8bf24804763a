// smcbridge's own script: static, so that the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // Times are shown in the viewer's zone: tell the server which one that is.
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && document.cookie.indexOf("smcbridge_tz=" + tz) === -1) {
    document.cookie = "smcbridge_tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
  }

  // The policy refuses style attributes; positions and colours computed per row come as
  // data-style and are set through the CSSOM, which it allows. Run on the page and on every
  // piece of content htmx swaps in.
  function applyDataStyles(root) {
    if (root.matches && root.matches("[data-style]")) {
      root.style.cssText = root.getAttribute("data-style");
    }
    var elements = root.querySelectorAll ? root.querySelectorAll("[data-style]") : [];
    for (var i = 0; i < elements.length; i++) {
      elements[i].style.cssText = elements[i].getAttribute("data-style");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyDataStyles(document);
  });
  document.addEventListener("htmx:load", function (event) {
    applyDataStyles(event.target);
  });
})();
