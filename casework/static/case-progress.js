/* The case page while its letter is being written or e-mailed: ask the server now and then (every few seconds at
   first, less often as time goes on) whether anything the page shows has changed. When it has, fetch the page
   again, put its new content in place and say so in the polite live region; stop once nothing is pending. What
   someone is typing into a form on the page is never thrown away: the region then offers the refresh instead.
   Without this script the page's "Refresh this page" links do the same by hand. */
(function () {
  "use strict";
  var FIRST_WAIT = 2000;
  var LONGEST_WAIT = 30000;
  var GROWTH = 1.3;
  var page = document.getElementById("case-page");
  var live = document.getElementById("page-updated");
  if (!page || !live || !window.fetch || !window.DOMParser) {
    return;
  }
  var wait = FIRST_WAIT;
  var timer = null;
  var asking = false;

  function later(factor) {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, wait);
    wait = Math.min(wait * (factor || GROWTH), LONGEST_WAIT);
  }

  function check() {
    var url = page.getAttribute("data-progress");
    if (!url || asking || document.hidden) {
      return; // nothing pending any more, already asking, or nobody looking (resumed when the tab is shown)
    }
    asking = true;
    fetch(url, {cache: "no-store", credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("progress: " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        asking = false;
        if (progress.version !== page.getAttribute("data-version")) {
          refresh();
        } else if (progress.pending) {
          later();
        }
      })
      .catch(function () {
        asking = false;
        later(2); // the server is busy or away: ask less often
      });
  }

  function edited(field) {
    if (field.type === "hidden" || field.type === "submit") {
      return false;
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return field.value !== field.defaultValue;
  }

  function busy() {
    var active = document.activeElement;
    if (active && page.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    return Array.prototype.some.call(page.querySelectorAll("input, select, textarea"), edited);
  }

  function offerRefresh() {
    var link = document.createElement("a");
    link.href = window.location.pathname;
    link.textContent = "Refresh this page";
    live.textContent = "There is news on your case. ";
    live.appendChild(link);
    live.appendChild(document.createTextNode(" to see it (what you typed here is not kept)."));
  }

  function news() {
    // The first sentence of "What happens next", else the page's heading: what changed, in the page's words.
    var next = page.querySelector("[aria-labelledby='next-title'] p") || page.querySelector("h1");
    var text = next ? next.textContent.replace(/\s+/g, " ").trim() : "";
    var sentence = text.match(/^.*?[.:](?=\s|$)/);
    return text ? ": " + (sentence ? sentence[0] : text).replace(/[.:]$/, "") : "";
  }

  function refresh() {
    if (busy()) {
      if (!live.querySelector("a")) {
        offerRefresh();
      }
      later();
      return;
    }
    fetch(window.location.pathname, {cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("page: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var next = fresh.getElementById("case-page");
        if (!next) {
          window.location.reload(); // not a case page any more (its details were deleted, say)
          return;
        }
        next = document.adoptNode(next);
        page.parentNode.replaceChild(next, page);
        page = next;
        Array.prototype.forEach.call(document.querySelectorAll("main > .notice"), function (notice) {
          notice.parentNode.removeChild(notice); // what the last action said is overtaken by what happened since
        });
        document.title = fresh.title;
        live.textContent = "This page was updated" + news() + ".";
        wait = FIRST_WAIT;
        if (page.getAttribute("data-progress")) {
          later();
        }
      })
      .catch(function () {
        later(2);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      wait = FIRST_WAIT;
      later();
    }
  });
  later();
})();
