// Elder mode: read the page (or a confirmation) aloud, and go where a spoken command says.
// Speech synthesis and recognition are the browser's own; where synthesis is missing the
// server's voice (espeak-ng, POST /speech) reads instead. Nothing else leaves the page.
(function () {
  "use strict";
  var read = document.getElementById("read-aloud");
  var listen = document.getElementById("voice-command");
  var status = document.getElementById("voice-status");
  var csrfField = document.querySelector("input[name=csrf]");
  var csrf = csrfField ? csrfField.value : "";
  var COMMANDS = [
    { words: ["余额", "查余额", "账户", "balance", "account"], href: "/home" },
    { words: ["转账", "付款", "支付", "pay", "payment", "transfer"], href: "/pay" },
    { words: ["记录", "明细", "history"], href: "/history" },
    { words: ["贷款", "loan", "loans"], href: "/loans" },
    { words: ["钱包", "wallet"], href: "/wallet" }
  ];

  function show(text) {
    if (!status) { return; }
    status.textContent = text;
    status.hidden = false;
  }

  function textToRead() {
    var confirmation = document.querySelector("[data-speak]");
    if (confirmation) { return confirmation.innerText; }
    var main = document.getElementById("main");
    var text = main ? main.innerText : "";
    var bar = document.querySelector(".voice-bar");
    return bar ? text.replace(bar.innerText, "") : text;
  }

  function speakWithServer(text, lang) {
    if (!read || !window.fetch || !window.Audio) { return; }
    window.fetch(read.getAttribute("data-fallback"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text: text.slice(0, 300) })
    }).then(function (response) {
      if (!response.ok) { throw new Error("speech " + response.status); }
      return response.blob();
    }).then(function (blob) {
      var audio = new window.Audio(URL.createObjectURL(blob));
      audio.play();
    }).catch(function () { /* the page itself still says everything */ });
  }

  function speak(text) {
    var lang = read ? read.getAttribute("data-lang") : "zh-CN";
    if ("speechSynthesis" in window && typeof SpeechSynthesisUtterance !== "undefined") {
      var voices = window.speechSynthesis.getVoices();
      var prefix = lang.slice(0, 2);
      var usable = !voices.length || voices.some(function (v) { return v.lang.slice(0, 2) === prefix; });
      if (usable) {
        window.speechSynthesis.cancel();
        var utterance = new SpeechSynthesisUtterance(text);
        utterance.lang = lang;
        utterance.rate = 0.9;
        window.speechSynthesis.speak(utterance);
        return;
      }
    }
    speakWithServer(text, lang);
  }

  if (read) {
    read.hidden = false;
    read.addEventListener("click", function () { speak(textToRead()); });
  }

  function route(heard) {
    var said = heard.toLowerCase();
    for (var i = 0; i < COMMANDS.length; i++) {
      for (var j = 0; j < COMMANDS[i].words.length; j++) {
        if (said.indexOf(COMMANDS[i].words[j]) !== -1) { return COMMANDS[i].href; }
      }
    }
    return null;
  }

  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (listen && Recognition) {
    listen.hidden = false;
    listen.addEventListener("click", function () {
      var recognizer = new Recognition();
      recognizer.lang = listen.getAttribute("data-lang");
      recognizer.interimResults = false;
      recognizer.maxAlternatives = 3;
      show(listen.getAttribute("data-listening"));
      recognizer.onresult = function (event) {
        var result = event.results[0];
        for (var k = 0; k < result.length; k++) {
          var href = route(result[k].transcript);
          if (href) { window.location.assign(href); return; }
        }
        show(listen.getAttribute("data-unknown"));
      };
      recognizer.onerror = function () { show(listen.getAttribute("data-unknown")); };
      recognizer.start();
    });
  }
  // Exposed for the browser tests, which cannot speak: the same routing as a spoken command.
  window.netfinVoiceRoute = route;
})();
