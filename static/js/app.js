// Keyboard users keep their place across htmx swaps, and the workbench's selection count stays true.
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea";
  var pending = null;
  // The control that led to a question (Assign, Adopt): answering it (or Cancel) brings the
  // focus back where that control was, as if no question had been asked.
  var asked = null;

  function visible(el) {
    return el && !el.disabled && el.getClientRects().length > 0;
  }

  // How to find a control again after a swap: its id, or for a calendar bar (which has none)
  // the panel it opens.
  function keyOf(el) {
    if (!el || el === document.body) return "";
    if (el.id) return "#" + CSS.escape(el.id);
    var panel = el.getAttribute && el.getAttribute("data-panel");
    return panel ? '.bar[data-panel="' + CSS.escape(panel) + '"]' : "";
  }

  function find(key) {
    return key ? document.querySelector(key) : null;
  }

  // A link to a campaign on the workbench (the dashboard's "see it on the workbench") opens on
  // a phone at the campaign's pane, not at the top of the list above it: the pane and its
  // drift box were some 2,000px further down. Not when the browser brings back a place.
  document.addEventListener("DOMContentLoaded", function () {
    var title = document.getElementById("selected-title");
    if (!title || !/[?&]campaign=/.test(location.search) || window.innerWidth > 700) return;
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav && nav.type !== "navigate") return;
    var box = title.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) title.scrollIntoView({ block: "start" });
  });

  // Before a swap, remember the control that acted and, in document order, the controls after
  // and before it: if the swap removes it (an Assign button becomes "feeds …"), its natural
  // successor gets the focus instead of the page body. htmx itself refocuses an element whose
  // id is still there; this only covers the case where it is gone.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    var acting = document.activeElement;
    if (acting && (acting.id === "confirm-yes" || acting.id === "confirm-cancel") && asked) {
      pending = asked;
      asked = null;
      return;
    }
    if (acting && acting.closest && acting.closest("#cal-panel") && !target.contains(acting) &&
        keyOf(acting)) {
      // A control outside what is swapped (the side panel's Assign swaps the calendar): it is
      // where a question's answer brings the focus back.
      pending = { key: keyOf(acting), after: [], before: [], campaign: false };
      return;
    }
    if (!acting || acting === document.body || !target.contains(acting)) {
      acting = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    }
    if (!acting || !keyOf(acting) || !target.contains(acting)) {
      pending = null;
      return;
    }
    var all = Array.prototype.filter.call(target.querySelectorAll(FOCUSABLE), function (el) {
      return el.id;
    });
    var index = all.indexOf(acting);
    var key = function (el) { return keyOf(el); };
    pending = {
      key: keyOf(acting),
      after: index < 0 ? [] : all.slice(index + 1).map(key),
      before: index < 0 ? [] : all.slice(0, index).reverse().map(key),
      campaign: acting.id.indexOf("campaign-") === 0,
    };
  });

  document.addEventListener("htmx:afterSettle", function () {
    var remembered = pending;
    pending = null;
    // A question (assign anyway? adopt SAP MC's side?) takes the focus: it is what comes next.
    var question = document.getElementById("confirm-yes");
    // Right after an adoption, its Undo is the one thing a person may want next.
    if (!question && remembered && document.getElementById("undo-adopt") &&
        !find(remembered.key)) {
      question = document.getElementById("undo-adopt");
    }
    if (question && visible(question)) {
      // htmx settles an out-of-band swap too (the panel, with the question in it): that second
      // event remembers nothing and must not forget what the first remembered.
      if (question.id === "confirm-yes" && remembered) asked = remembered;
      question.focus({ preventScroll: true });
      // The whole question in view, its title and reasons too, not only its buttons.
      var shown = question.closest("[role=alertdialog]") || question;
      var box = shown.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) {
        shown.scrollIntoView({ block: box.height > window.innerHeight ? "start" : "center" });
      }
      return;
    }
    if (!remembered) return;
    var active = document.activeElement;
    if (!active || active === document.body || active !== find(remembered.key)) {
      var keys = [remembered.key].concat(remembered.after, remembered.before);
      for (var i = 0; i < keys.length; i++) {
        var el = find(keys[i]);
        if (visible(el)) {
          el.focus({ preventScroll: true });
          break;
        }
      }
    }
    if (remembered.campaign) {
      // A campaign chosen low in the list: bring its pane into view, keep the focus on the link.
      var title = document.getElementById("selected-title");
      if (title) {
        var box = title.getBoundingClientRect();
        if (box.top < 0 || box.bottom > window.innerHeight) {
          title.scrollIntoView({ block: "start" });
        }
      }
    } else if (document.activeElement && document.activeElement !== document.body) {
      var focused = document.activeElement.getBoundingClientRect();
      if (focused.top < 0 || focused.bottom > window.innerHeight) {
        document.activeElement.scrollIntoView({ block: "center" });
      }
    }
  });

  // A control without an id (a run's link in the table a poll redraws every few seconds) is
  // found again by its address, or else its place among the controls of what was swapped: the
  // focus stayed on the removed copy, that is on nothing, and Tab started over at the top.
  var place = null;

  document.addEventListener("htmx:beforeSwap", function (evt) {
    place = null;
    var target = evt.detail.target;
    var active = document.activeElement;
    if (!active || active === document.body || !target || !target.id || keyOf(active) ||
        !target.contains(active)) return;
    var all = Array.prototype.slice.call(target.querySelectorAll(FOCUSABLE));
    place = {
      id: target.id, index: all.indexOf(active), href: active.getAttribute("href"),
      name: nameOf(active)
    };
  });

  function nameOf(el) {
    return (el.getAttribute("aria-label") || el.textContent || "").trim();
  }

  document.addEventListener("htmx:afterSettle", function () {
    var was = place;
    place = null;
    var active = document.activeElement;
    if (!was || (active && active !== document.body && document.body.contains(active))) return;
    var root = document.getElementById(was.id);
    if (!root) return;
    var all = Array.prototype.slice.call(root.querySelectorAll(FOCUSABLE));
    function named(el) { return el && nameOf(el) === was.name; }
    function at(href) {
      return href === null ? [] : all.filter(function (el) {
        return el.getAttribute("href") === href;
      });
    }
    // The same control: its address and name, or its name at its place ("Next ›" leads
    // elsewhere once it was followed, and the old address is now a zoom button's: the second
    // Enter reloaded the quarter instead of going on), else its address, else its place.
    var found = at(was.href).filter(named)[0] ||
      (named(all[was.index]) ? all[was.index] : null) ||
      at(was.href)[0] || all[was.index];
    if (visible(found)) found.focus({ preventScroll: true });
  });

  // Escape answers a question as its Cancel does: the same request, the same focus return. Not
  // while the focus is elsewhere on the page (Escape clears a search field there).
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || evt.defaultPrevented) return;
    var cancel = document.getElementById("confirm-cancel");
    if (!visible(cancel)) return;
    var question = cancel.closest("[role=alertdialog]");
    var active = document.activeElement;
    if (active && active !== document.body && !(question && question.contains(active))) return;
    evt.preventDefault();
    cancel.click();
  });

  // The workbench's "n Plans selected" follows the boxes as they are ticked.
  document.addEventListener("change", function (evt) {
    var box = evt.target;
    if (!box.matches || !box.matches("#plan-list input[type=checkbox][name=plans]")) return;
    var counter = document.getElementById("selection-count");
    if (!counter) return;
    var elsewhere = parseInt(counter.getAttribute("data-elsewhere") || "0", 10);
    var ticked = document.querySelectorAll("#workbench input[name=plans]:checked, #workbench input[type=hidden][name=plans]");
    var count = ticked.length;
    // The address keeps the selection too, so a reload or a bookmark shows the same boxes ticked.
    var url = new URL(window.location.href);
    url.searchParams.delete("plans");
    Array.prototype.forEach.call(ticked, function (input) { url.searchParams.append("plans", input.value); });
    window.history.replaceState(window.history.state, "", url.toString());
    if (count === 0) {
      counter.textContent = "No Plan selected: tick Plans on any page, then assign them together.";
    } else {
      counter.textContent = count + " Plan" + (count === 1 ? "" : "s") + " selected" +
        (elsewhere ? ", " + elsewhere + " of them on other pages." : ".");
    }
  });
})();

