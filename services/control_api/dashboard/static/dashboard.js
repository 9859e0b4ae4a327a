// dripr dashboard: progressive enhancement only; every page works without it.
// 1. [data-live] regions are refreshed from server-rendered fragments every few seconds,
//    except while the keyboard focus is inside one (so a focused button stays put).
// 2. Forms with data-confirm ask first.
(function () {
  "use strict";
  var every = parseInt(document.body.dataset.refreshMs || "2000", 10);

  function refresh(region) {
    var last = null;
    var timer = setInterval(function () {
      if (document.hidden || region.contains(document.activeElement)) return;
      fetch(region.dataset.live, {
        credentials: "same-origin",
        headers: { "X-Dashboard-Fragment": "1" },
      })
        .then(function (response) {
          if (response.status === 401) {
            clearInterval(timer);
            window.location.reload(); // the session ended: the page will ask to sign in
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null || html === last) return;
          if (region.contains(document.activeElement)) return;
          last = html;
          region.innerHTML = html;
        })
        .catch(function () { /* the next tick tries again */ });
    }, every);
  }

  document.querySelectorAll("[data-live]").forEach(refresh);

  document.addEventListener("submit", function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
