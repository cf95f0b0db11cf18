// Passkeys in the portal: create one, sign in with one, confirm a payment with one.
// Plain ES5 for older phones; no network but this site. Buttons say what to do:
//   data-passkey="register" | "login" | "confirm", data-options, data-finish, data-next.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    var missing = document.querySelectorAll("[data-passkey-missing]");
    for (var m = 0; m < missing.length; m++) { missing[m].hidden = false; }
    return;
  }

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    var out = [];
    for (var i = 0; list && i < list.length; i++) {
      var item = {};
      for (var key in list[i]) { if (Object.prototype.hasOwnProperty.call(list[i], key)) { item[key] = list[i][key]; } }
      item.id = toBuffer(list[i].id);
      out.push(item);
    }
    return out;
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    options.excludeCredentials = withIds(options.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.allowCredentials = withIds(options.allowCredentials);
    return { publicKey: options };
  }

  function credentialJson(credential) {
    var response = credential.response;
    var body = { clientDataJSON: toText(response.clientDataJSON) };
    if (response.attestationObject) {
      body.attestationObject = toText(response.attestationObject);
      body.transports = response.getTransports ? response.getTransports() : [];
    } else {
      body.authenticatorData = toText(response.authenticatorData);
      body.signature = toText(response.signature);
      body.userHandle = toText(response.userHandle);
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: body,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }

  function post(url, csrf, body) {
    return window.fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) { throw json; }
        return json;
      });
    });
  }

  function say(button, key) {
    var status = document.getElementById(button.getAttribute("data-status") || "passkey-status");
    if (status) { status.textContent = button.getAttribute("data-" + key) || ""; status.hidden = false; }
  }

  function run(button) {
    var mode = button.getAttribute("data-passkey");
    var csrf = button.getAttribute("data-csrf");
    button.disabled = true;
    say(button, "working");
    post(button.getAttribute("data-options"), csrf, {}).then(function (options) {
      if (mode === "register") { return navigator.credentials.create(creationOptions(options)); }
      return navigator.credentials.get(requestOptions(options));
    }).then(function (credential) {
      return post(button.getAttribute("data-finish"), csrf, { credential: credentialJson(credential) });
    }).then(function (result) {
      say(button, "done");
      var next = (result && result.next) || button.getAttribute("data-next");
      if (next) { window.location.assign(next); }
    }).catch(function () {
      button.disabled = false;
      say(button, "failed");
    });
  }

  var buttons = document.querySelectorAll("[data-passkey]");
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].hidden = false;
    buttons[b].addEventListener("click", function (event) { run(event.currentTarget); });
  }
})();