// smcbridge's own script: static, so that the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // The viewer's zone is told to the server by static/js/viewer-zone.js, in the page's head.

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

// The calendar: a bar's side panel (Escape closes it, focus goes in and comes back) and
// dragging an unassigned Plan onto a campaign row to assign it.
(function () {
  "use strict";

  var opener = null; // the bar whose panel is open: focus returns to it on close

  function panel() { return document.getElementById("cal-panel"); }

  function markOpen(key) {
    Array.prototype.forEach.call(document.querySelectorAll(".bar.panel-open"), function (el) {
      el.classList.remove("panel-open");
    });
    if (!key) return;
    Array.prototype.forEach.call(document.querySelectorAll('.bar[data-panel="' + key + '"]'), function (el) {
      el.classList.add("panel-open");
    });
  }

  function focusPanel() {
    var title = document.getElementById("panel-title");
    if (title) title.focus({ preventScroll: false });
    var inner = document.querySelector("#cal-panel .panel-inner");
    markOpen(inner ? inner.getAttribute("data-panel-key") : "");
  }

  function closePanel() {
    var box = panel();
    if (!box || !box.firstElementChild) return false;
    var key = box.querySelector(".panel-inner") && box.querySelector(".panel-inner").getAttribute("data-panel-key");
    box.innerHTML = "";
    markOpen("");
    var url = new URL(window.location.href);
    if (url.searchParams.has("panel")) {
      url.searchParams.delete("panel");
      // Marked as htmx's own entry: Back and Forward to it reload the page, like every other.
      window.history.pushState({ htmx: true }, "", url.toString());
    }
    var back = opener && document.body.contains(opener) ? opener
      : key && document.querySelector('.bar[data-panel="' + key + '"]');
    if (back) back.focus();
    opener = null;
    syncQuestion();  // a question asked beside the panel needs no dialog over it now
    return true;
  }

  document.addEventListener("click", function (evt) {
    var bar = evt.target.closest && evt.target.closest(".bar[data-panel]");
    if (bar) opener = bar;
    var close = evt.target.closest && evt.target.closest("[data-panel-close]");
    if (close && panel() && panel().contains(close)) {
      evt.preventDefault();
      closePanel();
    }
  });

  document.addEventListener("keydown", function (evt) {
    // A question answered by this Escape (it cancels first) leaves the panel open.
    if (evt.key === "Escape" && !evt.defaultPrevented && panel() && panel().firstElementChild) {
      evt.preventDefault();
      closePanel();
    }
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    var box = panel();
    if (!box) return;
    if (evt.detail.target === box || (evt.detail.elt && evt.detail.elt.id === "cal-panel")) {
      // A question in the panel keeps the focus; its Cancel brings it back to the panel's
      // Assign, not the heading.
      var cancelled = evt.detail.requestConfig && evt.detail.requestConfig.elt &&
        evt.detail.requestConfig.elt.id === "confirm-cancel";
      if (cancelled || box.querySelector("#confirm-yes")) {
        var inner = box.querySelector(".panel-inner");
        markOpen(inner ? inner.getAttribute("data-panel-key") : "");
      } else {
        focusPanel();
      }
    } else if (evt.detail.target && evt.detail.target.id === "calendar") {
      var inner = box.querySelector(".panel-inner");
      markOpen(inner ? inner.getAttribute("data-panel-key") : "");
    }
  });
  // An assignment made from the panel swaps the panel out of band: its heading takes the focus.
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "cal-panel") {
      window.setTimeout(function () {
        var inner = document.querySelector("#cal-panel .panel-inner");
        markOpen(inner ? inner.getAttribute("data-panel-key") : "");
        // A question asked in the panel keeps the focus it took.
        if (document.querySelector("#cal-panel #confirm-yes")) return;
        var notice = document.querySelector("#cal-panel .notice, #cal-panel .error");
        var title = document.getElementById("panel-title");
        (title || notice) && (title || notice).focus();
      }, 0);
    }
  });
  // A page loaded with ?panel= open marks its bar.
  document.addEventListener("DOMContentLoaded", function () {
    var inner = document.querySelector("#cal-panel .panel-inner");
    if (inner) markOpen(inner.getAttribute("data-panel-key"));
  });

  // A drop's question (assign anyway?) is asked in the calendar. Narrower than 1100 px the open
  // panel covers the calendar (on a phone all of it): there the question is a modal dialog, in
  // the browser's top layer over both, and the rest of the page is inert while it is open (no
  // Tab stop, no click, nothing a screen reader wanders into); it ends with the question, which
  // the answer's swap removes. A click beside it is ignored rather than taken as Cancel: the
  // question wants an answer, and a stray tap on a phone should not throw the drop away.
  var narrow = window.matchMedia("(max-width: 1099.98px)");

  function syncQuestion() {
    var question = document.querySelector("#calendar > dialog.confirm");
    if (!question || typeof question.showModal !== "function") return;
    var modal = narrow.matches && !!document.querySelector("#cal-panel .panel-inner");
    if (modal === question.matches(":modal")) return;
    var focused = question.contains(document.activeElement) ? document.activeElement : null;
    question.close();
    if (modal) {
      question.showModal();
    } else {
      question.show();
    }
    if (focused) focused.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:load", syncQuestion);
  document.addEventListener("htmx:afterSettle", syncQuestion);
  document.addEventListener("htmx:oobAfterSwap", syncQuestion);
  document.addEventListener("DOMContentLoaded", syncQuestion);
  narrow.addEventListener("change", syncQuestion);

  // The platform keeps Tab out of the inert page, but after a modal dialog's last control it
  // lets the focus leave for the browser's own toolbar: here it goes round the question's
  // buttons instead, Shift+Tab too.
  // On a phone the open panel covers the whole page: Tab past its last control went on into
  // the top bar and the calendar under it, out of sight. There it goes round the panel's own
  // controls the same way (Escape closes the panel).
  function coveringPanel() {
    var box = panel();
    if (!box || !box.querySelector(".panel-inner")) return null;
    return box.getBoundingClientRect().left <= 1 ? box : null;
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Tab" || evt.altKey || evt.ctrlKey || evt.metaKey) return;
    var question = document.querySelector("dialog.confirm:modal") || coveringPanel();
    if (!question) return;
    var stops = Array.prototype.filter.call(
      question.querySelectorAll("a[href], button:not([disabled]), select:not([disabled]), input:not([type=hidden]):not([disabled])"),
      function (el) { return el.getClientRects().length > 0; }
    );
    if (!stops.length) return;
    var first = stops[0];
    var last = stops[stops.length - 1];
    var active = document.activeElement;
    var inside = question.contains(active);
    if (evt.shiftKey && (active === first || !inside)) {
      evt.preventDefault();
      last.focus();
    } else if (!evt.shiftKey && (active === last || !inside)) {
      evt.preventDefault();
      first.focus();
    }
  });

  // Drag and drop: an unassigned Plan bar onto any row or bar of a campaign.
  var dragged = null;
  document.addEventListener("dragstart", function (evt) {
    var bar = evt.target.closest && evt.target.closest(".bar[data-plan]");
    if (!bar) return;
    dragged = bar;
    bar.classList.add("dragging");
    evt.dataTransfer.effectAllowed = "move";
    evt.dataTransfer.setData("text/plain", bar.getAttribute("data-plan"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    Array.prototype.forEach.call(document.querySelectorAll(".drop-target"), function (el) {
      el.classList.remove("drop-target");
    });
  });
  function dropRow(evt) {
    var row = evt.target.closest && evt.target.closest("[data-campaign]");
    return row && row.getAttribute("data-campaign") ? row : null;
  }
  document.addEventListener("dragover", function (evt) {
    if (!dragged) return;
    var row = dropRow(evt);
    Array.prototype.forEach.call(document.querySelectorAll(".drop-target"), function (el) {
      if (el !== row) el.classList.remove("drop-target");
    });
    if (!row) return;
    evt.preventDefault();
    evt.dataTransfer.dropEffect = "move";
    row.classList.add("drop-target");
  });
  document.addEventListener("drop", function (evt) {
    var row = dropRow(evt);
    if (!row || !dragged) return;
    evt.preventDefault();
    var plan = evt.dataTransfer.getData("text/plain") || dragged.getAttribute("data-plan");
    var calendar = document.getElementById("calendar");
    var url = calendar && calendar.getAttribute("data-assign-url");
    if (!url || !window.htmx) return;
    // The dragged bar holds the focus: a question's Cancel (or Escape) brings it back there.
    dragged.focus({ preventScroll: true });
    window.htmx.ajax("POST", url, {
      source: calendar,
      target: "#calendar",
      swap: "outerHTML",
      values: {
        plan: plan,
        campaign: row.getAttribute("data-campaign"),
        back: window.location.search.replace(/^\?/, ""),
      },
    });
  });
})();

