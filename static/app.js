// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function intakeForm(form) {
    // Ctrl+Enter saves from any field; the button is disabled after the first submit
    // (the hidden idempotency key makes a second submit harmless anyway).
    form.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", function () {
      var btn = form.querySelector("button[type=submit]");
      if (btn) { setTimeout(function () { btn.disabled = true; }, 0); }
    });
    var input = form.querySelector("#f-photos"), preview = document.getElementById("photo-preview");
    if (input && preview) {
      input.addEventListener("change", function () {
        preview.textContent = "";
        Array.prototype.forEach.call(input.files, function (file) {
          var img = document.createElement("img");
          img.alt = file.name;
          img.src = URL.createObjectURL(file);
          img.onload = function () { URL.revokeObjectURL(img.src); };
          preview.appendChild(img);
        });
      });
    }
    var hint = document.getElementById("minor-hint");
    function ageCheck() {
      var lo = parseInt((form.querySelector("#f-age_min") || {}).value, 10);
      var birth = (form.querySelector("#f-birth_date") || {}).value;
      var minor = !isNaN(lo) && lo < 18;
      if (birth) {
        var b = new Date(birth), now = new Date();
        var age = now.getFullYear() - b.getFullYear() - ((now.getMonth() < b.getMonth() || (now.getMonth() === b.getMonth() && now.getDate() < b.getDate())) ? 1 : 0);
        minor = age < 18;
      }
      if (hint) hint.hidden = !minor;
    }
    ["#f-age_min", "#f-birth_date"].forEach(function (sel) {
      var el = form.querySelector(sel); if (el) el.addEventListener("input", ageCheck);
    });
    ageCheck();
    var gps = form.querySelector("[data-gps]");
    if (gps && navigator.geolocation) {
      gps.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          form.querySelector("#f-found_lat").value = pos.coords.latitude.toFixed(6);
          form.querySelector("#f-found_lng").value = pos.coords.longitude.toFixed(6);
        });
      });
    } else if (gps) { gps.hidden = true; }
    var found = form.querySelector("#f-found_at");
    if (found && !found.value) {
      var d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      found.value = d.toISOString().slice(0, 16);
    }
  }

  function photoStatus(box) {
    // Refresh photo states while any is pending.
    var url = box.getAttribute("data-status-url"), tries = 0;
    function poll() {
      if (!box.querySelector(".status-pending") || tries++ > 60) return;
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data) return;
        var changed = data.photos.some(function (p) {
          var el = box.querySelector('[data-photo-id="' + p.id + '"] .status');
          return el && !el.classList.contains("status-" + p.status);
        });
        if (changed) { window.location.reload(); } else { setTimeout(poll, 3000); }
      }).catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 2000);
  }

  onReady(function () {
    var form = document.getElementById("intake-form");
    if (form) intakeForm(form);
    var box = document.getElementById("photos");
    if (box) photoStatus(box);
  });
})();

// Face boxes over photos (positions set through the CSSOM: inline styles are blocked by the CSP).
(function () {
  "use strict";
  function place(frame) {
    var img = frame.querySelector("img");
    var w = parseFloat(img.getAttribute("data-w")), h = parseFloat(img.getAttribute("data-h"));
    if (!w || !h) return;
    frame.querySelectorAll(".facebox").forEach(function (box) {
      var b = box.getAttribute("data-box").split(",").map(parseFloat);
      box.style.left = (100 * b[0] / w) + "%"; box.style.top = (100 * b[1] / h) + "%";
      box.style.width = (100 * b[2] / w) + "%"; box.style.height = (100 * b[3] / h) + "%";
    });
  }
  // Review shortcuts: Y confirm, N reject, J next, unless typing in a field.
  function shortcuts() {
    var form = document.getElementById("decide-form");
    if (!form) return;
    document.addEventListener("keydown", function (ev) {
      var tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "textarea" || tag === "input" || ev.ctrlKey || ev.altKey || ev.metaKey) return;
      var el = form.querySelector('[data-key="' + ev.key.toLowerCase() + '"]');
      if (el) { ev.preventDefault(); el.click(); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".photo-frame").forEach(place);
    shortcuts();
  });
})();

// Job progress: poll the job while it is queued or running, then reload to show the errors table.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("job");
    if (!box) return;
    var state = box.querySelector('[data-testid="job-state"]');
    function active() { return /status-(queued|running)/.test(state.className); }
    function poll() {
      if (!active()) return;
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(function (job) {
          var bar = box.querySelector("progress");
          bar.max = job.total || 1; bar.value = job.done;
          box.querySelector('[data-testid="job-count"]').textContent = job.done + " / " + job.total;
          if (job.state === "done" || job.state === "failed") { window.location.reload(); } else { setTimeout(poll, 1500); }
        }).catch(function () { setTimeout(poll, 4000); });
    }
    setTimeout(poll, 1000);
  });
})();
