// The reporter's phone page: GPS, a photo made small before sending, and an outbox that survives a dropped
// connection, a closed tab or a lost login. A report stays on the phone (IndexedDB) until the station has
// answered with its id; every resend carries the same idempotency key, so the station gets one lead however
// often it is sent. The photo goes up in chunks that continue where a broken connection stopped.
(function () {
  "use strict";
  var form = document.getElementById("lead-form");
  if (!form) return;
  var statusEl = document.getElementById("lead-status");
  var gpsStatus = document.getElementById("gps-status");
  var preview = document.getElementById("lead-preview");
  var photoInput = document.getElementById("f-photo");
  var sendButton = document.getElementById("lead-send");
  var csrf = form.querySelector("input[name=csrf_token]").value;  // this page's token, never a stored one
  var MAX_SIDE = 1600, QUALITY = 0.85, CHUNK = 64 * 1024, DB = "huijia-outbox", STORE = "leads";
  var photoReady = Promise.resolve(null);
  var draining = false, retryTimer = null, retryDelay = 2000, submittedKey = null;

  function say(text) { statusEl.textContent = text; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localNow() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  var seen = document.getElementById("f-seen_at");
  if (seen && !seen.value) seen.value = localNow();

  function locate() {
    if (!navigator.geolocation) { gpsStatus.textContent = form.dataset.msgNogps; return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("f-lat").value = pos.coords.latitude.toFixed(6);
      document.getElementById("f-lng").value = pos.coords.longitude.toFixed(6);
      document.getElementById("f-acc").value = Math.round(pos.coords.accuracy || 0);
      gpsStatus.textContent = form.dataset.msgGps + " ±" + Math.round(pos.coords.accuracy || 0) + " m";
    }, function () { gpsStatus.textContent = form.dataset.msgNogps; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  document.getElementById("gps-button").addEventListener("click", locate);
  locate();

  // A phone photo is 3–12 MB; 1600 px JPEG is ~300 KB and keeps the face usable for matching.
  function shrink(file) {
    return new Promise(function (resolve) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        if (scale === 1 && file.size < 1.5e6) { URL.revokeObjectURL(url); resolve(file); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };  // the server says what is wrong
      img.src = url;
    });
  }
  photoInput.addEventListener("change", function () {
    preview.textContent = "";
    var file = photoInput.files && photoInput.files[0];
    // Send waits for this: a fast tap must not send the report without its photo.
    photoReady = file ? shrink(file).then(function (blob) {
      var im = document.createElement("img");
      im.src = URL.createObjectURL(blob);
      im.alt = "";
      preview.appendChild(im);
      return blob;
    }) : Promise.resolve(null);
  });

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no indexedDB")); return; }
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  var memory = {};  // private mode: no IndexedDB, the page still sends (and retries while it stays open)
  function outbox(mode, fn, fallback) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), out = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(out && out.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    }).catch(function () { return fallback(); });
  }
  function keep(entry) { return outbox("readwrite", function (s) { return s.put(entry); }, function () { memory[entry.key] = entry; }); }
  function drop(key) { return outbox("readwrite", function (s) { return s.delete(key); }, function () { delete memory[key]; }); }
  function all() {
    return outbox("readonly", function (s) { return s.getAll(); }, function () {
      return Object.keys(memory).map(function (k) { return memory[k]; });
    }).then(function (rows) { return (rows || []).sort(function (a, b) { return a.saved - b.saved; }); });
  }

  function entryFromForm(photo) {
    var fields = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "photos" || name === "csrf_token") return;
      if (name === "urgency") { (fields.urgency = fields.urgency || []).push(value); return; }
      fields[name] = value;
    });
    // The phone's clock knows its own zone: send the moment with its offset, not a bare local time.
    if (fields.seen_at) {
      var moment = new Date(fields.seen_at);
      if (!isNaN(moment.getTime())) fields.seen_at = moment.toISOString();
    }
    return { key: fields.idempotency_key, fields: fields, photo: photo, saved: Date.now() };
  }

  // What an answer means for the report: sent, try again later, log in first, or refused as it is.
  function Outcome(kind, data, status) { this.kind = kind; this.data = data; this.status = status; }
  function judge(resp) {
    if (resp.type === "opaqueredirect" || resp.status === 401 || resp.status === 403) return Promise.reject(new Outcome("login"));
    if (resp.status === 400) return Promise.reject(new Outcome("reload"));  // the page's CSRF token expired
    return resp.json().catch(function () { return null; }).then(function (data) {
      if (resp.ok && data) return data;
      if (resp.status === 409 && data && typeof data.offset === "number") return data;  // a chunk from the wrong place
      if (resp.ok || resp.status >= 500 || resp.status === 429 || resp.status === 408) throw new Outcome("later");
      throw new Outcome("refused", data, resp.status);
    });
  }
  function call(url, options) {
    options.credentials = "same-origin";
    options.redirect = "manual";  // a redirect here is the login page: never a success
    options.headers = { "Accept": "application/json", "X-CSRFToken": csrf };
    return fetch(url, options).then(judge, function () { throw new Outcome("later"); });
  }

  function uploadUrl(key) { return form.dataset.uploadUrl.replace("__key__", encodeURIComponent(key)); }
  function sendPhoto(entry) {
    if (!entry.photo) return Promise.resolve();
    var size = entry.photo.size;
    function from(offset) {
      if (offset >= size) return Promise.resolve();
      say(form.dataset.msgSending + " " + Math.round(100 * offset / size) + "%");
      return call(uploadUrl(entry.key) + "?offset=" + offset, {
        method: "PUT", body: entry.photo.slice(offset, Math.min(offset + CHUNK, size))
      }).then(function (data) {
        if (data.offset <= offset && data.offset < size) throw new Outcome("later");  // no progress: wait, never spin
        return from(data.offset);
      });
    }
    return call(uploadUrl(entry.key), { method: "GET" }).then(function (data) { return from(data.offset || 0); });
  }

  function sendOne(entry) {
    return sendPhoto(entry).then(function () {
      var body = new FormData();
      Object.keys(entry.fields).forEach(function (name) {
        var v = entry.fields[name];
        if (Array.isArray(v)) v.forEach(function (x) { body.append(name, x); }); else body.append(name, v);
      });
      if (entry.photo) body.append("upload_key", entry.key);
      return call(form.action || window.location.href, { method: "POST", body: body });
    });
  }

  function restore(entry) {
    // A refused report comes back into the form, so nothing the reporter typed is lost.
    Object.keys(entry.fields).forEach(function (name) {
      if (name === "urgency" || name === "idempotency_key") return;
      var el = form.elements.namedItem(name);
      if (el && "value" in el) el.value = entry.fields[name];
    });
    form.querySelectorAll("input[name=urgency]").forEach(function (box) {
      box.checked = (entry.fields.urgency || []).indexOf(box.value) >= 0;
    });
  }

  // One worker sends the outbox in order, one report at a time; a failure stops it until the next try.
  function drain() {
    if (draining) return;
    clearTimeout(retryTimer);
    draining = true;
    all().then(function (entries) {
      function next(i) {
        if (i >= entries.length) { draining = false; return; }
        var entry = entries[i];
        say(form.dataset.msgSending);
        sendOne(entry).then(function (data) {
          retryDelay = 2000;
          return drop(entry.key).then(function () {
            if (entry.key === submittedKey) { window.location.href = data.url || form.dataset.sentUrl; return; }
            say(form.dataset.msgEarlier);  // a report saved on this phone earlier has now reached the station
            next(i + 1);
          });
        }, function (outcome) {
          draining = false;
          if (!(outcome instanceof Outcome)) outcome = new Outcome("later");
          if (outcome.kind === "later") {
            say(form.dataset.msgRetry);
            retryTimer = setTimeout(drain, retryDelay);
            retryDelay = Math.min(retryDelay * 2, 60000);
          } else if (outcome.kind === "login") {
            say(form.dataset.msgLogin);  // kept on the phone: it goes once the reporter has logged in again
          } else if (outcome.kind === "reload") {
            say(form.dataset.msgReload);
          } else {
            drop(entry.key);
            restore(entry);
            say((outcome.data && outcome.data.error && outcome.data.error.message) || ("HTTP " + outcome.status));
            sendButton.disabled = false;
          }
          if (outcome.kind !== "refused") sendButton.disabled = false;
        });
      }
      next(0);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendButton.disabled = true;
    photoReady.then(function (photo) {
      var entry = entryFromForm(photo);
      submittedKey = entry.key;
      return keep(entry);
    }).then(drain);
  });
  window.addEventListener("online", function () { retryDelay = 2000; drain(); });
  drain();  // a report left in the outbox (the tab was closed offline, the login had expired) goes now
}());