// What an action answered, where the person is looking: the answer is written at the top of
// the pane it belongs to, which a phone (or a long list) has scrolled far out of view. When it
// lands out of sight, a copy shows at the bottom of the screen for a few seconds (the original
// stays where it is). Either way its words are given to the page's one lasting live region.
(function () {
  "use strict";

  var ANSWERS = ".feedback .notice, .feedback .error, .cal-feedback p, .messages li";
  var timer = null;

  function offScreen(el) {
    var box = el.getBoundingClientRect();
    return box.bottom < 0 || box.top > window.innerHeight;
  }

  // A poll (the live sync run, the alert count) is not the person's doing: nothing to say.
  function polling(elt) {
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    return /^(every|load)\b/.test(trigger);
  }

  var spoken = null;

  // The answer's words, in the live region that stays in the page. Emptied first and written a
  // moment later, so that the same answer twice (two Assigns in a row) is a change, spoken again.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region) return;
    region.textContent = "";
    clearTimeout(spoken);
    spoken = setTimeout(function () { region.textContent = text; }, 50);
  }

  document.addEventListener("htmx:afterSettle", function (evt) {
    // An outerHTML swap leaves evt.detail.target detached: look in what replaced it.
    var target = evt.detail.target;
    var swapped = target && target.id ? document.getElementById(target.id) : target;
    var answer = swapped && swapped.querySelector ? swapped.querySelector(ANSWERS) : null;
    // Without an answer, a filter the swap found wrong is what to say (why nothing is listed).
    var said = answer || (swapped && swapped.querySelector ? swapped.querySelector(".filter-problem") : null);
    if (said && said.textContent.trim() && !polling(evt.detail.requestConfig && evt.detail.requestConfig.elt)) {
      announce(said.textContent.trim().replace(/\s+/g, " "));
    }
    var toast = document.getElementById("toast");
    if (!toast) return;
    if (!answer || !offScreen(answer) || !answer.textContent.trim()) {
      toast.hidden = true;
      return;
    }
    // Shown through CSS (content: attr(data-text)): no second copy of the words in the page's
    // text, where finding the answer by its words would find two.
    toast.setAttribute("data-text", answer.textContent.trim().replace(/\s+/g, " "));
    toast.className = "toast" + (answer.classList.contains("error") ? " error" : "");
    toast.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(function () { toast.hidden = true; }, 8000);
  });
  document.addEventListener("click", function (evt) {
    if (evt.target && evt.target.id === "toast") evt.target.hidden = true;
  });

  // A plain form (Sync now, an alert's Dismiss, a schedule's Save) answers with the page loaded
  // again, its answer listed at the top: a live region present as the page loads is not spoken,
  // and the keyboard started again at the top bar. The answer is spoken, and the keyboard goes
  // on from it, unless something else of the page took the focus first.
  document.addEventListener("DOMContentLoaded", function () {
    // The page's list, or a section's (a message tagged with a section's id, the page opened
    // there).
    var list = Array.prototype.filter.call(document.querySelectorAll("main .messages"), function (l) {
      return l.textContent.trim();
    })[0];
    if (!list) return;
    var text = list.textContent.trim().replace(/\s+/g, " ");
    announce(text);
    if (document.activeElement && document.activeElement !== document.body) return;
    list.setAttribute("tabindex", "-1");
    list.focus();
  });
})();

