// Times are shown in the viewer's zone: tell the server which one that is, and when this page
// was rendered in another (the first page in a new browser, or after the laptop travelled),
// load it once more in the right one. Loaded in the head without defer, so that the reload
// happens before the page is drawn. Static, so that the Content-Security-Policy allows it.
(function () {
  "use strict";

  var COOKIE = "smcbridge_tz";
  var tz;
  try {
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!tz) return;

  // Compared whole: "smcbridge_tz=America/Bahia_Banderas" contains "smcbridge_tz=America/Bahia",
  // and a viewer who moved from one to the other kept the old zone for good.
  function remembered() {
    var value = ("; " + document.cookie).split("; " + COOKIE + "=")[1];
    return value === undefined ? null : value.split(";")[0];
  }
  if (remembered() !== tz) {
    document.cookie = COOKIE + "=" + tz + "; path=/; max-age=31536000; samesite=lax";
  }

  // Only a GET's whole page says which zone it was rendered in (base.html): never a POST's
  // answer (a reload would send the form again) nor an htmx partial.
  var meta = document.querySelector('meta[name="smcbridge-tz"]');
  if (!meta || meta.getAttribute("content") === tz) return;
  // The server was asked for this zone and answered in another: it does not know the zone
  // (older zone data than the browser's), and asking again would loop.
  if (meta.getAttribute("data-asked") === tz) return;
  // Cookies refused: a reload would be rendered in the same zone.
  if (remembered() !== tz) return;
  // Once per zone and tab, whatever the server answers; without session storage, never.
  try {
    var key = "smcbridge-tz-reloaded";
    if (window.sessionStorage.getItem(key) === tz) return;
    window.sessionStorage.setItem(key, tz);
  } catch (e) {
    return;
  }
  window.location.reload();
})();
