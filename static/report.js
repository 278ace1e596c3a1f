// The reporter's phone page: GPS, a photo made small before sending, and an outbox that survives a
// dropped connection or a closed tab. A report is kept on the phone (IndexedDB) until the server has it;
// every resend carries the same idempotency key, so the station gets one lead however often it is sent.
(function () {
  "use strict";
  var form = document.getElementById("lead-form");
  if (!form) return;
  var statusEl = document.getElementById("lead-status");
  var gpsStatus = document.getElementById("gps-status");
  var preview = document.getElementById("lead-preview");
  var photoInput = document.getElementById("f-photo");
  var MAX_SIDE = 1600, QUALITY = 0.85, DB = "huijia-outbox", STORE = "leads";
  var photoBlob = null, sending = false, retryDelay = 2000;

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
    photoBlob = null;
    var file = photoInput.files && photoInput.files[0];
    if (!file) return;
    shrink(file).then(function (blob) {
      photoBlob = blob;
      var im = document.createElement("img");
      im.src = URL.createObjectURL(blob);
      im.alt = "";
      preview.appendChild(im);
    });
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
  function outbox(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), store = tx.objectStore(STORE), out = fn(store);
        tx.oncomplete = function () { resolve(out && out.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    }).catch(function () { return null; });  // private mode: no outbox, the page still sends once
  }

  function entryFromForm() {
    var fields = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "photos") return;
      if (name === "urgency") { (fields.urgency = fields.urgency || []).push(value); return; }
      fields[name] = value;
    });
    // The phone's clock knows its own zone: send the moment with its offset, not a bare local time.
    if (fields.seen_at) {
      var moment = new Date(fields.seen_at);
      if (!isNaN(moment.getTime())) fields.seen_at = moment.toISOString();
    }
    return { key: fields.idempotency_key, fields: fields, photo: photoBlob, saved: Date.now() };
  }

  // The photo goes first, in chunks: after a break the phone asks how much the station has and sends the
  // rest (a 2G connection that drops at 80 % does not start again from zero). Then the report itself.
  var CHUNK = 64 * 1024;
  var csrf = form.querySelector("input[name=csrf_token]").value;
  function uploadUrl(key) { return form.dataset.uploadUrl.replace("__key__", encodeURIComponent(key)); }
  function sendPhoto(entry) {
    if (!entry.photo) return Promise.resolve();
    var size = entry.photo.size;
    function from(offset) {
      if (offset >= size) return Promise.resolve();
      say(form.dataset.msgSending + " " + Math.round(100 * offset / size) + "%");
      return fetch(uploadUrl(entry.key) + "?offset=" + offset, {
        method: "PUT", body: entry.photo.slice(offset, Math.min(offset + CHUNK, size)), credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (resp.ok || (resp.status === 409 && typeof data.offset === "number")) return from(data.offset);
          throw { refused: resp.status < 500 && resp.status !== 429, data: data, status: resp.status };
        });
      });
    }
    return fetch(uploadUrl(entry.key), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.json(); })
      .then(function (data) { return from(data.offset || 0); });
  }

  function refuse(entry, data, status) {
    // A refusal (a bad photo, a missing place): the reporter fixes it; the outbox keeps nothing wrong.
    outbox("readwrite", function (s) { return s.delete(entry.key); });
    say((data && data.error && data.error.message) || ("HTTP " + status));
    document.getElementById("lead-send").disabled = false;
  }

  function send(entry) {
    sending = true;
    say(form.dataset.msgSending);
    sendPhoto(entry).then(function () {
      var body = new FormData();
      Object.keys(entry.fields).forEach(function (name) {
        var v = entry.fields[name];
        if (Array.isArray(v)) v.forEach(function (x) { body.append(name, x); }); else body.append(name, v);
      });
      if (entry.photo) body.append("upload_key", entry.key);
      return fetch(form.action || window.location.href, {
        method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          sending = false;
          if (resp.ok) {
            outbox("readwrite", function (s) { return s.delete(entry.key); });
            window.location.href = data.url || form.dataset.sentUrl;
            return;
          }
          if (resp.status >= 500 || resp.status === 429 || resp.status === 408) { later(entry); return; }
          refuse(entry, data, resp.status);
        });
      });
    }).catch(function (err) {
      sending = false;
      if (err && err.refused) refuse(entry, err.data, err.status); else later(entry);
    });
  }

  function later(entry) {
    say(form.dataset.msgRetry);
    setTimeout(function () { if (!sending) send(entry); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (sending) return;
    document.getElementById("lead-send").disabled = true;
    var entry = entryFromForm();
    outbox("readwrite", function (s) { return s.put(entry); }).then(function () { send(entry); });
  });
  window.addEventListener("online", function () { retryDelay = 2000; resume(); });

  // A report left in the outbox (the tab was closed offline) is sent when the page opens again.
  function resume() {
    outbox("readonly", function (s) { return s.getAll(); }).then(function (entries) {
      (entries || []).forEach(function (entry) { if (!sending) { say(form.dataset.msgSaved); send(entry); } });
    });
  }
  resume();
}());