// An htmx request that failed. htmx swaps nothing when the answer is an error (403, 404, 500)
// or never comes, so the click seemed to do nothing: a person could not tell a refusal (her
// form's token outdated by a login in another tab, a Plan no longer hers) from a slow answer,
// and clicked again. Say what the bridge answered, and offer a reload, which shows the page as
// it is now (with a fresh form token).
(function () {
  "use strict";

  var raisedBy = null; // the element whose request the shown problem is about

  function box() { return document.getElementById("request-problem"); }

  // A poll (the live sync run, the alert count) is not the person's doing: its success does
  // not mean that her failed action went through.
  function polling(elt) {
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    return /^(every|load)\b/.test(trigger);
  }

  // What the product's error page says (its title and reason), or a text answer's first line.
  // An answer of something in between (a proxy's 502 or 504 page, its 413) is not the bridge's:
  // its words ("upstream request timeout") are not shown, what it means is.
  function ours(xhr) {
    return !!xhr.getResponseHeader("X-Smcbridge-Answer");
  }

  function explain(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = "";
    if (ours(xhr) && type.indexOf("text/html") === 0) {
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var title = page.querySelector(".error-page h1");
      var reason = page.querySelector(".error-page h1 ~ p");
      if (title) {
        return title.textContent.trim() + (reason ? ": " + reason.textContent.trim() : ".");
      }
    }
    if (xhr.status === 502 || xhr.status === 503 || xhr.status === 504) {
      return "The bridge did not answer (error " + xhr.status + " from the network in between), " +
        "so this page was not updated. Your change may or may not have been saved: reload the " +
        "page to see.";
    }
    if (xhr.status === 413) {
      return "The network in between refused this request as too large (error 413), so nothing " +
        "was saved. Try again with fewer Plans selected.";
    }
    if (!ours(xhr)) {
      return "Something between this browser and the bridge (a proxy?) answered in its place, " +
        "so this page was not updated. Your change may or may not have been saved: reload the " +
        "page to see.";
    }
    if (type.indexOf("text/plain") === 0) {
      text = xhr.responseText.trim().split("\n")[0].slice(0, 300);
    }
    return text || "The bridge answered with error " + xhr.status + ".";
  }

  // An answer that is not the bridge's is never swapped in, even with a 200 (a network's
  // sign-in page): it is taken as the error it is, which htmx:responseError then explains.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (!xhr || !xhr.status || ours(xhr)) return;
    evt.detail.shouldSwap = false;
    evt.detail.isError = true;
  });

  function show(message, elt) {
    var problem = box();
    if (!problem) return;
    document.getElementById("request-problem-text").textContent = message;
    document.getElementById("request-problem-reload").setAttribute("href", window.location.href);
    raisedBy = elt || null;
    problem.hidden = false;
  }

  function hide() {
    var problem = box();
    if (problem) problem.hidden = true;
    raisedBy = null;
  }

  document.addEventListener("htmx:responseError", function (evt) {
    show(explain(evt.detail.xhr), evt.detail.elt);
  });
  document.addEventListener("htmx:sendError", function (evt) {
    show("The bridge could not be reached, so this page was not updated. Check the connection, " +
         "then reload the page to see what was saved.", evt.detail.elt);
  });
  // The connection timed out: the browser gave up waiting (htmx tells it apart from a failure).
  // The bridge may have done it all the same.
  document.addEventListener("htmx:timeout", function (evt) {
    show("The bridge did not answer in time, so this page was not updated. Your change may or " +
         "may not have been saved: reload the page to see.", evt.detail.elt);
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var problem = box();
    if (!problem || problem.hidden || !evt.detail.successful) return;
    if (evt.detail.elt === raisedBy || !polling(evt.detail.elt)) hide();
  });
  document.addEventListener("click", function (evt) {
    if (evt.target && evt.target.id === "request-problem-close") hide();
  });
})();

// A request of the person's own under way: the part of the page it will redraw is marked busy
// (aria-busy, a progress cursor) and the page shows "Working…" (#busy, after a moment). On a slow
// line a click showed nothing for seconds, and was clicked again. A poll is not her doing.
(function () {
  "use strict";

  var open = [];

  function polling(elt) {
    var trigger = elt && elt.getAttribute ? elt.getAttribute("hx-trigger") || "" : "";
    return /^(every|load)\b/.test(trigger);
  }

  document.addEventListener("htmx:beforeSend", function (evt) {
    if (polling(evt.detail.elt)) return;
    open.push(evt.detail.xhr);
    var target = evt.detail.target;
    if (target && target.setAttribute) target.setAttribute("aria-busy", "true");
    document.documentElement.classList.add("htmx-busy");
  });
  // Answered, refused, unanswered or abandoned: htmx ends every request with this event.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var at = open.indexOf(evt.detail.xhr);
    if (at < 0) return;
    open.splice(at, 1);
    var target = evt.detail.target;
    if (target && target.removeAttribute) target.removeAttribute("aria-busy");
    if (!open.length) document.documentElement.classList.remove("htmx-busy");
  });
})();

// Typing on while a search is answered. The answer swaps in its own copy of the search box,
// holding the words it was asked for: letters typed meanwhile were lost ("Holiday" read
// "Holiay") and the list showed the shorter search. They are put back, where the caret was, and
// searched for. Only what the person typed after the request left counts: a value the server
// itself changed is left as it answered.
(function () {
  "use strict";

  var typed = null;
  var search = null; // the box whose words are to be searched for once htmx has bound it

  document.addEventListener("htmx:beforeSwap", function (evt) {
    typed = null;
    var field = document.activeElement;
    var config = evt.detail.requestConfig;
    if (!field || field.tagName !== "INPUT" || !field.id || !field.name || !field.form ||
        field.type !== "search" || !evt.detail.target.contains(field) ||
        !config || !config.formData) return;
    var sent = config.formData.get(field.name);
    if (sent === null || sent === field.value) return;
    typed = { id: field.id, value: field.value, start: field.selectionStart, end: field.selectionEnd };
  });

  // After htmx has put the focus back in the new box, before a further key reaches it.
  document.addEventListener("htmx:afterSwap", function () {
    if (!typed) return;
    var field = document.getElementById(typed.id);
    var was = typed;
    typed = null;
    if (!field || !field.form || field.value === was.value) return;
    field.value = was.value;
    if (document.activeElement === field && was.start !== null) {
      try { field.setSelectionRange(was.start, was.end); } catch (e) { /* no caret here */ }
    }
    search = field;
  });

  // htmx binds the new form's triggers as it settles (its "changed" takes the box's words as
  // already searched for): the form is sent as Enter in the box sends it.
  document.addEventListener("htmx:afterSettle", function () {
    var field = search;
    search = null;
    if (field && document.body.contains(field) && field.form) field.form.requestSubmit();
  });
})();

// A filter changed while an answer was awaited (a slow line): the workbench and the calendar take
// one request at a time, so htmx dropped the change's, and the answer's copy of the form showed
// the filter as it was before. The change is made again in the new form and sent. (A search
// box's words are put back above.)
(function () {
  "use strict";

  var changed = {};

  function isBox(field) {
    return field.type === "checkbox" || field.type === "radio";
  }

  document.addEventListener("change", function (evt) {
    var field = evt.target;
    if (!field || !field.id || !field.form || field.type === "search" || field.type === "hidden" ||
        !field.matches(".wb-filter, #cal-filters select, #cal-filters input")) return;
    // Its own request, sent before this listener, marks the form busy too: the new form then
    // holds what was sent, and nothing is sent again.
    if (!field.closest("[aria-busy=true]")) return;
    changed[field.id] = isBox(field) ? { checked: field.checked } : { value: field.value };
  });

  document.addEventListener("htmx:afterSettle", function () {
    var ids = Object.keys(changed);
    if (!ids.length) return;
    var was = changed;
    changed = {};
    var form = null;
    ids.forEach(function (id) {
      var field = document.getElementById(id);
      if (!field || !field.form) return;
      if ("checked" in was[id]) {
        if (field.checked === was[id].checked) return;
        field.checked = was[id].checked;
      } else {
        if (field.value === was[id].value) return;
        field.value = was[id].value;
      }
      form = field.form;
    });
    if (form) form.requestSubmit();
  });
})();

// A sync button's "Khoros plans sync #5 queued." stood above the run long after the run had
// shown Succeeded (or Failed) below it. Once the part of the page that polls the runs stops
// polling, every run it shows has finished: the message goes and the run's status tells.
(function () {
  "use strict";

  document.addEventListener("htmx:afterSettle", function () {
    var notes = document.querySelectorAll(".messages [data-sync-run]");
    if (!notes.length) return;
    var runs = document.getElementById("run-live") || document.getElementById("sync-runs");
    if (!runs || runs.hasAttribute("hx-trigger")) return;
    notes.forEach(function (note) { note.remove(); });
  });
})();
